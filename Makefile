# Ticketing: one command each to run, develop and test on one machine.
#   make run           the whole API on http://127.0.0.1:$(PORT) over the in-memory store (Rust toolchain only)
#   make dev           the Lambda functions under cargo lambda watch, over DynamoDB Local, fed by its stream
#   make test          everything: tools, lint, test-rust and smoke
#   make test-rust     every Rust test: unit, behaviour on both stores, emulators
#   make lint          cfn-lint and sam validate --lint of template.yaml, rustfmt, clippy with warnings as errors
#   make smoke         both local servers started for real and driven end to end, then schemathesis
#   make audit         the ledger audit over the DynamoDB tables the environment names (make dev prints how)
#   make redrive       a stream's dead letters (events or bookings) applied again (make dev prints how)
#   make bench         cost, throughput, latency, cold start and memory on DynamoDB Local -> BENCHMARKS.md
#   make build-lambda  the functions' release binaries for Lambda (arm64), as sam build makes them
#   make sam-local     the API served by sam local start-api on PORT, the functions in Docker (installs Docker)
#   make sam-test      every sample event through sam local invoke, the seed's scenarios through start-api
#   make tools         DynamoDB Local, cargo-lambda, cfn-lint, moto, schemathesis and the SAM CLI into .tools/
#   make clean         cargo clean, and .tools/ removed
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PORT ?= 3000
## On one machine the caller names itself in x-user-id; a deployment decides it from a verified token
## (template.yaml sets AUTH_MODE=jwt). A function without AUTH_MODE refuses to start.
export AUTH_MODE ?= header
VENV := $(CURDIR)/.tools/venv
WITH_TOOLS := PATH="$(VENV)/bin:$$PATH"
FUNCTIONS := $(notdir $(wildcard functions/*))

.PHONY: help tools run dev test test-rust lint smoke audit redrive bench build-lambda sam-local sam-test clean

help:
	@sed -n 's/^#   //p' Makefile

## .tools/: DynamoDB Local, cargo-lambda and cfn-lint (idempotent)
tools:
	@scripts/tools.sh

run:
	cargo run --quiet -p ticketing-serve

## exec: dev replaces the recipe's shell, so the signal that stops make reaches dev itself.
dev: tools
	cargo build --quiet -p ticketing-local --bin dev
	$(WITH_TOOLS) exec ./target/debug/dev

test: tools lint test-rust smoke

test-rust:
	cargo test --workspace --no-fail-fast

lint:
	$(WITH_TOOLS) cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 .tools/sam/bin/sam validate --lint --template template.yaml
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

## Both local servers, started for real and driven with the seed's curl commands; then schemathesis
## over every operation of openapi.yaml against `make run`.
smoke:
	cargo build --quiet --workspace --bins
	HOLD_SECONDS=5 scripts/smoke.sh run
	HOLD_SECONDS=8 $(WITH_TOOLS) scripts/smoke.sh dev
	scripts/schemathesis.sh 40

audit:
	cargo run --quiet -p ticketing-local --bin audit

redrive:
	cargo run --quiet -p ticketing-local --bin redrive

## DynamoDB Local and moto: one measured booking flow, the throughput against its ceiling, then the
## functions' release binaries: cold start, asynchronous latency and memory -> BENCHMARKS.md
bench: tools build-lambda
	cargo build --quiet --profile fast --bins --workspace --exclude ticketing-serve
	$(WITH_TOOLS) ./target/fast/bench

## Release binaries for Lambda (arm64), as `sam build` makes them.
build-lambda: tools
	$(WITH_TOOLS) cargo lambda build --release --arm64 $(addprefix -p ,$(FUNCTIONS))

## SAM on this machine: Docker (Debian's docker.io and a stand-in base image), DynamoDB Local and moto.
sam-local:
	scripts/sam.sh local

sam-test:
	scripts/sam.sh test

clean:
	cargo clean
	rm -rf .tools
