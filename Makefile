# labmail — two commands on a fresh machine:
#   make lab    create the environment if missing, open JupyterLab on the course
#   make test   create the environment if missing, run every test (nbval included)

PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.labmail-installed
NO_BROWSER ?=
PORT     ?= 8888
JOBS     ?= auto
CELL_TIMEOUT ?= 120

.PHONY: lab test test-unit test-notebooks bench course lessons reliability env clean help

help:
	@echo "make lab         open the course in JupyterLab (NO_BROWSER=1 for a headless server)"
	@echo "make test        run the whole test suite, notebooks included"
	@echo "make bench       run the benchmarks and print their tables"
	@echo "make course      build the student and instructor editions under build/"
	@echo "make reliability run the full reliability suite, write build/reliability.md"
	@echo "make env         only create/update the environment in $(VENV)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "labmail needs Python 3.10 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[course,test]'
	touch $(STAMP)

env: $(STAMP)

ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --port=$(PORT) $(ROOT_FLAG) \
		--LabApp.default_url=/lab/tree/00-welcome.ipynb $(if $(NO_BROWSER),--no-browser,)

test: test-unit test-notebooks

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS) -p no:cacheprovider tests

# Notebooks run in parallel, one notebook per worker at a time (loadscope: its
# cells share one kernel); notebooks/conftest.py gives each worker its own lab
# port base (LABMAIL_PORT_BASE) and sanitize.cfg maps the ports back to the
# 10025, ... the stored outputs show.  A cell that hangs fails after CELL_TIMEOUT s.
test-notebooks: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(JOBS) --dist loadscope \
		--nbval --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT) \
		--nbval-sanitize-with notebooks/sanitize.cfg notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

course: $(STAMP)
	$(BIN)/python tools/make_course.py --out build

# The full reliability suite (the short form runs inside `make test`).
reliability: $(STAMP)
	$(BIN)/python tools/reliability_report.py --out build/reliability.md

# Regenerate and re-execute every lesson (on a quiet machine: see the script).
lessons: $(STAMP)
	$(BIN)/python tools/build_lessons.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
