# twistd for Go. `make run` builds and serves the demo; `make test` runs every test.
GO       ?= go
BIN      := bin/twistd
# The version from `git describe` (packaging/version.sh), the commit and the
# build date are stamped into the binary; `twistd --version` and
# `go version -m bin/twistd` show them.
VERSION  ?= $(shell packaging/version.sh)
COMMIT   ?= $(shell git rev-parse --short=7 HEAD 2>/dev/null || echo unknown)
DATE     ?= $(shell packaging/version.sh --date)
VERSION  := $(VERSION)
COMMIT   := $(COMMIT)
DATE     := $(DATE)
CLI      := github.com/twistd-go/twistd/internal/cli
LDFLAGS  := -s -w -X $(CLI).version=$(VERSION) -X $(CLI).commit=$(COMMIT) -X $(CLI).date=$(DATE)
PREFIX   ?= /usr/local
FUZZTIME ?= 30s

.PHONY: build run test lint bench fuzz install clean api image

build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/twistd

# In the foreground, with the default pidfile ./twistd.pid, so `bin/twistd
# status`, `reload` and `stop` from here (another terminal) find it. Move
# the ports with WEB_PORT, DNS_PORT, ECHO_PORT, ADMIN_PORT (configs/app.yaml).
run: build
	$(BIN) -n -c configs/app.yaml

# The integration tests run twice: under the default reactor, then under
# the goroutine reactor (what macOS and FreeBSD get), so neither rots.
# examples/ is a module of its own, as a user's would be (./... here does
# not reach it): its tests build mytwistd and drive it the same way.
# They mostly wait on sockets and processes, so TESTPARALLEL of them run
# at once (go test's default is GOMAXPROCS); those that measure time or
# CPU do not call t.Parallel and run alone.
TESTPARALLEL ?= 6

test:
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 600s -parallel $(TESTPARALLEL) ./...
	TWISTD_REACTOR=goroutines CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 600s -parallel $(TESTPARALLEL) ./test/
	cd examples && $(GO) vet ./... && CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 600s -parallel $(TESTPARALLEL) ./...
	cd examples && TWISTD_REACTOR=goroutines CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 600s -parallel $(TESTPARALLEL) ./test/

# The public API's baseline: make api records the exported declarations
# of the public packages that no tagged release's file has in API_NEXT, the
# file of the release being made. TestAPIBaseline (in make test) fails on
# any difference: a removed or changed line is an incompatible change, an
# added one is recorded here in the same commit. v0.2.0 is released (its
# file is api/v0.2.0.txt); what is added after it goes to api/next.txt,
# renamed for the release that ships it.
API_NEXT ?= api/next.txt

api:
	$(GO) run ./internal/tools/apidump -update $(API_NEXT)

# The systems the project builds for: the epoll reactor on Linux, the
# goroutine reactor alone on the others.
PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	@for p in $(PLATFORMS); do \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./..."; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./... || exit 1; \
	done
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

# Load runs beside reference servers (Debian: python3-twisted wrk caddy
# nginx knot nsd dnsperf); each script prints ratios measured in the same
# run. BENCHMARKS.md records the figures and conditions.
bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	./bench/idle.sh
	./bench/startup.sh
	./bench/echo.sh
	./bench/web/run.sh
	./bench/dns/run.sh 10
	./bench/mail/run.sh 10
	./bench/sftp.sh
	./bench/upgrade.sh 10
	./bench/ftp.sh
	./bench/exec.sh
	./bench/socks/run.sh
	./bench/chat.sh

# Every parser's fuzz target, FUZZTIME each.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./endpoint/
	$(GO) test -run='^$$' -fuzz='^FuzzParsePrefix$$' -fuzztime=$(FUZZTIME) ./endpoint/
	$(GO) test -run='^$$' -fuzz='^FuzzParseClient$$' -fuzztime=$(FUZZTIME) ./endpoint/
	$(GO) test -run='^$$' -fuzz='^FuzzLoad$$' -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz='^FuzzParseRate$$' -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./htpasswd/
	$(GO) test -run='^$$' -fuzz='^FuzzLineReceiver$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzLineReceiverRawMode$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzNetstringReceiver$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzInt8Receiver$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzInt16Receiver$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzInt32Receiver$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzParseProxyHeader$$' -fuzztime=$(FUZZTIME) ./internal/proxyproto/
	$(GO) test -run='^$$' -fuzz='^FuzzCleanPath$$' -fuzztime=$(FUZZTIME) ./internal/plugins/web/
	$(GO) test -run='^$$' -fuzz='^FuzzConfinement$$' -fuzztime=$(FUZZTIME) ./internal/plugins/web/
	$(GO) test -run='^$$' -fuzz='^FuzzParseHead$$' -fuzztime=$(FUZZTIME) ./protocol/httpconn/
	$(GO) test -run='^$$' -fuzz='^FuzzConn$$' -fuzztime=$(FUZZTIME) ./protocol/httpconn/
	$(GO) test -run='^$$' -fuzz='^FuzzHandler$$' -fuzztime=$(FUZZTIME) ./internal/plugins/dns/
	$(GO) test -run='^$$' -fuzz='^FuzzTCPSession$$' -fuzztime=$(FUZZTIME) ./internal/plugins/dns/
	$(GO) test -run='^$$' -fuzz='^FuzzSockaddrPort$$' -fuzztime=$(FUZZTIME) ./internal/plugins/dns/
	$(GO) test -run='^$$' -fuzz='^FuzzParseHosts$$' -fuzztime=$(FUZZTIME) ./internal/plugins/dns/
	$(GO) test -run='^$$' -fuzz='^FuzzParsePOP3$$' -fuzztime=$(FUZZTIME) ./internal/plugins/mail/
	$(GO) test -run='^$$' -fuzz='^FuzzPOP3Session$$' -fuzztime=$(FUZZTIME) ./internal/plugins/mail/
	$(GO) test -run='^$$' -fuzz='^FuzzMatchKey$$' -fuzztime=$(FUZZTIME) ./internal/plugins/conch/
	$(GO) test -run='^$$' -fuzz='^FuzzFilterLine$$' -fuzztime=$(FUZZTIME) ./internal/plugins/ftp/
	$(GO) test -run='^$$' -fuzz='^FuzzConfinement$$' -fuzztime=$(FUZZTIME) ./internal/plugins/ftp/
	$(GO) test -run='^$$' -fuzz='^FuzzParseInetd$$' -fuzztime=$(FUZZTIME) ./internal/plugins/exec/
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./internal/plugins/socks/
	$(GO) test -run='^$$' -fuzz='^FuzzConn$$' -fuzztime=$(FUZZTIME) ./internal/plugins/socks/

include packaging/release.mk

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/twistd

clean:
	rm -rf bin dist
