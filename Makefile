# Switchboard. `make run` starts a hub with no config; `make test` is what CI runs.
GO       ?= go
BIN      := bin/switchboard
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/switchboard-hub/switchboard/internal/app.Version=$(VERSION)
FUZZTIME ?= 5s
# The race detector needs a C compiler; without one the tests run without it.
RACE     ?= $(shell command -v $$($(GO) env CC) >/dev/null 2>&1 && echo -race)

.PHONY: all build run test test-short fuzz generate checkgenerate lint breaking bench screenshots clean

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

# Console screenshots in docs/ (needs Debian's chromium).
screenshots:
	SWITCHBOARD_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run '^TestScreenshots$$' ./bridge/console/

clean:
	rm -rf bin
