# The two commands a new user needs: `make run` and `make test`. Both are idempotent.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
RECIPE ?= fast
# Where pip finds PyTorch. Empty: pip's own index and find-links (this project's machines keep the CPU
# wheel at hand). Elsewhere on Linux PyPI's torch is the CUDA build, several GB: pass
# TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU one.
TORCH_INDEX ?=

.PHONY: run test test-fast lint data bench system-packages clean help

help:
	@echo "make run   - install, get MNIST, train the '$(RECIPE)' recipe, evaluate, report"
	@echo "make test  - install with dev extras and run the test suite"

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install -q -e .
	touch $@

$(STAMP_DEV): $(STAMP)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

data: $(STAMP)
	$(BIN)/digits data download --dataset mnist

run: data
	$(BIN)/digits train --recipe $(RECIPE) --seed 0 --out runs/make-run-$(RECIPE) $(if $(wildcard runs/make-run-$(RECIPE)/checkpoint.pt),--resume runs/make-run-$(RECIPE),)
	$(BIN)/digits evaluate runs/make-run-$(RECIPE)

system-packages:
	@bash scripts/ensure-system-packages.sh || true

test: $(STAMP_DEV) data system-packages
	$(BIN)/python -m pytest -q

test-fast: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -m "not mnist and not browser and not slow"

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests benchmarks

bench: $(STAMP_DEV) data
	$(BIN)/python -m benchmarks.train_speed
	$(BIN)/python -m benchmarks.time_to_accuracy

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
