# Two entry points: `make demo` runs the whole pipeline against the bundled sandbox into DuckDB;
# `make test` installs everything and runs every test. Both create or update .venv themselves.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test topology lint dev install clean bench ui-screenshots

# Bytecode is compiled once at install: with PYTHONDONTWRITEBYTECODE set (CI, some shells) every new
# interpreter (a test's CLI, daemon or dbt subprocess) would otherwise compile Dagster again.
INTEGRATION := integrations/dagster-usertesting

$(STAMP): pyproject.toml $(INTEGRATION)/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e $(INTEGRATION) -e '.[test]'
	touch $(STAMP)

# dbt's manifest, by the dbt component's own preparation (its defs state: `dbt parse`), again
# whenever the dbt project changes. `dg dev` / `dagster dev` also prepare it on each load after a
# change; a wheel carries its own (setup.py).
DBT_MANIFEST := dbt_project/target/manifest.json
DBT_INPUTS := $(shell find dbt_project -path dbt_project/target -prune -o -path dbt_project/logs -prune -o -type f -print)
# The instance `make dev` uses, so dg has a home to name (it warns without one).
$(DBT_MANIFEST): $(STAMP) $(DBT_INPUTS)
	DAGSTER_HOME="$$($(BIN)/python -m ut_dagster.cli.dagster_home)" $(BIN)/dg utils refresh-defs-state
	@echo  # dg ends its last line without a newline

install: $(STAMP) $(DBT_MANIFEST)

demo: install
	$(BIN)/ut-dagster demo

# Three workers on 2 cores: a third of the suite's time is waiting (daemon ticks, servers starting,
# rate-limit windows), which a third worker fills. Whole files go to a worker, long ones first
# (ut_dagster_tests/suite_order.py); xdist's own reorder would undo that.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 3 --dist loadfile --no-loadscope-reorder -q

# The production topology of docs/deployment.md alone (also part of `make test`): real PostgreSQL
# and Redis servers on 127.0.0.1, dagster-daemon with the sensor on, two run workers. ~2 minutes.
topology: install
	$(BIN)/python -m pytest -q -s -p no:cacheprovider ut_dagster_tests/topology

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The Dagster UI on the instance `ut-dagster sync` uses: DAGSTER_HOME, else $UT_DATA_DIR/dagster_home.
dev: install
	DAGSTER_HOME="$$($(BIN)/python -m ut_dagster.cli.dagster_home)" $(BIN)/dg dev

# Timing and memory targets (never part of `make test`); exits non-zero when one is missed.
bench: $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[bench]'
	$(BIN)/python -m bench

# docs/ui/*.png: the UI over a demo with some history, in headless Chromium (Debian's `chromium`).
ui-screenshots: install
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[ui-docs]'
	$(BIN)/python docs/ui/screenshots.py

clean:
	rm -rf $(VENV) .ut_data build dist
