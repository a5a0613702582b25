# Reglab Nätverk. `make run` starts everything; `make test` runs every check; `make bench` measures.
PYTHON_SYSTEM ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench install lint typecheck browsers clean

$(STAMP): pyproject.toml
	$(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m devtools.run

# Debian's chromium for the browser tests; a test tool's own browser download cannot work here.
browsers:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(VENV)/bin/ruff check .

typecheck: install
	$(VENV)/bin/mypy

test: install browsers lint typecheck
	$(VENV)/bin/pytest

bench: install
	$(PY) -m devtools.bench

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
