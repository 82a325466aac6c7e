# Build, run and test otelcol-kafkawake. `make run` shows the demo loop,
# `make test` runs everything CI runs.
SHELL := bash
GO    ?= go
BIN   := $(CURDIR)/bin

MDATAGEN  := $(BIN)/mdatagen
OCB       := $(BIN)/ocb
COLLECTOR := $(BIN)/otelcol-kafkawake
DEVSTACK  := $(BIN)/devstack

COMPONENT_DIRS := receiver/kafkawakereceiver processor/slimfaaswakeprocessor exporter/kedascalerexporter

VERSION ?= $(shell awk '$$1 == "version:" {print $$2; exit}' builder-config.yaml)
IMAGE   ?= ghcr.io/kafkawake/otelcol-kafkawake

# The race runtime sleeps 1 s at exit of every test binary by default.
export GORACE ?= atexit_sleep_ms=0

# Every file mdatagen writes, with its checksum: `check-generate` compares
# them before and after a fresh `generate`.
GENERATED_SUMS = find . \( -path ./dist -o -path ./bin -o -path ./.git \) -prune -o -type f \
	\( -name 'generated_*' -o -name documentation.md -o -path '*/internal/metadata/testdata/*' \) -print \
	| LC_ALL=C sort | xargs sha256sum

# How long `make test` fuzzes the processor's input, and `make soak` runs.
FUZZTIME ?= 30s
SOAK     ?= 30m

# Debian packages the tests run as independent peers: kcat (librdkafka) and
# a Prometheus server.
TEST_COMMANDS := kcat prometheus

.PHONY: all tools deps generate check-generate check-versions lint build image run test test-unit test-fuzz test-e2e bench soak clean

all: build

tools: $(MDATAGEN) $(OCB)

$(MDATAGEN): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen

$(OCB): internal/tools/go.mod internal/tools/go.sum
	cd internal/tools && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/builder

generate: $(MDATAGEN)
	$(MDATAGEN) metadata.yaml
	@# The root package only carries the shared schema; it has no component
	@# of its own for these generated tests to exercise.
	rm -f generated_component_test.go generated_package_test.go
	for dir in $(COMPONENT_DIRS); do (cd $$dir && $(MDATAGEN) metadata.yaml) || exit 1; done

check-generate: $(MDATAGEN)
	@before="$$($(GENERATED_SUMS))"; \
	$(MAKE) --no-print-directory generate >/dev/null; \
	after="$$($(GENERATED_SUMS))"; \
	if [ "$$before" != "$$after" ]; then \
		echo "generated files are stale: run 'make generate' and commit the result"; \
		diff <(echo "$$before") <(echo "$$after"); exit 1; \
	fi

# `go mod tidy` silently lifts collector modules past the pinned set; catch it.
check-versions:
	@strays="$$($(GO) mod graph | awk '{print $$2}' | grep '^go.opentelemetry.io/collector' \
		| grep -vE '@v(0\.165\.0|1\.71\.0)$$' | sort -u)"; \
	if [ -n "$$strays" ]; then echo "collector modules off the pinned v0.165.0 / v1.71.0:"; echo "$$strays"; exit 1; fi

lint: check-versions
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './dist/*'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet -tags e2e,interop ./...

build: $(OCB)
	mkdir -p dist
	$(OCB) --config builder-config.yaml
	mkdir -p $(BIN)
	cp dist/otelcol-kafkawake/otelcol-kafkawake $(COLLECTOR)

# Needs a Docker engine; the image builds the collector with `make build`.
image:
	docker build -t $(IMAGE):$(VERSION) .

$(DEVSTACK): FORCE
	$(GO) build -o $@ ./cmd/devstack

# DEMO=queue runs a function of three workers draining one partition through
# a share group (a queue) instead of one consumer-group member.
DEMO ?=
ifeq ($(DEMO),queue)
RUN_FLAGS  := -share-group demo-queue -workers 3 -partitions 1
RUN_CONFIG := examples/local/queue.yaml
else ifeq ($(DEMO),)
RUN_FLAGS  :=
RUN_CONFIG := examples/local/config.yaml
else
$(error DEMO must be empty or queue, got $(DEMO))
endif

run: build $(DEVSTACK)
	@echo "Starting the local stack (Kafka, SlimFaas and a demo function) and the collector; Ctrl-C stops both."
	@$(DEVSTACK) $(RUN_FLAGS) -metrics-url http://127.0.0.1:9464/metrics & devstack=$$!; \
	trap 'kill $$devstack 2>/dev/null; wait $$devstack' EXIT; \
	$(COLLECTOR) --config $(RUN_CONFIG)

# Installs the test peers with apt when they are missing and we are root.
deps:
	@missing=""; for cmd in $(TEST_COMMANDS); do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing test tools:$$missing (Debian: sudo apt-get install$$missing)"; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: check-generate lint test-unit test-fuzz test-e2e

test-unit: deps
	$(GO) test -race -count=1 -timeout 15m -tags interop ./...

# A failing input is written to the package's testdata/fuzz: commit it.
test-fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzProcessMetrics$$' -fuzztime $(FUZZTIME) ./processor/slimfaaswakeprocessor/

test-e2e: build deps
	KAFKAWAKE_COLLECTOR=$(COLLECTOR) $(GO) test -race -count=1 -timeout 15m -tags e2e ./e2e/... ./examples/...

# 500 bindings, random traffic and a fault every other minute; reports RSS
# and goroutines at the start and the end.
soak:
	$(GO) test -count=1 -run '^TestSoak$$' -timeout 3h -v ./reliability/ -soak $(SOAK)

# Measures the receiver's scrape cost against scale and against SlimFaasKafka's
# read pattern, wake latency, the collector's footprint and the processor's
# throughput, and rewrites docs/benchmarks.md (about 8 minutes on 2 cores).
# `make bench BENCHFLAGS=-quick` is a short, indicative run (about 3 minutes).
BENCHFLAGS ?=
bench: build
	$(GO) run ./bench/cmd/kafkawake-bench -collector $(COLLECTOR) -out docs/benchmarks.md $(BENCHFLAGS)

clean:
	rm -rf $(BIN) dist

FORCE:
