# Two commands: `make run` (everything on the embedded default, no servers needed) and
# `make test` (lint + the whole suite). Set DATABASE_URL / REDIS_URL to use PostgreSQL
# and Redis instead.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The port `make run` serves on; PUBLIC_BASE_URL follows it unless set (config/settings.py).
export PORT ?= 8000

# Development defaults; production sets DEBUG=0 and its secrets (see README).
export DEBUG ?= 1

.PHONY: run test install lint format migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements/base.txt requirements/dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --no-input

run: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_history
	$(BIN)/python manage.py setup_periodic_tasks
	@echo "Starting web, workers and beat; open http://127.0.0.1:$(PORT)/admin/ (Ctrl-C stops them all)"
	$(BIN)/python config/run_procfile.py

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var/ .pytest_cache .ruff_cache
