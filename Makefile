# The command index. `make run` serves the site locally; `make test` runs the whole suite.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# .python-version says 3.12: pyenv's python3 honours it; python3.12 is tried first anyway.
PYTHON ?= $(shell command -v python3.12 || command -v python3.13 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests need a SECRET_KEY (DEBUG is off by default); the real environment can still override it.
TEST_ENV := SECRET_KEY=$${SECRET_KEY:-test-only-insecure-key}
# Processes for the tests without a browser (0: one process, as plain pytest). `loadgroup` hands
# tests out in pytest-django's order (transactional tests last on each process) and keeps a module
# marked `xdist_group` on one process (tests/test_ratelimit_redis.py: one Redis database).
TEST_WORKERS ?= 2
UNIT_PARALLEL := -n $(TEST_WORKERS) --dist loadgroup

.PHONY: help venv run demo migrate superuser test e2e lint fmt messages check-deploy audit pip-audit clean

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12+ is needed (found %s); install it or set PYTHON=" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## create .venv and install the pinned requirements

migrate: venv ## apply database migrations
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput

run: migrate ## set everything up and serve on http://127.0.0.1:8000 with the task worker (SQLite, console email)
	@echo "Site: http://$(HOST):$(PORT)/   admin: http://$(HOST):$(PORT)/admin/ (make superuser for a login)"
	@echo "The task worker runs beside it: it sends the password-reset mail (printed here) and, once"
	@echo "amoCRM is connected, the sync. Ctrl-C stops both."
	export DEBUG=$${DEBUG:-true} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)}; \
	$(PY) manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(PY) manage.py runserver $(HOST):$(PORT)

demo: venv ## the site, the worker and an amoCRM stand-in together, connected (Ctrl-C stops all)
	$(PY) -m tools.demo

superuser: migrate ## create a staff login for the admin
	DEBUG=$${DEBUG:-true} $(PY) manage.py createsuperuser

test: venv ## run the whole test suite (DATABASE_URL picks the database; SQLite by default)
	@# The tests without a browser on TEST_WORKERS processes (pytest-xdist; each its own test
	@# database), then the browser tests alone: each of those runs a site, a worker, the stand-in and
	@# Chromium, which a second suite beside them would starve. Exit code 5 (nothing selected, e.g.
	@# PYTEST_ARGS names one file) is not a failure.
	$(TEST_ENV) $(PY) -m pytest -m "not e2e" $(UNIT_PARALLEL) $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(TEST_ENV) $(PY) -m pytest -m e2e $(PYTEST_ARGS) || [ $$? -eq 5 ]

e2e: venv ## only the browser tests (Debian's chromium; the site, worker and stand-in run for them)
	$(TEST_ENV) $(PY) -m pytest -m e2e $(PYTEST_ARGS)

lint: venv ## ruff format check, ruff lint, Django checks, missing migrations
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(TEST_ENV) $(PY) manage.py check --fail-level WARNING
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

fmt: venv ## format and autofix with ruff
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

messages: venv ## update and compile the Russian translations (needs gettext)
	DEBUG=true $(PY) manage.py makemessages -l ru --ignore '.venv/*' --ignore 'benchmarks/*' --ignore 'tests/*'
	DEBUG=true $(PY) manage.py compilemessages -l ru --ignore '.venv/*'

check-deploy: venv ## `check --deploy` with production-like settings
	DEBUG=false SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	SITE_URL=https://flowers.example.ru ALLOWED_HOSTS=flowers.example.ru \
	EMAIL_URL=smtp+tls://mailer:secret@smtp.example.ru:587 \
	$(PY) manage.py check --deploy --fail-level WARNING

audit: venv ## known vulnerabilities of the installed packages, from PyPI's advisories (works here)
	$(PY) tools/audit_pins.py

# PyPI's per-version advisory API (`-s pypi`, never OSV), for the packages installed in .venv. Needs
# pypi.org's full JSON API, which this build machine cannot reach; `make audit` is the fallback.
pip-audit: venv ## pip-audit against PyPI, where its per-version API is reachable
	$(VENV)/bin/pip-audit --vulnerability-service pypi --local --skip-editable --strict --progress-spinner off

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
