# Two entry points (the README's quickstart): `make demo` and `make test`.
# Both create a local virtual environment in .venv first. Override PYTHON or TORCH to taste, e.g.
#   make test PYTHON=python3.11 TORCH="torch torchvision"
PYTHON ?= python3
TORCH ?= torch==2.14.1 torchvision==0.29.1
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench install clean

$(BIN)/specreg: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/specreg

demo: install
	$(BIN)/specreg reproduce --preset demo --out reports/demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
