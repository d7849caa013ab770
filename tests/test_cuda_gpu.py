"""Checks that need a real NVIDIA GPU (``benchmarks/gpu_check.sh`` runs them with
``NUMBA_ENABLE_CUDASIM=0``); on a machine without one every test here skips, saying so.

They run the same programs as the simulator tests at realistic sizes, where the simulator
cannot: the MNIST CNN's layers at batch 100 against the reference backend, cuBLAS (CuPy) GEMMs,
device-resident variables, large reductions (the shared-memory tree variant).
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from _cuda_util import HAVE_NUMBA_CUDA, SIMULATED, assert_same, build, compile_cuda, rand, \
    reference


def _real_gpu() -> str:
    if not HAVE_NUMBA_CUDA:
        return "numba-cuda is not installed"
    from jitflow.backends.cuda.device import gpu_present
    if not gpu_present():
        return "needs a real CUDA GPU: none on this machine (the driver reports none)"
    if SIMULATED:
        return ("needs the real GPU but NUMBA_ENABLE_CUDASIM is on "
                "(benchmarks/gpu_check.sh runs these with NUMBA_ENABLE_CUDASIM=0)")
    return ""


pytestmark = pytest.mark.skipif(bool(_real_gpu()), reason=_real_gpu() or "GPU present")


def test_it_is_the_real_device():
    from jitflow.backends.cuda.device import cuda, is_simulator
    assert not is_simulator()
    assert cuda().is_available()
    print("GPU:", cuda().get_current_device().name)


def test_large_ops_match_the_reference():
    f = build([("f32", ("s0", 784)), ("f32", (784, 256)), ("f32", (256,))],
              lambda b, x, w, c: [b.reduce_sum(b.relu(b.add(b.matmul(x, w), c)), axes=(1,)),
                                  b.reduce_max(b.exp(b.mul(x, 0.01)))])
    args = [rand("f32", (1000, 784), lo=0, hi=1), rand("f32", (784, 256), 1, lo=-0.1, hi=0.1),
            rand("f32", (256,), 2)]
    got = [np.asarray(g) for g in compile_cuda(f).run(args)]
    for r, g in zip(reference(f, args), got):
        assert_same(r, g, rtol=1e-4, atol=1e-4)


def test_cublas_is_used_when_cupy_is_importable():
    from jitflow.backends.cuda.device import cupy_module
    try:
        import cupy  # noqa: F401
    except ImportError:
        pytest.skip("CuPy is not installed: GEMMs use the tiled Numba kernel")
    if os.environ.get("JITFLOW_CUDA_NO_CUBLAS", "") not in ("", "0"):
        pytest.skip("JITFLOW_CUDA_NO_CUBLAS is set")
    assert cupy_module() is not None


def test_tiled_gemm_fallback_on_the_device(monkeypatch):
    from jitflow.backends.cuda import device
    monkeypatch.setitem(device._state, "cupy", None)
    f = build([("f32", (130, 70)), ("f32", (70, 90))], lambda b, x, y: b.matmul(x, y))
    args = [rand("f32", (130, 70)), rand("f32", (70, 90), 1)]
    assert_same(reference(f, args)[0], np.asarray(compile_cuda(f).run(args)[0]),
                rtol=1e-4, atol=1e-4)


def test_cnn_batch_100_matches_the_reference():
    import jitflow.compat.v1 as tf
    from test_cuda_graphs import cnn_graph
    g = cnn_graph(batch=100, size=28)
    out = {}
    for backend in ("reference", "cuda"):
        g = cnn_graph(batch=100, size=28)
        with tf.Session(backend=backend) as sess:
            sess.run(tf.global_variables_initializer())
            losses = [sess.run([g["loss"], g["train"]], g["feed"])[0] for _ in range(3)]
            out[backend] = (losses, sess.run(g["acc"], g["feed"]))
    np.testing.assert_allclose(out["cuda"][0], out["reference"][0], rtol=1e-3)


def test_raw_cublas_gemms_pass_their_self_check_and_match_the_reference():
    from jitflow.backends.cuda import blas
    from jitflow.backends.cuda.device import cupy_module
    if cupy_module() is None:
        pytest.skip("CuPy is not installed or disabled: GEMMs use the tiled Numba kernel")
    assert blas.raw_gemm(cupy_module()) is not None, "raw cuBLAS fell back (see the warning)"
    for ta in (False, True):
        for tb in (False, True):
            xs, ys = ((70, 130) if ta else (130, 70)), ((90, 70) if tb else (70, 90))
            f = build([("f32", xs), ("f32", ys)],
                      lambda b, x, y: b.matmul(x, y, transpose_a=ta, transpose_b=tb))
            args = [rand("f32", xs), rand("f32", ys, 1)]
            assert_same(reference(f, args)[0], np.asarray(compile_cuda(f).run(args)[0]),
                        rtol=1e-4, atol=1e-4)
