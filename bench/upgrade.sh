#!/bin/sh
# Binary upgrade: time from `twistd upgrade` (SIGUSR2) to the new process
# ready, N times in a row, under wrk load on a web service when wrk is
# installed (its error counts are printed: they must stay at zero).
# Usage: bench/upgrade.sh [N]   (default 10). Results go to stdout.
set -eu
cd "$(dirname "$0")/.."
BIN="$(pwd)/bin/twistd"
N="${1:-10}"
DIR="$(mktemp -d)"
trap '"$BIN" stop --pidfile "$DIR/t.pid" >/dev/null 2>&1 || true; kill "${WRK:-0}" "${DNSPERF:-0}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
mkdir -p "$DIR/public"
echo hello > "$DIR/public/index.html"
echo "192.0.2.7 up.example.test" > "$DIR/hosts"
PORT="${UPGRADE_BENCH_PORT:-18631}"
cat > "$DIR/app.yaml" <<YAML
admin: {listen: "tcp:0:interface=127.0.0.1"}
services:
  - name: site
    type: web
    listen: tcp:$PORT:interface=127.0.0.1
    path: ./public
  - name: names
    type: dns
    listen: [udp:$((PORT + 1)):interface=127.0.0.1, tcp:$((PORT + 1)):interface=127.0.0.1]
    hosts_file: ./hosts
YAML
"$BIN" --pidfile "$DIR/t.pid" --logfile "$DIR/t.log" -c "$DIR/app.yaml"
if command -v wrk >/dev/null 2>&1; then
	wrk -t2 -c32 -d600s "http://127.0.0.1:$PORT/" > "$DIR/wrk.out" 2>&1 &
	WRK=$!
	sleep 1
else
	echo "wrk not installed: measuring without load" >&2
fi
if command -v dnsperf >/dev/null 2>&1; then
	# A steady query rate the server answers whole when nothing happens,
	# so that a lost query is the upgrade's.
	echo "up.example.test A" > "$DIR/queries"
	dnsperf -s 127.0.0.1 -p $((PORT + 1)) -d "$DIR/queries" -l 600 -Q 2000 -t 2 > "$DIR/dnsperf.out" 2>&1 &
	DNSPERF=$!
	sleep 1
else
	echo "dnsperf not installed: no DNS load" >&2
fi
times=""
i=0
while [ "$i" -lt "$N" ]; do
	t0=$(date +%s%N)
	"$BIN" upgrade --pidfile "$DIR/t.pid" >/dev/null
	t1=$(date +%s%N)
	times="$times $(( (t1 - t0) / 1000000 ))"
	# The next upgrade waits for this one's old process to finish draining.
	while [ -e "$DIR/t.pid.oldbin" ]; do sleep 0.01; done
	i=$((i + 1))
done
echo "twistd upgrade, signal to new process ready (ms, $N runs):"
echo "$times" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{a[NR]=$1} END {printf "  min %d  median %d  max %d\n", a[1], a[int((NR+1)/2)], a[NR]}'
echo "as the daemon logged it (hook start to ready, ms):"
grep 'upgraded: the new process is ready' "$DIR/t.log" | grep -o '"took": "[^"]*"' | sed 's/"took": "//; s/"//' |
	awk '/ms$/ {sub(/ms$/, ""); print $0 + 0; next} /µs$/ {sub(/µs$/, ""); print $0 / 1000; next} /s$/ {sub(/s$/, ""); print $0 * 1000}' |
	sort -n | awk '{a[NR]=$1} END {printf "  min %.1f  median %.1f  max %.1f\n", a[1], a[int((NR+1)/2)], a[NR]}'
if [ -n "${DNSPERF:-}" ]; then
	sleep 2 # the last queries' answers (or their timeouts)
	kill -INT "$DNSPERF"; wait "$DNSPERF" || true
	echo "dnsperf during the upgrades:"
	grep -E "Queries sent|Queries completed|Queries lost" "$DIR/dnsperf.out" | sed 's/^ */  /'
	if ! grep -q "Queries lost: *0 " "$DIR/dnsperf.out"; then
		echo "  (an upgrade lost queries; it must lose none)"
	fi
fi
if [ -n "${WRK:-}" ]; then
	kill -INT "$WRK"; wait "$WRK" || true
	echo "wrk during the upgrades:"
	grep -E "requests in|Socket errors|Non-2xx" "$DIR/wrk.out" | sed 's/^/  /'
	# wrk never retries: a socket error or a non-2xx answer is a lost request.
	if grep -q "Socket errors\|Non-2xx" "$DIR/wrk.out"; then
		echo "  (errors above: an upgrade lost requests; it must lose none)"
	fi
fi
