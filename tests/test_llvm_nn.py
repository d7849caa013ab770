"""LLVM lowerings of the NN ops (jitflow/ops/conv.py, pool.py, ...; backends/llvm/lib/) against the
reference backend (the oracle).

Random small shapes with hypothesis (symbolic batch dims, size-0/1 dims, SAME with asymmetric
padding, strides, dilations), both convolution strategies (direct loop nest and im2col + GEMM,
the latter also with tiny im2col chunks so partial chunks are exercised), NaN/inf and ties for
the max-style ops; errors (out-of-range labels and indices) with the reference's exact message;
the gradients of a small CNN through the llvm pass pipeline; and a Session that trains a
mnist_cnn-like model natively (no fallback to the reference interpreter).
"""
from __future__ import annotations

import contextlib
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from jitflow.backends.llvm import compiler
from jitflow.backends.llvm.lib import conv as llvm_conv
from jitflow.backends.llvm.elementwise import LOWER
from jitflow.errors import InvalidArgumentError
from jitflow.ir import OPS, as_dtype
from jitflow.ops.window import window_geometry
from jitflow.passes import PassManager, pipeline_for

from _op_coverage import NN_MODULES
from _llvm_util import (F32, F64, I32, I64, BOOL, assert_same, build, llvm, llvm_cache_dir,
                        reference, run_both, values)

pytestmark = pytest.mark.usefixtures("llvm_cache_dir")
_ = llvm_cache_dir

#: NN_EXAMPLES=300 runs a longer, randomized search (the default run is fixed and quick)
SETTINGS = settings(max_examples=int(os.environ.get("NN_EXAMPLES", 20)), deadline=None,
                    derandomize=not os.environ.get("NN_EXAMPLES"),
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
TOL = dict(rtol=2e-5, atol=2e-6)           # float32 with the fast exp/log and reassociation
CONV_TOL = dict(rtol=1e-4, atol=1e-5)      # GEMM reassociation over KH*KW*C terms
NN_ELEMENTWISE = ["elu", "leaky_relu", "softplus", "relu6", "sigmoid_cross_entropy"]


def check(f, args, **tol):
    ref, got = run_both(f, args)
    for i, (r, g) in enumerate(zip(ref, got)):
        assert_same(r, g, what=f"result {i}", **tol)
    return got


@contextlib.contextmanager
def conv_mode(mode: str, chunk_bytes=None):
    old_env, old_bytes = os.environ.get("JITFLOW_CONV"), llvm_conv.IM2COL_BYTES
    os.environ["JITFLOW_CONV"] = mode
    if chunk_bytes is not None:
        llvm_conv.IM2COL_BYTES = chunk_bytes
    try:
        yield
    finally:
        llvm_conv.IM2COL_BYTES = old_bytes
        if old_env is None:
            os.environ.pop("JITFLOW_CONV", None)
        else:
            os.environ["JITFLOW_CONV"] = old_env


def test_every_nn_op_has_a_lowering():
    nn = [n for n, d in OPS.items() if getattr(getattr(d, "reference", None), "__module__", "")
          in NN_MODULES]
    assert len(nn) >= 30
    missing = [n for n in nn if n not in LOWER and n not in compiler.CUSTOM_KERNELS]
    assert not missing
    assert all(OPS[n].kind == "elementwise" for n in NN_ELEMENTWISE + ["bias_add"])


# ------------------------------------------------------------------ convolution -----------

@st.composite
def conv_case(draw):
    n = draw(st.sampled_from([1, 2, 3]))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    c, o = draw(st.sampled_from([1, 2, 3, 6])), draw(st.sampled_from([1, 3, 5]))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dil = draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (1, 2), (2, 2)]))
    padding = draw(st.sampled_from(["SAME", "SAME", "VALID"]))
    geo = []
    for size, k, s, d in ((h, kh, strides[0], dil[0]), (w, kw, strides[1], dil[1])):
        eff = (k - 1) * d + 1
        assume(padding == "SAME" or size >= eff)
        geo.append(window_geometry(size, k, s, d, padding))
    return dict(n=n, h=h, w=w, c=c, o=o, kh=kh, kw=kw, strides=strides, dilations=dil,
                padding=padding, out=(n, geo[0][0], geo[1][0], o))


def _conv_function(cs, symbolic: bool, dtype=F32):
    n, h, w, c, o, kh, kw = (cs[k] for k in ("n", "h", "w", "c", "o", "kh", "kw"))
    attrs = dict(strides=cs["strides"], padding=cs["padding"], dilations=cs["dilations"])
    b0 = "s0" if symbolic else n
    out = cs["out"]
    return build([(dtype, (b0, h, w, c)), (dtype, (kh, kw, c, o)), (dtype, (b0,) + out[1:])],
                 lambda b, x, f, g: [b.conv2d(x, f, **attrs),
                                     b.conv2d_backprop_input(g, f, x, **attrs),
                                     b.conv2d_backprop_filter(x, g, f, **attrs)])


@pytest.mark.parametrize("mode", ["direct", "gemm"])
@SETTINGS
@given(cs=conv_case(), symbolic=st.booleans(), small_chunks=st.booleans(), data=st.data())
def test_conv2d_and_backprops(mode, cs, symbolic, small_chunks, data):
    """conv2d, conv2d_backprop_input and conv2d_backprop_filter (one kernel each)."""
    f = _conv_function(cs, symbolic)
    x = values(F32, (cs["n"], cs["h"], cs["w"], cs["c"]), data.draw, lo=-1, hi=1)
    k = values(F32, (cs["kh"], cs["kw"], cs["c"], cs["o"]), data.draw, lo=-1, hi=1)
    g = values(F32, cs["out"], data.draw, lo=-1, hi=1)
    with conv_mode(mode, 96 if small_chunks else None):
        exe = llvm(f)
    ref = reference(f, [x, k, g])
    got = exe.run([x, k, g])
    for name, r, v in zip(("conv2d", "backprop_input", "backprop_filter"), ref, got):
        assert_same(r, v, what=f"{name} {mode} {cs}", **CONV_TOL)


@pytest.mark.parametrize("padding,strides,dil,shape,kernel", [
    ("SAME", (2, 2), (1, 1), (2, 6, 6, 3), (3, 3)),     # even input, stride 2: pad 0 before, 1 after
    ("SAME", (1, 1), (1, 1), (1, 5, 4, 2), (2, 4)),     # even kernels: the odd pad goes at the end
    ("SAME", (2, 1), (2, 2), (2, 7, 5, 2), (3, 2)),     # dilation with SAME
    ("VALID", (3, 2), (1, 2), (1, 9, 8, 4), (3, 3)),
])
@pytest.mark.parametrize("mode", ["direct", "gemm"])
def test_conv2d_fixed_cases_float64(padding, strides, dil, shape, kernel, mode):
    rng = np.random.default_rng(7)
    cs = dict(n=shape[0], h=shape[1], w=shape[2], c=shape[3], o=4, kh=kernel[0], kw=kernel[1],
              strides=strides, dilations=dil, padding=padding)
    geo = [window_geometry(shape[1 + a], kernel[a], strides[a], dil[a], padding) for a in (0, 1)]
    cs["out"] = (shape[0], geo[0][0], geo[1][0], 4)
    f = _conv_function(cs, True, F64)
    args = [rng.standard_normal(shape), rng.standard_normal(kernel + (shape[3], 4)),
            rng.standard_normal(cs["out"])]
    with conv_mode(mode):
        exe = llvm(f)
    for r, g in zip(reference(f, args), exe.run(args)):
        assert_same(r, g, rtol=1e-11, atol=1e-12)


def test_conv_and_pool_with_run_time_spatial_dims_and_channels():
    """Every dim only known at run time (None): geometry and padding come from the run-time
    parameter table; unknown channels force the GEMM path."""
    rng = np.random.default_rng(5)
    attrs = dict(strides=(2, 1), padding="SAME", dilations=(1, 2))
    f = build([(F32, (None, None, None, None)), (F32, (3, 2, None, 4))],
              lambda b, x, w: [b.conv2d(x, w, **attrs),
                               b.max_pool(x, ksize=(2, 3), strides=(2, 2), padding="SAME"),
                               b.avg_pool(x, ksize=(3, 2), strides=(1, 2), padding="SAME")])
    exe = llvm(f)
    for shape in ((2, 7, 6, 3), (1, 4, 9, 5)):
        args = [rng.standard_normal(shape).astype(np.float32),
                rng.standard_normal((3, 2, shape[3], 4)).astype(np.float32)]
        for r, g in zip(reference(f, args), exe.run(args)):
            assert_same(r, g, **CONV_TOL)


def test_conv2d_batch_size_changes_without_recompiling():
    cs = dict(n=2, h=6, w=5, c=8, o=16, kh=3, kw=3, strides=(2, 2), dilations=(1, 1),
              padding="SAME", out=(2, 3, 3, 16))
    f = _conv_function(cs, True)
    exe = llvm(f)
    rng = np.random.default_rng(0)
    for n in (1, 5, 0, 3):
        args = [rng.standard_normal((n, 6, 5, 8)).astype(np.float32),
                rng.standard_normal((3, 3, 8, 16)).astype(np.float32),
                rng.standard_normal((n, 3, 3, 16)).astype(np.float32)]
        for r, g in zip(reference(f, args), exe.run(args)):
            assert_same(r, g, **CONV_TOL)


def _widest_vector_register() -> str:
    import llvmlite.binding as llvm_binding
    feats = llvm_binding.get_host_cpu_features()
    return "zmm" if feats.get("avx512f") else "ymm" if feats.get("avx2") else "xmm"


_WIDEST = _widest_vector_register()


@pytest.mark.parametrize("case", ["conv_direct", "conv_bpf_direct", "conv_gemm", "pooling", "bias_add"])
def test_nn_kernels_use_512_bit_vectors_without_gathers(case, tmp_path):
    """Channels are innermost and contiguous: the kernels' loops vectorize with the host's
    widest vector registers (zmm with AVX-512, ymm with AVX2). (A small constant channel count fully unrolled before the vectorizer would leave scalar
    code and outer loops vectorized with gathers; the library kernels mark their channel loops.)"""
    S = "s0"
    cases = {
        "conv_direct": ([(F32, (S, 28, 28, 1)), (F32, (3, 3, 1, 32))],
                        lambda b, x, w: b.conv2d(x, w, strides=(1, 1), padding="SAME")),
        "conv_bpf_direct": ([(F32, (S, 28, 28, 1)), (F32, (S, 28, 28, 32)), (F32, (3, 3, 1, 32))],
                            lambda b, x, g, w: b.conv2d_backprop_filter(x, g, w, padding="SAME")),
        "conv_gemm": ([(F32, (S, 28, 28, 32)), (F32, (3, 3, 32, 64)), (F32, (S, 14, 14, 64))],
                      lambda b, x, w, g: [b.conv2d(x, w, strides=(2, 2), padding="SAME"),
                                          b.conv2d_backprop_input(g, w, x, strides=(2, 2),
                                                                  padding="SAME")]),
        "pooling": ([(F32, (S, 14, 14, 64)), (F32, (S, 7, 7, 64))],
                    lambda b, x, g: [b.max_pool(x, ksize=(2, 2), strides=(2, 2), padding="VALID"),
                                     b.max_pool_grad(x, g, ksize=(2, 2), strides=(2, 2), padding="VALID"),
                                     b.avg_pool_grad(g, x, ksize=(2, 2), strides=(2, 2), padding="VALID")]),
        "bias_add": ([(F32, (S, 28, 28, 32)), (F32, (32,))], lambda b, x, c: b.bias_add(x, c)),
    }
    types, fn = cases[case]
    llvm(build(types, fn), dump_dir=str(tmp_path))
    asm = (tmp_path / "module.s").read_text()
    assert _WIDEST in asm, f"no {_WIDEST} register in module.s"
    assert not re.search(r"\bv\w*(gather|scatter)", asm)


# ------------------------------------------------------------------ pooling ---------------

@st.composite
def pool_case(draw):
    n, h, w, c = draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6)), \
        draw(st.sampled_from([1, 3, 17]))
    ksize = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    geo = []
    for size, k, s in ((h, ksize[0], strides[0]), (w, ksize[1], strides[1])):
        assume(padding == "SAME" or size >= k)
        geo.append(window_geometry(size, k, s, 1, padding)[0])
    return (n, h, w, c), dict(ksize=ksize, strides=strides, padding=padding), (n, geo[0], geo[1], c)


@SETTINGS
@given(case=pool_case(), dtype=st.sampled_from([F32, F32, I32]), data=st.data())
def test_max_pool_family(case, dtype, data):
    """max_pool, max_pool_grad (first maximum in row-major window order, NaN wins) and
    max_pool_grad_grad; values with many ties and, for floats, NaN and infinities."""
    shape, attrs, out = case
    x = values(dtype, shape, data.draw, lo=-3, hi=3)
    if dtype.is_floating:
        x = np.round(x)                        # ties
        if data.draw(st.booleans()):
            mask = np.random.default_rng(int(x.size)).random(shape) < 0.1
            x[mask] = np.random.default_rng(1).choice(np.array([np.nan, np.inf, -np.inf], np.float32), mask.sum())
    g = values(dtype, out, data.draw, lo=-5, hi=5)
    gg = values(dtype, shape, data.draw, lo=-5, hi=5)
    decl = ("s0",) + shape[1:]
    f = build([(dtype, decl), (dtype, ("s0",) + out[1:]), (dtype, decl)],
              lambda b, x_, g_, gg_: [b.max_pool(x_, **attrs), b.max_pool_grad(x_, g_, **attrs),
                                      b.max_pool_grad_grad(x_, gg_, **attrs)])
    check(f, [x, g, gg])


@SETTINGS
@given(case=pool_case(), data=st.data())
def test_avg_pool_family(case, data):
    shape, attrs, out = case
    x = values(F32, shape, data.draw)
    g = values(F32, out, data.draw)
    f = build([(F32, ("s0",) + shape[1:]), (F32, ("s0",) + out[1:])],
              lambda b, x_, g_: [b.avg_pool(x_, **attrs), b.avg_pool_grad(g_, x_, **attrs)])
    check(f, [x, g], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ elementwise NN ops ----

@pytest.mark.parametrize("op", NN_ELEMENTWISE)
@pytest.mark.parametrize("dtype", [F32, F64], ids=lambda d: d.short)
@SETTINGS
@given(data=st.data())
def test_nn_elementwise(op, dtype, data):
    conc = data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 5]), min_size=0, max_size=3))
    decl = tuple(f"s{i}" if data.draw(st.booleans()) else d for i, d in enumerate(conc))
    x = values(dtype, conc, data.draw, lo=-40, hi=40, special=True)
    if data.draw(st.booleans()) and x.size:
        x = x * np.asarray(1e-3, dtype.np)     # near 0, where expm1/log1p matter
    tol = TOL if dtype is F32 else {}
    if op == "sigmoid_cross_entropy":
        z = values(dtype, conc[1:], data.draw, lo=0, hi=1)
        f = build([(dtype, decl), (dtype, decl[1:])], lambda b, x_, z_: b.op(op, x_, z_))
        check(f, [x, z], **tol)
    else:
        attrs = {"alpha": 0.3} if op == "leaky_relu" else {}
        f = build([(dtype, decl)], lambda b, x_: b.op(op, x_, **attrs))
        check(f, [x], **tol)


@pytest.mark.parametrize("dtype", [I32, I64], ids=lambda d: d.short)
def test_relu6_int(dtype):
    x = np.arange(-10, 11, dtype=dtype.np)
    check(build([(dtype, (21,))], lambda b, x_: b.relu6(x_)), [x])


def _fused(build_fn, types):
    f = build(types, build_fn)
    return PassManager(pipeline_for("llvm")).run(f)


def test_nn_elementwise_ops_fuse_into_one_kernel():
    """bias_add (last axis) -> elu -> leaky_relu -> softplus -> relu6 and a broadcast sigmoid
    cross-entropy: one elementwise kernel."""
    def fn(b, x, bias, z):
        h = b.relu6(b.softplus(b.leaky_relu(b.elu(b.bias_add(x, bias)), alpha=0.1)))
        return b.sigmoid_cross_entropy(h, z)
    types = [(F32, ("s0", 5, 4)), (F32, (4,)), (F32, (5, 4))]
    rng = np.random.default_rng(3)
    args = [rng.standard_normal((3, 5, 4)).astype(np.float32) * 3,
            rng.standard_normal(4).astype(np.float32), rng.random((5, 4)).astype(np.float32)]
    f = _fused(fn, types)
    exe = llvm(f)
    assert [k.kind for k in exe.mb.kernels] == ["ew"], [k.kind for k in exe.mb.kernels]
    ref = reference(build(types, fn), args)
    assert_same(ref[0], exe.run(args)[0], **TOL)


@SETTINGS
@given(rank=st.integers(2, 4), data=st.data())
def test_bias_add_any_axis(rank, data):
    """Last axis: fused as a broadcast add; any other axis (NCHW): its own kernel, never a
    right-aligned broadcast."""
    conc = tuple(data.draw(st.sampled_from([1, 2, 3, 4])) for _ in range(rank))
    axis = data.draw(st.integers(-rank, rank - 1))
    x = values(F32, conc, data.draw)
    bias = values(F32, (conc[axis],), data.draw)
    decl = ("s0",) + conc[1:]

    def fn(b, x_, c_):
        return b.relu(b.mul(b.bias_add(x_, c_, axis=axis), 2.0))
    types = [(F32, decl), (F32, (conc[axis],))]
    f = _fused(fn, types)
    ref = reference(build(types, fn), [x, bias])
    assert_same(ref[0], llvm(f).run([x, bias])[0])
    assert_same(ref[0], llvm(build(types, fn)).run([x, bias])[0])   # unfused: custom kernel


# ------------------------------------------------------------------ softmax family --------

@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@SETTINGS
@given(data=st.data())
def test_softmax(op, data):
    conc = tuple(data.draw(st.lists(st.sampled_from([1, 2, 3, 10]), min_size=1, max_size=3)))
    axis = data.draw(st.integers(-len(conc), len(conc) - 1))
    x = values(F32, conc, data.draw, lo=-30, hi=30, special=data.draw(st.booleans()))
    f = build([(F32, ("s0",) + conc[1:])], lambda b, x_: b.op(op, x_, axis=axis))
    check(f, [x], **TOL)


@SETTINGS
@given(data=st.data())
def test_reduce_logsumexp_l2_all_any(data):
    conc = tuple(data.draw(st.lists(st.sampled_from([0, 1, 2, 3, 4]), min_size=1, max_size=3)))
    rank = len(conc)
    axes = data.draw(st.one_of(st.none(), st.lists(st.integers(-rank, rank - 1), min_size=1,
                                                   max_size=rank, unique=True).map(tuple)))
    keep = data.draw(st.booleans())
    x = values(F32, conc, data.draw, lo=-20, hi=20, special=data.draw(st.booleans()))
    bx = values(BOOL, conc, data.draw)
    decl = ("s0",) + conc[1:]
    f = build([(F32, decl), (BOOL, decl)],
              lambda b, x_, y_: [b.reduce_logsumexp(x_, axes=axes, keepdims=keep), b.l2_loss(x_),
                                 b.reduce_all(y_, axes=axes, keepdims=keep),
                                 b.reduce_any(y_, axes=axes, keepdims=keep)])
    check(f, [x, bx], rtol=1e-5, atol=1e-5)


@SETTINGS
@given(batch=st.lists(st.integers(0, 4), min_size=1, max_size=2), c=st.integers(1, 12),
       ldt=st.sampled_from([I32, I64]), data=st.data())
def test_sparse_softmax_cross_entropy(batch, c, ldt, data):
    batch = tuple(batch)
    logits = values(F32, batch + (c,), data.draw, lo=-20, hi=20)
    labels = values(ldt, batch, data.draw, lo=0, hi=c)
    f = build([(F32, ("s0",) + batch[1:] + (c,)), (ldt, ("s0",) + batch[1:])],
              lambda b, l, y: list(b.sparse_softmax_cross_entropy(l, y)))
    check(f, [logits, labels], **TOL)


@SETTINGS
@given(b_=st.integers(1, 4), c=st.integers(1, 6), bl=st.sampled_from(["full", "row", "col"]),
       bz=st.sampled_from(["full", "row", "col"]), data=st.data())
def test_softmax_cross_entropy_broadcast(b_, c, bl, bz, data):
    shp = {"full": (b_, c), "row": (1, c), "col": (b_, 1)}
    assume(not (bl == "col" and bz == "col") or c == 1)
    logits = values(F32, shp[bl], data.draw, lo=-10, hi=10)
    labels = values(F32, shp[bz], data.draw, lo=0, hi=1)
    f = build([(F32, shp[bl]), (F32, shp[bz])], lambda b, l, z: list(b.softmax_cross_entropy(l, z)))
    check(f, [logits, labels], **TOL)


# ------------------------------------------------------------------ classification --------

@SETTINGS
@given(n=st.integers(0, 5), c=st.integers(0, 6), k=st.integers(0, 7), data=st.data())
def test_in_top_k(n, c, k, data):
    p = np.round(values(F32, (n, c), data.draw, lo=-3, hi=3))        # ties count as in
    if p.size and data.draw(st.booleans()):
        p.reshape(-1)[data.draw(st.integers(0, p.size - 1))] = data.draw(st.sampled_from([np.nan, np.inf]))
    t = values(I32, (n,), data.draw, lo=-1, hi=c + 1)
    f = build([(F32, ("s0", c)), (I32, ("s0",))], lambda b, p_, t_: b.in_top_k(p_, t_, k=k))
    check(f, [p, t])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@SETTINGS
@given(data=st.data())
def test_argmax_argmin(op, data):
    conc = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    axis = data.draw(st.integers(-len(conc), len(conc) - 1))
    dtype = data.draw(st.sampled_from([F32, I32]))
    out = data.draw(st.sampled_from([I32, I64]))
    x = np.round(values(dtype, conc, data.draw, lo=-2, hi=2))
    if dtype is F32 and data.draw(st.booleans()):
        x[(0,) * len(conc)] = np.nan
    f = build([(dtype, ("s0",) + conc[1:])], lambda b, x_: b.op(op, x_, axis=axis, dtype=out))
    check(f, [x.astype(dtype.np)])


@SETTINGS
@given(data=st.data())
def test_one_hot(data):
    conc = tuple(data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
    axis = data.draw(st.integers(-1, len(conc)))
    depth = data.draw(st.integers(0, 5))
    idx = values(I64, conc, data.draw, lo=-2, hi=depth + 2)
    f = build([(I64, conc), (F32, ()), (F32, ())],
              lambda b, i, on, off: b.one_hot(i, on, off, depth=depth, axis=axis))
    check(f, [idx, np.float32(2.5), np.float32(-1)])


# ------------------------------------------------------------------ data movement ---------

@SETTINGS
@given(data=st.data())
def test_gather_and_grad(data):
    conc = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    axis = data.draw(st.integers(-len(conc), len(conc) - 1))
    ishape = tuple(data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
    p = values(F32, conc, data.draw)
    idx = values(I32, ishape, data.draw, lo=0, hi=conc[axis])      # duplicates accumulate
    gshape = conc[:axis % len(conc)] + ishape + conc[axis % len(conc) + 1:]
    g = values(F32, gshape, data.draw)
    f = build([(F32, conc), (I32, ishape), (F32, gshape)],
              lambda b, p_, i_, g_: [b.gather(p_, i_, axis=axis), b.gather_grad(g_, i_, p_, axis=axis)])
    check(f, [p, idx, g], rtol=1e-5, atol=1e-6)


@SETTINGS
@given(data=st.data())
def test_split_pad_tile(data):
    conc = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    rank = len(conc)
    axis = data.draw(st.integers(0, rank - 1))
    d = conc[axis]
    cut = data.draw(st.integers(0, d))
    sizes = (cut, -1) if data.draw(st.booleans()) else (cut, d - cut)
    pads = tuple(data.draw(st.integers(0, 2)) for _ in range(2 * rank))
    mult = tuple(data.draw(st.integers(0, 3)) for _ in range(rank))
    tiled = tuple(m * n for m, n in zip(mult, conc))
    x = values(F32, conc, data.draw)
    g = values(F32, tiled, data.draw)
    decl = ("s0",) + conc[1:] if axis != 0 else conc
    f = build([(F32, decl), (F32, tiled)],
              lambda b, x_, g_: list(b.split(x_, axis=axis, num=2, sizes=sizes)) + [
                  b.pad(x_, paddings=pads, value=-2.0), b.tile(x_, multiples=mult),
                  b.tile_grad(g_, x_, multiples=mult)])
    check(f, [x, g], rtol=1e-5, atol=1e-6)


def test_split_equal_pieces_and_int_pad():
    x = np.arange(24, dtype=np.int32).reshape(2, 6, 2)
    check(build([(I32, ("s0", 6, 2))], lambda b, x_: list(b.split(x_, axis=1, num=3))), [x])
    check(build([(I32, ("s0", 6, 2))], lambda b, x_: b.pad(x_, paddings=(1, 0, 0, 2, 1, 1), value=7.0)), [x])


# ------------------------------------------------------------------ errors ----------------

def _same_error(f, args):
    with pytest.raises(InvalidArgumentError) as want:
        reference(f, args)
    with pytest.raises(InvalidArgumentError) as got:
        llvm(f).run(args)
    assert str(got.value) == str(want.value)
    return str(got.value)


def test_out_of_range_label_raises_the_reference_error():
    f = build([(F32, ("s0", 4)), (I32, ("s0",))],
              lambda b, l, y: list(b.sparse_softmax_cross_entropy(l, y)))
    logits = np.zeros((3, 4), np.float32)
    for bad in (4, -1):
        msg = _same_error(f, [logits, np.array([0, bad, 1], np.int32)])
        assert f"Received a label value of {bad} which is outside the valid range of [0, 4)" in msg
    got = llvm(f).run([logits, np.array([3, 0, 1], np.int32)])     # and valid labels still work
    assert_same(reference(f, [logits, np.array([3, 0, 1], np.int32)])[0], got[0])


def test_out_of_range_indices_and_empty_axes_raise_the_reference_error():
    f = build([(F32, (5, 3)), (I64, (2, 2))], lambda b, p, i: b.gather(p, i))
    assert "indices[1,0] = -1 is not in [0, 5)" in _same_error(
        f, [np.zeros((5, 3), np.float32), np.array([[1, 2], [-1, 7]])])
    f = build([(F32, (4, 5)), (I32, (2,)), (F32, (2, 5))],
              lambda b, p, i, g: b.gather_grad(g, i, p))
    _same_error(f, [np.zeros((4, 5), np.float32), np.array([1, 4], np.int32),
                    np.ones((2, 5), np.float32)])
    f = build([(F32, ("s0", "s1"))], lambda b, x: b.argmax(x, axis=1))
    _same_error(f, [np.zeros((3, 0), np.float32)])
    f = build([(F32, ("s0", "s1"))], lambda b, x: b.softmax(x))
    _same_error(f, [np.zeros((2, 0), np.float32)])


# ------------------------------------------------------------------ a small CNN ------------

def _cnn(b, x, y, w1, b1, w2, b2):
    h = b.relu(b.bias_add(b.conv2d(x, w1, strides=(1, 1), padding="SAME"), b1))
    h = b.max_pool(h, ksize=(2, 2), strides=(2, 2), padding="VALID")
    h = b.reshape(h, shape=(-1, 4 * 4 * 6))
    logits = b.bias_add(b.matmul(h, w2), b2)
    loss, _ = b.sparse_softmax_cross_entropy(logits, y)
    loss = b.reduce_mean(loss, axes=None)
    grads = b.op("gradients", loss, w1, b1, w2, b2, num_ys=1, num_xs=4)
    return [loss] + list(grads)


@pytest.mark.parametrize("mode", ["auto", "gemm"])
def test_cnn_gradients_through_the_llvm_pipeline(mode):
    """conv -> relu -> maxpool -> dense -> sparse xent, gradients by the autodiff pass, fused
    by the llvm pipeline, compiled natively: equal to the reference pipeline."""
    types = [(F32, ("s0", 8, 8, 2)), (I32, ("s0",)), (F32, (3, 3, 2, 6)), (F32, (6,)),
             (F32, (96, 10)), (F32, (10,))]
    rng = np.random.default_rng(11)
    args = [rng.random((5, 8, 8, 2), dtype=np.float32), rng.integers(0, 10, 5).astype(np.int32),
            (rng.standard_normal((3, 3, 2, 6)) * 0.3).astype(np.float32),
            (rng.standard_normal(6) * 0.1).astype(np.float32),
            (rng.standard_normal((96, 10)) * 0.1).astype(np.float32),
            (rng.standard_normal(10) * 0.1).astype(np.float32)]
    ref_f = PassManager(pipeline_for("reference")).run(build(types, _cnn))
    f = PassManager(pipeline_for("llvm")).run(build(types, _cnn))
    with conv_mode(mode):
        exe = llvm(f)
    kinds = {op.opname for k in exe.mb.kernels if k.kind == "custom" for op in k.ops}
    assert {"fused_conv2d", "relu_bias_grad", "conv2d_backprop_filter", "max_pool_grad",
            "sparse_softmax_cross_entropy"} <= kinds
    ref = reference(ref_f, args)
    for n in (5, 2):       # a new batch size does not recompile
        a = [args[0][:n], args[1][:n]] + args[2:]
        ref = reference(ref_f, a)
        for i, (r, g) in enumerate(zip(ref, exe.run(a))):
            assert_same(r, g, rtol=1e-4, atol=1e-6, what=f"result {i}")


def test_mnist_cnn_like_model_trains_natively(monkeypatch, capfd):
    """The mnist_cnn.py architecture (smaller) trains under JITFLOW_BACKEND=llvm without the
    fallback warning, and its losses follow the reference backend's."""
    monkeypatch.setenv("JITFLOW_BACKEND", "llvm")
    import jitflow.compat.v1 as tf
    tf.disable_v2_behavior()

    def run(backend):
        tf.reset_default_graph()
        tf.set_random_seed(42)
        X = tf.placeholder(tf.float32, shape=[None, 144], name="X")
        y = tf.placeholder(tf.int32, shape=[None], name="y")
        xr = tf.reshape(X, shape=[-1, 12, 12, 1])
        c1 = tf.layers.conv2d(xr, filters=8, kernel_size=3, strides=1, padding="SAME",
                              activation=tf.nn.relu, name="conv1")
        c2 = tf.layers.conv2d(c1, filters=16, kernel_size=3, strides=2, padding="SAME",
                              activation=tf.nn.relu, name="conv2")
        p3 = tf.nn.max_pool(c2, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
        fc1 = tf.layers.dense(tf.reshape(p3, shape=[-1, 16 * 3 * 3]), 32, activation=tf.nn.relu,
                              name="fc1")
        logits = tf.layers.dense(fc1, 4, name="output")
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=y)
        loss = tf.reduce_mean(xent)
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
        acc = tf.reduce_mean(tf.cast(tf.nn.in_top_k(logits, y, 1), tf.float32))
        rng = np.random.default_rng(0)
        labels = rng.integers(0, 4, 64).astype(np.int32)
        imgs = rng.random((64, 12, 12), dtype=np.float32) * 0.2
        for i, lab in enumerate(labels):        # a bright quadrant tells the class
            r, c = divmod(int(lab), 2)
            imgs[i, r * 6:r * 6 + 6, c * 6:c * 6 + 6] += 0.8
        imgs = imgs.reshape(64, 144)
        losses = []
        with (tf.Session() if backend is None else tf.Session(backend=backend)) as sess:
            sess.run(tf.global_variables_initializer())
            for step in range(12):
                b = slice((step % 2) * 32, (step % 2) * 32 + 32)
                _, lv = sess.run([train, loss], feed_dict={X: imgs[b], y: labels[b]})
                losses.append(lv)
            final = sess.run(acc, feed_dict={X: imgs, y: labels})
        return np.array(losses), final

    from jitflow.backends.llvm.executable import LLVMExecutable
    from jitflow.runtime import session as session_mod
    kinds = []
    hook = lambda event: kinds.append(type(event.executable))     # noqa: E731
    session_mod.COMPILE_HOOKS.append(hook)
    capfd.readouterr()
    try:
        native, acc = run(None)                   # the default: JITFLOW_BACKEND=llvm
    finally:
        session_mod.COMPILE_HOOKS.remove(hook)
    err = capfd.readouterr().err
    assert "warning" not in err and "reference backend" not in err, err
    assert kinds and all(k is LLVMExecutable for k in kinds), kinds   # no graph fell back
    ref, _ = run("reference")
    assert native[-1] < 0.5 * native[0], native
    assert acc >= 0.9
    np.testing.assert_allclose(native, ref, rtol=2e-3, atol=2e-4)
