#!/bin/bash
# The example chat server's broadcast, side by side in one run: ours
# (examples' mytwistd chat, on the epoll reactor and with -r goroutines)
# and the plain Go chat written the obvious way (bench/chat/plain: a
# goroutine per connection, the room a map under a mutex, a write to each
# member). bench/chat/load joins CLIENTS clients, SENDERS of them send,
# every client counts what it receives; each server is pinned to one CPU
# and the load to another. ours-naive is twistd with the chat a newcomer
# writes first (bench/chat/naive: one Write per line and member, where the
# example gathers a read's lines into one Write per member). Rounds are
# interleaved: each round runs every server once, so noise from other
# work spreads over all of them. Prints every run, then the best of the
# rounds (deliveries/s, the server's CPU time and write system calls per
# delivery) and the ratios ours/plain.
#
#   make build && bench/chat.sh               # 5 s per run, 3 rounds
#   DURATION=2s ROUNDS=1 bench/chat.sh        # a quick look
#   BASE=/tmp/base bench/chat.sh              # also base and base-naive:
#                                             # $BASE/mytwistd and $BASE/naive
#                                             # built from another commit
#
# Environment: DURATION (5s), ROUNDS (3), CLIENTS (1000), SENDERS (4),
# SERVERS ("ours ours-naive ours-g plain", with BASE "base ours base-naive
# ours-naive ours-g plain"), BASE, SERVER_CPU (0), LOAD_CPU (1).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DURATION=${DURATION:-5s}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-1000}
SENDERS=${SENDERS:-4}
BASE=${BASE:-}
if [ -n "$BASE" ]; then
	SERVERS=${SERVERS:-base ours base-naive ours-naive ours-g plain}
else
	SERVERS=${SERVERS:-ours ours-naive ours-g plain}
fi
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}

die() { echo "chat.sh: $*" >&2; exit 1; }

. bench/lib.sh
bench_tmp KILL

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || die "cannot raise the open-file limit"
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the processes"
(cd examples && go build -o "$TMP/mytwistd" ./cmd/mytwistd) || die "building examples/cmd/mytwistd failed"
go build -o "$TMP/plain" ./bench/chat/plain || die "building bench/chat/plain failed"
go build -o "$TMP/naive" ./bench/chat/naive || die "building bench/chat/naive failed"
go build -o "$TMP/load" ./bench/chat/load || die "building bench/chat/load failed"
if [ -n "$BASE" ]; then
	[ -x "$BASE/mytwistd" ] && [ -x "$BASE/naive" ] || die "BASE=$BASE needs mytwistd and naive in it"
fi

declare -A CMD=(
	[ours]="$TMP/mytwistd -n --pidfile= chat --port tcp:{port}:interface=127.0.0.1"
	[ours-g]="$TMP/mytwistd -n --pidfile= -r goroutines chat --port tcp:{port}:interface=127.0.0.1"
	[ours-naive]="$TMP/naive -n --pidfile= chat --port tcp:{port}:interface=127.0.0.1"
	[base]="$BASE/mytwistd -n --pidfile= chat --port tcp:{port}:interface=127.0.0.1"
	[base-naive]="$BASE/naive -n --pidfile= chat --port tcp:{port}:interface=127.0.0.1"
	[plain]="$TMP/plain -addr 127.0.0.1:{port}"
)
declare -A LABEL=([ours]=ours [ours-g]="ours -r goroutines" [ours-naive]="ours, naive chat" [base]=base
	[base-naive]="base, naive chat" [plain]="plain Go")

freeport() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
alive() { kill -0 "$1" 2>/dev/null; }

# start_server NAME: a fresh server on a free port, pinned; sets SPID, PORT.
start_server() {
	local name=$1 argv i
	PORT=$(freeport) || return 1
	read -ra argv <<<"${CMD[$name]//\{port\}/$PORT}"
	taskset -c "$SERVER_CPU" "${argv[@]}" >>"$TMP/$name.log" 2>&1 &
	SPID=$!
	for ((i = 0; i < 200; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
			return 0
		fi
		alive "$SPID" || break
		sleep 0.1
	done
	echo "  ${LABEL[$name]} did not start; its log:" >&2
	tail -5 "$TMP/$name.log" >&2
	stop_server
	return 1
}

stop_server() {
	[ -n "${SPID:-}" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	local i
	for ((i = 0; i < 50; i++)); do
		alive "$SPID" || break
		sleep 0.1
	done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=
}

field() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$1"; }

# Best of the rounds: R[name.rate], R[name.ns]; "!" marks a run with errors.
declare -A R

echo "chat broadcast, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), Linux $(uname -r)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server on CPU $SERVER_CPU, load on CPU $LOAD_CPU; $CLIENTS clients, $SENDERS senders, $DURATION per run, best of $ROUNDS rounds"
echo
for ((round = 1; round <= ROUNDS; round++)); do
	echo "round $round of $ROUNDS (load average $(cut -d' ' -f1 /proc/loadavg))"
	for name in $SERVERS; do
		# A fresh server each run: the previous run's room is empty again.
		start_server "$name" || { R[$name.rate]=${R[$name.rate]:-failed}; continue; }
		out="$TMP/$name.$round.out" rc=0
		taskset -c "$LOAD_CPU" "$TMP/load" -addr "127.0.0.1:$PORT" -pid "$SPID" -clients "$CLIENTS" \
			-senders "$SENDERS" -duration "$DURATION" -json >"$out" 2>"$out.err" || rc=$?
		printf '  %-19s %s\n' "${LABEL[$name]}" "$(grep -v '^{' "$out" | head -1)"
		sed 's/^/                      /' "$out.err"
		j="$out.json"
		grep '^{' "$out" | tail -1 >"$j"
		if [ -s "$j" ]; then
			rate=$(field "$j" delivered_per_sec) ns=$(field "$j" cpu_ns_per_delivery) w=$(field "$j" writes_per_delivery) mark=""
			[ "$rc" -eq 0 ] || mark="!"
			if [[ ${R[$name.rate]:-} != *! ]] && awk -v a="$rate" -v b="${R[$name.rate]:--1}" 'BEGIN { exit !(a > b) }' || [ -n "$mark" ]; then
				R[$name.rate]="$rate$mark" R[$name.ns]="$ns$mark" R[$name.w]="$w"
			fi
		else
			R[$name.rate]=${R[$name.rate]:-failed} R[$name.ns]=${R[$name.ns]:-failed}
		fi
		stop_server
	done
done

echo
printf '%-19s %16s %14s %14s %12s %12s\n' server "deliveries/s" "CPU ns/deliv" "writes/deliv" "rate/plain" "CPU/plain"
for name in $SERVERS; do
	rate=${R[$name.rate]:-failed} ns=${R[$name.ns]:-failed}
	rr=$(awk -v a="${rate%!}" -v b="${R[plain.rate]:-}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
	cr=$(awk -v a="${ns%!}" -v b="${R[plain.ns]:-}" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
	num() { awk -v a="$1" 'BEGIN { if (a + 0 > 0) printf "%.0f%s", a, (a ~ /!$/ ? "!" : ""); else print a }'; }
	printf '%-19s %16s %14s %14s %12s %12s\n' "${LABEL[$name]}" "$(num "$rate")" "$(num "$ns")" "$(awk -v a="${R[$name.w]:-}" 'BEGIN { if (a != "") printf "%.3f", a; else print "-" }')" "$rr" "$cr"
done
echo "(rate/plain above 1 and CPU/plain below 1: ours ahead; ! marks a run with errors)"
