#!/bin/bash
# SFTP throughput, ours (bin/twistd conch) against OpenSSH's sshd, in one
# run: each server started by hand on a loopback port with the same host
# key and client key; OpenSSH's sftp downloads and uploads one file of
# SIZE through each, REPEAT times, alternating servers round by round.
# Prints the MB/s range (best kept for the ratio ours/sshd) and each
# server's CPU seconds per GiB moved (utime+stime of the server and its
# reaped children, from /proc/PID/stat), which the machine's other load
# disturbs far less than throughput.
#
#   make build && bench/sftp.sh            # 1 GiB each way
#   SIZE=256 bench/sftp.sh                 # MiB
#   BASE=/tmp/twistd-old bench/sftp.sh     # other twistd builds in the rotation
#   CIPHER=aes128-gcm@openssh.com bench/sftp.sh   # not the client's default
#
# Needs openssh-client and openssh-server (/usr/sbin/sshd; not started as
# a system service, only here). Runs as root (sshd's privilege separation),
# logging in as root on both servers.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SIZE=${SIZE:-1024}
REPEAT=${REPEAT:-2}
SSHD=${SSHD:-/usr/sbin/sshd}
BASE=${BASE:-}
CIPHER=${CIPHER:-}

die() { echo "sftp.sh: $*" >&2; exit 1; }
[ -x bin/twistd ] || die "bin/twistd is missing: run make build first"
for b in $BASE; do [ -x "$b" ] || die "BASE: $b is not an executable"; done
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
# CPU ticks of PID and its reaped children (utime+stime+cutime+cstime),
# then of the children alone.
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15, $14 + $15 }' "/proc/$1/stat"; }

declare -A PORT PID
SERVERS=(ours)
PORT[ours]=$(free_port)
bin/twistd -n --pidfile= --logfile "$TMP/twistd.log" conch -p "tcp:${PORT[ours]}:interface=127.0.0.1" \
	--data "$TMP/hostkeys" --auth "authorized_keys:$TMP/authorized_keys" &
PID[ours]=$!
n=0
for b in $BASE; do
	n=$((n + 1))
	SERVERS+=("base$n")
	PORT[base$n]=$(free_port)
	"$b" -n --pidfile= --logfile "$TMP/base$n.log" conch -p "tcp:${PORT[base$n]}:interface=127.0.0.1" \
		--data "$TMP/hostkeys" --auth "authorized_keys:$TMP/authorized_keys" &
	PID[base$n]=$!
	echo "base$n: $b"
done
SERVERS+=(sshd)
PORT[sshd]=$(free_port)
mkdir -p /run/sshd
cat > "$TMP/sshd_config" <<CONF
Port ${PORT[sshd]}
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
PID[sshd]=$!
for srv in "${SERVERS[@]}"; do wait_port "${PORT[$srv]}"; done

echo "get $TMP/file $TMP/down" > "$TMP/get"
echo "put $TMP/file $TMP/up" > "$TMP/put"
# One transfer through server $1; prints MB/s and the server's CPU
# seconds per GiB, once its session's processes are reaped.
xfer() {
	local srv=$1 batch=$2 port=${PORT[$1]} pid=${PID[$1]} t0 t1 c0 k0 c1 k1 c k i
	rm -f "$TMP/down" "$TMP/up"
	read -r c0 k0 < <(ticks "$pid")
	t0=$(date +%s.%N)
	sftp -q -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
		-o LogLevel=ERROR ${CIPHER:+-o Ciphers=$CIPHER} -i "$TMP/key" -P "$port" -b "$TMP/$batch" root@127.0.0.1 > /dev/null || { tail -5 "$TMP/sshd.log" >&2; die "sftp $batch on $srv failed"; }
	t1=$(date +%s.%N)
	cmp -s "$TMP/file" "$TMP/$([ "$batch" = get ] && echo down || echo up)" || die "sftp $batch on $srv: the copy differs"
	# The session's processes are reaped shortly after the client leaves.
	read -r c1 k1 < <(ticks "$pid")
	for i in $(seq 20); do
		sleep 0.05
		read -r c k < <(ticks "$pid")
		[ "$c" = "$c1" ] && [ "$(pgrep -P "$pid" | wc -l)" = 0 ] && break
		c1=$c k1=$k
	done
	python3 -c "h = $(getconf CLK_TCK) * $SIZE / 1024
print(f'{$SIZE * 1.048576 / ($t1 - $t0):.1f} {($c1 - $c0) / h:.2f} {($k1 - $k0) / h:.2f}')"
}

declare -A MBS CPU KID
for dir in get put; do
	for round in $(seq "$REPEAT"); do
		for srv in "${SERVERS[@]}"; do
			read -r m c k < <(xfer "$srv" $dir)
			MBS[$srv-$dir]+="$m "
			CPU[$srv-$dir]+="$c "
			KID[$srv-$dir]+="$k "
		done
	done
done

best() { printf '%s\n' $1 | sort -g | tail -1; }
low() { printf '%s\n' $1 | sort -g | head -1; }
printf '\nSFTP, %d MiB, %d rounds, load average %s\n' "$SIZE" "$REPEAT" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-6s %17s %16s %16s %10s\n' direction srv 'MB/s (min-max)' 'CPU s/GiB' '(children)' 'ratio/sshd'
for dir in get put; do
	for srv in "${SERVERS[@]}"; do
		printf '%-9s %-6s %8s-%-8s %7s-%-8s %7s-%-8s %6s\n' "$([ $dir = get ] && echo download || echo upload)" "$srv" \
			"$(low "${MBS[$srv-$dir]}")" "$(best "${MBS[$srv-$dir]}")" \
			"$(low "${CPU[$srv-$dir]}")" "$(best "${CPU[$srv-$dir]}")" \
			"$(low "${KID[$srv-$dir]}")" "$(best "${KID[$srv-$dir]}")" \
			"$(python3 -c "print(f'{$(best "${MBS[$srv-$dir]}") / $(best "${MBS[sshd-$dir]}"):.2f}x')")"
	done
done
