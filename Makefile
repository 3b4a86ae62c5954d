# The two commands a newcomer needs:
#   make demo   - install what is missing, start the local stack, run the pipeline demo
#   make test   - install what is missing, start the stack, fmt + clippy + compose check + tests, stop
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
KAFKA_BROKERS ?= 127.0.0.1:9092
export KAFKA_BROKERS
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

.PHONY: help bootstrap up down status logs demo test test-only lint fmt compose-check schemas-check fuzz bench

help:
	@echo "make demo    start the local stack and run the demo workload"
	@echo "make test    the full test command (what CI runs)"
	@echo "make up      start the local stack (broker, schema registry) in the background (.run/)"
	@echo "make down    stop it"
	@echo "make bench   benchmarks"

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

status:
	@scripts/stack.sh status

logs:
	@scripts/stack.sh logs

demo: up
	$(CARGO) build --release -p dsync-cli
	$(TARGET_DIR)/release/dsync ping
	$(TARGET_DIR)/release/dsync roundtrip
	$(MAKE) --no-print-directory load-sample

# The sample data of a small distributor (data/sample, written by `dsync sample-data`): master
# data in CSV onto the ERP's compacted topics, sample orders onto orders.submissions, each file
# validated and published through the schema registry by `dsync produce` (needs `make up`).
DSYNC ?= $(TARGET_DIR)/release/dsync
SAMPLE_DIR ?= data/sample
.PHONY: load-sample
load-sample: up
	$(CARGO) build --release -p dsync-cli
	$(DSYNC) produce --topic erp.locations --source-system erp $(SAMPLE_DIR)/locations.csv
	$(DSYNC) produce --topic erp.items --source-system erp $(SAMPLE_DIR)/items.csv
	$(DSYNC) produce --topic erp.prices --source-system erp $(SAMPLE_DIR)/prices.csv
	$(DSYNC) produce --topic erp.customers --source-system erp $(SAMPLE_DIR)/customers.csv
	$(DSYNC) produce --topic orders.submissions --source-system order-intake $(SAMPLE_DIR)/orders.jsonl

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

VENV_PY := $(or $(DSYNC_CACHE),$(HOME)/.cache/distsync)/venv/bin/python

# The compatibility gate (every schema version FULL_TRANSITIVE with its earlier versions, by the
# registry's own rules), the schema lint (docs, metadata block, naming) and the event catalog.
schemas-check:
	$(CARGO) run -q -p dsync-schema-registry --bin schema-gate -- --dir schemas
	$(VENV_PY) schemas/check_schemas.py
	python3 schemas/gen_catalog.py --check

# Bounded fuzzing of the X12 tokenizer and envelope parser (not in CI): make fuzz FUZZ_SECS=600
FUZZ_SECS ?= 300
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	fuzz/run.sh $(FUZZ_SECS)

compose-check:
	docker-compose -f docker-compose.yml config -q
	@echo "docker-compose.yml is valid"

test-only:
	scripts/run-tests.sh

# The test command: everything, and the stack is stopped even when a step fails.
test: bootstrap
	@scripts/test.sh

# Broker-bound benchmarks each run on a private fresh stack (scripts/bench-stack.sh says why).
bench: bootstrap
	$(CARGO) build --release -p dsync-cli
	scripts/bench-stack.sh $(TARGET_DIR)/release/dsync roundtrip --records 100000
	$(CARGO) bench -p dsync-events
	$(CARGO) bench -p dsync-x12 --bench parse
	$(MAKE) bench-inventory

# order-intake over HTTP against the local stack, one instance in release: p50/p99 from request
# to the accepted event on the topic at 1,000 orders/s (3 lines each), then sustained orders/s.
.PHONY: bench-order-intake
bench-order-intake: bootstrap
	$(CARGO) build --release -p dsync-order-intake --bins
	scripts/bench-stack.sh $(TARGET_DIR)/release/order-intake-bench --service-bin $(TARGET_DIR)/release/order-intake

# inventory-projector: live movements/s with one instance, and the rebuild of 1,000,000
# movements against a raw consume of the same topic (markdown table on stdout).
bench-inventory: bootstrap
	$(CARGO) build --release -p dsync-tests --bin inventory-bench
	scripts/bench-stack.sh $(TARGET_DIR)/release/inventory-bench

# edi-gateway: inbound throughput (X12 layer, the gateway's whole decision, with Avro encoding)
# beside x12-types on the same file of 850s (markdown table on stdout; EDI_BENCH_MB sets the size).
.PHONY: bench-edi-gateway
bench-edi-gateway:
	$(CARGO) bench -p dsync-edi-gateway --bench inbound
