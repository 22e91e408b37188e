#!/bin/sh
# Start-up time and idle memory: ours beside Python twistd (Debian python3-twisted),
# measured in the same run. Results go to stdout; BENCHMARKS.md records them.
set -eu
cd "$(dirname "$0")/.."
BIN="$(pwd)/bin/twistd"
set -- ours "$BIN -n --pidfile= echo --listen tcp:{port}:interface=127.0.0.1"
if command -v twistd3 >/dev/null 2>&1 || [ -x /usr/bin/twistd3 ]; then
	set -- "$@" python-twistd "/usr/bin/twistd3 -n --pidfile= web --listen tcp:{port}:interface=127.0.0.1 --path /tmp"
else
	echo "python3-twisted not installed (apt-get install python3-twisted): measuring ours alone" >&2
fi
echo "binary: $(stat -c %s "$BIN") bytes"
go run ./bench/startup -runs 5 "$@"
