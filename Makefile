# berth — the two commands: `make demo` and `make test` (as root on Debian 12); `make test-slow` for the reliability suites.

SWIFT ?= swift
PREFIX ?= /usr/local
SHARED ?= ../shared
BERTH_ROOT ?= /var/lib/berth
RELEASE_BIN := .build/release/berth
DEBUG_BIN := .build/debug/berth
BASE_TAR := Fixtures/base/out/busybox-rootfs.tar

# Debian packages berth needs to build and run.
DEBIAN_PACKAGES := libarchive-dev libseccomp-dev libcap-dev libsqlite3-dev libcurl4-openssl-dev pkg-config busybox-static python3

.PHONY: all deps build release demo base test test-slow differential bench fuzz install clean

all: build

## deps: install the Debian packages that are missing (apt-get update only when needed).
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

## release: an optimized berth with the Swift runtime linked in (faster start, no runtime files to install).
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

## base: the busybox base image's root file system, byte-reproducible.
$(BASE_TAR): Fixtures/base/make-rootfs.py
	@mkdir -p $(dir $@)
	python3 Fixtures/base/make-rootfs.py $@

base: $(BASE_TAR)

## demo: build berth, import the busybox base, build and run Fixtures/demo.
demo: release base
	$(RELEASE_BIN) --root $(BERTH_ROOT) import $(BASE_TAR) busybox-base
	$(RELEASE_BIN) --root $(BERTH_ROOT) build --progress plain -t berth-demo Fixtures/demo
	$(RELEASE_BIN) --root $(BERTH_ROOT) run --rm berth-demo

## test: unit tests, integration tests (the real binary, as root, on temporary stores) and the
## shared differential cases against their recorded results.
test: deps
	$(SWIFT) build --build-tests
	BERTH_BINARY=$(CURDIR)/$(DEBUG_BIN) $(SWIFT) test --skip-build
	$(MAKE) differential BERTH=$(DEBUG_BIN)

## test-slow: the reliability suites (docs/reliability.md): SIGKILL at random points, four
## processes on one store, SIGINT/SIGTERM, hostile Dockerfiles, contexts, archives and registries.
## BERTH_SEED=N replays a run's random choices.
test-slow: deps
	$(SWIFT) build --build-tests
	rm -f .build/reliability.log
	BERTH_SLOW=1 BERTH_RELIABILITY_LOG=$(CURDIR)/.build/reliability.log BERTH_BINARY=$(CURDIR)/$(DEBUG_BIN) \
	  $(SWIFT) test --skip-build --no-parallel --filter Reliability

BERTH ?= $(RELEASE_BIN)
## differential: difftool --only-tool over ../shared/differential/cases. The cases are copied
## to a temporary directory first with the modes a git checkout gives (the shared copy is
## read-only: 0444 files and 0555 directories), since COPY keeps source modes.
differential:
	@if [ ! -d $(SHARED)/differential/cases ]; then echo "differential: skipped ($(SHARED)/differential not found)"; exit 0; fi; \
	work=$$(mktemp -d /tmp/berth-diff.XXXXXX); root=$$(mktemp -d /tmp/berth-diff-store.XXXXXX); \
	trap 'rm -rf "$$work" "$$root"' EXIT; \
	cp -r $(SHARED)/differential/cases "$$work/cases" && chmod -R u+w "$$work/cases" && \
	python3 $(SHARED)/differential/difftool.py --only-tool --tool $(CURDIR)/$(BERTH) --tool-root "$$root" "$$work"/cases/*

FUZZ_RUNS ?= 10000000
## fuzz: libFuzzer on the Dockerfile parser, the layer tar reader and the image JSON decoders,
## FUZZ_RUNS executions each, one after the other (not part of `make test`; see docs/fuzzing.md).
## New inputs are merged, minimized, into Fuzz/corpus/*.
fuzz: deps
	FUZZ_MERGE=1 Fuzz/run-parser-fuzzer.sh $(FUZZ_RUNS)
	FUZZ_MERGE=1 Fuzz/run-tar-fuzzer.sh $(FUZZ_RUNS)
	FUZZ_MERGE=1 Fuzz/run-json-fuzzer.sh $(FUZZ_RUNS)

## bench: berth side by side with docker build, buildah and runc; writes docs/benchmarks.md.
bench: release base
	python3 bench/bench.py $(BENCH_ARGS)

install: release
	install -D -m 0755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/berth

clean:
	rm -rf .build Fixtures/base/out
