#!/usr/bin/env bash
# twistd socks against Dante (danted, Debian dante-server), same run:
# a 1 GiB transfer through one CONNECT (MiB/s) and small HTTP GETs, a
# CONNECT each (requests/s). Proxies pinned to CPU 0, the load to CPU 1.
#
#   bench/socks/run.sh
#   ROUNDS=3 CONNS=32 DURATION=10s bench/socks/run.sh
#
# Dante runs with no authentication and a pass rule for 127.0.0.0/8, as
# twistd does with destinations: {allow: [127.0.0.1/32]}. Skipped (exit 0
# with a note) when danted is missing: apt-get install dante-server.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-1}
CONNS=${CONNS:-16}
DURATION=${DURATION:-5s}
SIZE=${SIZE:-1073741824}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

work=$(mktemp -d /tmp/twistd-socks-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

danted=$(command -v danted || true)
[ -n "$danted" ] || { echo "bench/socks: danted not installed (apt-get install dante-server); skipped"; exit 0; }
ulimit -n 65536 2>/dev/null || true

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/twistd" ./cmd/twistd
go build -o "$work/load" ./bench/socks/load

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; return 1; }

tport=$(free_port)
cat >"$work/app.yaml" <<EOT
services:
  - name: proxy
    type: socks
    listen: tcp:$tport:interface=127.0.0.1
    destinations: {allow: [127.0.0.1/32]}
EOT
taskset -c "$SERVER_CPU" "$work/twistd" -n --pidfile= --log-level warn -c "$work/app.yaml" >"$work/twistd.log" 2>&1 &
pids+=($!)

dport=$(free_port)
cat >"$work/danted.conf" <<EOT
logoutput: $work/danted.log
internal: 127.0.0.1 port = $dport
external: 127.0.0.1
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
EOT
taskset -c "$SERVER_CPU" "$danted" -f "$work/danted.conf" >"$work/danted.out" 2>&1 &
pids+=($!)
wait_port "$tport"
wait_port "$dport"

load() { taskset -c "$CLIENT_CPU" "$work/load" "$@"; }
printf '%-8s %-6s %14s %14s\n' round proxy "bulk MiB/s" "GETs/s (c=$CONNS)"
for r in $(seq "$ROUNDS"); do
	tb=$(load bulk "127.0.0.1:$tport" "$SIZE"); db=$(load bulk "127.0.0.1:$dport" "$SIZE")
	tg=$(load gets "127.0.0.1:$tport" "$CONNS" "$DURATION"); dg=$(load gets "127.0.0.1:$dport" "$CONNS" "$DURATION")
	printf '%-8s %-6s %14s %14s\n' "$r" twistd "$tb" "$tg" "$r" dante "$db" "$dg"
	printf '%-8s %-6s %14s %14s\n' "$r" ratio "$(python3 -c "print(f'{$tb/$db:.2f}x')")" "$(python3 -c "print(f'{$tg/$dg:.2f}x')")"
done
