#!/usr/bin/env bash
# GPU check for the cuda backend (issue 6). Run on a machine with an NVIDIA GPU from the
# repository root of a working tree, with no network and no installs:
#
#     bash benchmarks/gpu_check.sh            # everything (about 2 minutes on an H200)
#     QUICK=1 bash benchmarks/gpu_check.sh    # fewer benchmark steps
#
# Needs python3 with numpy, numba, numba-cuda, pytest, hypothesis (the lent H100/H200 machines
# have them, plus cupy for cuBLAS); torch is optional. jitflow itself comes from the working
# tree (PYTHONPATH=.), nothing is installed. Steps, each reported PASS/FAIL/SKIP, the script
# going on after a failure (exit status: the number of failed steps):
#   1. environment: GPU, driver, Python and package versions;
#   2. the CNN training step at batch 100: jitflow cuda (default launch path, with a cProfile of
#      the host time; then Numba's plain dispatcher) vs PyTorch eager CUDA (if torch is
#      importable): time per step and accuracy (benchmarks/gpu_cnn.py), each process alone;
#   3. the CUDA tests on the real device (NUMBA_ENABLE_CUDASIM=0): every op against the
#      reference backend, the training graphs, placement, GPU-only tests, the sm_90 PTX check,
#      the fast launch path (in the background, with pytest-xdist when present);
#   4. quadratic.py (2,000 steps) with JITFLOW_BACKEND=cuda (the program asserts loss < 0.01);
#   5. one epoch of mnist_cnn.py with JITFLOW_BACKEND=cuda (EPOCHS=1), printing its accuracy;
#   6. the per-trip cost of a tf.while_loop on cuda (benchmarks/while_loop.py --backends cuda:
#      a host loop over device kernels, one predicate read per trip).
# Output is also written to ${OUT:-gpu-check-out}/ (environment.txt, one log per step,
# summary.txt; the programs' own outputs in ${WORKLOAD_OUT:-$OUT/workload-out}).
# The reference programs come from $WORKLOADS, ../shared/workloads or ./shared/workloads, MNIST
# from jitflow's offline loader (JITFLOW_MNIST_DIR, ./shared/data/mnist or ../shared/...): a
# device runner that copies only the working tree needs a shared/ folder (or link) in it;
# without them steps 4-5 are skipped (said so) and step 2 times the step on random images.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
OUT=${OUT:-gpu-check-out}
mkdir -p "$OUT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export NUMBA_ENABLE_CUDASIM=0
export PYTHONDONTWRITEBYTECODE=1
export PYTHONUNBUFFERED=1
STEPS=${STEPS:-200}
[ "${QUICK:-0}" = "1" ] && STEPS=50
SUMMARY="$OUT/summary.txt"
WL_OUT=${WORKLOAD_OUT:-$OUT/workload-out}     # the programs' plots and JSON
mkdir -p "$WL_OUT"
: > "$SUMMARY"

note() { echo "== $*" | tee -a "$SUMMARY"; }
run_step() {   # run_step NAME TIMEOUT_SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local log="$OUT/$name.log"
  echo
  echo "==================== $name: $*"
  local t0=$(date +%s)
  local to=""
  command -v timeout >/dev/null 2>&1 && to="timeout $limit"
  if [ "${QUIET:-0}" = "1" ]; then       # background steps: log only
    $to "$@" > "$log" 2>&1; local rc=$?
  else
    $to "$@" 2>&1 | tee "$log"; local rc=${PIPESTATUS[0]}
  fi
  local dt=$(( $(date +%s) - t0 ))
  if [ "$rc" = 0 ]; then note "PASS $name (${dt}s)"; else note "FAIL $name (exit $rc, ${dt}s)"; fi
  return 0
}

# workloads: $WORKLOADS, ../shared/workloads, or shared/workloads in the tree
WL=""
for d in "${WORKLOADS:-}" "$ROOT/../shared/workloads" "$ROOT/shared/workloads"; do
  if [ -n "$d" ] && [ -f "$d/quadratic.py" ]; then WL=$(cd "$d" && pwd); break; fi
done

# ---------------------------------------------------------------- 1. environment
echo "==================== environment"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$OUT/environment.txt"
$PY - <<'EOF' 2>&1 | tee -a "$OUT/environment.txt"
import importlib, platform, sys
print("python", platform.python_version(), sys.executable)
for m in ("numpy", "numba", "numba_cuda", "llvmlite", "cupy", "torch", "pytest", "hypothesis"):
    try:
        mod = importlib.import_module(m)
        print(f"{m:12s}", getattr(mod, "__version__", "?"))
    except Exception as e:
        print(f"{m:12s} not importable ({type(e).__name__})")
from jitflow.backends import default_backend_name
from jitflow.backends.cuda import device
print("gpu_present", device.gpu_present(), "default backend", default_backend_name())
if device.gpu_present():
    c = device.cuda()
    print("numba.cuda device:", c.get_current_device().name, "simulator:", device.is_simulator())
    print("cuBLAS via CuPy:", device.cupy_module() is not None)
EOF
if ! $PY -c "from jitflow.backends.cuda.device import gpu_present; import sys; sys.exit(0 if gpu_present() else 1)"; then
  note "FAIL no CUDA GPU visible to the driver: nothing else can run"
  exit 1
fi

# ---------------------------------------------------------------- 2. CNN step vs PyTorch
# First, on an idle machine (steps 3-5 share it).
# jitflow's default launch path, then Numba's dispatcher with cupy.matmul (the path before the
# fast launches), then PyTorch eager; each in its own process.
run_step cnn_step_jitflow 300 $PY benchmarks/gpu_cnn.py --steps "$STEPS" --warmup 10 \
  --framework jitflow --profile "${PROFILE_STEPS:-100}" --kernel-times 20
run_step cnn_step_jitflow_dispatch 300 env JITFLOW_CUDA_LAUNCH=dispatch JITFLOW_CUDA_RAW_CUBLAS=0 \
  $PY benchmarks/gpu_cnn.py --steps "$STEPS" --warmup 10 --framework jitflow
run_step cnn_step_torch 300 $PY benchmarks/gpu_cnn.py --steps "$STEPS" --warmup 10 --framework torch

# ---------------------------------------------------------------- 3. tests on the device
# In the background (pytest-xdist when importable), while steps 4-5 run: they report accuracy,
# not time.
XDIST=""
$PY -c "import xdist" >/dev/null 2>&1 && XDIST="-n ${JOBS:-8}"
export CI=${CI:-true}          # hypothesis: derandomized, no deadline (kernels compile on first use)
QUIET=1 run_step cuda-tests "${TEST_TIMEOUT:-420}" $PY -m pytest -q -p no:cacheprovider -o addopts="" \
  $XDIST --maxfail=25 tests/test_cuda_gpu.py tests/test_cuda_ops.py tests/test_cuda_graphs.py \
  tests/test_cuda_placement.py tests/test_cuda_ptx.py tests/test_cuda_launch.py \
  tests/test_control_flow_cuda.py &
TESTS_PID=$!

# ---------------------------------------------------------------- 4. quadratic
if [ -n "$WL" ]; then
  run_step quadratic 300 env JITFLOW_BACKEND=cuda WORKLOAD_OUT="$WL_OUT" $PY "$WL/quadratic.py"
else
  note "SKIP quadratic: quadratic.py not found (set WORKLOADS=<dir with the reference programs>)"
fi

# ---------------------------------------------------------------- 5. one epoch of mnist_cnn
if [ -n "$WL" ] && [ -f "$WL/mnist_cnn.py" ]; then
  run_step mnist_cnn_epoch 400 env JITFLOW_BACKEND=cuda EPOCHS=1 WORKLOAD_OUT="$WL_OUT" $PY "$WL/mnist_cnn.py"
else
  note "SKIP mnist_cnn: mnist_cnn.py not found (set WORKLOADS=<dir with the reference programs>)"
fi

# ---------------------------------------------------------------- 6. while_loop per trip
run_step while_loop_cuda 180 $PY benchmarks/while_loop.py --trips 1000 --repeats 5 \
  --backends cuda,llvm

wait "$TESTS_PID"
echo "==================== cuda-tests (log tail)"
tail -n 40 "$OUT/cuda-tests.log"

echo
echo "==================== summary"
cat "$SUMMARY"
grep -h '"workload"\|"bench"' "$OUT"/*.log 2>/dev/null | grep -v '"epoch"' || true
exit "$(grep -c '^== FAIL' "$SUMMARY")"
