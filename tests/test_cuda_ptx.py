"""The kernels the cuda backend generates compile to PTX for sm_90 (H100) with
``cuda.compile_ptx``, without a GPU: Numba's CUDA typing and NVVM see every kernel of every op
case in test_cuda_ops.py (plus both variants of each reduction and the training graphs of
test_cuda_graphs.py), which the simulator alone cannot check (it runs kernels as Python).

Needs NVVM (``pip install "numba-cuda[cu13]"``, in the ``test`` extra); skips with the reason
otherwise. The compile runs in a subprocess with ``NUMBA_ENABLE_CUDASIM=0`` because the
simulator choice is fixed when ``numba.cuda`` is first imported.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

PROBE = """
import jitflow.backends.cuda.device  # (its NumPy 2.5 shim for numba-cuda)
from numba import cuda, float32
def k(a):
    i = cuda.grid(1)
    if i < a.size:
        a[i] = a[i] * 2.0
cuda.compile_ptx(k, (float32[::1],), cc=(9, 0))
print("ok")
"""


def _env() -> dict:
    env = dict(os.environ)
    env["NUMBA_ENABLE_CUDASIM"] = "0"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    return env


def _nvvm_or_skip() -> None:
    try:
        import importlib.util
        if importlib.util.find_spec("numba_cuda") is None:
            pytest.skip("numba-cuda is not installed")
    except ImportError:
        pytest.skip("numba-cuda is not installed")
    p = subprocess.run([sys.executable, "-c", PROBE], env=_env(), capture_output=True,
                       text=True, timeout=300)
    if p.returncode != 0 or "ok" not in p.stdout:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(f"cuda.compile_ptx is unavailable (NVVM/NVRTC wheels missing? "
                    f"pip install 'numba-cuda[cu13]'): {last}")


#: the op sweep runs in this many subprocesses, one test each (under pytest-xdist they run
#: side by side: the whole sweep is ~95 s of NVVM on one core)
OP_SHARDS = 3


@pytest.mark.parametrize("shard", range(OP_SHARDS))
def test_every_op_case_compiles_to_sm90_ptx(shard):
    _nvvm_or_skip()
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "ops", str(shard)],
                       env=_env(), capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert not report["failures"], "\n\n".join(report["failures"][:10])
    assert report["cases"] > 60 and report["kernels"] > 100 // OP_SHARDS, report


def test_training_graphs_compile_to_sm90_ptx():
    _nvvm_or_skip()
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "graphs"], env=_env(),
                       capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert not report["failures"], "\n\n".join(report["failures"][:10])
    assert report["kernels"] >= 10, report


def test_control_flow_regions_compile_to_sm90_ptx():
    """The segments and regions of host-driven loops and conds (and their gradients)."""
    _nvvm_or_skip()
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "control"], env=_env(),
                       capture_output=True, text=True, timeout=900, cwd=str(ROOT))
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    assert not report["failures"], "\n\n".join(report["failures"][:10])
    assert report["kernels"] >= 10, report


# ------------------------------------------------------------------ subprocess side ---------

def _compile_cases(which: str, shard: int = 0, shards: int = 1) -> dict:
    """PTX of every case of ``which`` ("ops": the op cases, split round-robin into ``shards``
    of which this is ``shard``; "graphs": the training graphs)."""
    import traceback

    import numpy as np

    from _cuda_util import compile_cuda

    failures, kernels, seen, cases = [], 0, set(), 0

    def ptx_of(name, f, args):
        nonlocal kernels, cases
        cases += 1
        try:
            exe = compile_cuda(f)
            for kname, ptx in exe.ptx(args, cc=(9, 0)):
                assert ".target sm_90" in ptx, f"{kname}: not sm_90"
                key = hash(ptx)
                if key not in seen:
                    seen.add(key)
                    kernels += 1
        except Exception:  # noqa: BLE001 - collected and reported
            failures.append(f"{name}:\n{traceback.format_exc(limit=3)[-2500:]}")

    if which == "ops":
        from test_cuda_ops import CASES
        from _cuda_util import build
        from jitflow.ir import as_dtype
        makers = [(f"{op}-{cid}", maker) for op, cid, maker in CASES if maker is not None]
        for op in ("random_uniform", "random_normal", "random_truncated_normal"):
            for dt in ("f32", "f64"):
                def rand(op=op, dt=dt):
                    f = build([("i64", ())], lambda b, s: b.op(
                        op, s, shape=(5,), dtype=as_dtype(dt), seed=1, seed2=2))
                    return f, [np.array(3, np.int64)], None
                makers.append((f"{op}-{dt}", rand))
        # the narrow types (promote-narrow's casts around float32/int32 arithmetic)
        for dt in ("f16", "i8", "u8", "i16", "u16"):
            def narrow(dt=dt):
                def body(b, x, y):
                    s = b.add(b.mul(x, y), x)
                    back = b.cast(b.cast(x, dtype=as_dtype("f64")), dtype=as_dtype(dt))
                    return [s, b.reduce_sum(s, axes=(1,), keepdims=False), b.greater(x, y),
                            back]
                npd = as_dtype(dt).np
                f = build([(dt, (3, 4)), (dt, (3, 4))], body)
                return f, [np.ones((3, 4), npd), np.ones((3, 4), npd)], None
            makers.append((f"narrow-{dt}", narrow))
        for dt in ("u32", "u64"):   # unsigned division, comparisons, casts, pow, reductions
            makers.append((f"unsigned-{dt}", lambda dt=dt: unsigned_case(dt)))
        for name, maker in makers[shard::shards]:
            f, args, _ = maker()
            ptx_of(name, f, args)
    elif which == "control":
        from jitflow.runtime.compile import compile_function
        from test_control_flow_ir import cond_program, loop_program, nested_body
        from test_control_flow_llvm import rows_program
        for name, f in (("nested-loops-grad", loop_program(nested_body, True)),
                        ("cond-grad", cond_program(True)), ("rows-grad", rows_program(True))):
            try:
                for kname, ptx in compile_function(f, "cuda").executable.ptx(cc=(9, 0)):
                    assert ".target sm_90" in ptx, f"{kname}: not sm_90"
                    if hash(ptx) not in seen:
                        seen.add(hash(ptx))
                        kernels += 1
            except Exception:  # noqa: BLE001 - collected and reported
                failures.append(f"{name}:\n{traceback.format_exc(limit=3)[-2500:]}")
    else:
        from test_cuda_graphs import ptx_graphs
        for name, f, args in ptx_graphs():
            ptx_of(name, f, args)
    return {"failures": failures, "kernels": kernels, "cases": cases}


def unsigned_case(dt: str):
    """A Function of uint32/uint64 ops that cuda lowers apart from the signed ones (and the
    bitwise ops)."""
    import numpy as np

    from _cuda_util import build
    from jitflow.ir import as_dtype

    def body(b, x, y):
        q = b.op("floordiv", x, y)
        outs = [b.add(b.mul(x, y), q), b.op("mod", x, y), b.op("maximum", x, y),
                b.op("less", x, y), b.op("pow", x, y), b.op("sign", x), b.op("abs", x),
                b.reduce_sum(x, axes=(1,), keepdims=False),
                b.op("reduce_max", x, axes=(1,), keepdims=False),
                b.op("reduce_mean", x, axes=(1,), keepdims=False),
                b.op("right_shift", b.op("left_shift", x, y), y),
                b.op("invert", b.op("bitwise_xor", b.op("bitwise_and", x, y), y))]
        for other in ("f32", "f64", "i64", "i32", "u8"):
            back = b.cast(x, dtype=as_dtype(other))
            outs += [back, b.cast(back, dtype=as_dtype(dt))]
        return outs
    npd = as_dtype(dt).np
    f = build([(dt, (3, 4)), (dt, (3, 4))], body)
    return f, [np.ones((3, 4), npd), np.ones((3, 4), npd)], None


if __name__ == "__main__":
    sys.path[:0] = [str(HERE), str(ROOT)]
    which = sys.argv[1]
    shard = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    print(json.dumps(_compile_cases(which, shard, OP_SHARDS if which == "ops" else 1)))
