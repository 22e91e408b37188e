#!/bin/bash
# Program-per-connection servers side by side, in one run: ours (bin/twistd
# with a type: exec service, on the epoll reactor and with -r goroutines)
# and xinetd (Debian xinetd), both running /bin/cat for each connection.
# The load (bench/execload) connects, sends one line, half-closes, reads
# the line back and closes, over CONNS connections in flight. Each server
# is pinned to one CPU and the load to another. Servers take turns round
# by round; each run prints its rate and the server's CPU time per
# connection (utime+stime of the server and its reaped children, from
# /proc/PID/stat). The table gives each server's median rate, its range,
# CPU per connection and the ratio ours/xinetd (the target is at least 1.5).
#
#   make build && bench/exec.sh            # 10 s per run, one round
#   ROUNDS=3 DURATION=5s bench/exec.sh
#   BINS="/tmp/old-twistd bin/twistd" ROUNDS=3 bench/exec.sh   # builds compared
#
# Environment: DURATION (10s), CONNS (16), ROUNDS (1), BINS (bin/twistd),
# REACTORS (epoll goroutines), SERVER_CPU (0), LOAD_CPU (1).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
ROUNDS=${ROUNDS:-1}
BINS=${BINS:-bin/twistd}
REACTORS=${REACTORS:-epoll goroutines}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

die() { echo "exec.sh: $*" >&2; exit 1; }

. bench/lib.sh
bench_tmp KILL

for b in $BINS; do [ -x "$b" ] || die "$b is missing: run make build first"; done
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the processes"
XINETD=$(command -v xinetd || echo /usr/sbin/xinetd)
[ -x "$XINETD" ] || die "xinetd is missing (apt-get install xinetd)"
go build -o "$TMP/execload" ./bench/execload || die "building bench/execload failed"
TICK=$(getconf CLK_TCK)

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

waitport() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# cputicks PID: utime+stime+cutime+cstime, in clock ticks.
cputicks() { awk '{sub(/^.*\) /, ""); print $12+$13+$14+$15}' "/proc/$1/stat"; }

run() { # label port pid: prints "rate us_per_conn"
	local out before after n
	before=$(cputicks "$3")
	out=$(taskset -c "$LOAD_CPU" "$TMP/execload" -addr "127.0.0.1:$2" -conns "$CONNS" -duration "$DURATION") || die "$1: the load failed: $out"
	after=$(cputicks "$3")
	n=$(awk '{print $1}' <<<"${out#*(}")
	awk -v l="$1" -v o="$out" -v b="$before" -v a="$after" -v n="$n" -v t="$TICK" \
		'BEGIN{printf "%-32s %s  cpu %.0f us/conn\n", l":", o, (a-b)/t*1e6/(n>0?n:1)}' >&2
	awk -v o="$out" -v b="$before" -v a="$after" -v n="$n" -v t="$TICK" \
		'BEGIN{split(o, f, " "); printf "%s %.1f\n", f[1], (a-b)/t*1e6/(n>0?n:1)}'
}

ours() { # binary reactor
	local port pid res
	port=$(freeport)
	cat >"$TMP/app.yaml" <<YAML
services:
  - name: cat
    type: exec
    listen: tcp:$port:interface=127.0.0.1
    command: [/bin/cat]
    max_instances: 10000
YAML
	taskset -c "$SERVER_CPU" "$1" -n --pidfile= --logfile="$TMP/ours.log" -r "$2" -c "$TMP/app.yaml" &
	pid=$!
	waitport "$port" || die "twistd did not start: $(cat "$TMP/ours.log")"
	res=$(run "$1 ($2)" "$port" "$pid")
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	echo "$res"
}

xinetd() {
	local port pid res
	port=$(freeport)
	cat >"$TMP/xinetd.conf" <<CONF
defaults
{
	instances = UNLIMITED
	per_source = UNLIMITED
	cps = 1000000 1
}
service cat
{
	type = UNLISTED
	socket_type = stream
	protocol = tcp
	wait = no
	user = root
	server = /bin/cat
	bind = 127.0.0.1
	port = $port
	flags = REUSE
	log_on_success =
	log_on_failure =
}
CONF
	taskset -c "$SERVER_CPU" "$XINETD" -dontfork -f "$TMP/xinetd.conf" -pidfile "$TMP/xinetd.pid" &
	pid=$!
	waitport "$port" || die "xinetd did not start"
	res=$(run xinetd "$port" "$pid")
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	echo "$res"
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
: >"$TMP/results"
for r in $(seq "$ROUNDS"); do
	for b in $BINS; do
		for re in $REACTORS; do
			echo "$b ($re) $(ours "$b" "$re")" >>"$TMP/results"
		done
	done
	echo "xinetd - $(xinetd)" >>"$TMP/results"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Per server: median rate, min-max, median CPU per connection, ratio of
# the medians against xinetd's.
x=$(awk '$1=="xinetd"{print $3}' "$TMP/results" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
printf '\n%-36s %10s %14s %12s %8s\n' "exec /bin/cat ($ROUNDS rounds)" "conn/s" "range" "us cpu/conn" "ours/x"
awk '{k=$1" "$2; print k"\t"$3"\t"$4}' "$TMP/results" | sort -t$'\t' -k1,1 -s | awk -F'\t' -v x="$x" '
function flush(   i, j, t, m, c) {
	if (k == "") return
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
		if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
		if (u[j] < u[i]) { t = u[i]; u[i] = u[j]; u[j] = t }
	}
	m = r[int((n + 1) / 2)]; c = u[int((n + 1) / 2)]
	printf "%-36s %10d %14s %12.0f %8.2f\n", k, m, r[1] "-" r[n], c, m / x
}
$1 != k { flush(); k = $1; n = 0 }
{ n++; r[n] = $2 + 0; u[n] = $3 + 0 }
END { flush() }'
