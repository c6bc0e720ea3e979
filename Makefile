# dissent — developer entry points. Everything a fresh machine needs is installed here.
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
HOST     ?= 127.0.0.1
PORT     ?= 5000
INSTANCE ?= instance
# Set (as .ci/run does) to run the database tests a second time on PostgreSQL.
DISSENT_TEST_DATABASE_URL ?=


.PHONY: smoke
.PHONY: install demo test test-sqlite test-postgres lint typecheck system-deps node-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# A fresh demo instance in $(INSTANCE)/ on http://$(HOST):$(PORT), printing the logins.
demo: install
	$(BIN)/dissent demo --host $(HOST) --port $(PORT) --instance $(INSTANCE)

# System tools the tests use: Debian's `age` (interoperability), `chromium`
# (browser tests, driven by Playwright; Playwright's own browser download cannot work
# here), `zbarimg` from zbar-tools (reads back the enrolment QR code), `npm` (installs
# axe-core for the accessibility audit), and nginx with
# its headers-more module and tor (tests/test_deploy.py checks deploy/ with them).
# Installed with apt-get when we are root; otherwise we say what is missing.
system-deps:
	@missing=""; \
	command -v age >/dev/null 2>&1 || missing="$$missing age"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v zbarimg >/dev/null 2>&1 || missing="$$missing zbar-tools"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v pg_restore >/dev/null 2>&1 || missing="$$missing postgresql-client"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	[ -e /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so ] || missing="$$missing libnginx-mod-http-headers-more-filter"; \
	[ -x /usr/sbin/tor ] || command -v tor >/dev/null 2>&1 || missing="$$missing tor"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "please install:$$missing (sudo apt-get install$$missing)"; fi; \
	fi

# axe-core, from the npm registry at the version package-lock.json pins, for the
# accessibility audit (tests/e2e/test_accessibility_browser.py injects it into pages).
AXE := node_modules/axe-core/axe.min.js

$(AXE): package.json package-lock.json | system-deps
	npm ci --no-audit --no-fund
	touch $(AXE)

node-deps: $(AXE)

test: install system-deps node-deps
	@# First on SQLite, whatever the environment says; then again on PostgreSQL.
	env -u DISSENT_TEST_DATABASE_URL $(BIN)/pytest -q
	@if [ -n "$(DISSENT_TEST_DATABASE_URL)" ]; then \
	  echo "== again on PostgreSQL =="; \
	  DISSENT_TEST_DATABASE_URL="$(DISSENT_TEST_DATABASE_URL)" $(BIN)/pytest -q -m "not sqlite_only" --ignore=tests/crypto --ignore=tests/cli/test_age.py; \
	fi

lint: install
	$(BIN)/ruff check dissent tests migrations benchmarks tools
	$(BIN)/ruff format --check dissent tests migrations benchmarks tools
	$(BIN)/mypy

# The production stack on this machine: nginx in front of two app hosts on PostgreSQL and
# Redis (DISSENT_TEST_DATABASE_URL, DISSENT_TEST_REDIS_URL), driven over HTTPS; prints
# "smoke ok" last (deploy/README.md, "smoke.py").
smoke: install system-deps
	$(BIN)/python deploy/smoke.py

bench: install
	$(BIN)/python benchmarks/crypto.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .hypothesis test-artifacts
