# Every target creates .venv itself; a fresh clone needs only python3 >= 3.11.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: demo test lint types unit docs bench soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sscard-gateway demo

lint: $(STAMP)
	$(BIN)/ruff check sscard_gateway tests benchmarks
	$(BIN)/ruff format --check sscard_gateway tests benchmarks

types: $(STAMP)
	$(BIN)/mypy --strict sscard_gateway

unit: $(STAMP)
	$(BIN)/python -m pytest

# The documentation site, strict: a broken internal link or anchor fails.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

test: lint types docs unit

bench: $(STAMP)
	@set -e; for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f; done

# Long fuzzing and property runs, 100 gateway kills, then 100,000 simulated days (seeds/s printed).
soak: $(STAMP)
	SSCARD_KILLS=100 HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest -x tests
	$(BIN)/python -m sscard_gateway.testing.simulate --seeds 0:100000 --transactions 12 --jobs 2

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
