# Two entry points: `make demo` runs the whole pipeline against the bundled sandbox into DuckDB;
# `make test` installs everything and runs every test. Both create or update .venv themselves.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint dev install clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'
	touch $(STAMP)

# dbt's manifest is prepared here, never left to a user's first run.
DBT_MANIFEST := dbt_project/target/manifest.json
DBT_INPUTS := $(shell find dbt_project -path dbt_project/target -prune -o -path dbt_project/logs -prune -o -type f -print)
$(DBT_MANIFEST): $(STAMP) $(DBT_INPUTS)
	$(BIN)/python -m ut_dagster.defs.research_marts.manifest prepare --force

install: $(STAMP) $(DBT_MANIFEST)

demo: install
	$(BIN)/ut-dagster demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: install
	mkdir -p .ut_data/dagster_home
	DAGSTER_HOME=$(CURDIR)/.ut_data/dagster_home $(BIN)/dagster dev

# Timing and memory targets (never part of `make test`); exits non-zero when one is missed.
bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .ut_data
