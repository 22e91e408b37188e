# Sourced by the bench scripts, from the repository's root, after they
# define die. bench_tmp makes the temporary directory TMP, removed on
# exit, when every server and load tool still running is stopped by its
# own PID with signal $1 (TERM unless given): jobs -p lists this shell's
# children not yet reaped, so a PID since reused by someone else is never
# hit.
bench_tmp() {
	BENCH_STOP_SIGNAL=${1:-TERM}
	TMP=$(mktemp -d) || die "mktemp failed"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local p
	for p in $(jobs -p); do
		kill -"$BENCH_STOP_SIGNAL" "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
