# make release (see packaging/release.sh) and make man; included by the Makefile.
.PHONY: release man

release:
	GO='$(GO)' VERSION='$(VERSION)' COMMIT='$(COMMIT)' DATE='$(DATE)' packaging/release.sh

# The manual pages, generated from the commands, into bin/man.
man: build
	rm -rf bin/man && $(BIN) man bin/man
