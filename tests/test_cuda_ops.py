"""Every op's CUDA lowering against the reference backend (the oracle), on Numba's CUDA
simulator in CI (tiny shapes: the simulator runs each GPU thread as a Python thread).

Each case builds a small IR Function around one op (so a failure names the lowering), runs it
through the cuda pipeline and backend, and compares with the reference: floats within
per-dtype tolerances (NaN where the reference has NaN, infinities equal), ints and bools
exactly, random ops bit for bit. ``test_every_op_has_a_case`` fails when an op is added to
``jitflow.ops`` without a case here.
"""
from __future__ import annotations

import numpy as np
import pytest

from _cuda_util import (BOOL, F32, F64, I32, I64, assert_same, build, check, compile_cuda,
                        cuda_run, needs_cuda, rand, reference, usable_or_skip)
from jitflow.errors import InvalidArgumentError
from jitflow.ir import OPS

pytestmark = needs_cuda

CASES: list = []     # (op, case id, maker() -> (Function, args, tolerance kwargs))


def add(op, cid, params, fn, args, **tol):
    CASES.append((op, cid, lambda: (build(params, fn), args() if callable(args) else args, tol)))


# ------------------------------------------------------------------ elementwise ------------

TRANS = {"exp", "log", "tanh", "sigmoid", "elu", "softplus"}
for _op in ["neg", "abs", "sign", "square", "sqrt", "rsqrt", "exp", "log", "tanh", "sigmoid",
            "relu", "elu", "softplus", "relu6"]:
    for _dt in (F32, F64):
        add(_op, _dt.short, [(_dt.short, (3, 4))], lambda b, x, _op=_op: b.op(_op, x),
            lambda _dt=_dt: [rand(_dt, (3, 4), seed=1, lo=-8, hi=8, special=True)],
            **({"rtol": 2e-6, "atol": 1e-7} if _dt is F32 and _op in TRANS else {}))
for _op in ["neg", "abs", "sign", "square", "relu", "relu6"]:
    for _dt in (I32, I64):
        add(_op, _dt.short, [(_dt.short, (5,))], lambda b, x, _op=_op: b.op(_op, x),
            lambda _dt=_dt: [rand(_dt, (5,), seed=2, lo=-9, hi=9)])
add("leaky_relu", "f32", [("f32", (2, 5))], lambda b, x: b.leaky_relu(x, alpha=0.3),
    lambda: [rand(F32, (2, 5), special=True)])

for _op in ["add", "sub", "mul", "div", "floordiv", "mod", "pow", "maximum", "minimum"]:
    for _dt in (F32, F64):
        add(_op, f"{_dt.short}-broadcast", [(_dt.short, (3, 1)), (_dt.short, (4,))],
            lambda b, x, y, _op=_op: b.op(_op, x, y),
            lambda _dt=_dt, _op=_op: [rand(_dt, (3, 1), seed=3, lo=0.5 if _op == "pow" else -4,
                                           special=_op not in ("pow",)),
                                      rand(_dt, (4,), seed=4, lo=-2, hi=2, nonzero=True)],
            **({"rtol": 2e-6} if _op == "pow" and _dt is F32 else {}))
for _op in ["add", "sub", "mul", "floordiv", "mod", "pow", "maximum", "minimum"]:
    for _dt in (I32, I64):
        add(_op, f"{_dt.short}-broadcast", [(_dt.short, (2, 3)), (_dt.short, (3,))],
            lambda b, x, y, _op=_op: b.op(_op, x, y),
            lambda _dt=_dt, _op=_op: [rand(_dt, (2, 3), seed=5, lo=-7, hi=7),
                                      rand(_dt, (3,), seed=6, lo=0 if _op == "pow" else -3,
                                           hi=3, nonzero=_op != "pow")])
add("add", "scalar-symbolic", [("f32", ("s0", 3)), ("f32", ())],
    lambda b, x, y: b.add(x, y), lambda: [rand(F32, (4, 3)), np.float32(2.5)])
add("mul", "i32-wraps", [("i32", (3,))], lambda b, x: b.mul(x, x),
    [np.array([70000, -70000, 3], np.int32)])

# ops/math_unary.py: inputs inside each function's domain plus the special values; the
# simulator runs NumPy's float32 functions (1-2 ulp), the reference rounds float64 once
_DOMAIN = {"asin": (-1, 1), "acos": (-1, 1), "atanh": (-0.99, 0.99), "acosh": (1, 6),
           "log1p": (-0.9, 5), "lgamma": (-4.5, 6), "digamma": (-4.5, 6),
           "trigamma": (-4.5, 6)}
for _op in ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
            "atanh", "erf", "erfc", "lgamma", "digamma", "trigamma", "log1p", "expm1", "floor",
            "ceil", "round", "is_nan", "is_inf", "is_finite", "reciprocal", "softsign", "selu",
            "log_sigmoid"]:
    for _dt in (F32, F64):
        _lo, _hi = _DOMAIN.get(_op, (-6, 6))
        add(_op, _dt.short, [(_dt.short, (3, 4))], lambda b, x, _op=_op: b.op(_op, x),
            lambda _dt=_dt, _lo=_lo, _hi=_hi: [rand(_dt, (3, 4), seed=11, lo=_lo, hi=_hi,
                                                    special=True)],
            **({"rtol": 4e-6, "atol": 1e-6} if _dt is F32 else {"rtol": 1e-11, "atol": 1e-12}))
add("round", "halves-to-even", [("f32", (8,))], lambda b, x: b.round(x),
    [np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.4999998, 1e9 + 0.5], np.float32)])
add("round", "i32-identity", [("i32", (4,))], lambda b, x: b.round(x),
    [np.array([-3, 0, 7, 2 ** 31 - 1], np.int32)])
add("reciprocal", "i32", [("i32", (5,))], lambda b, x: b.reciprocal(x),
    [np.array([1, -1, 2, -7, 100], np.int32)])
add("atan2", "f32-broadcast", [("f32", (3, 1)), ("f32", (4,))], lambda b, y, x: b.atan2(y, x),
    lambda: [rand(F32, (3, 1), seed=12, special=True), rand(F32, (4,), seed=13)],
    rtol=4e-6, atol=1e-6)
add("atan2", "f64-signed-zeros", [("f64", (4,)), ("f64", (4,))], lambda b, y, x: b.atan2(y, x),
    [np.array([0.0, -0.0, 0.0, -0.0]), np.array([0.0, 0.0, -0.0, -0.0])])

for _op in ("cumsum", "cumprod"):
    for _dt, _shape, _axis in ((F32, (3, 4), 1), (F64, (2, 3, 2), 1), (I32, (5,), 0),
                               (I64, (2, 3), 0)):
        for _ex, _rev in ((False, False), (True, False), (False, True), (True, True)):
            add(_op, f"{_dt.short}-axis{_axis}-ex{int(_ex)}-rev{int(_rev)}",
                [(_dt.short, _shape)], lambda b, x, _op=_op, _a=_axis, _e=_ex, _r=_rev:
                b.op(_op, x, axis=_a, exclusive=_e, reverse=_r),
                lambda _dt=_dt, _shape=_shape: [rand(_dt, _shape, seed=14, lo=-2, hi=2)])

for _op in ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]:
    add(_op, "f32", [("f32", (2, 3)), ("f32", (3,))], lambda b, x, y, _op=_op: b.op(_op, x, y),
        lambda: [rand(F32, (2, 3), seed=7, special=True), rand(F32, (3,), seed=8)])
    add(_op, "i64", [("i64", (4,)), ("i64", (4,))], lambda b, x, y, _op=_op: b.op(_op, x, y),
        lambda: [rand(I64, (4,), seed=9, lo=-2, hi=2), rand(I64, (4,), seed=10, lo=-2, hi=2)])
add("equal", "bool", [("bool", (5,)), ("bool", (5,))], lambda b, x, y: b.equal(x, y),
    lambda: [rand(BOOL, (5,), seed=1), rand(BOOL, (5,), seed=2)])
for _op in ["logical_and", "logical_or"]:
    add(_op, "bool", [("bool", (2, 3)), ("bool", (3,))], lambda b, x, y, _op=_op: b.op(_op, x, y),
        lambda: [rand(BOOL, (2, 3), seed=3), rand(BOOL, (3,), seed=4)])
for _op in ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift", "right_shift"]:
    for _dt in (I32, I64):     # shift amounts in [0, bits): the frontend clamps them
        add(_op, f"{_dt.short}-broadcast", [(_dt.short, (2, 3)), (_dt.short, (3,))],
            lambda b, x, y, _op=_op: b.op(_op, x, y),
            lambda _dt=_dt: [rand(_dt, (2, 3), seed=7, lo=-99, hi=99),
                             rand(_dt, (3,), seed=8, lo=0, hi=30)])
add("invert", "i32", [("i32", (5,))], lambda b, x: b.op("invert", x),
    lambda: [rand(I32, (5,), seed=9, lo=-50, hi=50)])
add("logical_not", "bool", [("bool", (4,))], lambda b, x: b.logical_not(x),
    lambda: [rand(BOOL, (4,), seed=5)])
add("select", "broadcast", [("bool", (3, 1)), ("f32", (3, 4)), ("f32", (4,))],
    lambda b, c, x, y: b.select(c, x, y),
    lambda: [rand(BOOL, (3, 1), seed=6), rand(F32, (3, 4)), rand(F32, (4,), seed=2)])

for _src in (F32, F64, I32, I64, BOOL):
    for _dst in (F32, F64, I32, I64, BOOL):
        if _src is _dst:
            continue

        def _vals(_src=_src):
            if _src.is_floating:
                return [np.array([1.5, -2.7, np.nan, np.inf, 3e10, -0.0, 7.0], _src.np)]
            return [rand(_src, (7,), seed=11, lo=-5, hi=5)]
        add("cast", f"{_src.short}-{_dst.short}", [(_src.short, (7,))],
            lambda b, x, _dst=_dst: b.cast(x, dtype=_dst), _vals)

add("fill", "f32", [("f32", ())], lambda b, v: b.fill(v, shape=(2, 3)), [np.float32(1.25)])
add("zeros_like", "i32", [("i32", (2, 3))], lambda b, x: b.zeros_like(x),
    lambda: [rand(I32, (2, 3))])
add("ones_like", "f64", [("f64", ("s0",))], lambda b, x: b.ones_like(x),
    lambda: [rand(F64, (3,))])
add("identity", "f32", [("f32", (3,))], lambda b, x: b.mul(b.identity(x), 2.0),
    lambda: [rand(F32, (3,))])
add("stop_gradient", "f32", [("f32", (3,))], lambda b, x: b.stop_gradient(b.add(x, 1.0)),
    lambda: [rand(F32, (3,))])
add("add_n", "broadcast", [("f32", (2, 3)), ("f32", (3,)), ("f32", (2, 3))],
    lambda b, x, y, z: b.add_n(x, y, z), lambda: [rand(F32, (2, 3)), rand(F32, (3,), 1),
                                                   rand(F32, (2, 3), 2)])
add("size", "axes", [("f32", ("s0", 3))], lambda b, x: [b.size(x, dtype=F32),
                                                       b.size(x, axes=(0,), dtype=I64)],
    lambda: [rand(F32, (5, 3))])
add("shape", "symbolic", [("f32", ("s0", 3))], lambda b, x: b.shape(x, dtype=I32),
    lambda: [rand(F32, (5, 3))])
add("constant", "array", [("f32", (2, 2))],
    lambda b, x: [b.add(x, b.const(np.array([[1, 2], [3, 4]], np.float32))),
                  b.const(np.arange(5, dtype=np.int64))], lambda: [rand(F32, (2, 2))])
add("check_numerics", "finite", [("f32", (4,))],
    lambda b, x: b.check_numerics(b.mul(x, 2.0), message="bad"), lambda: [rand(F32, (4,))])
add("bias_add", "last-axis", [("f32", ("s0", 4)), ("f32", (4,))],
    lambda b, x, y: b.bias_add(x, y), lambda: [rand(F32, (3, 4)), rand(F32, (4,), 1)])
add("bias_add", "nchw", [("f64", (2, 3, 2, 2)), ("f64", (3,))],
    lambda b, x, y: b.bias_add(x, y, axis=1), lambda: [rand(F64, (2, 3, 2, 2)), rand(F64, (3,))])
add("sigmoid_cross_entropy", "f32", [("f32", (3, 4)), ("f32", (3, 4))],
    lambda b, x, z: b.sigmoid_cross_entropy(x, z),
    lambda: [rand(F32, (3, 4), lo=-20, hi=20), rand(F32, (3, 4), 1, lo=0, hi=1)])
for _op in ("copy_to_device", "copy_to_host"):
    add(_op, "f32", [("f32", (3,))], lambda b, x, _op=_op: b.op(_op, b.exp(x), device="x"),
        lambda: [rand(F32, (3,))], rtol=2e-6)

# ------------------------------------------------------------------ shapes and views -------

add("reshape", "symbolic", [("f32", ("s0", 6))],
    lambda b, x: b.add(b.reshape(x, shape=(-1, 2, 3)), 1.0), lambda: [rand(F32, (2, 6))])
add("reshape_like", "f32", [("f32", (2, 6)), ("f32", (3, 4))],
    lambda b, x, y: b.neg(b.reshape_like(x, y)), lambda: [rand(F32, (2, 6)), rand(F32, (3, 4))])
add("expand_dims", "i32", [("i32", (3,))], lambda b, x: b.expand_dims(x, axis=0),
    lambda: [rand(I32, (3,))])
add("squeeze", "f32", [("f32", (1, 3, 1))], lambda b, x: b.squeeze(x, axes=(0,)),
    lambda: [rand(F32, (1, 3, 1))])
add("transpose", "3d", [("f32", (2, 3, 4))], lambda b, x: b.transpose(x, perm=(2, 0, 1)),
    lambda: [rand(F32, (2, 3, 4))])
add("transpose", "fused", [("f32", (3, 4))], lambda b, x: b.exp(b.transpose(b.add(x, 1.0))),
    lambda: [rand(F32, (3, 4))], rtol=2e-6)
add("broadcast_like", "f32", [("f32", (3, 1)), ("f32", (2, 3, 4))],
    lambda b, x, y: b.broadcast_like(x, y), lambda: [rand(F32, (3, 1)), rand(F32, (2, 3, 4))])
add("sum_to", "symbolic", [("f32", ("s0", 3, 4)), ("f32", (3, 1))],
    lambda b, g, like: b.sum_to(g, like), lambda: [rand(F32, (2, 3, 4)), rand(F32, (3, 1))])

SLICE = dict(kinds=(0, 1, 2, 0), begin=(2, 1, 0, 0), end=(0, 0, 0, 3), strides=(-1, 1, 1, 2),
             begin_mask=0, end_mask=1)
add("strided_slice", "mixed", [("f32", (4, 3, 5))], lambda b, x: b.strided_slice(x, **SLICE),
    lambda: [rand(F32, (4, 3, 5))])
add("strided_slice_grad", "mixed", [("f32", (3, 1, 2)), ("f32", (4, 3, 5))],
    lambda b, g, like: b.strided_slice_grad(g, like, **SLICE),
    lambda: [rand(F32, (3, 1, 2)), rand(F32, (4, 3, 5))])
add("concat", "axis1", [("f32", (2, 3)), ("f32", (2, 1)), ("f32", (2, 2))],
    lambda b, x, y, z: b.concat(x, y, z, axis=1),
    lambda: [rand(F32, (2, 3)), rand(F32, (2, 1), 1), rand(F32, (2, 2), 2)])
add("split", "sizes", [("i32", (2, 6))],
    lambda b, x: list(b.split(x, axis=1, num=3, sizes=(1, -1, 2))), lambda: [rand(I32, (2, 6))])
add("split", "equal", [("f32", (4, 3))], lambda b, x: list(b.split(x, axis=0, num=2)),
    lambda: [rand(F32, (4, 3))])
add("pad", "f32", [("f32", (2, 3))], lambda b, x: b.pad(x, paddings=(1, 0, 2, 1), value=-1.5),
    lambda: [rand(F32, (2, 3))])
add("tile", "f32", [("f32", (2, 3))], lambda b, x: b.tile(x, multiples=(2, 3)),
    lambda: [rand(F32, (2, 3))])
add("tile_grad", "f32", [("f32", (4, 9)), ("f32", (2, 3))],
    lambda b, g, like: b.tile_grad(g, like, multiples=(2, 3)),
    lambda: [rand(F32, (4, 9)), rand(F32, (2, 3))])
add("gather", "axis1", [("f32", (3, 4, 2)), ("i32", (2, 2))],
    lambda b, p, i: b.gather(p, i, axis=1),
    lambda: [rand(F32, (3, 4, 2)), np.array([[0, 3], [2, 2]], np.int32)])
add("gather_grad", "repeats", [("f32", (5, 2)), ("i64", (5,)), ("f32", (4, 2))],
    lambda b, g, i, like: b.gather_grad(g, i, like),
    lambda: [rand(F32, (5, 2)), np.array([1, 3, 1, 0, 1], np.int64), rand(F32, (4, 2))])
add("one_hot", "last", [("i32", (2, 3)), ("f32", ()), ("f32", ())],
    lambda b, i, on, off: b.one_hot(i, on, off, depth=4),
    [np.array([[0, 3, 5], [-1, 2, 1]], np.int32), np.float32(1), np.float32(0)])
add("one_hot", "axis0", [("i64", (3,)), ("i32", ()), ("i32", ())],
    lambda b, i, on, off: b.one_hot(i, on, off, depth=3, axis=0),
    [np.array([2, 0, 1], np.int64), np.int32(5), np.int32(-1)])

# ------------------------------------------------------------------ reductions -------------

for _op in ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]:
    for _dt in (F32, I32):
        for _axes, _keep in (((1,), False), (None, False), ((0,), True)):
            add(_op, f"{_dt.short}-{_axes}-{_keep}", [(_dt.short, ("s0", 5))],
                lambda b, x, _op=_op, _axes=_axes, _keep=_keep:
                    b.op(_op, b.add(x, b.const(np.asarray(1, x.type.dtype.np), x.type.dtype)),
                         axes=_axes, keepdims=_keep),
                lambda _dt=_dt: [rand(_dt, (3, 5), lo=-2, hi=2)])
add("reduce_sum", "block-tree", [("f32", (2, 150))], lambda b, x: b.reduce_sum(b.square(x),
                                                                                axes=(1,)),
    lambda: [rand(F32, (2, 150))], rtol=1e-5)
add("reduce_max", "block-tree-nan", [("f64", (130, 2))],
    lambda b, x: b.reduce_max(x, axes=(0,)),
    lambda: [rand(F64, (130, 2), special=True)])
add("reduce_max", "unknown-dims", [("f32", (None, 4))],
    lambda b, x: [b.reduce_max(x, axes=(0,)), b.reduce_sum(b.exp(x), axes=(1,), keepdims=True)],
    lambda: [rand(F32, (3, 4))], rtol=2e-6)
add("reduce_sum", "of-a-slice", [("f32", ("s0", 3))],
    lambda b, x: b.reduce_sum(b.strided_slice(x, kinds=(0,), begin=(0,), end=(0,), strides=(-2,),
                                              begin_mask=1, end_mask=1), axes=(0,)),
    lambda: [rand(F32, (5, 3))])
add("reduce_mean", "empty", [("f32", (0, 3))], lambda b, x: b.reduce_mean(x, axes=(0,)),
    lambda: [np.zeros((0, 3), np.float32)])
add("reduce_all", "axis", [("bool", (3, 4))], lambda b, x: b.reduce_all(x, axes=(1,)),
    lambda: [rand(BOOL, (3, 4))])
add("reduce_any", "all", [("bool", (3, 4))], lambda b, x: b.reduce_any(x),
    lambda: [rand(BOOL, (3, 4)) & False])
add("reduce_logsumexp", "axis", [("f32", (3, 4))],
    lambda b, x: b.reduce_logsumexp(x, axes=(1,)),
    lambda: [np.array([[1, 2, 3, 4], [-np.inf] * 4, [1000, 1000, 0, 1]], np.float32)],
    rtol=2e-6)
add("l2_loss", "f64", [("f64", (3, 4))], lambda b, x: b.l2_loss(x), lambda: [rand(F64, (3, 4))])
add("argmax", "nan", [("f32", (3, 4))], lambda b, x: b.argmax(x, axis=1),
    lambda: [np.array([[1, 5, 5, 2], [np.nan, 1, 2, np.nan], [0, 0, 0, 0]], np.float32)])
add("argmin", "axis0", [("i32", (3, 4))], lambda b, x: b.argmin(x, axis=0, dtype=I32),
    lambda: [rand(I32, (3, 4), lo=-2, hi=2)])
add("in_top_k", "ties", [("f32", (4, 3)), ("i32", (4,))], lambda b, p, t: b.in_top_k(p, t, k=1),
    [np.array([[1, 2, 2], [3, 1, 0], [np.nan, 1, 2], [0, 0, 1]], np.float32),
     np.array([1, 0, 2, 5], np.int32)])

add("relu_bias_grad", "nhwc", [("f32", (2, 3, 4, 5)), ("f32", (2, 3, 4, 5))],
    lambda b, g, y: list(b.op("relu_bias_grad", g, y)),
    lambda: [rand(F32, (2, 3, 4, 5)), rand(F32, (2, 3, 4, 5), 1)], rtol=1e-5, atol=1e-5)

# ------------------------------------------------------------------ linear algebra ---------

for _ta in (False, True):
    for _tb in (False, True):
        add("matmul", f"ta{_ta:d}tb{_tb:d}", [("f32", (5, 3) if _ta else (3, 5)),
                                             ("f32", (4, 5) if _tb else (5, 4))],
            lambda b, x, y, _ta=_ta, _tb=_tb: b.matmul(x, y, transpose_a=_ta, transpose_b=_tb),
            lambda _ta=_ta, _tb=_tb: [rand(F32, (5, 3) if _ta else (3, 5)),
                                      rand(F32, (4, 5) if _tb else (5, 4), 1)])
add("matmul", "batched-broadcast", [("f64", (1, 3, 4)), ("f64", (2, 4, 2))],
    lambda b, x, y: b.matmul(x, y), lambda: [rand(F64, (1, 3, 4)), rand(F64, (2, 4, 2), 1)])
add("matmul", "i32-epilogue", [("i32", ("s0", 3)), ("i32", (3, 2))],
    lambda b, x, y: b.relu(b.matmul(x, y)), lambda: [rand(I32, (9, 3)), rand(I32, (3, 2), 1)])

# ------------------------------------------------------------------ NN ---------------------

for _pad in ("SAME", "VALID"):
    for _s, _d in (((1, 1), (1, 1)), ((2, 1), (1, 1)), ((1, 1), (2, 1))):
        _a = dict(strides=_s, padding=_pad, dilations=_d)
        _cid = f"{_pad}-s{_s[0]}{_s[1]}-d{_d[0]}{_d[1]}"
        add("conv2d", _cid, [("f32", (2, 5, 4, 2)), ("f32", (3, 2, 2, 3))],
            lambda b, x, w, _a=_a: b.conv2d(x, w, **_a),
            lambda: [rand(F32, (2, 5, 4, 2)), rand(F32, (3, 2, 2, 3), 1)], rtol=1e-5, atol=1e-5)

        def _bp(kind, _a=_a):
            def fn(b, x, w):
                y = b.conv2d(x, w, **_a)
                g = b.mul(y, 0.5)
                if kind == "input":
                    return b.conv2d_backprop_input(g, w, x, **_a)
                return b.conv2d_backprop_filter(x, g, w, **_a)
            return fn
        add("conv2d_backprop_input", _cid, [("f32", (2, 5, 4, 2)), ("f32", (3, 2, 2, 3))],
            _bp("input"), lambda: [rand(F32, (2, 5, 4, 2)), rand(F32, (3, 2, 2, 3), 1)],
            rtol=1e-4, atol=1e-4)
        add("conv2d_backprop_filter", _cid, [("f32", (2, 5, 4, 2)), ("f32", (3, 2, 2, 3))],
            _bp("filter"), lambda: [rand(F32, (2, 5, 4, 2)), rand(F32, (3, 2, 2, 3), 1)],
            rtol=1e-4, atol=1e-4)
        for _bias in (False, True):     # decomposed by cuda-legalize (ops/conv_fused.py)
            add("fused_conv2d", f"{_cid}-bias{_bias:d}",
                [("f32", (2, 5, 4, 2)), ("f32", (3, 2, 2, 3))] + ([("f32", (3,))] if _bias else []),
                lambda b, *p, _a=_a: b.op("fused_conv2d", *p, activation="relu", **_a),
                lambda _bias=_bias: [rand(F32, (2, 5, 4, 2)), rand(F32, (3, 2, 2, 3), 1)] + (
                    [rand(F32, (3,), 2)] if _bias else []), rtol=1e-5, atol=1e-5)
    _p = dict(ksize=(2, 3), strides=(2, 2), padding=_pad)
    for _op in ("max_pool", "avg_pool"):
        add(_op, _pad, [("f32", (2, 5, 5, 2))], lambda b, x, _op=_op, _p=_p: b.op(_op, x, **_p),
            lambda: [rand(F32, (2, 5, 5, 2), special=False)])
    add("max_pool_grad", _pad, [("f32", (2, 5, 5, 2))],
        lambda b, x, _p=_p: b.max_pool_grad(x, b.mul(b.max_pool(x, **_p), 2.0), **_p),
        lambda: [np.round(rand(F32, (2, 5, 5, 2))).astype(np.float32)])   # ties: first max
    add("max_pool_grad_grad", _pad, [("f32", (2, 5, 5, 2))],
        lambda b, x, _p=_p: b.max_pool_grad_grad(x, b.square(x), **_p),
        lambda: [np.round(rand(F32, (2, 5, 5, 2))).astype(np.float32)])
    add("avg_pool_grad", _pad, [("f32", (2, 5, 5, 2))],
        lambda b, x, _p=_p: b.avg_pool_grad(b.avg_pool(x, **_p), x, **_p),
        lambda: [rand(F32, (2, 5, 5, 2))])
add("max_pool", "i32-nan-free", [("i32", (1, 4, 4, 1))],
    lambda b, x: b.max_pool(x, ksize=(2, 2), strides=(2, 2)), lambda: [rand(I32, (1, 4, 4, 1))])

for _ax in (-1, 0):
    add("softmax", f"axis{_ax}", [("f32", (3, 4))], lambda b, x, _ax=_ax: b.softmax(x, axis=_ax),
        lambda: [rand(F32, (3, 4), lo=-30, hi=30)], rtol=2e-6)
    add("log_softmax", f"axis{_ax}", [("f64", (3, 4))],
        lambda b, x, _ax=_ax: b.log_softmax(x, axis=_ax), lambda: [rand(F64, (3, 4))])
add("sparse_softmax_cross_entropy", "f32", [("f32", ("s0", 5)), ("i32", ("s0",))],
    lambda b, x, y: list(b.sparse_softmax_cross_entropy(x, y)),
    lambda: [rand(F32, (4, 5), lo=-10, hi=10), np.array([0, 4, 2, 2], np.int32)], rtol=2e-6)
add("softmax_cross_entropy", "broadcast", [("f32", (3, 4)), ("f32", (1, 4))],
    lambda b, x, y: list(b.softmax_cross_entropy(x, y)),
    lambda: [rand(F32, (3, 4)), np.array([[0.1, 0.2, 0.3, 0.4]], np.float32)], rtol=2e-6)

# ops/quant.py (more in tests/test_fake_quant_cuda.py): values near the range and NaN/inf
_fq = dict(num_bits=5, narrow_range=True)
add("fake_quant_with_min_max_args", "f32", [("f32", (3, 4))],
    lambda b, x: b.fake_quant_with_min_max_args(x, min=-1.5, max=2.0, **_fq),
    lambda: [rand(F32, (3, 4), lo=-3, hi=3, special=True)])
add("fake_quant_with_min_max_args_gradient", "f32", [("f32", (3, 4)), ("f32", (3, 4))],
    lambda b, g, x: b.fake_quant_with_min_max_args_gradient(g, x, min=-1.5, max=2.0),
    lambda: [rand(F32, (3, 4), seed=1), rand(F32, (3, 4), lo=-3, hi=3, special=True)])
for _pc, _s in (("", ()), ("_per_channel", (4,))):
    add(f"fake_quant_with_min_max_vars{_pc}", "f32", [("f32", (3, 4)), ("f32", _s), ("f32", _s)],
        lambda b, x, lo, hi, _pc=_pc: b.op(f"fake_quant_with_min_max_vars{_pc}", x, lo, hi, **_fq),
        lambda _s=_s: [rand(F32, (3, 4), special=True), rand(F32, _s, 1, lo=-2, hi=-0.5),
                       rand(F32, _s, 2, lo=0.5, hi=2)])
    add(f"fake_quant_with_min_max_vars{_pc}_gradient", "f32",
        [("f32", (3, 4)), ("f32", (3, 4)), ("f32", _s), ("f32", _s)],
        lambda b, g, x, lo, hi, _pc=_pc: list(b.op(f"fake_quant_with_min_max_vars{_pc}_gradient",
                                                    g, x, lo, hi)),
        lambda _s=_s: [rand(F32, (3, 4), 3), rand(F32, (3, 4)), rand(F32, _s, 1, lo=-2, hi=-0.5),
                       rand(F32, _s, 2, lo=0.5, hi=2)], rtol=2e-6)
add("fake_quant_vars_backprop", "min-per-channel",
    [("f32", (3, 4)), ("f32", (3, 4)), ("f32", (4,)), ("f32", (4,))],
    lambda b, g, x, lo, hi: b.fake_quant_vars_backprop(g, x, lo, hi, wrt="min"),
    lambda: [rand(F32, (3, 4), 3), rand(F32, (3, 4)), rand(F32, (4,), 1, lo=-2, hi=-0.5),
             rand(F32, (4,), 2, lo=0.5, hi=2)])

# ------------------------------------------------------------------ random -----------------


RANDOM = ("random_uniform", "random_normal", "random_truncated_normal")
CASES.extend((op, "bit-identical", None) for op in RANDOM)   # test_random_ops_are_bit_identical


# ================================================================== tests ====================

#: ops the cuda backend refuses with UnsupportedOp for now, as their records declare
REFERENCE_ONLY = {n for n, d in OPS.items() if "cuda" in d.unlowered_on}
#: cond and while run host-driven over cuda executables: tests/test_control_flow_cuda.py
CONTROL = {n for n, d in OPS.items() if d.kind == "control"}


def test_every_op_has_a_case():
    covered = {op for op, _, _ in CASES} | REFERENCE_ONLY | CONTROL
    missing = sorted(n for n, d in OPS.items() if not d.pseudo and n not in covered)
    assert not missing, f"ops without a CUDA test case: {missing}"


@pytest.mark.parametrize("op,cid,maker", [c for c in CASES if c[0] not in RANDOM],
                         ids=[f"{c[0]}-{c[1]}" for c in CASES if c[0] not in RANDOM])
def test_op(op, cid, maker):
    usable_or_skip()
    f, args, tol = maker()
    assert any(o.opname == op for o in f.ops), f"case {cid} does not use {op}"
    check(f, args, **tol)


@pytest.mark.parametrize("op", RANDOM)
@pytest.mark.parametrize("dt", [F32, F64])
def test_random_ops_are_bit_identical(op, dt):
    usable_or_skip()
    f = build([("i64", ()), ("f32", (3, 3))],
              lambda b, s, like: [b.op(op, s, shape=(5,), dtype=dt, seed=12345, seed2=987),
                                  b.op(op, s, like, dtype=dt, seed=7, seed2=0)])
    exe = compile_cuda(f)
    like = np.zeros((3, 3), np.float32)
    for step in (0, 1, 2 ** 33 + 5):
        ref = reference(f, [np.array(step, np.int64), like])
        got = [np.asarray(g) for g in exe.run([np.array(step, np.int64), like])]
        for r, g in zip(ref, got):
            assert r.dtype == g.dtype and r.shape == g.shape
            assert r.tobytes() == g.tobytes(), f"{op} {dt.short} step {step}: {r} != {g}"


def test_random_affine_stays_bit_identical():
    """uniform * (max - min) + min: the multiply is never contracted into an FMA."""
    usable_or_skip()
    f = build([("i64", ())], lambda b, s: b.add(b.mul(b.random_uniform(s, shape=(9,), seed=3,
                                                                       seed2=4), 0.37), -1.25))
    ref = reference(f, [np.array(3, np.int64)])[0]
    got = cuda_run(f, [np.array(3, np.int64)])[0]
    assert ref.tobytes() == got.tobytes()


# ------------------------------------------------------------------ run-time errors --------

def _error(f, args):
    with pytest.raises(InvalidArgumentError) as ref_err:
        reference(f, args)
    with pytest.raises(InvalidArgumentError) as got_err:
        cuda_run(f, args)
    return ref_err.value, got_err.value


def test_gather_out_of_range_has_the_reference_message():
    usable_or_skip()
    f = build([("f32", (3, 2)), ("i32", (2,))], lambda b, p, i: b.gather(p, i))
    ref, got = _error(f, [rand(F32, (3, 2)), np.array([1, 3], np.int32)])
    assert str(got) == str(ref)


def test_sparse_xent_bad_label_has_the_reference_message():
    usable_or_skip()
    f = build([("f32", (2, 3)), ("i32", (2,))],
              lambda b, x, y: b.sparse_softmax_cross_entropy(x, y)[0])
    ref, got = _error(f, [rand(F32, (2, 3)), np.array([1, 7], np.int32)])
    assert "label value of 7" in str(got) and str(got) == str(ref)


def test_the_status_word_is_reset_after_an_error_and_only_then():
    """A failed run leaves its error code on the device; the next run must start clean, and
    runs after a clean one reuse the word as it is (no upload per run)."""
    usable_or_skip()
    f = build([("f32", (2, 3)), ("i32", (2,))],
              lambda b, x, y: b.sparse_softmax_cross_entropy(x, y)[0])
    exe = compile_cuda(f)
    x = rand(F32, (2, 3))
    good, bad = np.array([1, 2], np.int32), np.array([1, 7], np.int32)
    for labels in (good, bad, good, good, bad, bad, good):
        if labels is bad:
            with pytest.raises(InvalidArgumentError, match="label value of 7"):
                exe.run([x, labels])
            assert not exe._err_clean
        else:
            assert_same(reference(f, [x, labels])[0], np.asarray(exe.run([x, labels])[0]))
            assert exe._err_clean


def test_integer_division_by_zero():
    usable_or_skip()
    f = build([("i32", (3,)), ("i32", (3,))], lambda b, x, y: b.floordiv(x, y))
    _, got = _error(f, [np.array([1, 2, 3], np.int32), np.array([1, 0, 1], np.int32)])
    assert "Integer division by zero" in str(got)


def test_check_numerics_names_the_op():
    usable_or_skip()
    f = build([("f32", (3,))], lambda b, x: b.check_numerics(b.log(x), message="log went bad"))
    with pytest.raises(InvalidArgumentError, match="log went bad"):
        cuda_run(f, [np.array([1, -1, 2], np.float32)])


def test_bad_feed_shape_is_an_error():
    usable_or_skip()
    f = build([("f32", (None, 3)), ("f32", (3, 2))], lambda b, x, w: b.matmul(x, w))
    exe = compile_cuda(f)
    with pytest.raises(InvalidArgumentError):
        exe.run([rand(F32, (2, 4)), rand(F32, (3, 2))])


def test_new_batch_size_reuses_the_kernels():
    usable_or_skip()
    f = build([("f32", ("s0", 3)), ("f32", (3,))],
              lambda b, x, y: b.reduce_sum(b.tanh(b.add(x, y)), axes=(1,)))
    exe = compile_cuda(f)
    kernels = [s.kernels for s in exe.steps]
    for n in (1, 4, 7):
        x, y = rand(F32, (n, 3), seed=n), rand(F32, (3,))
        assert_same(reference(f, [x, y])[0], np.asarray(exe.run([x, y])[0]), rtol=2e-6)
    assert [s.kernels for s in exe.steps] == kernels
    assert len(exe._plans) == 3
