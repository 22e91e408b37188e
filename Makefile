# twistd for Go. `make run` builds and serves the demo; `make test` runs every test.
GO       ?= go
BIN      := bin/twistd
VERSION  ?= 0.1.0
LDFLAGS  := -s -w -X main.version=$(VERSION)
PREFIX   ?= /usr/local
FUZZTIME ?= 30s

.PHONY: build run test lint bench fuzz install clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/twistd

run: build
	$(BIN) -n --pidfile= -c configs/app.yaml

test:
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 240s ./...

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

bench: build
	$(GO) test -run='^$$' -bench=. -benchmem ./...
	./bench/startup.sh

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./internal/reactor/endpoint/
	$(GO) test -run='^$$' -fuzz=FuzzLoad -fuzztime=$(FUZZTIME) ./internal/config/
	$(GO) test -run='^$$' -fuzz=FuzzLineReceiver -fuzztime=$(FUZZTIME) ./internal/protocol/

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/twistd

clean:
	rm -rf bin
