#!/bin/bash
# How often an idle server wakes up: ours with every plugin loaded (echo,
# tcp, web, dns, portforward and the admin endpoint, and --watch on the
# application file and the files it names) beside nginx with one
# worker, measured over the same window. Each is started and left alone
# for SETTLE; then its context switches (voluntary + nonvoluntary, summed
# over every thread — for nginx the master and the worker) and its CPU
# time (utime + stime) are read twice, WINDOW apart. An idle server should
# make next to none of either: each wake-up is a thread taking the CPU for
# nothing.
#
#   make build && bench/idle.sh
#
# Environment: TWISTD (bin/twistd; another build to compare), SETTLE (2 s),
# WINDOW (10 s), NGINX (nginx; "" skips it),
# PORT_BASE (19400: ours takes the next six ports, nginx PORT_BASE+10).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
SETTLE=${SETTLE:-2}
WINDOW=${WINDOW:-10}
NGINX=${NGINX-nginx}
PORT_BASE=${PORT_BASE:-19400}
TWISTD=${TWISTD:-$ROOT/bin/twistd}

die() { echo "idle.sh: $*" >&2; exit 1; }

. bench/lib.sh
bench_tmp TERM

[ -x "$TWISTD" ] || die "$TWISTD is missing: run make build first"
TICK=$(getconf CLK_TCK)

# switches PID...: voluntary + nonvoluntary context switches of every
# thread of every PID.
switches() {
	local pid
	for pid in "$@"; do
		cat /proc/"$pid"/task/*/status 2>/dev/null
	done | awk '/^(voluntary|nonvoluntary)_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# cputicks PID...: utime + stime of every PID in clock ticks (fields 14
# and 15 of /proc/PID/stat, counted from after the command's parenthesis).
cputicks() {
	local pid
	for pid in "$@"; do
		sed 's/^.*) //' /proc/"$pid"/stat
	done | awk '{ s += $12 + $13 } END { print s + 0 }'
}

threads() {
	local pid
	for pid in "$@"; do
		ls /proc/"$pid"/task
	done | wc -l
}

# measure NAME PID...: NAME's wake-ups per second and CPU time over WINDOW.
measure() {
	local name=$1
	shift
	local s0 c0 s1 c1
	s0=$(switches "$@") c0=$(cputicks "$@")
	sleep "$WINDOW"
	s1=$(switches "$@") c1=$(cputicks "$@")
	awk -v n="$name" -v s=$((s1 - s0)) -v c=$((c1 - c0)) -v w="$WINDOW" -v t="$TICK" -v th="$(threads "$@")" \
		'BEGIN { printf "%-27s %8.1f wake-ups/s %6.0f ms CPU in %d s  (%d threads)\n", n, s / w, c * 1000 / t, w, th }'
}

# Ours: configs/app.yaml's services (echo, web, dns, admin) plus a tcp and
# a portforward service, on high ports so that it runs beside the demo.
mkdir -p "$TMP/app"
cp -r configs/. "$TMP/app/"
sed -e "s/tcp:9090:/tcp:$((PORT_BASE + 0)):/" \
	-e "s/:7007:/:$((PORT_BASE + 1)):/g" \
	-e "s/tcp:8080:/tcp:$((PORT_BASE + 2)):/" \
	-e "s/:5353:/:$((PORT_BASE + 3)):/g" \
	-e 's/log_level: info/log_level: warn/' \
	-e '/access_log:/d' \
	configs/app.yaml >"$TMP/app/app.yaml"
cat >>"$TMP/app/app.yaml" <<EOF
  - name: daytime
    type: tcp
    protocol: daytime
    listen: tcp:$((PORT_BASE + 4)):interface=127.0.0.1
  - name: forward
    type: portforward
    listen: tcp:$((PORT_BASE + 5)):interface=127.0.0.1
    connect: 127.0.0.1:$((PORT_BASE + 2))
EOF
(cd "$TMP/app" && exec "$TWISTD" -n --pidfile= --watch -c app.yaml >"$TMP/ours.log" 2>&1) &
OURS=$!

if [ -n "$NGINX" ] && ! command -v "$NGINX" >/dev/null; then
	echo "idle.sh: $NGINX is not installed (apt-get install nginx): skipping it" >&2
	NGINX=
fi
if [ -n "$NGINX" ]; then
	mkdir -p "$TMP/nginx/logs" "$TMP/nginx/html"
	echo hello >"$TMP/nginx/html/index.html"
	cat >"$TMP/nginx/nginx.conf" <<EOF
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/proxy;
	fastcgi_temp_path $TMP/nginx/fastcgi;
	uwsgi_temp_path $TMP/nginx/uwsgi;
	scgi_temp_path $TMP/nginx/scgi;
	server { listen 127.0.0.1:$((PORT_BASE + 10)); root $TMP/nginx/html; }
}
EOF
	"$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off; master_process on; worker_processes 1;' \
		2>"$TMP/nginx.log" &
	NGINX_PID=$!
fi

sleep "$SETTLE"
kill -0 "$OURS" 2>/dev/null || die "twistd did not start: $(cat "$TMP/ours.log")"
echo "idle servers, $WINDOW s after $SETTLE s, commit $(git rev-parse --short HEAD 2>/dev/null)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Both over the same window, so under the same machine load.
measure "twistd (every plugin, --watch)" "$OURS" >"$TMP/ours.out" &
MEASURERS=$!
if [ -n "$NGINX" ]; then
	if kill -0 "$NGINX_PID" 2>/dev/null; then
		# shellcheck disable=SC2046 # one PID a word
		measure "nginx (master + 1 worker)" "$NGINX_PID" $(pgrep -P "$NGINX_PID") >"$TMP/nginx.out" &
		MEASURERS="$MEASURERS $!"
	else
		echo "idle.sh: nginx did not start: $(cat "$TMP/nginx.log")" >&2
	fi
fi
# shellcheck disable=SC2086
wait $MEASURERS
cat "$TMP/ours.out" "$TMP/nginx.out" 2>/dev/null
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
