VENV ?= .venv
PY := $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'

.PHONY: setup train test test-slow coverage lint
setup: $(PY)
train: $(PY)
	$(PY) train.py pde=heat
test: $(PY)
	$(PY) -m pytest -q -m "not slow" -n 2 --dist worksteal --durations=15
test-slow: $(PY)
	$(PY) -m pytest -q -m slow
coverage: $(PY)
	$(PY) -m pytest -q -m "not slow" -n 2 --dist worksteal --cov=pinnkit --cov-report=term:skip-covered
lint: $(PY)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
