# Partner Portal: `make run` (embedded default) and `make test` (the whole suite on real services).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install install-dev messages run test lint check-deploy migrate seed clean bench-sync bench-web

help:
	@echo "make run           set up and run the portal at http://127.0.0.1:8000 (SQLite, file broker, worker, beat, demo data)"
	@echo "make test          set up and run the whole test suite against PostgreSQL, Redis, slapd, an OIDC provider, SMTP and Chromium"
	@echo "make lint          ruff, and the layer contract of the apps (import-linter)"
	@echo "make check-deploy  Django's deployment checks under production settings"
	@echo "make bench-sync    the directory-sync benchmark: 100,000 people in a throwaway slapd (N=20000: quick)"
	@echo "make bench-web     the pages, bulk actions, sign-in and a load test on a full-size data set (SCALE=0.1: quick)"
	@echo "make clean         remove the virtual environment and var/ (the embedded database, mail and logs)"

# --- installation ------------------------------------------------------------
$(VENV)/.runtime: pyproject.toml constraints.txt
	scripts/system-deps.sh build
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

# The translations (English and German): each catalogue compiled next to itself by gettext's msgfmt.
# scripts/makemessages.sh refreshes the catalogues from the code.
PO := $(wildcard locale/*/LC_MESSAGES/django.po */locale/*/LC_MESSAGES/django.po)
MO := $(PO:.po=.mo)
%.mo: %.po
	@command -v msgfmt >/dev/null || scripts/system-deps.sh build
	msgfmt --check-format -o $@ $<

messages: $(MO)
install: $(VENV)/.runtime $(MO)
install-dev: $(VENV)/.dev $(MO)

# --- the embedded default ------------------------------------------------------
migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	scripts/run-embedded.sh

# --- tests -----------------------------------------------------------------------
# axe-core, pinned in its package-lock.json, for the browser suite's accessibility checks (tests/browser/axe.py).
AXE := tests/browser/axe/node_modules/.installed
$(AXE): tests/browser/axe/package.json tests/browser/axe/package-lock.json
	@command -v npm >/dev/null || scripts/system-deps.sh node
	cd tests/browser/axe && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: install-dev $(AXE)
	scripts/system-deps.sh test
	@set -euo pipefail; eval "$$(scripts/test-services.sh)"; \
	  $(BIN)/ruff check .; \
	  $(BIN)/lint-imports --no-logo --no-cache; \
	  DJANGO_SETTINGS_MODULE=portal.settings.test $(BIN)/python manage.py makemigrations --check --dry-run >/dev/null \
	    || { echo "Models and migrations differ: run makemigrations." >&2; exit 1; }; \
	  $(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-logo --no-cache

# The directory-sync benchmark (bench/README.md): `make bench-sync`, or `make bench-sync N=20000` for a quick run.
bench-sync: install
	scripts/system-deps.sh test
	@set -euo pipefail; eval "$$(scripts/test-services.sh)"; \
	  $(BIN)/python -m bench.sync_bench --people $(or $(N),100000) $(BENCH_ARGS)

# The web benchmark (bench/README.md): `make bench-web`, or `make bench-web SCALE=0.1` for a quick run.
bench-web: install
	scripts/system-deps.sh test
	@set -euo pipefail; eval "$$(scripts/test-services.sh)"; \
	  $(BIN)/python -m bench.web_bench --scale $(or $(SCALE),1) $(BENCH_ARGS)

check-deploy: install
	@scripts/check-deploy.sh

clean:
	-scripts/test-services.sh --stop
	rm -rf $(VENV) var staticfiles
