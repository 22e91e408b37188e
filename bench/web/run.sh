#!/usr/bin/env bash
# Load runs for the web service (issue 4): twistd web against Caddy's
# file-server, nginx (one worker) and Python twistd web, same files, same
# run, server pinned to CPU 0 and wrk to CPU 1.
#
#   bench/web/run.sh                 all servers, 4 KiB and 1 MiB files, then idle RSS
#   DURATION=10s CONNS=64 bench/web/run.sh
#   SERVERS="twistd caddy" ROUNDS=3 bench/web/run.sh
#   SERVERS="twistd twistd-goroutines" bench/web/run.sh   the two reactors
#   SERVERS= HOG_SERVERS="twistd nginx" bench/web/run.sh  only the CPU-hog runs
#
# twistd is twistd web as shipped: plain endpoints on the epoll reactor's
# event loops (protocol/httpconn), idle keep-alive connections
# parked there, files sent with sendfile. twistd-goroutines is the same
# binary with -r goroutines, the reactor macOS and FreeBSD get. The idle
# RSS section runs with IDLE_REACTOR (default epoll).
#
# The CPU-hog section runs HOG_SERVERS (default twistd and nginx) again
# on the 4 KiB file with a busy loop pinned to the server's CPU: how a
# server fares when it shares its CPU with a runaway neighbour (the
# scheduler splits the CPU between the two; a server that hogs it back
# or stalls behind it shows in p99).
#
# Needs wrk, taskset; caddy, nginx, twistd3 are skipped when missing.
# nginx runs as root (workers as nobody): run the script as root for it.
set -euo pipefail

cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
# wrk's threads, for the 4 KiB runs and the 1 MiB ones. wrk has one CPU
# (CLIENT_CPU): two threads there take turns in scheduler slices, and a
# response that comes for the one not running waits out the other's slice,
# so a server that outruns wrk shows wrk's slices as its p99 (2026-12-07,
# same run: ours 4.6-4.8 ms with -t2, 1.5-2.1 ms with -t1, nginx 2.7-3.2
# both ways). One thread keeps up with 4 KiB responses; 1 MiB ones need
# two (one reads ~650 a second from either server, two ~1,300-2,000).
THREADS_4K=${THREADS_4K:-1}
THREADS_1M=${THREADS_1M:-2}
SERVERS=${SERVERS-"twistd twistd-goroutines caddy nginx twistd3"}
IDLE_REACTOR=${IDLE_REACTOR:-epoll}
HOG_SERVERS=${HOG_SERVERS-"twistd nginx"}
ROUNDS=${ROUNDS:-1} # >1 interleaves the servers round after round: on a shared machine, compare medians
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

work=$(mktemp -d /tmp/twistd-web-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "bench/web: wrk is not installed" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/twistd" ./cmd/twistd
go build -o "$work/idle" ./bench/web/idle

root="$work/root"
mkdir -p "$root"
head -c 4096 /dev/urandom >"$root/file4k.bin"
head -c 1048576 /dev/urandom >"$root/file1m.bin"
chmod -R a+rX "$work"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
	for _ in $(seq 1 200); do
		curl -fs -o /dev/null "http://127.0.0.1:$1/file4k.bin" && return 0
		sleep 0.05
	done
	echo "bench/web: server on port $1 did not come up" >&2
	return 1
}

start_server() { # name port → sets server_pid
	local name=$1 port=$2
	case $name in
	twistd)
		taskset -c "$SERVER_CPU" "$work/twistd" -n --pidfile= --logfile=/dev/null \
			web --listen "tcp:$port:interface=127.0.0.1" --path "$root" &
		;;
	twistd-goroutines)
		taskset -c "$SERVER_CPU" "$work/twistd" -n --pidfile= --logfile=/dev/null -r goroutines \
			web --listen "tcp:$port:interface=127.0.0.1" --path "$root" &
		;;
	caddy)
		command -v caddy >/dev/null || return 1
		HOME=$work XDG_DATA_HOME=$work XDG_CONFIG_HOME=$work \
			taskset -c "$SERVER_CPU" caddy file-server --listen "127.0.0.1:$port" --root "$root" >/dev/null 2>&1 &
		;;
	nginx)
		command -v nginx >/dev/null || return 1
		[ "$(id -u)" = 0 ] || return 1
		mkdir -p "$work/nginx"
		cat >"$work/nginx/nginx.conf" <<-CONF
			worker_processes 1;
			pid $work/nginx/nginx.pid;
			error_log $work/nginx/error.log;
			events { worker_connections 20000; }
			http {
				access_log off;
				sendfile on; tcp_nopush on; tcp_nodelay on;
				keepalive_requests 1000000;
				client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
				fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
				types { application/octet-stream bin; }
				server { listen 127.0.0.1:$port; root $root; }
			}
		CONF
		taskset -c "$SERVER_CPU" nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
		;;
	twistd3)
		command -v twistd3 >/dev/null || return 1
		(cd "$work" && taskset -c "$SERVER_CPU" twistd3 -n --pidfile= -l /dev/null \
			web --listen "tcp:$port:interface=127.0.0.1" --path "$root") &
		;;
	esac
	server_pid=$!
	pids+=("$server_pid")
}

# cpu_ticks PID: CPU time (user+system, in clock ticks) of PID and its
# children (nginx's worker is the master's child).
cpu_ticks() {
	local t=0 p
	for p in "$1" $(pgrep -P "$1"); do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}

# run_wrk threads url → prints "req/s p99 µs-CPU-per-request" (the
# server's CPU: steadier than req/s on a shared machine)
run_wrk() {
	local out t0 t1
	t0=$(cpu_ticks "$server_pid")
	out=$(taskset -c "$CLIENT_CPU" wrk -t"$1" -c"$CONNS" -d"$DURATION" --latency "$2")
	t1=$(cpu_ticks "$server_pid")
	local rps p99 n
	rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	n=$(awk '/requests in/ {print $1}' <<<"$out")
	echo "$rps $p99 $(awk -v a="$t0" -v b="$t1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "n/a" }')"
}

# start_warm name port → starts the server and warms it on the 4 KiB
# file; false (with a line saying so) when the server is not available.
start_warm() {
	if ! start_server "$1" "$2"; then
		printf '%-14s %s\n' "$1" "(skipped: not installed or needs root)"
		return 1
	fi
	wait_port "$2"
	taskset -c "$CLIENT_CPU" wrk -t"$THREADS_4K" -c"$CONNS" -d2s "http://127.0.0.1:$2/file4k.bin" >/dev/null
}

stop_server() {
	kill "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
}

echo "# bench/web $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -c$CONNS -d$DURATION, -t$THREADS_4K for 4 KiB, -t$THREADS_1M for 1 MiB"
printf '%-18s %12s %10s %8s %12s %10s %8s\n' server "4KiB req/s" "4KiB p99" "µs CPU" "1MiB req/s" "1MiB p99" "µs CPU"
for round in $(seq 1 "$ROUNDS"); do
[ "$ROUNDS" -gt 1 ] && echo "# round $round"
for name in $SERVERS; do
	port=$(free_port)
	start_warm "$name" "$port" || continue
	read -r r4 p4 c4 <<<"$(run_wrk "$THREADS_4K" "http://127.0.0.1:$port/file4k.bin")"
	read -r r1 p1 c1 <<<"$(run_wrk "$THREADS_1M" "http://127.0.0.1:$port/file1m.bin")"
	printf '%-18s %12s %10s %8s %12s %10s %8s\n' "$name" "$r4" "$p4" "$c4" "$r1" "$p1" "$c1"
	stop_server
done
done

# The same 4 KiB run with a busy loop on the server's CPU.
if [ -n "$HOG_SERVERS" ]; then
	taskset -c "$SERVER_CPU" sh -c 'while :; do :; done' &
	hog_pid=$!
	pids+=("$hog_pid")
	echo "# CPU hog: a busy loop pinned to CPU $SERVER_CPU beside the server, load $(cut -d' ' -f1-3 /proc/loadavg)"
	printf '%-18s %12s %10s %8s\n' server "4KiB req/s" "4KiB p99" "µs CPU"
	for round in $(seq 1 "$ROUNDS"); do
		[ "$ROUNDS" -gt 1 ] && echo "# hog round $round"
		for name in $HOG_SERVERS; do
			port=$(free_port)
			start_warm "$name" "$port" || continue
			read -r r4 p4 c4 <<<"$(run_wrk "$THREADS_4K" "http://127.0.0.1:$port/file4k.bin")"
			printf '%-18s %12s %10s %8s\n' "$name+hog" "$r4" "$p4" "$c4"
			stop_server
		done
	done
	kill "$hog_pid" 2>/dev/null || true
	wait "$hog_pid" 2>/dev/null || true
fi

# Idle keep-alive connections: RSS of twistd web holding IDLE_CONNS of them.
port=$(free_port)
cat >"$work/idle.yaml" <<-YAML
	services:
	  - type: web
	    listen: tcp:$port:interface=127.0.0.1
	    path: $root
	    policies: {max_connections: $((IDLE_CONNS + 100))}
YAML
taskset -c "$SERVER_CPU" "$work/twistd" -n --pidfile= --logfile=/dev/null -r "$IDLE_REACTOR" -c "$work/idle.yaml" &
server_pid=$!
pids+=("$server_pid")
wait_port "$port"
before=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
taskset -c "$CLIENT_CPU" "$work/idle" -addr "127.0.0.1:$port" -path /file4k.bin -n "$IDLE_CONNS" >"$work/idle.out" &
idle_pid=$!
pids+=("$idle_pid")
for _ in $(seq 1 600); do grep -q "connections open" "$work/idle.out" 2>/dev/null && break; sleep 0.1; done
sleep 2
after=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status")
echo "idle (reactor $IDLE_REACTOR): $(cat "$work/idle.out"); twistd RSS ${before} KiB before, ${after} KiB with them ($(( after / 1024 )) MiB)"
