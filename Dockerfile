# syntax=docker/dockerfile:1
# twistd in a container: a static binary on distroless, as user 65532, with
# no shell and nothing else to run.
#   docker build -t twistd .
#   docker run --rm --stop-timeout=30 -p 7000:7000 -p 8080:8080 -p 127.0.0.1:9090:9090 twistd
# (--stop-timeout: docker kills after 10s by default; twistd may take
# shutdown_delay + shutdown_timeout = 25s to stop gracefully.)
# Serve your own file: -v "$PWD/site:/etc/twistd:ro" (app.yaml in it).

ARG GO_VERSION=1.26

# Build on the builder's own platform and cross-compile: no emulation needed
# for multi-arch images (docker buildx build --platform linux/amd64,linux/arm64).
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=0.2.0
ARG COMMIT=unknown
ARG DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# The Go source: .dockerignore is the one list of what that is.
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X github.com/twistd-go/twistd/internal/cli.version=${VERSION} -X github.com/twistd-go/twistd/internal/cli.commit=${COMMIT} -X github.com/twistd-go/twistd/internal/cli.date=${DATE}" -o /out/twistd ./cmd/twistd
COPY deploy/docker/ /out/etc/twistd/
# Refuse to build an image whose default application file is invalid (only
# when the binary runs here, i.e. not cross-compiled).
RUN if [ "$TARGETARCH" = "$(go env GOHOSTARCH)" ]; then /out/twistd check -c /out/etc/twistd/app.yaml; fi

# distroless/static: CA certificates, tzdata, /etc/passwd with nonroot
# (65532); no shell, no package manager. Pin it by digest in production.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/twistd /usr/local/bin/twistd
COPY --from=build /out/etc/twistd/ /etc/twistd/
USER 65532:65532
EXPOSE 7000 8080 9090
# SIGTERM is a graceful stop: readiness 503, shutdown_delay, drain, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/twistd"]
CMD ["-n", "--pidfile=", "--logfile=-", "-c", "/etc/twistd/app.yaml"]
