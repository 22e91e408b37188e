#!/bin/sh
# Before removing twistd (not before an upgrade): stop and disable its units.
set -e
case "${1:-}" in
	upgrade|1) exit 0 ;; # deb: upgrade; rpm: $1 is the count left after, 1 on upgrade
esac
if [ -d /run/systemd/system ]; then
	systemctl --no-reload disable --now twistd.service twistd.socket >/dev/null 2>&1 || true
	for u in $(systemctl list-units --plain --no-legend 'twistd@*.service' 2>/dev/null | cut -d' ' -f1); do
		systemctl --no-reload disable --now "$u" >/dev/null 2>&1 || true
	done
fi
exit 0
