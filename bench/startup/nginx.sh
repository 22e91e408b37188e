#!/bin/sh
# nginx.sh PORT [WORKERS]: nginx serving /tmp on 127.0.0.1:PORT in the
# foreground with WORKERS worker processes (default 1, as bench/web/run.sh
# runs it; "auto", Debian's default, is one per CPU), for bench/startup.sh.
# Writing the config costs well under a millisecond of its start-up time.
set -eu
dir=$(mktemp -d /tmp/startup-nginx.XXXXXX)
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes ${2:-1};
pid $dir/nginx.pid;
error_log stderr error;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $dir;
	proxy_temp_path $dir;
	fastcgi_temp_path $dir;
	uwsgi_temp_path $dir;
	scgi_temp_path $dir;
	server { listen 127.0.0.1:$1; root /tmp; }
}
CONF
exec nginx -p "$dir" -c "$dir/nginx.conf"
