# Developer tasks for Convene. CI runs `make test` (see .ci/run).

VENV := .venv
PY := $(VENV)/bin/python

.PHONY: venv run test system browser-deps locale bench migrate clean

# The stamp makes `venv` reinstall only when pyproject.toml changes.
venv: $(VENV)/.installed

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -e '.[test]'
	touch $@

# Seeds demo data, then serves on $PORT (default 8000).
run: venv
	$(PY) -m rooms.demo
	$(VENV)/bin/uvicorn realtime.app:create_app --factory --host 127.0.0.1 --port $${PORT:-8000} --ws realtime.websocket_protocol:ConveneWebSocketProtocol

test: venv system browser-deps
	$(PY) -m pytest -q tests

# axe-core for the browser tests, from npm at the version pinned in tests/browser/package-lock.json.
browser-deps: tests/browser/node_modules/axe-core/axe.min.js

tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package-lock.json
	npm ci --prefix tests/browser --no-audit --no-fund

# Re-extracts the interface strings and recompiles the catalogues (the .mo files are committed).
locale: venv
	$(VENV)/bin/pybabel extract -F locale/babel.cfg -k N_ -k _ --no-location --sort-output --project Convene -o locale/messages.pot .
	$(VENV)/bin/pybabel update -i locale/messages.pot -d locale --no-fuzzy-matching
	$(VENV)/bin/pybabel compile -d locale --statistics

# Debian packages the tests need: redis-server, PostgreSQL server binaries, chromium.
system:
	bash scripts/setup-system.sh

# `make bench FULL=1` runs the long version.
bench: venv
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) -m bench $(if $(FULL),--full,)

migrate: venv
	$(VENV)/bin/alembic upgrade head

# Removes caches and test output; keeps .venv (rm -rf .venv to rebuild it) and var/ (local data).
clean:
	rm -rf .pytest_cache .hypothesis test-artifacts *.egg-info
	find . \( -path ./$(VENV) -o -name node_modules \) -prune -o -name __pycache__ -type d -exec rm -rf {} +
