#!/bin/sh
# make release: static binaries for every platform, a tarball of each with
# the README, licence, man pages, completions and systemd units, the .deb
# and .rpm (nfpm), and SHA256SUMS, all in dist/. Run from the repository's
# top; `make release` sets GO, VERSION, COMMIT and DATE.
set -eu
: "${GO:=go}" "${VERSION:?}" "${COMMIT:?}" "${DATE:?}"
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64"}
PACKAGE_ARCHES=${PACKAGE_ARCHES:-"amd64 arm64"}
# nfpm as a pinned tool run from source, never a downloaded binary.
NFPM=${NFPM:-"$GO run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0"}
LDFLAGS="-s -w -X github.com/twistd-go/twistd/internal/cli.version=$VERSION -X github.com/twistd-go/twistd/internal/cli.commit=$COMMIT -X github.com/twistd-go/twistd/internal/cli.date=$DATE"
DIST=dist
WORK=$DIST/.work
# Tarballs and packages carry the build date, not the time they were made.
EPOCH=$(date -u -d "$DATE" +%s)

rm -rf "$DIST"
mkdir -p "$WORK/common/man" "$WORK/common/completions" "$WORK/common/systemd" "$WORK/host"

echo "== twistd $VERSION (commit $COMMIT, built $DATE)"
# The host's own build writes what every archive shares.
CGO_ENABLED=0 $GO build -trimpath -buildvcs=auto -ldflags "$LDFLAGS" -o "$WORK/host/twistd" ./cmd/twistd
"$WORK/host/twistd" man "$WORK/common/man"
"$WORK/host/twistd" completion bash >"$WORK/common/completions/twistd.bash"
"$WORK/host/twistd" completion zsh >"$WORK/common/completions/_twistd"
"$WORK/host/twistd" completion fish >"$WORK/common/completions/twistd.fish"
cp deploy/systemd/twistd.service deploy/systemd/twistd@.service deploy/systemd/twistd.socket \
	deploy/systemd/socket-app.yaml "$WORK/common/systemd/"

for p in $PLATFORMS; do
	os=${p%/*} arch=${p#*/}
	name=twistd_${VERSION}_${os}_${arch}
	dir=$WORK/$name
	echo "== $name"
	mkdir -p "$dir"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch $GO build -trimpath -buildvcs=auto -ldflags "$LDFLAGS" -o "$dir/twistd" ./cmd/twistd
	cp README.md LICENSE "$dir/"
	cp -R "$WORK/common/man" "$WORK/common/completions" "$dir/"
	if [ "$os" = linux ]; then
		cp -R "$WORK/common/systemd" "$dir/"
	fi
	tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" \
		-cf - "$name" | gzip -9n >"$DIST/$name.tar.gz"
done

# The packages: the binary at /usr/bin, so the units are rewritten to it.
for arch in $PACKAGE_ARCHES; do
	stage=$WORK/pkg_$arch
	mkdir -p "$stage/man" "$stage/systemd" "$stage/completions"
	cp "$WORK/twistd_${VERSION}_linux_${arch}/twistd" "$stage/twistd"
	for f in "$WORK"/common/man/*; do
		gzip -9n <"$f" >"$stage/man/$(basename "$f").gz"
	done
	cp "$WORK"/common/completions/* "$stage/completions/"
	for u in twistd.service twistd@.service twistd.socket; do
		sed 's#/usr/local/bin/twistd#/usr/bin/twistd#g; s#install -D -m 0755 bin/twistd /usr/bin/twistd#(installed by the twistd package)#' \
			"deploy/systemd/$u" >"$stage/systemd/$u"
	done
	{
		echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
		echo "Upstream-Name: twistd"
		echo "Source: https://github.com/twistd-go/twistd"
		echo
		echo "Files: *"
		echo "Copyright: 2026 The twistd-go authors"
		echo "License: MIT"
		sed 's/^$/./; s/^/ /' LICENSE | tail -n +5
	} >"$stage/copyright"
	{
		echo "twistd ($(echo "$VERSION" | sed 's/-/~/')-1) unstable; urgency=medium"
		echo
		echo "  * Release $VERSION (commit $COMMIT)."
		echo
		echo " -- twistd-go <twistd-go@users.noreply.github.com>  $(date -u -R -d "$DATE")"
	} | gzip -9n >"$stage/changelog.Debian.gz"
	# nfpm expands variables in some fields only: the config is filled in here.
	sed "s#\${STAGE}#$stage#g; s#\${GOARCH}#$arch#g; s#\${VERSION}#$VERSION#g" packaging/nfpm.yaml >"$stage/nfpm.yaml"
	for packager in deb rpm; do
		SOURCE_DATE_EPOCH=$EPOCH $NFPM package --config "$stage/nfpm.yaml" --packager "$packager" --target "$DIST/"
	done
done

rm -rf "$WORK"
(cd "$DIST" && sha256sum -- *.tar.gz *.deb *.rpm >SHA256SUMS)
echo "== $DIST/"
ls -l "$DIST"
