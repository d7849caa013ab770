# Two entry points (see README): `make demo` runs the reference programs, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKLOADS ?= ../shared/workloads
DEMO_OUT ?= demo-out

.PHONY: demo test venv clean

$(VENV)/.installed-%: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-examples
	mkdir -p $(DEMO_OUT)
	WORKLOAD_OUT=$(DEMO_OUT) $(PY) $(WORKLOADS)/quadratic.py

test: $(VENV)/.installed-test,examples
	$(PY) -m pytest

clean:
	rm -rf $(VENV) $(DEMO_OUT)
