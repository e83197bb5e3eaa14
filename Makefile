# Quick start: `make demo` then `make test` on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install clean

$(STAMP): setup.py vae_augment/__init__.py  # the release is read from __init__.py
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p demo_out
	$(BIN)/vae-augment balance examples/data/churn.parquet demo_out/churn_balanced.parquet \
	    --label churn --model-dir demo_out/churn_model --seed 0 --overwrite

# Two pytest workers, one test file each at a time (a file's fixtures train once): on 2 cores
# the suite took 490-655 s instead of 1108 s in one process (session 11's CPU, quiet).
# TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 tests   # the slowest 15: CI must stay under 15 min

lint: $(STAMP)
	$(BIN)/ruff check vae_augment pipelines tests examples benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/sample_throughput.py --rows 1000000 --repeats 3
	$(BIN)/python benchmarks/fit_balance.py --repeats 3

clean:
	rm -rf $(VENV) build *.egg-info demo_out
