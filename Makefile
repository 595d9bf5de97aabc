# `make demo` runs the whole pipeline on the embedded DuckDB warehouse with generated sample data;
# `make test` runs every test and lint; `make test-all` adds the Snowflake, BigQuery and Redshift warehouse suite
# (what .ci/run calls). All of them set themselves up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE_EVENTS ?= 50000
AMPLITUDE_EXPORT := target/sample/amplitude_export.zip
# The demo reads both sources: Heap from its DuckDB schema, Amplitude from an Export API zip where it lies.
DEMO_VARS := {amplitude_enabled: true, amplitude_export_path: $(AMPLITUDE_EXPORT)}
export DBT_PROFILES_DIR ?= $(CURDIR)
export DUCKDB_PATH ?= $(CURDIR)/target/posthog_migrate.duckdb
# sqlfluff's dbt templater compiles the models, which read the seeds and the Heap schema: it gets a warehouse
# of its own so linting never touches the demo's.
LINT_DUCKDB := $(CURDIR)/target/lint/warehouse.duckdb
LINT_VARS := {amplitude_enabled: true, amplitude_export_path: target/lint/amplitude.zip}
# ...and the generic source's three relations, so its models are linted too.
LINT_CUSTOM_RELATION := create schema if not exists app; create or replace table app.messages (id varchar, \
	type varchar, event varchar, distinct_id varchar, timestamp varchar, properties varchar, uuid varchar); \
	create or replace table app.people (distinct_id varchar, timestamp timestamp, properties json); \
	create or replace table app.links (distinct_id varchar, alias varchar, timestamp varchar)
# The BigQuery emulator needs DuckDB 1.5.5 (its spatial extension exists for no other version) and the main venv
# has 2.x, so it gets a venv of its own. Its DuckDB extensions come from PyPI wheels into a HOME of its own, so
# nothing is ever downloaded at run time.
BQ_VENV := .venv-bqemulator
BQ_PACKAGES := bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 duckdb-extension-avro==1.5.5 numpy
# fakesnow (the local Snowflake) pins DuckDB 2.0 and the main venv has 1.5.5, so it gets a venv of its own too; the
# tests run it only as a server process. Pinned: pytests/support/fakesnow_server.py patches some of its gaps.
FAKESNOW_VENV := .venv-fakesnow
# connector <5 as in the main venv: fakesnow 0.12.1 imports snowflake.connector.converter, which 5.x removed.
FAKESNOW_PACKAGES := 'fakesnow[server]==0.12.1' 'snowflake-connector-python>=3.12,<5'
# Named after the packages: a change of them rebuilds the venv, an edit elsewhere in this file does not.
FAKESNOW_STAMP := $(FAKESNOW_VENV)/.installed-fakesnow-0.12.1-connector-4

.PHONY: demo test test-all lint lint-python lint-sql pytest pytest-warehouses golden bqemulator fakesnow postgresql setup clean

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
	$(BIN)/posthog-migrate-sample amplitude --events $(SAMPLE_EVENTS) --export-zip $(AMPLITUDE_EXPORT)
	$(BIN)/dbt build --vars '$(DEMO_VARS)'
	$(BIN)/dbt run-operation posthog_summary --vars '$(DEMO_VARS)'
	$(BIN)/load-posthog --dry-run

test: lint pytest

lint: lint-python lint-sql

lint-python: setup
	$(BIN)/ruff check loader pytests bench
	$(BIN)/ruff format --check loader pytests bench

lint-sql: setup
	rm -f "$(LINT_DUCKDB)"  # scratch, and a file another DuckDB version wrote cannot be opened
	$(BIN)/posthog-migrate-sample heap --events 2000 --duckdb-path "$(LINT_DUCKDB)" > /dev/null
	$(BIN)/posthog-migrate-sample amplitude --events 2000 --export-zip target/lint/amplitude.zip > /dev/null
	$(BIN)/python -c "import duckdb; duckdb.connect('$(LINT_DUCKDB)').execute('$(LINT_CUSTOM_RELATION)')"
	DUCKDB_PATH="$(LINT_DUCKDB)" $(BIN)/dbt build --quiet --target-path target/lint \
		--select resource_type:seed base_amplitude__export_files --vars "$(LINT_VARS)"
	DUCKDB_PATH="$(LINT_DUCKDB)" $(BIN)/sqlfluff lint models analyses tests/singular

pytest: setup fakesnow
	$(BIN)/pytest

test-all: test pytest-warehouses

# Rewrite pytests/golden/expected/ from this build, when a change moves uuids or payload bytes on purpose; commit the
# result and say so in the commit message (pytests/golden/README.md).
golden: setup
	POSTHOG_MIGRATE_UPDATE_GOLDEN=1 $(BIN)/pytest pytests/golden

bqemulator: $(BQ_VENV)/.installed

fakesnow: $(FAKESNOW_STAMP)

$(FAKESNOW_STAMP):
	rm -rf $(FAKESNOW_VENV)
	$(PYTHON) -m venv $(FAKESNOW_VENV)
	$(FAKESNOW_VENV)/bin/pip install --quiet --upgrade pip
	$(FAKESNOW_VENV)/bin/pip install --quiet $(FAKESNOW_PACKAGES)
	touch $@

$(BQ_VENV)/.installed: pytests/support/install_duckdb_extensions.py
	rm -rf $(BQ_VENV)
	$(PYTHON) -m venv $(BQ_VENV)
	$(BQ_VENV)/bin/pip install --quiet --upgrade pip
	$(BQ_VENV)/bin/pip install --quiet $(BQ_PACKAGES)
	mkdir -p $(BQ_VENV)/home
	HOME="$(CURDIR)/$(BQ_VENV)/home" $(BQ_VENV)/bin/python pytests/support/install_duckdb_extensions.py spatial avro
	touch $@

# Redshift's stand-in is a PostgreSQL server the tests start themselves (pytests/support/redshift_stand_in_server.py):
# Debian's package, installed when no PostgreSQL server program is found (as root, or through sudo).
postgresql:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && ! command -v postgres >/dev/null 2>&1; then \
		echo "Installing PostgreSQL (the Redshift stand-in of the warehouse suite)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq update >/dev/null && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq install -y --no-install-recommends postgresql >/dev/null; \
	fi

# Snowflake (fakesnow), BigQuery (bqemulator) and Redshift (PostgreSQL stand-in) on 127.0.0.1, through
# dbt-snowflake, dbt-bigquery, dbt-redshift and the loader.
pytest-warehouses: setup bqemulator fakesnow postgresql
	$(BIN)/pytest -m warehouses pytests/warehouses

clean:
	rm -rf target logs
