# shopping-assistant-api: `make run` starts the local stack, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAGE ?= api
ARGS ?=

.PHONY: run cloud test test-fast lint install clean

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

test: install
	$(PY) -m pytest $(ARGS)

# The fast tier (about a minute and a half): no deploy, no reliability storms, no browser.
test-fast: install
	$(PY) -m pytest chalice_app/tests/unit chalice_app/tests/assistant chalice_app/tests/web $(ARGS)

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) logs .pytest_cache .ruff_cache chalice_app/*.egg-info
