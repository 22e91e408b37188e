#!/bin/sh
# Idle wake-ups: start bin/twistd on the demo application (echo, web, dns,
# admin endpoint), wait 2 s, then count the context switches (voluntary +
# involuntary, summed over every thread from /proc/PID/task/*/status) and
# the CPU time (utime+stime from /proc/PID/stat) over 10 s. An idle daemon
# should make (almost) none.
set -eu
cd "$(dirname "$0")/.."
[ -x bin/twistd ] || { echo "bench/idle.sh: run make build first" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$TMP"' EXIT
cp -r configs/. "$TMP/"
(cd "$TMP" && exec "$OLDPWD/bin/twistd" -n --pidfile= -c app.yaml >twistd.log 2>&1) &
PID=$!
sleep 2
switches() { cat /proc/"$PID"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'; }
ticks() { awk '{print $14 + $15}' /proc/"$PID"/stat; }
s0=$(switches); t0=$(ticks)
sleep 10
s1=$(switches); t1=$(ticks)
echo "idle twistd (demo app, every plugin of configs/app.yaml): $(( (s1 - s0) / 10 )) wake-ups/s, $(( (t1 - t0) * 10 )) ms CPU in 10 s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
