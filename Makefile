# Two entry points (the README's quickstart): `make demo` and `make test`.
# Both create a local virtual environment in .venv first. Override PYTHON or TORCH to taste, e.g.
#   make test PYTHON=python3.11 TORCH="torch torchvision"
PYTHON ?= python3
TORCH ?= torch==2.14.1 torchvision==0.29.1
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint format bench install clean

$(BIN)/specreg: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/specreg

demo: install
	$(BIN)/specreg reproduce --preset demo --out reports/demo

test: install lint
	$(BIN)/python -m pytest

# Style is part of the tests: ruff's rule set (pyproject.toml) and its formatter, checked, never applied
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
