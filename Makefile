# inference-hub: every target sets up what it needs first (idempotent).
.PHONY: setup build run test lint eval bench soak clean

CARGO ?= cargo
BIN := target/release/inference-hub

setup:
	bash scripts/setup.sh

build: setup
	$(CARGO) build --release --locked

## Run the service on port 8100 (models load in the background).
run: build
	$(BIN) serve

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Everything CI runs: set-up, formatting, lints, unit and integration tests.
test: setup lint
	$(CARGO) test --locked --workspace

## DEV accuracy on ../shared/eval/sroie-dev (skipped when absent).
eval: build
	bash scripts/eval.sh

## Speed, memory and accuracy on the DEV receipts, against faster-paddle.
bench: build
	$(CARGO) build --release --locked --example loadgen
	bash scripts/bench.sh

## Memory stays flat over 2,000 requests of varied sizes (SOAK_REQUESTS=N).
soak: build
	$(CARGO) build --release --locked --example loadgen
	bash scripts/soak.sh

clean:
	$(CARGO) clean
	rm -rf .eval .bench .soak
