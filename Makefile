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
# embedded 5,000-digit sample). EPOCHS=... TRAIN_LIMIT=... shorten the MNIST runs.
demo: $(VENV)/.installed-examples
	mkdir -p $(DEMO_OUT)
	WORKLOAD_OUT=$(DEMO_OUT) $(PY) $(WORKLOADS)/quadratic.py
	WORKLOAD_OUT=$(DEMO_OUT) $(PY) $(WORKLOADS)/mnist_dnn_pretrain.py
	WORKLOAD_OUT=$(DEMO_OUT) $(PY) $(WORKLOADS)/mnist_dnn_transfer.py
	WORKLOAD_OUT=$(DEMO_OUT) $(PY) $(WORKLOADS)/mnist_cnn.py

test: $(VENV)/.installed-test,examples
	$(PY) -m pytest

# Benchmarks (not tests): jitflow vs TensorFlow, JAX and PyTorch, side by side.
bench: $(VENV)/.installed-test,examples
	test -x .venv-bench/bin/python || ($(PYTHON) -m venv .venv-bench && \
		.venv-bench/bin/pip install -q -e . && .venv-bench/bin/pip install -q -r benchmarks/requirements.txt)
	# OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE, where this workplace sets them (for old OpenBLAS
	# builds), pin numpy's current OpenBLAS to slower kernels: unset for the benchmark only
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv-bench/bin/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DEMO_OUT)
