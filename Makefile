# The two commands of the README: `make run` (demo) and `make test` (everything).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install run test lint bench

$(VENV)/.installed: pyproject.toml plugins/file/pyproject.toml plugins/kubernetes/pyproject.toml plugins/kubernetes_ingress/pyproject.toml plugins/kubernetes_crd/pyproject.toml plugins/kubernetes_acme/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]' -e plugins/file -e plugins/kubernetes -e plugins/kubernetes_ingress -e plugins/kubernetes_crd -e plugins/kubernetes_acme
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) examples/demo/run.py

test: install
	sh scripts/test-deps.sh
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check kernel plugins tests bench

bench: install
	$(PY) bench/run.py
