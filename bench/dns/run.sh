#!/usr/bin/env bash
# Load run for the dns service (issue 5): UDP queries/s and latency of
# twistd against Knot, NSD and Python twistd for the same 1,000-name zone
# and an equivalent hosts file, with 10% of the queries for names that do
# not exist. The server runs on one core, dnsperf on the other (taskset).
#
#   bench/dns/run.sh [seconds per run]     (default 10; needs dnsperf;
#                                           knotd, nsd, twistd3 when installed)
# Each line: queries/s, average latency, queries lost, the server's CPU time
# per query (utime+stime), RSS.
# Environment: TWISTD (binary, default bin/twistd), SERVER_CPU (0), CLIENT_CPU (1),
# DNSPERF_ARGS (default "-c 1 -q 100": one socket, 100 queries outstanding).
# Python twistd's --bindzone fails on Python 3 in Twisted 24 (TypeError in
# BindAuthority.loadFile), so it serves the same records from --pyzone.
set -euo pipefail
secs=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
twistd=${TWISTD:-$root/bin/twistd}
scpu=${SERVER_CPU:-0}
ccpu=${CLIENT_CPU:-1}
read -r -a perfargs <<<"${DNSPERF_ARGS:--c 1 -q 100}"
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

[ -x "$twistd" ] || (cd "$root" && go build -o "$twistd" ./cmd/twistd)
command -v dnsperf >/dev/null || { echo "dnsperf is not installed (apt-get install dnsperf)"; exit 1; }
command -v dig >/dev/null || { echo "dig is not installed (apt-get install bind9-dnsutils)"; exit 1; }

# The data: bench.test. with 1,000 names; the same names in a hosts file.
{
	echo '$ORIGIN bench.test.'
	echo '$TTL 3600'
	echo '@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300'
	echo '@ IN NS ns1'
	echo 'ns1 IN A 192.0.2.1'
	for i in $(seq 1 1000); do echo "host$i IN A 10.0.$((i / 256)).$((i % 256))"; done
} > "$work/bench.test.zone"
for i in $(seq 1 1000); do echo "10.0.$((i / 256)).$((i % 256)) host$i.bench.test"; done > "$work/hosts"
# Queries: 90% existing names, 10% names that do not exist.
for i in $(seq 1 1000); do
	if (( i % 10 == 0 )); then echo "missing$i.bench.test A"; else echo "host$i.bench.test A"; fi
done > "$work/queries"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_answer() { # port
	for _ in $(seq 1 100); do
		dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" host1.bench.test A 2>/dev/null | grep -q 10.0.0.1 && return 0
		sleep 0.1
	done
	echo "server on port $1 did not answer"; return 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; } # utime + stime

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "?"; }

run() { # label port pid
	local out t0 t1
	t0=$(cpu_ticks "$3")
	out=$(taskset -c "$ccpu" dnsperf -s 127.0.0.1 -p "$2" -d "$work/queries" -l "$secs" "${perfargs[@]}" 2>&1)
	t1=$(cpu_ticks "$3")
	local qps lat lost done_q us
	qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
	lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
	lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
	done_q=$(awk '/Queries completed/ {print $3}' <<<"$out")
	# Server CPU per answered query: steadier than qps on a shared machine.
	# n/a for nsd, whose queries are answered by a child process.
	us=$(awk -v a="$t0" -v b="$t1" -v q="$done_q" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (q > 0 && b > a) printf "%.2f", (b - a) * 1e6 / hz / q; else print "n/a" }')
	printf '%-28s %12s qps  %10s s avg latency  lost %-8s %6s us CPU/query  RSS %s KiB\n' "$1" "$qps" "$lat" "$lost" "$us" "$(rss_kb "$3")"
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

echo "dns load run: $(date -u +%FT%TZ), $(nproc) CPUs, ${secs}s each, server on CPU $scpu, dnsperf ${perfargs[*]} on CPU $ccpu"
echo "load average: $(cut -d" " -f1-3 /proc/loadavg)"

for reactor in epoll goroutines; do
	for mode in bindzone hosts-file; do
		p=$(port)
		if [ $mode = bindzone ]; then arg=(--bindzone "$work/bench.test.zone"); else arg=(--hosts-file "$work/hosts"); fi
		taskset -c "$scpu" "$twistd" -n --pidfile= --logfile="$work/twistd.log" -r "$reactor" dns --interface 127.0.0.1 -p "$p" "${arg[@]}" &
		pid=$!; pids+=($pid)
		wait_answer "$p"
		run "twistd -r $reactor --$mode" "$p" "$pid"
		stop "$pid"
	done
done

if command -v knotd >/dev/null; then
	p=$(port)
	mkdir -p "$work/knot"
	cat > "$work/knot/knot.conf" <<CONF
server:
    listen: 127.0.0.1@$p
    rundir: $work/knot
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $work/knot/db
template:
  - id: default
    storage: $work
    journal-content: none
zone:
  - domain: bench.test
    file: bench.test.zone
log:
  - target: stderr
    any: error
CONF
	taskset -c "$scpu" knotd -c "$work/knot/knot.conf" 2>/dev/null &
	pid=$!; pids+=($pid)
	wait_answer "$p"
	run "knotd" "$p" "$pid"
	stop "$pid"
fi

if command -v nsd >/dev/null; then
	p=$(port)
	mkdir -p "$work/nsd"
	cat > "$work/nsd/nsd.conf" <<CONF
server:
    ip-address: 127.0.0.1@$p
    server-count: 1
    database: ""
    zonelistfile: "$work/nsd/zone.list"
    pidfile: "$work/nsd/nsd.pid"
    xfrdfile: "$work/nsd/xfrd.state"
    username: ""
    chroot: ""
    zonesdir: "$work"
    rrl-ratelimit: 0
    logfile: "$work/nsd/nsd.log"
remote-control:
    control-enable: no
zone:
    name: bench.test
    zonefile: bench.test.zone
CONF
	taskset -c "$scpu" nsd -d -c "$work/nsd/nsd.conf" &
	pid=$!; pids+=($pid)
	wait_answer "$p"
	run "nsd" "$p" "$pid"
	stop "$pid"
fi

if command -v twistd3 >/dev/null; then
	for mode in bindzone hosts-file; do
		p=$(port)
		if [ $mode = bindzone ]; then
			mode=pyzone
			{
				echo "zone = ["
				echo "  SOA('bench.test', mname='ns1.bench.test', rname='hostmaster.bench.test', serial=1, refresh=7200, retry=3600, expire=1209600, minimum=300, ttl=3600),"
				echo "  NS('bench.test', 'ns1.bench.test'),"
				echo "  A('ns1.bench.test', '192.0.2.1'),"
				for i in $(seq 1 1000); do echo "  A('host$i.bench.test', '10.0.$((i / 256)).$((i % 256))', ttl=3600),"; done
				echo "]"
			} > "$work/bench.py"
			arg=(--pyzone "$work/bench.py")
		else
			arg=(--hosts-file "$work/hosts")
		fi
		(cd "$work" && exec taskset -c "$scpu" twistd3 -n --pidfile= -l "$work/py.log" dns --interface 127.0.0.1 -p "$p" "${arg[@]}") &
		pid=$!; pids+=($pid)
		if wait_answer "$p"; then run "twistd (Python) --$mode" "$p" "$pid"; fi
		stop "$pid"
	done
fi
