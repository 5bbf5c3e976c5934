# Two-command quick start: `make run` then `make test`. Everything lives in the checkout.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= data/demo_city
OUT_DIR ?= out/demo_city
export DAGSTER_HOME := $(CURDIR)/.dagster_home
export ENGAGEMENT_EVAL_DATA ?= $(CURDIR)/$(DEMO_DIR)
export ENGAGEMENT_EVAL_OUT ?= $(CURDIR)/$(OUT_DIR)
export ENGAGEMENT_EVAL_REPORTS ?= $(CURDIR)/reports/output
# Two cores: BLAS threads fighting DuckDB and each other cost more than they give.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1

.PHONY: env run test test-slow ui lint format bench bench-quick bench-full bench-coverage demo clean

env: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --user --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

demo: env
	@if [ ! -f "$(DEMO_DIR)/truth.json" ]; then \
		$(VENV)/bin/engagement-eval simulate --out "$(DEMO_DIR)"; \
	else echo "demo city already at $(DEMO_DIR) (delete it to regenerate)"; fi

# Chromium prints council_report.pdf and council_brief.pdf; without it the run says so in one
# line and still writes the HTML, XLSX and CSVs (so a failed install does not stop the run).
run: demo
	@bash scripts/install_system_deps.sh || echo "chromium could not be installed: the run writes HTML, XLSX and CSV but no PDF"
	$(VENV)/bin/engagement-eval run --data "$(DEMO_DIR)" --out "$(OUT_DIR)"

# Installs chromium for the report's browser test first (quiet when present; sudo when not
# root; see the script). The tests use their own temporary DAGSTER_HOME and output folders.
test: env
	@bash scripts/install_system_deps.sh
	$(VENV)/bin/pytest -m "not slow"

test-slow: env
	$(VENV)/bin/pytest -m slow

# The UI reads the demo city (ENGAGEMENT_EVAL_DATA) and its DuckDB file; the first time, the
# graph is materialized once so the catalog shows data. Bound to 127.0.0.1 only.
ui: demo
	@[ -f "$(OUT_DIR)/engagement_eval.duckdb" ] || $(MAKE) --no-print-directory run
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

lint: env
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# Issue 17's figures side by side: CS vs csdid (100k x 40), validate vs the DuckDB store floor
# (~7 M incidents) and the warm demo run (about 10 minutes; the cities are generated once).
bench: env
	$(PY) -m bench.summary

bench-quick: env
	$(PY) -m bench.summary --quick

# Every city and stage, the table in docs/benchmarks.md (beat and 50 M cities: much longer).
bench-full: env
	$(PY) -m bench.run_all

# Few-district coverage per design and method, and the verdict confusion matrix, written into
# docs/evaluation.md (hours at the defaults; see bench/coverage_all.py for smaller runs).
bench-coverage: env
	$(PY) -m bench.coverage_all $(COVERAGE_ARGS)

clean:
	rm -rf out reports/output .dagster_home/storage .dagster_home/history .dagster_home/logs .dagster_home/schedules
