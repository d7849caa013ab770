"""The fused convolution ops and their llvm kernels against the reference interpreter
(ops/conv_fused.py, passes/conv_fusion.py, backends/llvm/lib/conv_gemm.py, bias_grad.py):

* ``fused_conv2d`` (with and without bias, relu or none) over shapes, strides, dilations and
  padding, both strategies (direct loop nest, im2col + GEMM), serial and split over threads;
* ``relu_bias_grad`` over ranks and row counts around the float32 block, serial and parallel;
* the plain convolutions split over jitflow's threads (dynamic and static shares, partial
  filter gradients), and 2-D GEMMs split by blocks of rows with their epilogues;
* the ``conv-fusion`` pass: which patterns it rewrites, and that the rewritten Function
  computes what the original does (llvm vs reference), and the cuda decomposition.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jitflow.backends.llvm import compiler
from jitflow.backends.llvm.lib import bias_grad as llvm_bias_grad
from jitflow.backends.llvm.lib import conv_gemm
from jitflow.backends.llvm.lib import pool as llvm_pool
from jitflow.ir import Builder, Function, TensorType
from jitflow.ops.window import window_geometry
from jitflow.passes.conv_fusion import fuse_convs
from jitflow.passes.decompose import decompose

from _llvm_util import F32, F64, assert_same, build, llvm, llvm_cache_dir, reference, values
from test_llvm_nn import CONV_TOL, conv_mode

pytestmark = pytest.mark.usefixtures("llvm_cache_dir")
_ = llvm_cache_dir

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@contextlib.contextmanager
def threads(parallel: bool):
    """parallel: two threads and no size threshold (every kernel that can split, splits);
    else one thread."""
    old_env = os.environ.get("JITFLOW_NUM_THREADS")
    mods = [(conv_gemm, "PARALLEL_FLOPS"), (llvm_bias_grad, "PARALLEL_MIN"),
            (compiler, "GEMM_SPLIT_MIN"), (llvm_pool, "PARALLEL_MIN")]
    old = [getattr(m, a) for m, a in mods]
    os.environ["JITFLOW_NUM_THREADS"] = "2" if parallel else "1"
    if parallel:
        for m, a in mods:
            setattr(m, a, 0)
    try:
        yield
    finally:
        for (m, a), v in zip(mods, old):
            setattr(m, a, v)
        if old_env is None:
            os.environ.pop("JITFLOW_NUM_THREADS", None)
        else:
            os.environ["JITFLOW_NUM_THREADS"] = old_env


@st.composite
def conv_case(draw):
    n = draw(st.sampled_from([1, 2, 5]))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    c, o = draw(st.sampled_from([1, 3, 8])), draw(st.sampled_from([1, 4, 17]))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
    dil = draw(st.sampled_from([(1, 1), (1, 1), (2, 1)]))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    geo = []
    for size, k, s, d in ((h, kh, strides[0], dil[0]), (w, kw, strides[1], dil[1])):
        assume(padding == "SAME" or size >= (k - 1) * d + 1)
        geo.append(window_geometry(size, k, s, d, padding)[0])
    attrs = dict(strides=strides, padding=padding, dilations=dil)
    return (n, h, w, c), (kh, kw, c, o), (n, geo[0], geo[1], o), attrs


def _run(f, args, parallel: bool, mode: str = "auto", chunk_bytes=None):
    with threads(parallel), conv_mode(mode, chunk_bytes):
        exe = llvm(f)
        got = exe.run(args)
    return exe, got


@pytest.mark.parametrize("mode", ["direct", "gemm"])
@SETTINGS
@given(case=conv_case(), with_bias=st.booleans(), activation=st.sampled_from(["none", "relu"]),
       parallel=st.booleans(), small_chunks=st.booleans(), symbolic=st.booleans(),
       data=st.data())
def test_fused_conv2d_matches_reference(mode, case, with_bias, activation, parallel,
                                        small_chunks, symbolic, data):
    xs, ws, ys, attrs = case
    b0 = "s0" if symbolic else xs[0]
    types = [(F32, (b0,) + xs[1:]), (F32, ws)] + ([(F32, (ws[3],))] if with_bias else [])
    f = build(types, lambda b, *p: b.op("fused_conv2d", *p, activation=activation, **attrs))
    args = [values(F32, xs, data.draw, lo=-1, hi=1), values(F32, ws, data.draw, lo=-1, hi=1)]
    if with_bias:
        args.append(values(F32, (ws[3],), data.draw, lo=-1, hi=1))
    want = reference(f, args)
    _, got = _run(f, args, parallel, mode, 200 if small_chunks else None)
    assert_same(want[0], got[0], what=f"fused_conv2d {mode} {case}", **CONV_TOL)
    if activation == "relu":
        assert (got[0] >= 0).all()


@pytest.mark.parametrize("mode", ["direct", "gemm"])
@SETTINGS
@given(case=conv_case(), parallel=st.booleans(), data=st.data())
def test_convolutions_split_over_threads(mode, case, parallel, data):
    """conv2d and both backprops, GEMM chunks of one output row (many units) or the direct
    loop nests over images: the threads' shares, per-thread scratch and partial filter
    gradients (blocked float32 sums, float64 partials) add up."""
    xs, ws, ys, attrs = case
    f = build([(F32, xs), (F32, ws), (F32, ys)],
              lambda b, x, w, g: [b.conv2d(x, w, **attrs),
                                  b.conv2d_backprop_input(g, w, x, **attrs),
                                  b.conv2d_backprop_filter(x, g, w, **attrs)])
    args = [values(F32, s, data.draw, lo=-1, hi=1) for s in (xs, ws, ys)]
    want = reference(f, args)
    exe, got = _run(f, args, parallel, mode, 1)
    if parallel:     # the convolutions' kernels run on jitflow's threads
        assert exe.ir_text.count(".worker(ptr %c)") >= (3 if mode == "gemm" else 2)
        assert ("call void @jf_blas_set_threads(i32 1)" in exe.ir_text) == (mode == "gemm")
    for name, r, g in zip(("conv2d", "backprop_input", "backprop_filter"), want, got):
        assert_same(r, g, what=f"{name} {case}", **CONV_TOL)


@pytest.mark.parametrize("mode", ["direct", "gemm"])
def test_filter_gradient_is_the_same_on_every_run(mode):
    """Static shares: the threads' partial filter gradients are summed in thread order, so a
    run repeats bit for bit."""
    rng = np.random.default_rng(3)
    xs, ws, ys = (8, 12, 12, 16), (3, 3, 16, 32), (8, 12, 12, 32)
    attrs = dict(strides=(1, 1), padding="SAME", dilations=(1, 1))
    f = build([(F32, xs), (F32, ys), (F32, ws)],
              lambda b, x, g, w: b.conv2d_backprop_filter(x, g, w, **attrs))
    args = [rng.uniform(-1, 1, s).astype(np.float32) for s in (xs, ys, ws)]
    with threads(True), conv_mode(mode, 1 << 12):
        exe = llvm(f)
        runs = [exe.run(args)[0] for _ in range(6)]
    assert ".worker(ptr %c)" in exe.ir_text
    assert all(np.array_equal(runs[0], r) for r in runs[1:])
    # 1,152 terms per element: float32 blocks of ~1,000 (direct) or BLAS's order, 2-3e-5 off
    # the exact sum at worst, as NumPy's reference is (measured)
    assert_same(reference(f, args)[0], runs[0], rtol=1e-4, atol=1e-4)


@SETTINGS
@given(n=st.sampled_from([1, 3, 7]), hw=st.integers(1, 7), c=st.sampled_from([1, 5, 16]),
       k=st.integers(1, 3), s=st.integers(1, 3), padding=st.sampled_from(["SAME", "VALID"]),
       parallel=st.booleans(), data=st.data())
def test_pooling_split_over_images(n, hw, c, k, s, padding, parallel, data):
    """max_pool, avg_pool and max_pool_grad with images as work units (each image's
    gradient rows zero-filled and scattered into by one thread, its own argmax scratch)."""
    assume(padding == "SAME" or hw >= k)
    p = dict(ksize=(k, k), strides=(s, s), padding=padding)
    f = build([(F32, (n, hw, hw, c))],
              lambda b, x: [b.max_pool(x, **p), b.avg_pool(x, **p),
                            b.max_pool_grad(x, b.mul(b.max_pool(x, **p), 2.0), **p)])
    x = values(F32, (n, hw, hw, c), data.draw, lo=-1, hi=1)
    want = reference(f, [x])
    _, got = _run(f, [x], parallel)
    for name, r, v in zip(("max_pool", "avg_pool", "max_pool_grad"), want, got):
        assert_same(r, v, what=name)


@SETTINGS
@given(m=st.sampled_from([1, 15, 16, 17, 70]), k=st.sampled_from([1, 7, 40]),
       n=st.sampled_from([1, 9, 33]), ta=st.booleans(), tb=st.booleans(),
       epilogue=st.sampled_from(["none", "bias_relu", "update"]), symbolic=st.booleans(),
       parallel=st.booleans(), data=st.data())
def test_gemm_split_by_rows(m, k, n, ta, tb, epilogue, symbolic, parallel, data):
    """A 2-D matmul in blocks of rows of C on jitflow's threads (the row blocks' GEMMs and
    their share of the epilogue), transposed operands, a batch dim known only at run time."""
    rows = "s0" if symbolic else m
    a_shape, b_shape = ((k, rows) if ta else (rows, k)), ((n, k) if tb else (k, n))

    def fn(b, a, w, bias, v):
        c = b.matmul(a, w, transpose_a=ta, transpose_b=tb)
        if epilogue == "bias_relu":
            return b.relu(b.bias_add(c, bias))
        if epilogue == "update":
            return b.sub(v, b.mul(c, 0.5))
        return c
    f = build([(F32, a_shape), (F32, b_shape), (F32, (n,)), (F32, (rows, n))], fn)
    real = [(k, m) if ta else (m, k), (n, k) if tb else (k, n), (n,), (m, n)]
    args = [values(F32, s, data.draw, lo=-1, hi=1) for s in real]
    want = reference(f, args)
    exe, got = _run(f, args, parallel)
    gemm = k > compiler.INLINE_MATMUL_MAX_K     # else computed in the element loop
    assert ("call i32 @jf_blas_get_threads()" in exe.ir_text) == (parallel and gemm)
    assert_same(want[0], got[0], what=f"{m}x{k}x{n} ta={ta} tb={tb} {epilogue}", **CONV_TOL)


@SETTINGS
@given(m=st.sampled_from([1, 5, 32]), k=st.sampled_from([40, 300]),
       n=st.sampled_from([65, 200, 1000]), ta=st.booleans(), tb=st.booleans(),
       symbolic=st.booleans(), parallel=st.booleans(), data=st.data())
def test_gemm_split_by_columns(m, k, n, ta, tb, symbolic, parallel, data):
    """A bare matmul wider than tall (an RNN step's [batch, in] @ [in, 4 units]) in blocks of
    columns of C (several blocks, the last one short), transposed operands, a batch dim
    known only at run time."""
    rows = "s0" if symbolic else m
    a_shape, b_shape = ((k, rows) if ta else (rows, k)), ((n, k) if tb else (k, n))
    f = build([(F32, a_shape), (F32, b_shape)],
              lambda b, a, w: b.matmul(a, w, transpose_a=ta, transpose_b=tb))
    real = [(k, m) if ta else (m, k), (n, k) if tb else (k, n)]
    args = [values(F32, s, data.draw, lo=-1, hi=1) for s in real]
    want = reference(f, args)
    _, got = _run(f, args, parallel)
    assert_same(want[0], got[0], what=f"{m}x{k}x{n} ta={ta} tb={tb}", **CONV_TOL)


@pytest.mark.parametrize("m,k,n", [(32, 256, 1024), (32, 40, 1000), (5, 300, 1000)])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (True, True), (False, True)])
@pytest.mark.parametrize("parallel", [False, True])
def test_sgemm_in_blocks_of_columns(m, k, n, ta, tb, parallel):
    """An sgemm whose M*K leaves room for column blocks of 64+ columns within the small-matrix
    size (compiler._sgemm_column_blocks): the blocks, the short last one, their offsets."""
    a_shape, b_shape = ((k, m) if ta else (m, k)), ((n, k) if tb else (k, n))
    f = build([(F32, a_shape), (F32, b_shape)],
              lambda b, a, w: b.matmul(a, w, transpose_a=ta, transpose_b=tb))
    rng = np.random.default_rng(m + k + n)
    args = [rng.uniform(-1, 1, s).astype(np.float32) for s in (a_shape, b_shape)]
    want = reference(f, args)
    exe, got = _run(f, args, parallel)
    assert ("cblk" in exe.ir_text) == (ta or not tb)
    assert_same(want[0], got[0], what=f"{m}x{k}x{n} ta={ta} tb={tb}", **CONV_TOL)


@SETTINGS
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
       rows=st.sampled_from([1, 31, 32, 33, 200]), parallel=st.booleans(),
       dtype=st.sampled_from([F32, F64]), data=st.data())
def test_relu_bias_grad_matches_reference(shape, rows, parallel, dtype, data):
    shape = [rows] + shape
    f = build([(dtype, shape), (dtype, shape)], lambda b, g, y: list(b.op("relu_bias_grad", g, y)))
    g = values(dtype, shape, data.draw, lo=-1, hi=1)
    y = values(dtype, shape, data.draw, lo=-1, hi=1)
    y.reshape(-1)[::7] = 0           # y == 0 masks (relu's gradient is 0 at 0)
    want = reference(f, [g, y])
    _, got = _run(f, [g, y], parallel)
    assert_same(want[0], got[0], rtol=0, atol=0)
    assert_same(want[1], got[1], what="bias gradient")


def test_bias_gradient_sum_is_accurate():
    """The channel sums are blocked (float32 blocks, float64 partials): a long column of
    0.1s sums to within a few roundings of the exact value."""
    n, c = 200_003, 3
    g = np.full((n, c), 0.1, np.float32)
    y = np.ones((n, c), np.float32)
    f = build([(F32, (n, c)), (F32, (n, c))], lambda b, g, y: list(b.op("relu_bias_grad", g, y)))
    for parallel in (False, True):
        _, (dz, db) = _run(f, [g, y], parallel)
        exact = n * float(np.float32(0.1))
        assert np.all(np.abs(db.astype(np.float64) - exact) <= 4 * np.spacing(np.float32(exact)))


# ------------------------------------------------------------------ the pass -------------

def _layer(b, x, w, bias, y_w, *, with_bias=True, relu=True, returned_pre=False):
    """conv -> bias -> relu, a loss, and its gradients (the backward the pass fuses)."""
    attrs = dict(strides=(2, 1), padding="SAME", dilations=(1, 1))
    z = b.conv2d(x, w, **attrs)
    pre = b.bias_add(z, bias, axis=-1) if with_bias else z
    out = b.relu(pre) if relu else pre
    loss = b.reduce_sum(b.mul(out, y_w), axes=None)
    params = [x, w] + ([bias] if with_bias else [])
    grads = b.op("gradients", loss, *params, num_ys=1, num_xs=len(params))
    return [loss, *grads] + ([pre] if returned_pre else [])


def _pipeline(f, backend="llvm"):
    from jitflow.passes import PassManager, pipeline_for
    return PassManager(pipeline_for(backend)).run(f)


@pytest.mark.parametrize("with_bias,relu,returned_pre,fused,grad_fused", [
    (True, True, False, "relu", True),
    (False, True, False, "relu", False),     # no bias: the relu gradient is a plain select
    (True, False, False, "none", False),     # no relu: the bias gradient is a plain sum
    (True, True, True, "none", True),        # the pre-activation is returned: relu stays
])
def test_conv_fusion_pass(with_bias, relu, returned_pre, fused, grad_fused):
    rng = np.random.default_rng(1)
    xs, ws, ys = (3, 7, 6, 4), (3, 3, 4, 5), (3, 4, 6, 5)
    types = [(F32, xs), (F32, ws), (F32, (5,)), (F32, ys)]
    kw = dict(with_bias=with_bias, relu=relu, returned_pre=returned_pre)
    f = build(types, lambda b, *p: _layer(b, *p, **kw))
    g = _pipeline(f.clone())
    names = [op.opname for op in g.ops]
    convs = [op for op in g.ops if op.opname == "fused_conv2d"]
    assert len(convs) == 1 and convs[0].attrs["activation"] == fused
    assert len(convs[0].operands) == (3 if with_bias else 2)
    assert "conv2d" not in names and "bias_add" not in names
    assert ("relu" in names) == (relu and fused != "relu")
    assert ("relu_bias_grad" in names) == grad_fused
    args = [rng.uniform(-1, 1, s).astype(np.float32) for s in (xs, ws, (5,), ys)]
    want = reference(_pipeline(f.clone(), "reference"), args)
    got = llvm(g).run(args)
    for i, (r, v) in enumerate(zip(want, got)):
        assert_same(r, v, what=f"result {i}", **CONV_TOL)


def test_conv_fusion_leaves_shared_values_alone():
    """A conv result read by another op keeps its own kernel (no fused op recomputes it)."""
    attrs = dict(strides=(1, 1), padding="VALID", dilations=(1, 1))
    f = build([(F32, (1, 4, 4, 2)), (F32, (2, 2, 2, 3)), (F32, (3,))],
              lambda b, x, w, bias: (lambda z: [b.relu(b.bias_add(z, bias)), z])(
                  b.conv2d(x, w, **attrs)))
    g = fuse_convs(f.clone())
    assert "fused_conv2d" not in [op.opname for op in g.ops]


def test_fused_ops_decompose_for_cuda():
    """cuda-legalize rewrites the fused ops into the compositions they stand for."""
    rng = np.random.default_rng(2)
    attrs = dict(strides=(1, 1), padding="SAME", dilations=(1, 1))
    shapes = ((2, 5, 5, 3), (3, 3, 3, 4), (4,), (2, 5, 5, 4), (2, 5, 5, 4))
    f = build([(F32, s) for s in shapes],
              lambda b, x, w, bias, g, y: [
                  b.op("fused_conv2d", x, w, bias, activation="relu", **attrs),
                  *b.op("relu_bias_grad", g, y)])
    args = [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    want = reference(f, args)
    d = decompose(f.clone())
    assert not {"fused_conv2d", "relu_bias_grad"} & {op.opname for op in d.ops}
    got = reference(d, args)
    for r, v in zip(want, got):
        np.testing.assert_allclose(v, r, rtol=1e-5, atol=1e-6)


def test_a_run_with_parallel_convolutions_keeps_openblas_at_one_thread():
    """Its convolutions call OpenBLAS from jitflow's threads: OpenBLAS's own pool stays at one
    thread for the run (a spinning OpenBLAS worker would take a core from them)."""
    import ctypes

    from jitflow.backends.llvm import jit, threads as llvm_threads
    if not jit.blas_threads_settable():
        pytest.skip("OpenBLAS's thread count cannot be set here")
    attrs = dict(strides=(1, 1), padding="SAME", dilations=(1, 1))
    f = build([(F32, (4, 10, 10, 8)), (F32, (3, 3, 8, 16))],
              lambda b, x, w: b.conv2d(x, w, **attrs))
    rng = np.random.default_rng(4)
    args = [rng.uniform(-1, 1, s).astype(np.float32) for s in ((4, 10, 10, 8), (3, 3, 8, 16))]
    lib = ctypes.CDLL(jit._state["blas_path"])
    with threads(True), conv_mode("gemm"):
        exe = llvm(f)
        assert exe.blas_threads == 1
        exe.run(args)
        assert llvm_threads._applied[0] == (2, 1)
        assert lib.scipy_openblas_get_num_threads64_() == 1
