#!/bin/bash
# SFTP throughput, ours (bin/twistd conch) against OpenSSH's sshd, in one
# run: each server started by hand on a loopback port with the same host
# key and client key; OpenSSH's sftp downloads and uploads one file of
# SIZE through each, REPEAT times, alternating servers, best run kept.
# Prints MB/s and the ratio ours/sshd.
#
#   make build && bench/sftp.sh            # 1 GiB each way
#   SIZE=256 bench/sftp.sh                 # MiB
#
# Needs openssh-client and openssh-server (/usr/sbin/sshd; not started as
# a system service, only here). Runs as root (sshd's privilege separation),
# logging in as root on both servers.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SIZE=${SIZE:-1024}
REPEAT=${REPEAT:-2}
SSHD=${SSHD:-/usr/sbin/sshd}

die() { echo "sftp.sh: $*" >&2; exit 1; }
[ -x bin/twistd ] || die "bin/twistd is missing: run make build first"
skip() { echo "sftp.sh: $*; skipping the SFTP benchmark" >&2; exit 0; }
[ -x "$SSHD" ] || skip "$SSHD is missing (apt-get install openssh-server)"
command -v sftp >/dev/null || die "sftp is missing (apt-get install openssh-client)"
[ "$(id -u)" = 0 ] || skip "not root"

. bench/lib.sh
bench_tmp TERM

ssh-keygen -q -t ed25519 -N '' -f "$TMP/key" || die "ssh-keygen failed"
cp "$TMP/key.pub" "$TMP/authorized_keys" && chmod 600 "$TMP/authorized_keys"
mkdir -m 700 "$TMP/hostkeys" && ssh-keygen -q -t ed25519 -N '' -f "$TMP/hostkeys/ssh_host_ed25519_key" &&
	ssh-keygen -q -t rsa -b 3072 -N '' -f "$TMP/hostkeys/ssh_host_rsa_key" || die "host keys failed"
head -c $((SIZE << 20)) /dev/urandom > "$TMP/file" || die "cannot write the test file"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	die "nothing listens on port $1"
}

OURS=$(free_port)
bin/twistd -n --pidfile= --logfile "$TMP/twistd.log" conch -p "tcp:$OURS:interface=127.0.0.1" \
	--data "$TMP/hostkeys" --auth "authorized_keys:$TMP/authorized_keys" &
SSHDP=$(free_port)
mkdir -p /run/sshd
cat > "$TMP/sshd_config" <<CONF
Port $SSHDP
ListenAddress 127.0.0.1
HostKey $TMP/hostkeys/ssh_host_ed25519_key
AuthorizedKeysFile $TMP/authorized_keys
PermitRootLogin prohibit-password
UsePAM no
Subsystem sftp /usr/lib/openssh/sftp-server
PidFile none
StrictModes no
CONF
"$SSHD" -D -e -f "$TMP/sshd_config" 2> "$TMP/sshd.log" &
SSHD_PID=$!
wait_port "$OURS"
wait_port "$SSHDP"

echo "get $TMP/file $TMP/down" > "$TMP/get"
echo "put $TMP/file $TMP/up" > "$TMP/put"
# One transfer; prints MB/s.
xfer() {
	local port=$1 batch=$2 t0 t1
	rm -f "$TMP/down" "$TMP/up"
	t0=$(date +%s.%N)
	sftp -q -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
		-o LogLevel=ERROR -i "$TMP/key" -P "$port" -b "$TMP/$batch" root@127.0.0.1 > /dev/null || { tail -5 "$TMP/sshd.log" >&2; die "sftp $batch on port $port failed"; }
	t1=$(date +%s.%N)
	cmp -s "$TMP/file" "$TMP/$([ "$batch" = get ] && echo down || echo up)" || die "sftp $batch on port $port: the copy differs"
	python3 -c "print(f'{$SIZE * 1.048576 / ($t1 - $t0):.1f}')"
}
best() { printf '%s\n' "$@" | sort -g | tail -1; }

declare -A R
for dir in get put; do
	o=() s=()
	for _ in $(seq "$REPEAT"); do
		o+=("$(xfer "$OURS" $dir)")
		s+=("$(xfer "$SSHDP" $dir)")
	done
	R[ours-$dir]=$(best "${o[@]}")
	R[sshd-$dir]=$(best "${s[@]}")
done

printf '\nSFTP, %d MiB, best of %d (MB/s)\n' "$SIZE" "$REPEAT"
printf '%-10s %10s %10s %8s\n' direction ours sshd ratio
for dir in get put; do
	printf '%-10s %10s %10s %7.2fx\n' "$([ $dir = get ] && echo download || echo upload)" \
		"${R[ours-$dir]}" "${R[sshd-$dir]}" "$(python3 -c "print(${R[ours-$dir]} / ${R[sshd-$dir]})")"
done
