#!/usr/bin/env bash
# SMTP into Maildir: messages/s delivered by 16 concurrent clients sending
# 10 KiB messages, ours (bin/twistd mail, both reactors) against OpenSMTPD
# (apt-get install opensmtpd; started by hand here on a high port, with a
# virtual user delivering to a Maildir) in one run. The server runs on one
# core, the load on the other (taskset). "delivered/s" is the messages
# accepted divided by the time from the first message until all of them
# are files in the Maildir's new/: OpenSMTPD queues first and delivers
# after its 250, we deliver (fsynced) before ours.
#
#   bench/mail/run.sh [seconds per run]    (default 10)
# Environment: TWISTD (default bin/twistd), SERVER_CPU (0), CLIENT_CPU (1),
# CLIENTS (16), SIZE (10240).
set -uo pipefail
secs=${1:-10}
root=$(cd "$(dirname "$0")/../.." && pwd)
twistd=${TWISTD:-$root/bin/twistd}
scpu=${SERVER_CPU:-0}
ccpu=${CLIENT_CPU:-1}
clients=${CLIENTS:-16}
size=${SIZE:-10240}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/smtpload" "$root/bench/mail/smtpload" || exit 1

wait_port() { # host port
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: nothing listens on $1:$2" >&2
	return 1
}

# settle DIR N: wait (at most 5 minutes) until DIR holds N files; print
# how many it holds.
settle() {
	local m=0
	for _ in $(seq 3000); do
		m=$(find "$1" -type f 2>/dev/null | wc -l)
		[ "$m" -ge "$2" ] && break
		sleep 0.1
	done
	echo "$m"
}

declare -A rate
run() { # name port maildir-new
	local name=$1 port=$2 new=$3 began out files ended
	wait_port 127.0.0.1 "$port" || return
	began=$(date +%s.%N)
	out=$(taskset -c "$ccpu" "$tmp/smtpload" -addr "127.0.0.1:$port" -c "$clients" -size "$size" -d "${secs}s")
	files=$(settle "$new" "$(echo "$out" | awk '{print $2}')")
	ended=$(date +%s.%N)
	local span
	span=$(echo "$ended - $began" | bc -l)
	rate[$name]=$(echo "$files / $span" | bc -l)
	printf '%-14s %s; delivered %d files, %.0f delivered/s\n' "$name" "$out" "$files" "${rate[$name]}"
}

for reactor in epoll goroutines; do
	d="$tmp/ours-$reactor"
	mkdir -p "$d"
	(cd "$d" && exec taskset -c "$scpu" "$twistd" -n --pidfile= --logfile=/dev/null -r "$reactor" mail \
		-H localhost -d localhost=emails -s tcp:2625:interface=127.0.0.1 --no-pop3 -u alice=x) &
	pids+=($!)
	run "ours-$reactor" 2625 "$d/emails/alice/new"
	kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null
done

if command -v smtpd >/dev/null; then
	id vmail >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin vmail
	mkdir -p "$tmp/osm/mail" && chown vmail "$tmp/osm/mail"
	chmod 755 "$tmp"
	cat >"$tmp/osm/smtpd.conf" <<CONF
table vusers { "alice@localhost" = "vmail" }
listen on 127.0.0.1 port 2626
action "mdir" maildir "$tmp/osm/mail/%{rcpt.user}" virtual <vusers>
match from any for rcpt-to "alice@localhost" action "mdir"
CONF
	taskset -c "$scpu" smtpd -d -f "$tmp/osm/smtpd.conf" >"$tmp/osm/log" 2>&1 &
	pids+=($!)
	run opensmtpd 2626 "$tmp/osm/mail/alice/new"
else
	echo "opensmtpd: not installed (apt-get install opensmtpd)"
fi

echo
echo "ratio ours/opensmtpd (delivered/s):"
for r in epoll goroutines; do
	if [ -n "${rate[opensmtpd]:-}" ] && [ -n "${rate[ours-$r]:-}" ]; then
		printf '  ours-%-10s %.2fx\n' "$r" "$(echo "${rate[ours-$r]} / ${rate[opensmtpd]}" | bc -l)"
	fi
done
