#!/bin/sh
# The release's version, from `git describe`: a tag v0.2.0 gives 0.2.0, three
# commits past it 0.2.0-3-gabc1234, uncommitted changes add -dirty. Before
# the first tag: 0.0.0-N-gHASH (N commits), which sorts below any release.
#   packaging/version.sh          the version
#   packaging/version.sh --date   the build date: SOURCE_DATE_EPOCH if set
#                                 (reproducible builds), else now, in UTC
set -eu
if [ "${1:-}" = --date ]; then
	if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
		date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null ||
			date -u -r "$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ
	else
		date -u +%Y-%m-%dT%H:%M:%SZ
	fi
	exit 0
fi
if v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	echo "${v#v}"
elif n=$(git rev-list --count HEAD 2>/dev/null); then
	dirty=$(git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
	echo "0.0.0-$n-g$(git rev-parse --short=7 HEAD)$dirty"
else
	echo 0.0.0-unknown
fi
