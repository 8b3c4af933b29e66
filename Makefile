# convscope: two commands set everything up on a fresh machine.
#   make demo   create .venv, install, run the tour on bundled data
#   make explore   create .venv, install with the explore extra, serve the live explorer on http://127.0.0.1:7860
#   make test   create .venv, install with dev extras, run ruff and pytest (which builds the docs strictly
#               and installs the wheel into a fresh venv)
#   make docs   the manual and the API reference, built offline into site/
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
EXPLORESTAMP := $(VENV)/.installed-explore
DOCSSTAMP := $(VENV)/.installed-docs
# torch==2.13.0 is the CPU wheel on disk; pinned in pyproject.toml (never a CUDA build).
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo explore test test-slow lint bench docs browser-deps clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PIP) install -e '.[dev]'
	touch $@

$(EXPLORESTAMP): $(STAMP)
	$(PIP) install -e '.[explore]'
	touch $@

$(DOCSSTAMP): $(STAMP)
	$(PIP) install -e '.[docs]'
	touch $@

# Headless Chromium for the browser test (Debian package); best effort when not root.
browser-deps:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; browser tests will be skipped"; \
	  else echo "note: not root, chromium not installed; browser tests will be skipped"; fi; }

demo: $(STAMP)
	$(VENV)/bin/convscope tour --quick --out convscope-out/tour

# the live explorer (Gradio, offline, 127.0.0.1 only); Ctrl-C stops it
explore: $(EXPLORESTAMP)
	$(VENV)/bin/convscope explore

# offline: no web fonts, no plugin that downloads; strict, so a broken reference fails
docs: $(DOCSSTAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

test: $(DEVSTAMP) browser-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup

test-slow: $(DEVSTAMP)
	$(PY) -m pytest -m slow

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/conv_bench.py

clean:
	rm -rf $(VENV) convscope-out .pytest_cache .ruff_cache site build dist
