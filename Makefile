# Feedback Hub. `make run` starts everything on embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

## run: web on http://127.0.0.1:8000, a Celery worker and beat (SQLite + filesystem broker in var/)
run: $(VENV)/.run-installed
	HUB_EMBEDDED=1 $(BIN)/python manage.py migrate --no-input
	HUB_EMBEDDED=1 $(BIN)/python manage.py ensure_local_admin
	HUB_EMBEDDED=1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

## test: the whole suite (DATABASE_URL / CELERY_BROKER_URL when set, else SQLite + filesystem broker)
test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	HUB_EMBEDDED=1 $(BIN)/mypy .

format: $(VENV)/.dev-installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: every throughput figure as a ratio to a ceiling of the same run, ≤ 10 min (docs/benchmarks.md);
##        one part or a few: make bench ARGS="--only ingest,process"
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py $(ARGS)

clean:
	rm -rf var/test-run.sqlite3* var/test-broker
