#!/bin/sh
# After installing or upgrading twistd: the system user the units run as
# (systemd's DynamicUser= takes this static user when it exists), and
# systemd told of the new units. The service is not enabled: run
#   systemctl enable --now twistd
set -e
if ! getent group twistd >/dev/null 2>&1; then
	if command -v addgroup >/dev/null 2>&1 && addgroup --help 2>&1 | grep -q -- --system; then
		addgroup --system --quiet twistd
	else
		groupadd --system twistd
	fi
fi
if ! getent passwd twistd >/dev/null 2>&1; then
	if command -v adduser >/dev/null 2>&1 && adduser --help 2>&1 | grep -q -- --system; then
		adduser --system --quiet --ingroup twistd --no-create-home --home /nonexistent \
			--shell /usr/sbin/nologin --gecos "twistd application server" twistd
	else
		useradd --system --gid twistd --no-create-home --home-dir /nonexistent \
			--shell /sbin/nologin --comment "twistd application server" twistd
	fi
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	# An upgrade restarts a running twistd with the new binary.
	if systemctl is-active --quiet twistd.service 2>/dev/null; then
		systemctl try-restart twistd.service >/dev/null 2>&1 || true
	fi
fi
exit 0
