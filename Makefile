# Two set-up commands that work on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: demo test bench lint clean venv dashboard native bytecode

venv: $(STAMP)

# The compiled model (simulator/native.py): mypyc and a C compiler with the Python headers,
# installed here if missing. tools/build_native.py rebuilds only when a model source changed;
# without a build the plain-Python model runs (`fundsim --version` says which).
NATIVE_SOURCES := $(wildcard simulator/model/*.py) simulator/native.py tools/build_native.py
NATIVE_STAMP := build/native/.built

native: $(NATIVE_STAMP)

$(NATIVE_STAMP): $(STAMP) $(NATIVE_SOURCES)
	command -v gcc >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc)
	test -f "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-dev)
	mkdir -p build
	$(BIN)/python tools/build_native.py
	touch $(NATIVE_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[dev]'
	touch $(STAMP)

# The project's own modules compiled to bytecode up front. Python caches bytecode by itself, except
# where PYTHONDONTWRITEBYTECODE is set (as on this project's CI and development machines): there
# every command compiled the package anew, about 60 ms of each process's start-up (each CLI call,
# pool worker and test subprocess). A source edited later is recompiled in memory, as before.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q simulator dashboard_pages dashboard.py >/dev/null

# The dashboard's browser test drives Debian's Chromium (Playwright cannot download browsers here).
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

demo: $(STAMP) $(NATIVE_STAMP) bytecode
	$(BIN)/fundsim run scenarios/annual.toml scenarios/three_year.toml --runs 1000 --seed 1 --out results/demo --force
	$(BIN)/fundsim compare results/demo/annual results/demo/three_year

test: $(STAMP) $(NATIVE_STAMP) bytecode $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# EMA Workbench (the comparison in bench_ema.py) is a dependency: `fundsim discover` uses its PRIM.
bench: $(STAMP) $(NATIVE_STAMP) bytecode
	$(BIN)/python benchmarks/bench_run.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_ema.py
	$(BIN)/python benchmarks/bench_dashboard.py --profile

dashboard: $(STAMP) bytecode
	$(BIN)/fundsim dashboard

# ruff's linter only: the code is laid out by hand to 110 columns, not by `ruff format` (which
# would rewrite most files), so a format check here failed on every checkout.
lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) results .pytest_cache build
