# Two entry points (see README): `make demo` runs the reference programs, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKLOADS ?= ../shared/workloads
DEMO_OUT ?= demo-out

.PHONY: demo test bench clean

$(VENV)/.installed-%: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[$*]"
	touch $@

# The reference programs, unchanged, on real data (../shared/data/mnist; without it the
# embedded 5,000-digit sample). EPOCHS=... TRAIN_LIMIT=... shorten the MNIST runs. The JSON
# lines go to $(DEMO_OUT)/results.jsonl, plots beside them (examples/demo.py); a live status
# line on stderr (JITFLOW_PROGRESS=1; JITFLOW_PROGRESS=0 turns it off).
demo: $(VENV)/.installed-examples
	JITFLOW_PROGRESS=$${JITFLOW_PROGRESS-1} $(PY) examples/demo.py --workloads $(WORKLOADS) --out $(DEMO_OUT)

# pytest-xdist: one worker per CPU this process may use (`make test TEST_JOBS=1`: one process)
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 1)
test: $(VENV)/.installed-test,examples
	$(PY) -m pytest -n $(TEST_JOBS)

# Benchmarks (not tests): jitflow vs TensorFlow, JAX and PyTorch, side by side.
bench: $(VENV)/.installed-test,examples
	test -x .venv-bench/bin/python || ($(PYTHON) -m venv .venv-bench && \
		.venv-bench/bin/pip install -q -e . && .venv-bench/bin/pip install -q -r benchmarks/requirements.txt)
	# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, where this workplace sets them (for old OpenBLAS
	# builds), pin numpy's current OpenBLAS to slower kernels: unset for the benchmark only
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv-bench/bin/python benchmarks/lstm.py \
		--tf-python .venv-bench/bin/python --out benchmarks/LSTM.md
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv-bench/bin/python benchmarks/while_loop.py \
		--tf-python .venv-bench/bin/python --out benchmarks/WHILE_LOOP.md
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv-bench/bin/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DEMO_OUT)
