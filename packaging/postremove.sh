#!/bin/sh
# After removing twistd: systemd forgets the units. On purge (deb), the
# system user goes too; /etc/twistd is dpkg's to remove with the conffile.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ "${1:-}" = purge ] && getent passwd twistd >/dev/null 2>&1; then
	if command -v deluser >/dev/null 2>&1; then
		deluser --system --quiet twistd >/dev/null 2>&1 || true
		delgroup --system --only-if-empty --quiet twistd >/dev/null 2>&1 || true
	else
		userdel twistd >/dev/null 2>&1 || true
		groupdel twistd >/dev/null 2>&1 || true
	fi
fi
exit 0
