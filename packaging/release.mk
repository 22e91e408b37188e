# make release (see packaging/release.sh) and make man; included by the Makefile.
.PHONY: release man

release:
	GO='$(GO)' VERSION='$(VERSION)' COMMIT='$(COMMIT)' DATE='$(DATE)' packaging/release.sh

# The manual pages, generated from the commands, into bin/man.
man: build
	rm -rf bin/man && $(BIN) man bin/man

# The container image deploy/kubernetes pulls, stamped like the binaries
# (push it with docker push $(IMAGE):$(VERSION)).
IMAGE ?= ghcr.io/twistd-go/twistd
image:
	docker build --build-arg VERSION='$(VERSION)' --build-arg COMMIT='$(COMMIT)' --build-arg DATE='$(DATE)' \
		-t '$(IMAGE):$(VERSION)' .
