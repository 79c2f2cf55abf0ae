# tmaps: console for the API keys and authorized domains of the TMaps Mapping API.

GO       ?= go
BIN      := bin/tmaps
FUZZTIME ?= 3s
# The commit `tmaps --version` shows when Go stamps none (GOFLAGS=-buildvcs=false).
COMMIT   ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
LDFLAGS  := -X github.com/tmaps/console/internal/buildinfo.commit=$(COMMIT)
# Fuzz targets (package:target), each run for FUZZTIME by `make test`.
FUZZ     := ./model:FuzzNormalizeDomain ./model:FuzzHeaderHost ./model:FuzzParseIPPrefix ./store/bolt:FuzzDecode ./gate:FuzzAPIKeys

.PHONY: build run demo deps test fuzz bench lint screenshots clean

## build: compile bin/tmaps
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

## run: build, then open the console on the local store
run: build
	./$(BIN)

## demo: build, then open the console on a throw-away store with demo data
demo: build
	./$(BIN) --demo

## deps: install the Debian packages the end-to-end tests need (when missing)
deps:
	./scripts/deps.sh

## test: deps, every test with the race detector, then brief fuzz runs
test: deps
	$(GO) test -race ./...
	$(MAKE) --no-print-directory fuzz

## fuzz: run each fuzz target for FUZZTIME
fuzz:
	@set -e; for pf in $(FUZZ); do \
		pkg=$${pf%%:*}; f=$${pf#*:}; \
		echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

## bench: every benchmark, with allocations (the commands BENCHMARKS.md records)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./model ./gate ./store/bolt
	$(GO) test -run '^$$' -bench '^BenchmarkKeystroke$$|Navigate|FilterKeystroke' -benchtime 2000x -benchmem ./ui
	$(GO) test -run '^$$' -bench SortKeystroke -benchtime 20x ./ui
	$(GO) test -run '^$$' -bench 'OpenTab|FirstFrame' -benchtime 10x -benchmem ./ui
	$(GO) test -run '^$$' -bench RealConsole100k -benchtime 1x ./ui/e2e
	$(GO) test -run '^$$' -bench ServeReady100k -benchtime 8x ./server
	$(GO) test -run '^$$' -bench SSH -benchmem ./server/sshd
	$(GO) test -run '^$$' -bench NginxGate -benchtime 1x ./e2e

## lint: gofmt must list nothing; go vet must pass
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt -l:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## screenshots: build, then redraw the README's pictures (docs/screenshots/*.svg)
## from the console running on the reproducible demo, in tmux
screenshots: build
	$(GO) run ./cmd/screenshots -bin $(BIN) -out docs/screenshots

## clean: remove bin/
clean:
	rm -rf bin
