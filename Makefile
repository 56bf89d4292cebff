# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv demo test lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch first (an unpinned torch pulls a multi-GB CUDA build).
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[topics,dev,explore,dask]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/reviewmine demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks training docs

# Re-render the CLI reference and every figure quoted in README.md and docs/ from the results
# files the code writes (models/*.json, benchmarks/results/*.json).
docs: $(STAMP)
	$(BIN)/python docs/make_cli_reference.py
	$(BIN)/cog -r -I docs README.md data/training/README.md docs/*.md

test: $(STAMP) lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data/processed data/reports
