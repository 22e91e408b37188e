#!/bin/bash
# Program-per-connection servers side by side, in one run: ours (bin/twistd
# with a type: exec service, on the epoll reactor and with -r goroutines)
# and xinetd (Debian xinetd), both running /bin/cat for each connection.
# The load (bench/execload) connects, sends one line, half-closes, reads
# the line back and closes, over CONNS connections in flight. Each server
# is pinned to one CPU and the load to another. Prints each run and the
# ratio ours/xinetd (the target is at least 1.5).
#
#   make build && bench/exec.sh            # 10 s per run
#   DURATION=3s bench/exec.sh
#
# Environment: DURATION (10s), CONNS (16), SERVER_CPU (0), LOAD_CPU (1).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DURATION=${DURATION:-10s}
CONNS=${CONNS:-16}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

die() { echo "exec.sh: $*" >&2; exit 1; }

. bench/lib.sh
bench_tmp KILL

[ -x bin/twistd ] || die "bin/twistd is missing: run make build first"
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the processes"
XINETD=$(command -v xinetd || echo /usr/sbin/xinetd)
[ -x "$XINETD" ] || die "xinetd is missing (apt-get install xinetd)"
go build -o "$TMP/execload" ./bench/execload || die "building bench/execload failed"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

waitport() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

run() { # name port
	local out
	out=$(taskset -c "$LOAD_CPU" "$TMP/execload" -addr "127.0.0.1:$2" -conns "$CONNS" -duration "$DURATION") || die "$1: the load failed: $out"
	echo "$1: $out" >&2
	echo "${out%% *}"
}

ours() { # reactor
	local port pid rate
	port=$(freeport)
	cat >"$TMP/app.yaml" <<YAML
services:
  - name: cat
    type: exec
    listen: tcp:$port:interface=127.0.0.1
    command: [/bin/cat]
    max_instances: 10000
YAML
	taskset -c "$SERVER_CPU" bin/twistd -n --pidfile= --logfile="$TMP/ours.log" -r "$1" -c "$TMP/app.yaml" &
	pid=$!
	waitport "$port" || die "twistd did not start: $(cat "$TMP/ours.log")"
	rate=$(run "ours ($1)" "$port")
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	echo "$rate"
}

xinetd() {
	local port pid rate
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
	rate=$(run xinetd "$port")
	kill -TERM "$pid"; wait "$pid" 2>/dev/null
	echo "$rate"
}

e=$(ours epoll)
g=$(ours goroutines)
x=$(xinetd)
printf '\n%-24s %12s %8s\n' "exec /bin/cat" "conn/s" "ours/x"
printf '%-24s %12s %8s\n' "twistd (epoll)" "$e" "$(awk -v a="$e" -v b="$x" 'BEGIN{printf "%.2f", a/b}')"
printf '%-24s %12s %8s\n' "twistd (goroutines)" "$g" "$(awk -v a="$g" -v b="$x" 'BEGIN{printf "%.2f", a/b}')"
printf '%-24s %12s %8s\n' "xinetd" "$x" "1.00"
