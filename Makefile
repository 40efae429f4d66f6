# inference-hub: every target sets up what it needs first (idempotent).
.PHONY: setup setup-test build run test lint eval bench soak clean

CARGO ?= cargo
BIN := target/release/inference-hub

## What serving needs: ONNX Runtime, the models and the int8 models derived from them.
setup:
	SETUP_TEST_TOOLS=0 bash scripts/setup.sh

## Plus what only the tests run: Prometheus, systemd-analyze, qemu-user, Redis, Chromium, Helm's engine, the Triton client.
setup-test:
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
test: setup-test lint
	$(CARGO) test --locked --workspace

## DEV accuracy on ../shared/eval/sroie-dev (skipped when absent).
eval: build
	$(CARGO) build --release --locked -p hub-fields --example score_fields
	bash scripts/eval.sh

## Speed, memory and accuracy on the DEV receipts, against faster-paddle.
bench: build
	$(CARGO) build --release --locked --example loadgen
	$(CARGO) build --release --locked -p hub-fields --example score_fields
	bash scripts/bench.sh

## Memory stays flat over 2,000 requests of varied sizes (SOAK_REQUESTS=N).
soak: build
	$(CARGO) build --release --locked --example loadgen
	bash scripts/soak.sh

clean:
	$(CARGO) clean
	rm -rf .eval .bench .soak
