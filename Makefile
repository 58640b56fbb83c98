VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build serve test test-fast contract bench lint

build: ## build bin/agileplus with the version stamped
	go build -ldflags "$(LDFLAGS)" -o bin/agileplus ./cmd/agileplus

serve: ## run the server on embedded defaults
	go run -ldflags "$(LDFLAGS)" ./cmd/agileplus serve

test: ## every test, race detector on; fails if any test skips
	./scripts/test.sh

test-fast: ## the inner loop: every test that needs no JVM (no Neo4j), no race detector
	go test -short ./...

contract: ## the API against its OpenAPI document: openapi-spec-validator, Redocly lint, Schemathesis
	./scripts/contract.sh

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	go vet ./...

bench: ## benchmarks against their baselines; figures for bench/README.md
	go run ./bench
