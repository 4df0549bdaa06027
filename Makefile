# BottomUp Integration evaluation study.
#   make report  - set up .venv (first time), run the whole study on the synthetic data, print the report path
#   make test    - set up .venv and .venv-acro (first time), run the whole test suite on two workers
#   make test-fast - the inner loop: units and references, no kernels (tests not marked slow), two workers
#   make lab     - open JupyterLab on the notebooks' sources (a finished run's notebooks: evaluation lab RUN)
#   make clean   - remove run outputs, generated synthetic data and their work folders (keeps .venv)
#   make pooling - three synthetic partner sites: study run and bundle each, then the pooled report
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PARAMS ?= params/default.yaml
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

BROWSER := $(VENV)/.browser
# acro (SACRO's disclosure checker), a second opinion in tests/disclosure/: it pins
# pandas<=2.3.3, the study runs on pandas 3, so it has a venv of its own from its own lock
ACRO_VENV := .venv-acro
ACRO_STAMP := $(ACRO_VENV)/.installed

.PHONY: report test test-fast lab clean setup setup-acro help browser pooling

help:
	@sed -n '2,7p' Makefile

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv>=0.13,<0.14"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q -j 0 src/evaluation
	@touch $(STAMP)

setup-acro: $(ACRO_STAMP)

$(ACRO_STAMP): requirements-acro.lock | $(STAMP)
	@test -x $(ACRO_VENV)/bin/python || $(PYTHON) -m venv --without-pip $(ACRO_VENV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(ACRO_VENV)/bin/python -r requirements-acro.lock
	@touch $(ACRO_STAMP)

# Debian's chromium for the report's browser test (as root; otherwise say how and skip it)
browser: $(BROWSER)

$(BROWSER): | $(STAMP)
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian chromium for the report's browser test ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "note: chromium is missing; install it (sudo apt-get install chromium) or the browser test is skipped"; fi
	@touch $@

report: $(STAMP)
	$(BIN)/evaluation run --params $(PARAMS)

# The whole suite on two workers, a test module (or class) to a worker (--dist loadscope): a
# module's study run (a module-scoped fixture) is made once, not once per worker.
test: $(STAMP) $(BROWSER) $(ACRO_STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n 2

lab: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/jupyter lab --allow-root --notebook-dir=notebooks

# Pooling across partner sites (params/benchmarks/pooling.yaml): generate the synthetic sites
# of params/benchmarks/sites/sites.yaml, run the study on each (no report), export each site's
# bundle into outputs/bundles/, then run the pooling study and print where its report is.
POOL_SITES := goteborg lodz porto

pooling: $(STAMP)
	$(BIN)/python -m evaluation.pooling.sites --spec params/benchmarks/sites/sites.yaml
	@for site in $(POOL_SITES); do \
	  $(BIN)/evaluation run --params params/benchmarks/sites/$$site.yaml --out outputs/sites --no-report || exit $$?; \
	  $(BIN)/evaluation export outputs/sites/$$site-latest --out outputs/bundles/$$site.json || exit $$?; \
	done
	$(BIN)/evaluation run --params params/benchmarks/pooling.yaml

# run outputs (the .locks/.incomplete folders included), the generated synthetic data, and the
# private work folders (notebook cache, person-level scratch) beside the synthetic data and the
# benchmark parameter files; real data's work folder (data/raw/.evaluation-work) is the data
# owner's to delete: `rm -rf data/raw/.evaluation-work`
clean:
	rm -rf outputs/* outputs/.cache outputs/.scratch outputs/.locks outputs/.incomplete \
	  data/synthetic/*.csv data/synthetic/*.parquet data/synthetic/*.json \
	  data/synthetic/.evaluation-work data/synthetic-sites params/benchmarks/.evaluation-work
