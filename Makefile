# shopping-assistant-api: `make run` starts the local stack, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAGE ?= api
ARGS ?=

.PHONY: run cloud test check test-fast lint install clean

$(VENV)/.installed: requirements.txt chalice_app/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) chalice_app/scripts/local.py --port $(PORT) --stage $(STAGE) $(ARGS)

# The deployed mode: an emulated region (IAM enforced) to deploy into with
# scripts/deploy.py --stage chalice-test --endpoint-url http://127.0.0.1:$(CLOUD_PORT)
CLOUD_PORT ?= 4566
cloud: install
	$(PY) chalice_app/scripts/local.py --cloud --port $(CLOUD_PORT) $(ARGS)

# Every tier (what CI runs), then the 25 slowest tests, so a slow newcomer shows at once.
# Two workers (pytest-xdist), a test module per worker: most tests wait on sockets and
# subprocesses, so two share the two cores of a small CI machine well. TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 $(ARGS)

# The in-process tier (tests/conftest.py: TIERS): no stack, no browser, no chalice package.
check: install
	$(PY) -m pytest -m inprocess --durations=10 $(ARGS)

test-fast: check

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) logs .pytest_cache .ruff_cache chalice_app/*.egg-info
