# syntax=docker/dockerfile:1
#
# otelcol-kafkawake container image.
#
#   docker build -t ghcr.io/kafkawake/otelcol-kafkawake:dev .
#   docker run --rm -v "$PWD/my-config.yaml:/etc/otelcol-kafkawake/config.yaml:ro" \
#     -p 9464:9464 -p 13133:13133 ghcr.io/kafkawake/otelcol-kafkawake:dev
#
# The build stage runs the project's own `make build`: it compiles ocb from
# internal/tools (pinned versions), lets ocb generate and compile the
# distribution, and copies the binary to bin/otelcol-kafkawake. ocb needs the
# Go toolchain and network access to the Go module proxy (GOPROXY is
# honoured; pass --build-arg GOPROXY=... for a private proxy). The official
# golang image already carries make, bash and git.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
ARG GOPROXY=https://proxy.golang.org,direct
# GOTOOLCHAIN=auto: the golang image pins GOTOOLCHAIN=local; if its Go is
# older than go.mod's `go` line, let go fetch that toolchain from the proxy.
ENV GOPROXY=${GOPROXY} \
    GOTOOLCHAIN=auto \
    CGO_ENABLED=0
WORKDIR /src

# Module metadata first, so that dependency downloads are cached separately
# from source changes.
COPY go.mod go.sum ./
COPY internal/tools/go.mod internal/tools/go.sum ./internal/tools/
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download && (cd internal/tools && go mod download)

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build \
 && ./bin/otelcol-kafkawake components >/dev/null

# Static binary (CGO off), so a distroless static base is enough: no shell,
# no package manager, runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot

COPY --from=build /src/bin/otelcol-kafkawake /otelcol-kafkawake
# Default configuration: the docker-compose example (Kafka at kafka:9092,
# SlimFaas at http://slimfaas:30021). Mount your own file over it.
COPY examples/docker-compose/collector.yaml /etc/otelcol-kafkawake/config.yaml

USER 65532:65532

# 9464: Prometheus exporter (/metrics); 13133: health_check extension (/).
EXPOSE 9464 13133

# Same layout as the upstream otelcol images: the binary is the entrypoint and
# the default arguments point at the bundled config, so that
# `docker run IMAGE components` or `docker run IMAGE validate --config ...`
# also work.
ENTRYPOINT ["/otelcol-kafkawake"]
CMD ["--config", "/etc/otelcol-kafkawake/config.yaml"]
