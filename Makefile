# Two commands matter: `make demo` runs the whole pipeline on the embedded DuckDB warehouse with generated
# sample data; `make test` runs every test and lint (what .ci/run calls).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_EVENTS ?= 50000
export DBT_PROFILES_DIR ?= $(CURDIR)
export DUCKDB_PATH ?= $(CURDIR)/target/posthog_migrate.duckdb

.PHONY: demo test lint pytest setup clean

setup: $(VENV)/.installed profiles.yml

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

profiles.yml:
	cp profiles.example.yml profiles.yml

demo: setup
	$(BIN)/posthog-migrate-sample heap --events $(SAMPLE_EVENTS) --duckdb-path "$(DUCKDB_PATH)"
	$(BIN)/dbt build
	$(BIN)/dbt run-operation posthog_summary

lint: setup
	$(BIN)/ruff check loader pytests bench
	$(BIN)/ruff format --check loader pytests bench
	$(BIN)/sqlfluff lint models macros tests analyses

pytest: setup
	$(BIN)/pytest

test: lint pytest

clean:
	rm -rf target logs
