# Switchboard. `make run` starts a hub with no config; `make test` is what CI runs.
GO       ?= go
BIN      := bin/switchboard
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/switchboard-hub/switchboard/internal/app.Version=$(VERSION)
FUZZTIME ?= 5s
# The race detector needs a C compiler; without one the tests run without it.
RACE     ?= $(shell command -v $$($(GO) env CC) >/dev/null 2>&1 && echo -race)

.PHONY: all build run test test-short fuzz generate checkgenerate lint breaking bench compare screenshots clean

all: lint test build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/switchboard

run: build
	./$(BIN) serve $(ARGS)

test:
	$(GO) test $(RACE) -count=1 ./...

test-short:
	$(GO) test -count=1 ./...

# Every fuzz target, briefly. FUZZTIME=1m make fuzz for a longer run.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
	  done; \
	done

# gen/ is wiped and rewritten by buf with local plugins pinned in go.mod.
generate:
	$(GO) tool buf generate
	cp gen/openapi/switchboard.swagger.json internal/app/openapi.json

# Fails when the committed gen/ differs from what the protos generate.
checkgenerate: generate
	@test -z "$$(git status --porcelain -- gen internal/app/openapi.json)" || \
	  { git status --porcelain -- gen internal/app/openapi.json; echo "gen/ is stale: run make generate and commit"; exit 1; }

# Tools come from go.mod's tool lines: buf (lint, format) and staticcheck
# (default checks; a deliberate exception is a //lint:ignore with its reason).
lint:
	$(GO) tool buf lint
	$(GO) tool buf format -d --exit-code
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

# Contract compatibility with the previous commit (when it had a contract).
breaking:
	@if git cat-file -e HEAD~1:proto/switchboard/v1/hub.proto 2>/dev/null; then \
	  $(GO) tool buf breaking --against '.git#ref=HEAD~1'; \
	else echo "breaking: previous commit has no contract, skipped"; fi

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

# Side by side with Centrifugo: installs Centrifugo $(CENTRIFUGO_VERSION) into
# $(COMPARE_CACHE) once (go install, pinned), then runs every row against
# both servers, interleaved, ROUNDS times each, on loopback, and prints a
# markdown table. ROWS=channels5k,idle picks rows (see `switchboard bench
# compare -h`); SCALE=0.1 shrinks every row for a quick check; REDIS=HOST:PORT
# uses that Redis for the Redis rows instead of a private redis-server.
CENTRIFUGO_VERSION ?= v6.9.1
COMPARE_CACHE      ?= $(HOME)/.cache/switchboard-compare
ROUNDS             ?= 3
ROWS               ?= all
SCALE              ?= 1
REDIS              ?=
COMPARE_FLAGS      ?=
compare: build
	@if ! $(GO) version -m "$(COMPARE_CACHE)/centrifugo" 2>/dev/null | grep -q "^\s*mod\s*github.com/centrifugal/centrifugo/v6\s*$(CENTRIFUGO_VERSION)\s"; then \
	  echo "installing Centrifugo $(CENTRIFUGO_VERSION) into $(COMPARE_CACHE)"; \
	  mkdir -p "$(COMPARE_CACHE)" && GOBIN="$(COMPARE_CACHE)" $(GO) install github.com/centrifugal/centrifugo/v6@$(CENTRIFUGO_VERSION); \
	fi
	nice ./$(BIN) bench compare --centrifugo "$(COMPARE_CACHE)/centrifugo" --rounds $(ROUNDS) --rows $(ROWS) --scale $(SCALE) \
	  $(if $(REDIS),--redis $(REDIS)) --command "make compare ROUNDS=$(ROUNDS) ROWS=$(ROWS) SCALE=$(SCALE)" $(COMPARE_FLAGS)

# Console screenshots in docs/ (needs Debian's chromium).
screenshots:
	SWITCHBOARD_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestScreenshots$$' ./bridge/console/

clean:
	rm -rf bin
