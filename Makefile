# Two commands set everything up on a fresh machine:
#   make demo   creates .venv, installs evonas, runs the Ames demo search
#   make test   same environment, runs the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export TF_CPP_MIN_LOG_LEVEL := 3
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test lint clean

$(STAMP): pyproject.toml setup.cfg
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/evonas run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
