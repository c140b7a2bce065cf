# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs evonas, runs the Ames demo search
#   make test   same environment, runs the whole test suite (what CI runs)
#   make test-fast  the fast tier (tests of 2 s or less; not those marked slow), for the edit loop
#   make test-durations  the fast tier, listing its slowest tests (a creeping test shows)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL := 3
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test test-fast test-durations lint clean

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/evonas run

# two pytest processes, each test file whole in one of them, the files with slow tests first
# (tests/conftest.py gives the order and the tiers)
PYTEST := $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP)
	$(PYTEST)

test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

test-durations: $(STAMP)
	$(PYTEST) -m "not slow" --durations=25 --durations-min=0.5

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
