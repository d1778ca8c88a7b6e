# initlab: `make` lists the targets. `make run` and `make test` do all the set-up themselves.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STORE  := $(CURDIR)/mlruns
UI_URI ?= sqlite:///$(STORE)/mlflow.db
PORT   ?= 5000
GRID   ?= init=zeros,random,he,xavier
CLUSTER ?= $(CURDIR)/.cluster

.PHONY: help install install-cluster run sweep report orphans test test-full bench mutation \
	lint format ui cluster-up cluster-down cluster-status clean

help: ## Show this help
	@echo "initlab: a tracked laboratory for neural-network weight initialization"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-15s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $@

install: $(VENV)/.installed ## Create .venv and install initlab with its test tools

$(VENV)/.installed-cluster: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,cluster]"
	@touch $@

install-cluster: $(VENV)/.installed-cluster ## Install the cluster extra too (Ray, psycopg)

run: install ## Run the course grid (GRID=...) and write the report
	$(BIN)/python src/train.py -m $(GRID)
	$(BIN)/python src/report.py

sweep: install ## Run any grid: make sweep ARGS="init=he,xavier activation=relu,tanh"
	$(BIN)/python src/train.py -m $(ARGS)

report: install ## Write the latest sweep's report (reports/<experiment>/latest/) and log it to its parent run
	$(BIN)/python src/report.py $(ARGS)

orphans: install ## Mark KILLED the runs left RUNNING by a process that is gone (kill -9, a crash)
	PYTHONPATH=src $(BIN)/python -m initlab.orphans $(UI_URI)

test: install ## Run the fast test suite (what CI runs)
	$(BIN)/python -m pytest

test-full: install ## Run every test, slow ones included (browser: chromium; cluster: postgresql)
	@$(BIN)/python -m pip install --quiet -e ".[test,browser,cluster]" \
		|| echo "test-full: no Playwright or Ray, the browser or cluster tests will be skipped"
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			>/dev/null 2>&1 || echo "test-full: no chromium, the browser test will be skipped"; \
	fi
	@if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
			>/dev/null 2>&1 || echo "test-full: no postgresql, the cluster tests will be skipped"; \
	fi
	$(BIN)/python -m pytest -m "slow or not slow"

bench: install ## Run the benchmarks (python bench/run.py)
	$(BIN)/python bench/run.py

$(VENV)/.installed-mutation: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test,mutation]"
	@touch $@

mutation: $(VENV)/.installed-mutation ## Mutation testing (mutmut) of the modules whose numbers users read: ~1 h, not in CI
	rm -rf mutants
	nice -n 15 $(BIN)/mutmut run --max-children 2
	@$(BIN)/python tests/mutation_score.py
	@echo; sed -n '/^## Equivalent mutants/,$$p' docs/mutation.md  # the survivors kept, and why

lint: install ## Check style with ruff
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: install ## Format the code with ruff
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

ui: install ## Serve the MLflow UI over the project store on http://127.0.0.1:5000 (PORT=...)
	@mkdir -p $(STORE)
	@echo "MLflow UI on http://127.0.0.1:$(PORT) (Ctrl-C to stop)"
	$(BIN)/mlflow ui --backend-store-uri $(UI_URI) --host 127.0.0.1 --port $(PORT) --workers 1

cluster-up: install-cluster ## Start PostgreSQL, an MLflow server and a Ray head on 127.0.0.1 (in .cluster/)
	PYTHONPATH=src $(BIN)/python -m initlab.cluster up --dir $(CLUSTER)

cluster-down: install ## Stop the services cluster-up started
	PYTHONPATH=src $(BIN)/python -m initlab.cluster down --dir $(CLUSTER)

cluster-status: install ## Say which of the cluster's services run, and where
	@PYTHONPATH=src $(BIN)/python -m initlab.cluster status --dir $(CLUSTER) || true

clean: ## Remove Hydra's output folders and caches (keeps the MLflow store, reports and compiled kernels)
	rm -rf outputs multirun mutants .pytest_cache .ruff_cache
	find . -path ./.venv -prune -o -name "*.pyc" -type f -exec rm -f {} +
	@echo "kept: numba's compiled kernels (src/initlab/__pycache__/*.nbi, *.nbc)"
