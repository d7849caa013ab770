"""``tf.bitwise`` (ops/bitwise.py) on every integer type: and, or, xor, invert and the shifts
against Python's unbounded integers wrapped to the type (an oracle apart from NumPy's), TF's
clamp of the shift amount to [0, bits - 1], logical right shifts of the unsigned types; llvm
and the cuda simulator against the reference."""
from __future__ import annotations

import _cuda_util  # noqa: F401  (selects Numba's CUDA simulator before numba.cuda loads)

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow.compat.v1 as tf
from jitflow.ir import dtypes as D

INTS = [D.int8, D.uint8, D.int16, D.uint16, D.int32, D.uint32, D.int64, D.uint64]
SETTINGS = settings(max_examples=int(os.environ.get("JF_BITWISE_EXAMPLES", 8)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
OPS = ("bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift")


def _wrap(v: int, dt) -> int:
    v &= (1 << dt.bits) - 1
    return v - (1 << dt.bits) if not dt.is_unsigned and v >> (dt.bits - 1) else v


def _oracle(name: str, x: int, y: int, dt) -> int:
    s = min(max(y, 0), dt.bits - 1)
    return _wrap({"bitwise_and": x & y, "bitwise_or": x | y, "bitwise_xor": x ^ y,
                  "invert": ~x, "left_shift": x << s, "right_shift": x >> s}[name], dt)


def _graph(shape, dt):
    x = tf.placeholder(dt, shape)
    y = tf.placeholder(dt, shape)
    b = tf.bitwise
    outs = {n: (b.invert(x) if n == "invert" else getattr(b, n)(x, y)) for n in OPS}
    return x, y, outs


def _run(backend, fetches, feed):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


@st.composite
def operands(draw, dt):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=6))
    info = np.iinfo(dt.np)
    x = draw(hnp.arrays(dt.np, shape, elements=st.integers(int(info.min), int(info.max))))
    amounts = st.one_of(st.integers(0, dt.bits - 1), st.integers(int(info.min), int(info.max)))
    y = draw(hnp.arrays(dt.np, shape, elements=amounts))
    return x, y


def _check(dt, backend, data, oracle_too):
    xv, yv = data.draw(operands(dt))
    tf.reset_default_graph()
    x, y, outs = _graph(xv.shape, dt)
    ref = _run("reference", outs, {x: xv, y: yv})
    for n in OPS:
        assert ref[n].dtype == dt.np, (n, ref[n].dtype)
        if oracle_too:
            want = [_oracle(n, int(a), int(b), dt) for a, b in zip(xv.ravel(), yv.ravel())]
            assert ref[n].ravel().tolist() == want, (n, xv, yv)
    got = _run(backend, outs, {x: xv, y: yv})
    for n in OPS:
        assert got[n].dtype == dt.np and got[n].tolist() == ref[n].tolist(), (backend, n, xv, yv)


@pytest.mark.parametrize("dt", INTS, ids=lambda d: d.name)
@SETTINGS
@given(data=st.data())
def test_reference_matches_python_integers_and_llvm_matches_it(dt, data):
    _check(dt, "llvm", data, oracle_too=True)


@pytest.mark.parametrize("dt", [D.int8, D.uint16, D.int32, D.uint64], ids=lambda d: d.name)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cuda_simulator_matches_the_reference(dt, data):
    _check(dt, "cuda", data, oracle_too=False)


@pytest.mark.parametrize("dt", INTS, ids=lambda d: d.name)
def test_shift_amounts_are_clamped_and_unsigned_right_shifts_are_logical(dt):
    """An amount at or past the width (or negative) is clamped, as TF's kernels do; the top
    bit of an unsigned value shifts right as a value, of a signed one as a sign."""
    tf.reset_default_graph()
    x = tf.placeholder(dt, [4])
    y = tf.placeholder(dt, [4])
    top = 1 << (dt.bits - 1)
    xv = np.array([1, 3, _wrap(top, dt), _wrap(top | 1, dt)], dt.np)
    yv = np.array([dt.bits, dt.bits + 3 if dt.bits < 64 else 100, 1, dt.bits - 1], dt.np)
    outs = [tf.bitwise.left_shift(x, y), tf.bitwise.right_shift(x, y)]
    want_l = [_oracle("left_shift", int(a), int(b), dt) for a, b in zip(xv, yv)]
    want_r = [_oracle("right_shift", int(a), int(b), dt) for a, b in zip(xv, yv)]
    assert want_l[0] == _wrap(top, dt)                 # 1 << (bits - 1): the clamped amount
    assert (want_r[2] == top >> 1) == dt.is_unsigned   # logical vs arithmetic
    for backend in ("reference", "llvm"):
        got = _run(backend, outs, {x: xv, y: yv})
        assert got[0].tolist() == want_l and got[1].tolist() == want_r, backend


def test_bitwise_ops_refuse_floats_and_bools_and_mixed_types():
    tf.reset_default_graph()
    with pytest.raises(TypeError, match="must be integer, got float32"):
        tf.bitwise.bitwise_and(tf.ones([2]), tf.ones([2]))
    with pytest.raises(TypeError, match="must be integer, got bool"):
        tf.bitwise.invert(tf.constant([True]))
    with pytest.raises(TypeError, match="uint32.*int32|int32.*uint32"):
        tf.bitwise.left_shift(tf.constant([1], tf.uint32), tf.constant([1], tf.int32))


def test_bitwise_graph_def_round_trips_through_the_tf_op_types(tmp_path):
    from jitflow.frontend import graph_def as GD
    tf.reset_default_graph()
    x = tf.placeholder(tf.uint32, [3], name="x")
    y = tf.placeholder(tf.uint32, [3], name="y")
    b = tf.bitwise
    out = tf.identity(b.invert(b.bitwise_xor(b.bitwise_or(b.left_shift(x, y), b.bitwise_and(
        x, y)), b.right_shift(x, y))), name="out")
    xv = np.array([1, 2 ** 31 + 7, 2 ** 32 - 1], np.uint32)
    yv = np.array([4, 1, 40], np.uint32)
    with tf.Session(backend="reference") as s:
        want = s.run(out, {x: xv, y: yv})
        gd = s.graph_def
    assert {"Invert", "BitwiseXor", "BitwiseOr", "BitwiseAnd", "LeftShift", "RightShift"} <= \
        {n.op for n in gd.node}
    f = tf.train.write_graph(gd, str(tmp_path), "bits.pb", as_text=False)
    s_ = [_oracle("left_shift", int(a), int(c), D.uint32) for a, c in zip(xv, yv)]
    manual = [_wrap(~((s_i | (a & c)) ^ (a >> min(c, 31))), D.uint32)
              for s_i, a, c in zip(s_, map(int, xv), map(int, yv))]
    assert want.tolist() == manual
    with tf.Graph().as_default():
        o, = tf.import_graph_def(GD.parse_graph_def(open(f, "rb").read(), f),
                                 return_elements=["out:0"], name="")
        for backend in ("reference", "llvm"):
            with tf.Session(backend=backend) as s:
                assert s.run(o, {"x:0": xv, "y:0": yv}).tolist() == manual
