# Bake, try and test the template. `make` lists the targets.
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install, so the venv is rebuilt only when pyproject.toml changes.
STAMP := $(VENV)/.installed

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv with the dev group (torch, lightning, cookiecutter, pytest, ruff)

# `pip install --group` (PEP 735) needs pip >= 25.1, newer than many system Pythons ship.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --group dev
	touch $@

demo: venv ## bake the default project into build/demo, install it in its own venv, train once
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh

BENCH := build/bench

bench: venv ## bake the default project into build/bench, time it against plain PyTorch; ARGS="--rounds 5 --peer PATH --peer-python PY"
	rm -rf $(BENCH)
	$(BIN)/cookiecutter --no-input . -o $(BENCH)
	$(BIN)/python bench/benchmark.py --project $(BENCH)/my-project --out $(BENCH)/benchmark.json $(ARGS)

# One pytest worker per core (pytest-xdist); tests that share a baked project carry the same
# xdist_group, so each bake is made and installed once.
test: venv ## run every template test, slow ones included, one worker per core
	$(BIN)/python -m pytest -n auto --dist loadgroup

trace: venv ## bake the default project; count the lines its train.py runs up to Trainer.fit
	$(BIN)/python scripts/trace_fit.py

lint: venv ## check style and common bugs in hooks/, tests/ and bench/
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv ## fix what the linters can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean: ## delete baked demos and caches (keeps .venv; remove it by hand to rebuild)
	rm -rf build .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

.PHONY: help venv demo bench test trace lint format clean
