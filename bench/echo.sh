#!/bin/bash
# Echo servers side by side, in one run: ours (bin/twistd echo, on the
# epoll reactor and again with -r goroutines), the C epoll server (bench/cecho), the plain Go
# server (bench/goecho) and Python Twisted (bench/twisted_echo.py). Each
# server is pinned to one CPU and bench/echoload to another; each runs
# ping-pong with 64-byte messages over 1, 64 and 1000 connections, stream
# mode, and — freshly started — holds 10,000 idle connections while its
# RSS is read. Prints every run, then a table with ratios ours/reference.
#
#   make build && bench/echo.sh                  # 10 s per run
#   DURATION=2s bench/echo.sh                    # a quick look
#
# Environment: DURATION (10s), REPEAT (1; best of N per test), HOLD (6s),
# IDLE_CONNS (10000), SERVERS ("ours ours-g c go twisted"), SERVER_CPU (0),
# LOAD_CPU (1), PYTHON (/usr/bin/python3).
# Runs as root or with a hard open-file limit of at least IDLE_CONNS+100.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
DURATION=${DURATION:-10s}
HOLD=${HOLD:-6s}
REPEAT=${REPEAT:-1}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVERS=${SERVERS:-ours ours-g c go twisted}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PY=${PYTHON:-/usr/bin/python3}

die() { echo "echo.sh: $*" >&2; exit 1; }

. bench/lib.sh
bench_tmp KILL

# Both the servers and the load tool inherit this limit.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || die "cannot raise the open-file limit"
[ "$(ulimit -n)" -ge $((IDLE_CONNS + 100)) ] || echo "echo.sh: open-file limit $(ulimit -n) is too low for $IDLE_CONNS idle connections" >&2

[ -x bin/twistd ] || die "bin/twistd is missing: run make build first"
command -v taskset >/dev/null || die "taskset (util-linux) is needed to pin the processes"
go build -o "$TMP/echoload" ./bench/echoload || die "building bench/echoload failed"
go build -o "$TMP/goecho" ./bench/goecho || die "building bench/goecho failed"
gcc -O2 -o "$TMP/cecho" bench/cecho/echo.c || die "building bench/cecho failed"
if ! "$PY" -c 'import twisted.internet.epollreactor' 2>/dev/null; then
	echo "echo.sh: $PY has no Twisted (apt-get install python3-twisted): skipping it" >&2
	SERVERS=${SERVERS//twisted/}
fi

# The command that starts each server; {port} is replaced at start.
declare -A CMD=(
	[ours]="$ROOT/bin/twistd -n --pidfile= echo --listen tcp:{port}:interface=127.0.0.1"
	[ours-g]="$ROOT/bin/twistd -n --pidfile= -r goroutines echo --listen tcp:{port}:interface=127.0.0.1"
	[c]="$TMP/cecho {port}"
	[go]="$TMP/goecho -addr 127.0.0.1:{port}"
	[twisted]="$PY $ROOT/bench/twisted_echo.py {port}"
	[base]="${BASE:-false} -n --pidfile= echo --listen tcp:{port}:interface=127.0.0.1"
	# The echo service from an application file, with an admin endpoint
	# (and its time-series sampler) beside it and without:
	# SERVERS="ours-file ours-admin" gives the admin endpoint's cost.
	[ours-admin]="$ROOT/bin/twistd -n --pidfile= -c $TMP/ours-admin-{port}.yaml"
	[ours-file]="$ROOT/bin/twistd -n --pidfile= -c $TMP/ours-file-{port}.yaml"
)
declare -A LABEL=([ours]=ours [ours-g]="ours -r goroutines" [c]="C epoll" [go]="plain Go" [twisted]=Twisted [base]=baseline [ours-admin]="ours +admin" [ours-file]="ours file")

freeport() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

alive() { kill -0 "$1" 2>/dev/null; }

# start_server NAME: starts it on a free port, pinned; sets SPID and PORT.
start_server() {
	local name=$1 argv
	PORT=$(freeport) || return 1
	case $name in
	ours-admin | ours-file)
		{
			[ "$name" = ours-file ] || echo 'admin: {listen: "tcp:0:interface=127.0.0.1"}'
			printf 'services:\n  - {name: echo, type: echo, listen: "tcp:%s:interface=127.0.0.1"}\n' "$PORT"
		} >"$TMP/$name-$PORT.yaml"
		;;
	esac
	read -ra argv <<<"${CMD[$name]//\{port\}/$PORT}"
	taskset -c "$SERVER_CPU" "${argv[@]}" >>"$TMP/$name.log" 2>&1 &
	SPID=$!
	local i
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

# stop_server: SIGTERM, then SIGKILL if it has not gone within 5 s.
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

# Results: R[name.test.field]; "!" marks a run that had errors.
declare -A R

# field FILE KEY: one number from echoload's JSON line.
field() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$1"; }

# load NAME TEST ECHOLOAD-ARGS...: one run against the server on PORT.
load() {
	local name=$1 test=$2
	shift 2
	local out="$TMP/$name.$test.out" rc=0
	taskset -c "$LOAD_CPU" "$TMP/echoload" -addr "127.0.0.1:$PORT" -json "$@" >"$out" 2>"$out.err" || rc=$?
	printf '  %-9s %s\n' "${LABEL[$name]}" "$(grep -v '^{' "$out" | head -1)"
	sed 's/^/            /' "$out.err"
	local j="$out.json"
	grep '^{' "$out" | tail -1 >"$j"
	local mark="" score
	[ "$rc" -eq 0 ] || mark="!"
	if [ -s "$j" ]; then
		# With REPEAT > 1 the run with the most MB/s (so msgs/s) is kept:
		# other work on the machine only ever slows a run down.
		score=$(field "$j" mb_per_sec)
		# A run with errors is never hidden by a better one.
		if [ "$rc" -ne 0 ] || [[ ${R[$name.$test.mb]:-} != *! ]] && awk -v a="$score" -v b="${R[$name.$test.score]:--1}" 'BEGIN { exit !(a > b) }'; then
			R[$name.$test.score]=$score
			R[$name.$test.msgs]="$(field "$j" msgs_per_sec)$mark"
			R[$name.$test.p99]="$(field "$j" p99_us)$mark"
			R[$name.$test.mb]="$score$mark"
		fi
	else
		R[$name.$test.msgs]="failed" R[$name.$test.p99]="failed" R[$name.$test.mb]="failed"
	fi
	if ! alive "$SPID"; then
		echo "  ${LABEL[$name]} died during $test; its log:"
		tail -5 "$TMP/$name.log" | sed 's/^/    /'
		return 1
	fi
}

# idle NAME: a fresh server, its RSS empty and while holding IDLE_CONNS.
idle() {
	local name=$1
	start_server "$name" || { R[$name.idle.kb]="failed"; return; }
	sleep 1
	local rss0 rss1="" held="" rc=0 i
	rss0=$(rss_kb "$SPID")
	local out="$TMP/$name.idle.out"
	: >"$out"
	taskset -c "$LOAD_CPU" "$TMP/echoload" -mode idle -conns "$IDLE_CONNS" -hold "$HOLD" \
		-addr "127.0.0.1:$PORT" -json >"$out" 2>"$out.err" &
	local lpid=$!
	for ((i = 0; i < 3000; i++)); do
		held=$(sed -n 's/^holding \([0-9]*\) connections.*/\1/p' "$out")
		[ -n "$held" ] && break
		alive "$lpid" || break
		sleep 0.1
	done
	if [ -n "$held" ]; then
		sleep 1 # let the server finish its bookkeeping
		rss1=$(rss_kb "$SPID")
	fi
	wait "$lpid" || rc=$?
	printf '  %-9s %s\n' "${LABEL[$name]}" "$(grep -v '^{' "$out" | tail -1)"
	sed 's/^/            /' "$out.err"
	if [ -n "$rss1" ] && [ -n "$rss0" ] && [ "${held:-0}" -gt 0 ]; then
		local kb mark=""
		kb=$(awk -v a="$rss0" -v b="$rss1" -v n="$held" 'BEGIN { printf "%.2f", (b - a) / n }')
		[ "$rc" -eq 0 ] && [ "$held" -eq "$IDLE_CONNS" ] || mark="!"
		printf '  %-9s RSS %d KB empty, %d KB holding %d: %s KB per connection\n' "" "$rss0" "$rss1" "$held" "$kb"
		R[$name.idle.kb]="$kb$mark"
		R[$name.idle.empty]=$(awk -v a="$rss0" 'BEGIN { printf "%.1f", a / 1024 }')
	else
		R[$name.idle.kb]="failed"
		if ! alive "$SPID"; then
			echo "  ${LABEL[$name]} died during idle; its log:"
			tail -5 "$TMP/$name.log" | sed 's/^/    /'
		fi
	fi
	stop_server
}

echo "echo servers, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), Linux $(uname -r)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server on CPU $SERVER_CPU, echoload on CPU $LOAD_CPU; ping-pong and stream $DURATION each, best of $REPEAT;" \
	"$IDLE_CONNS idle connections held $HOLD; open files $(ulimit -n)"
echo

# All servers run at once, idle but for the one under test, and each test
# goes round all of them before the next: noise from other work on the
# machine then spreads over every server instead of hitting one.
declare -A SP PO
for name in $SERVERS; do
	echo "${LABEL[$name]}: ${CMD[$name]}"
	if start_server "$name"; then
		SP[$name]=$SPID PO[$name]=$PORT
	fi
done
echo
TESTS=(
	"pingpong-1|-mode pingpong -conns 1 -size 64"
	"pingpong-64|-mode pingpong -conns 64 -size 64"
	"pingpong-1000|-mode pingpong -conns 1000 -size 64"
	"stream|-mode stream -conns 4 -size 262144"
)
for t in "${TESTS[@]}"; do
	test=${t%%|*}
	read -ra args <<<"${t#*|}"
	for ((round = 1; round <= REPEAT; round++)); do
		echo "$test$([ "$REPEAT" -gt 1 ] && echo " (round $round of $REPEAT)")"
		for name in $SERVERS; do
			[ -n "${SP[$name]:-}" ] || continue
			SPID=${SP[$name]} PORT=${PO[$name]}
			load "$name" "$test" "${args[@]}" -duration "$DURATION" || { stop_server; unset "SP[$name]"; }
		done
	done
done
for name in "${!SP[@]}"; do
	SPID=${SP[$name]}
	stop_server
done
echo "idle (each server started afresh)"
for name in $SERVERS; do
	idle "$name"
done
echo

# ratio A B: A/B to two places when both are numbers ("!" carried over).
ratio() {
	local a=${1%!} b=${2%!} mark=""
	[[ $1 == *! || $2 == *! ]] && mark="!"
	if [[ $a =~ ^[0-9.e+-]+$ && $b =~ ^[0-9.e+-]+$ ]] && awk -v b="$b" 'BEGIN { exit !(b > 0) }'; then
		awk -v a="$a" -v b="$b" -v m="$mark" 'BEGIN { printf "%.2f%s", a / b, m }'
	else
		echo "-"
	fi
}

# num V: a figure rounded for the table.
num() {
	local v=${1%!} mark=""
	[[ $1 == *! ]] && mark="!"
	if [[ $v =~ ^[0-9.e+-]+$ ]]; then
		awk -v v="$v" -v m="$mark" 'BEGIN { if (v >= 100) printf "%.0f%s", v, m; else printf "%.2f%s", v, m }'
	else
		echo "${1:--}"
	fi
}

row() { # row TITLE KEY
	local title=$1 key=$2 name line
	line=$(printf '%-26s' "$title")
	for name in ours ours-g c go twisted; do
		line+=$(printf ' %12s' "$(num "${R[$name.$key]:-}")")
	done
	for name in c go twisted; do
		line+=$(printf ' %10s' "$(ratio "${R[ours.$key]:-}" "${R[$name.$key]:-}")")
	done
	line+=$(printf ' %10s' "$(ratio "${R[ours-g.$key]:-}" "${R[ours.$key]:-}")")
	echo "$line"
}

printf '%-26s %12s %12s %12s %12s %12s %10s %10s %10s %10s\n' "" ours "goroutines" "C epoll" "plain Go" Twisted ours/C ours/Go ours/Twstd gor/epoll
row "pingpong 1 conn msgs/s" pingpong-1.msgs
row "pingpong 64 conns msgs/s" pingpong-64.msgs
row "pingpong 1000 conns msgs/s" pingpong-1000.msgs
row "  p99 µs, 1 conn" pingpong-1.p99
row "  p99 µs, 64 conns" pingpong-64.p99
row "  p99 µs, 1000 conns" pingpong-1000.p99
row "stream 4 conns MB/s" stream.mb
row "idle: empty RSS MB" idle.empty
row "idle: KB per connection" idle.kb
if [ -n "${R[ours-admin.pingpong-1.msgs]:-}" ] && [ -n "${R[ours-file.pingpong-1.msgs]:-}" ]; then
	echo
	echo "admin endpoint on/off (ours +admin / ours file, same run):"
	for key in pingpong-1.msgs pingpong-64.msgs pingpong-1000.msgs stream.mb; do
		printf '  %-22s %12s %12s %8s\n' "$key" "$(num "${R[ours-admin.$key]:-}")" "$(num "${R[ours-file.$key]:-}")" \
			"$(ratio "${R[ours-admin.$key]:-}" "${R[ours-file.$key]:-}")"
	done
fi
echo
echo "msgs/s and MB/s: higher is better; p99, RSS and KB: lower is better."
echo "! = that run had errors or not every connection held (see its lines above); - = no figure."
