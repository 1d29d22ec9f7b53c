# One task runner; CI runs `make test` as it is (through .ci/run).
SHELL := /bin/bash
# Tests and training read MNIST from here; the shared copy beside the checkout when it exists.
export DIGITREC_DATA_DIR ?= $(if $(wildcard ../shared/datasets/mnist),$(abspath ../shared/datasets/mnist),)
VENV := .venv/bin

.PHONY: serve setup setup-dev test test-fast lint bench

serve: setup  ## start the app with the shipped model on http://127.0.0.1:8000
	$(VENV)/digitrec serve $(ARGS)

setup:
	scripts/setup.sh serve

setup-dev:
	scripts/setup.sh dev

test: setup-dev  ## the whole suite: lint, types, unit, API, real server, real browser, shipped-model accuracy
	$(VENV)/ruff check src tests benchmarks
	$(VENV)/ruff format --check src tests benchmarks
	$(VENV)/mypy
	cd frontend && npm run --silent typecheck && npm test --silent
	$(VENV)/pytest -q $(ARGS)

test-fast: setup-dev  ## without the slow end-to-end tests
	$(VENV)/pytest -q -m "not slow" $(ARGS)

lint: setup-dev
	$(VENV)/ruff check src tests benchmarks
	$(VENV)/ruff format --check src tests benchmarks
	$(VENV)/mypy
	cd frontend && npm run --silent typecheck

bench: setup-dev  ## every benchmark; results are appended to BENCHMARKS.md
	$(VENV)/python -m benchmarks all
