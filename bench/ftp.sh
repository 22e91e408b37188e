#!/bin/bash
# A 1 GiB passive-mode download through ours (bin/twistd ftp) and vsftpd,
# in one run, with curl; prints the MB/s of each (best of REPEAT) and the
# ratio ours/vsftpd. vsftpd is `apt-get install vsftpd`; without it only
# ours is measured.
#
#   make build && bench/ftp.sh
#
# Environment: SIZE_MB (1024), REPEAT (3).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
SIZE_MB=${SIZE_MB:-1024}
REPEAT=${REPEAT:-3}
die() { echo "ftp.sh: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is needed"
[ -x "$ROOT/bin/twistd" ] || die "run make build first"

. bench/lib.sh
bench_tmp TERM

mkdir -p "$TMP/pub" /var/run/vsftpd/empty 2>/dev/null
chmod 755 "$TMP" "$TMP/pub"
dd if=/dev/zero of="$TMP/pub/big" bs=1M count="$SIZE_MB" status=none || die "cannot write the file"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
	local i
	for i in $(seq 100); do
		curl -s -o /dev/null "ftp://127.0.0.1:$1/" && return 0
		sleep 0.05
	done
	return 1
}

best() { # best MB/s of REPEAT downloads from port $1
	local i v b=0
	for i in $(seq "$REPEAT"); do
		v=$(curl -s -o /dev/null -w '%{speed_download}' "ftp://127.0.0.1:$1/big") || return 1
		b=$(python3 -c "print(max($b, $v/1e6))")
	done
	printf '%.0f' "$b"
}

OURS_PORT=$(free_port)
"$ROOT/bin/twistd" -n --pidfile= --logfile="$TMP/ours.log" ftp -p "tcp:$OURS_PORT:interface=127.0.0.1" -r "$TMP/pub" &
wait_port "$OURS_PORT" || die "ours did not start: $(cat "$TMP/ours.log")"
OURS=$(best "$OURS_PORT") || die "download from ours failed"

VS=""
if command -v vsftpd >/dev/null; then
	VS_PORT=$(free_port)
	cat >"$TMP/vsftpd.conf" <<CONF
listen=YES
listen_address=127.0.0.1
listen_port=$VS_PORT
anonymous_enable=YES
local_enable=NO
anon_root=$TMP/pub
no_anon_password=YES
seccomp_sandbox=NO
background=NO
xferlog_enable=NO
CONF
	vsftpd "$TMP/vsftpd.conf" &
	wait_port "$VS_PORT" && VS=$(best "$VS_PORT")
fi

echo "FTP passive download, ${SIZE_MB} MiB, best of $REPEAT (MB/s)"
printf '%-10s %8s\n' ours "$OURS"
if [ -n "$VS" ]; then
	printf '%-10s %8s\n' vsftpd "$VS"
	printf '%-10s %8s\n' ratio "$(python3 -c "print(f'{$OURS/$VS:.2f}x')")"
else
	echo "vsftpd    not installed (apt-get install vsftpd): no ratio"
fi
