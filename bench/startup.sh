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
# nginx (its master and one worker; then one worker per CPU, Debian's
# default) and Caddy's file server, when installed. RSS is the process
# tree's: nginx's master and workers add up.
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
	set -- "$@" nginx "$(pwd)/bench/startup/nginx.sh {port}" nginx-auto "$(pwd)/bench/startup/nginx.sh {port} auto"
fi
if command -v caddy >/dev/null 2>&1; then
	set -- "$@" caddy "caddy file-server --listen 127.0.0.1:{port} --root /tmp"
fi
echo "binary: $(stat -c %s "$BIN") bytes"
go run ./bench/startup -runs 5 "$@"
