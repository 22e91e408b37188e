#!/bin/bash
# A 1 GiB passive-mode download through ours (bin/twistd ftp) and vsftpd,
# in one run, with curl; prints the MB/s of each and the
# ratio ours/vsftpd, taking turns download by download (median of
# REPEAT), with each server's CPU time per GiB (utime+stime, reaped
# children included) beside. vsftpd is `apt-get install vsftpd`; without
# it only ours is measured.
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

# cputicks PID: utime+stime (children included), in clock ticks.
cputicks() { awk '{sub(/^.*\) /, ""); print $12+$13+$14+$15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# one NAME PORT PID: one download; appends "NAME MB/s cpu-ms-per-GiB".
one() {
	local v b a
	b=$(cputicks "$3")
	v=$(curl -s -o /dev/null -w '%{speed_download}' "ftp://127.0.0.1:$2/big") || return 1
	sleep 0.5 # vsftpd's session process is reaped (and counted) once it has ended
	a=$(cputicks "$3")
	awk -v n="$1" -v v="$v" -v b="$b" -v a="$a" -v t="$TICK" -v mb="$SIZE_MB" \
		'BEGIN{printf "%s %.0f %.0f\n", n, v/1e6, (a-b)/t*1e3*1024/mb}' | tee -a "$TMP/results" >&2
}

# The median of column 2 (MB/s) and 3 (CPU ms/GiB) of NAME's runs.
median() { awk -v n="$1" -v c="$2" '$1==n{print $c}' "$TMP/results" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
OURS_PORT=$(free_port)
"$ROOT/bin/twistd" -n --pidfile= --logfile="$TMP/ours.log" ftp -p "tcp:$OURS_PORT:interface=127.0.0.1" -r "$TMP/pub" &
OURS_PID=$!
wait_port "$OURS_PORT" || die "ours did not start: $(cat "$TMP/ours.log")"

VS_PID=""
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
	VS_PID=$!
	wait_port "$VS_PORT" || VS_PID=""
fi

# Round by round, so both see the same machine.
: >"$TMP/results"
for i in $(seq "$REPEAT"); do
	one ours "$OURS_PORT" "$OURS_PID" || die "download from ours failed"
	# vsftpd serves each session in a process of its own, reaped by the
	# listener: its CPU shows up in the listener's children.
	[ -n "$VS_PID" ] && { one vsftpd "$VS_PORT" "$VS_PID" || die "download from vsftpd failed"; }
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
OURS=$(median ours 2)
VS=""
[ -n "$VS_PID" ] && VS=$(median vsftpd 2)

echo "FTP passive download, ${SIZE_MB} MiB, median of $REPEAT interleaved (MB/s, server CPU ms per GiB)"
printf '%-10s %8s %8s\n' ours "$OURS" "$(median ours 3)"
if [ -n "$VS" ]; then
	printf '%-10s %8s %8s\n' vsftpd "$VS" "$(median vsftpd 3)"
	printf '%-10s %8s\n' ratio "$(python3 -c "print(f'{$OURS/$VS:.2f}x')")"
else
	echo "vsftpd    not installed (apt-get install vsftpd): no ratio"
fi
