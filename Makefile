# casedesk: two commands.
#   make run    set up (virtualenv, dependencies, migrations, demo data) and start casedesk
#   make test   set up the same way, then lint, type-check, check migrations and run the tests

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# pytest-xdist processes for `make test`: one per core (WORKERS=0: all in this process).
WORKERS ?= auto

.PHONY: run test setup lint typecheck migrations-check pytest bench clean

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "casedesk needs Python 3.11 or newer; $(PYTHON) is " + sys.version.split()[0] + " (set PYTHON=python3.12, say)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)
	$(BIN)/casedesk migrate --noinput --verbosity 0
	@echo "database migrated"

run: setup
	$(BIN)/casedesk demo
	CASEDESK_BASE_URL=$${CASEDESK_BASE_URL:-http://$(HOST):$(PORT)} $(BIN)/casedesk run --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy casedesk bench e2e

migrations-check: $(STAMP)
	$(BIN)/casedesk makemigrations --check --dry-run

# worksteal: an idle worker takes queued tests from a busy one, so the few long subprocess
# and browser tests do not leave one core waiting at the end.
pytest: $(STAMP)
	$(BIN)/pytest -n $(WORKERS) --dist worksteal --maxprocesses 4

test: lint typecheck migrations-check pytest

bench: $(STAMP)
	$(BIN)/python bench/clock.py
	$(BIN)/python bench/login_timing.py
	$(BIN)/python bench/desk.py
	$(BIN)/python bench/status.py
	$(BIN)/python bench/paging.py
	$(BIN)/python bench/chat.py
	$(BIN)/python bench/phone.py
	$(BIN)/python bench/mail.py
	$(BIN)/python bench/hostile_mail.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/bounces.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
