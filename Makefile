# Entry points of the course kit. `make help` lists them.
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help env lock upgrade start hub test test-fast course release lint

help:  ## list the commands
	@grep -E '^[a-z-]+:.*##' Makefile | sed 's/:.*##/\t/'

env:  ## create or update .venv: installs the lock (exact versions, hash-checked; idempotent)
	@bash scripts/setup_env.sh

# The lock (requirements/lock-py<X.Y>-<system>-<machine>.txt) and environment.yml are generated with
# pip-tools from pyproject.toml's ranges; see docs/environment.md. PYTHON picks the interpreter to lock for.
lock:  ## after editing pyproject.toml: re-lock, keeping every pin that still fits
	$(or $(PYTHON),python3) scripts/lock.py

upgrade:  ## instructors, between terms: re-lock to the newest releases within pyproject's ranges
	$(or $(PYTHON),python3) scripts/lock.py --upgrade
	@echo "Now: make env && make test && make course, then commit requirements/ and environment.yml."

# JupyterLab refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

# nbgrader's exchange for one person: exchange/ in the course (nbgrader_config.py), so the Assignment List
# works without a hub
start: env  ## students and self-learners: open JupyterLab on the course
	@mkdir -p exchange && chmod 1777 exchange
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) $(JUPYTER_ARGS) --ServerApp.root_dir=. \
		--LabApp.default_url=/lab/tree/lessons/00-welcome.ipynb

hub: env  ## a trial course on JupyterHub at http://127.0.0.1:8000 (instructor, student1, student2; docs/deploy.md)
	$(VENV)/bin/ethicskit course hub --demo $(HUB_ARGS)

test: env  ## the whole test suite (unit, notebooks, grading round trips)
	$(PY) -m pytest -n 2 --dist loadgroup --durations=25

test-fast: env  ## only the fast unit tests
	$(PY) -m pytest -m "not notebook and not grading and not slow and not server and not browser"

course: env  ## instructors: run the course headless and write course-report/
	$(VENV)/bin/ethicskit course run-all --report course-report

release: env  ## regenerate labs/ from solutions/
	$(VENV)/bin/ethicskit course release

lint: env
	$(VENV)/bin/ruff check ethicskit tests benchmarks
