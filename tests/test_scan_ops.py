"""cumsum / cumprod (ops/scan.py): the reference against a plain loop, llvm against the
reference (hypothesis over shapes, axes, exclusive/reverse, dtypes), gradients against finite
differences, the TF1 names and the GraphDef round trip. The cuda kernels run against the same
reference in tests/test_cuda_ops.py (simulator)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _llvm_util import build, llvm
from jitflow.ir import OPS
from jitflow.passes import PassManager, pipeline_for
from test_ops_gradients import check_gradient

NP = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64}


def loop_scan(x, axis, exclusive, reverse, prod):
    """The definition, one element at a time."""
    x = np.moveaxis(x, axis, -1)
    out = np.empty_like(x)
    n = x.shape[-1]
    for idx in np.ndindex(*x.shape[:-1]):
        acc = x.dtype.type(1 if prod else 0)
        order = range(n - 1, -1, -1) if reverse else range(n)
        for j in order:
            v = x[idx + (j,)]
            if exclusive:
                out[idx + (j,)] = acc
            with np.errstate(over="ignore"):
                acc = acc * v if prod else acc + v
            if not exclusive:
                out[idx + (j,)] = acc
    return np.moveaxis(out, -1, axis)


cases = st.tuples(st.sampled_from(["cumsum", "cumprod"]), st.sampled_from(list(NP)),
                  st.lists(st.integers(0, 5), min_size=1, max_size=3), st.integers(-3, 2),
                  st.booleans(), st.booleans(), st.integers(0, 2 ** 31))


def _array(dt, shape, seed, prod):
    rng = np.random.default_rng(seed)
    if dt.startswith("f"):
        lo = 0.5 if prod else -3
        return rng.uniform(lo, 1.5 if prod else 3, shape).astype(NP[dt])
    return rng.integers(-3, 4, shape).astype(NP[dt])


@settings(max_examples=60, deadline=None, database=None)
@given(cases)
def test_reference_matches_the_definition(case):
    op, dt, shape, axis, ex, rev, seed = case
    axis = axis % len(shape)
    x = _array(dt, shape, seed, op == "cumprod")
    got = OPS[op].reference(x, axis=axis, exclusive=ex, reverse=rev)
    want = loop_scan(x, axis, ex, rev, op == "cumprod")
    assert got.dtype == x.dtype and got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=1e-5 if dt == "f32" else 1e-12)


_EXES: dict = {}


def _native(op, dt, rank, axis, ex, rev):
    key = (op, dt, rank, axis, ex, rev)
    if key not in _EXES:
        f = build([(dt, tuple(f"d{i}" for i in range(rank)))],
                  lambda b, x: b.op(op, x, axis=axis, exclusive=ex, reverse=rev))
        _EXES[key] = llvm(PassManager(pipeline_for("llvm")).run(f))
    return _EXES[key]


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(cases)
def test_llvm_matches_the_reference(case):
    op, dt, shape, axis, ex, rev, seed = case
    axis = axis % len(shape)
    x = _array(dt, shape, seed, op == "cumprod")
    want = OPS[op].reference(x, axis=axis, exclusive=ex, reverse=rev)
    got = _native(op, dt, len(shape), axis, ex, rev).run([x])[0]
    if dt.startswith("f"):
        np.testing.assert_allclose(got, want, rtol=2e-6 if dt == "f32" else 1e-14)
    else:
        np.testing.assert_array_equal(got, want)     # wrapping like NumPy's


def test_integer_overflow_wraps_and_nan_propagates():
    x = np.array([2 ** 30, 2 ** 30, 2 ** 30], np.int32)
    got = _native("cumsum", "i32", 1, 0, False, False).run([x])[0]
    np.testing.assert_array_equal(got, np.cumsum(x, dtype=np.int32))
    y = np.array([1.0, np.nan, 2.0, np.inf], np.float32)
    got = _native("cumsum", "f32", 1, 0, True, False).run([y])[0]
    np.testing.assert_array_equal(got, [0.0, 1.0, np.nan, np.nan])


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("ex,rev", [(False, False), (True, False), (False, True), (True, True)])
def test_gradient_matches_finite_differences(op, ex, rev):
    rng = np.random.default_rng(3)
    for axis, shape in ((0, (4,)), (1, (2, 3, 2)), (-1, (3, 4))):
        x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
        check_gradient(op, [x], {"axis": axis, "exclusive": ex, "reverse": rev},
                       mode="symbolic")


def test_tf_names_attributes_and_graph_def_round_trip():
    from jitflow.interop import tf_protos as P
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, (None, 4), name="x")
        a = tf.cumsum(x, axis=1, exclusive=True, reverse=True)
        b = tf.math.cumprod(x, axis=tf.constant(0))
        c = tf.math.cumsum(tf.cast(x, tf.int32), 1)
        assert a.op.type == "Cumsum" and b.op.type == "Cumprod"
        assert c.dtype == tf.int32 and a.shape.as_list() == [None, 4]
        out = tf.concat([a, b, tf.cast(c, tf.float32)], axis=1, name="out")
        xv = np.arange(1, 9, dtype=np.float32).reshape(2, 4)
        with tf.Session() as s:
            want = s.run(out, {x: xv})
            gd = s.graph_def
    np.testing.assert_array_equal(want[:, :4], [[9, 7, 4, 0], [21, 15, 8, 0]])
    np.testing.assert_array_equal(want[:, 4:8], [[1, 2, 3, 4], [5, 12, 21, 32]])
    with tf.Graph().as_default():
        o, = tf.import_graph_def(P.graph_pb2.GraphDef.FromString(gd.SerializeToString()),
                                 return_elements=["out:0"], name="")
        with tf.Session() as s:
            np.testing.assert_array_equal(s.run(o, {"x:0": xv}), want)
    with pytest.raises(Exception, match="out of range"):
        tf.cumsum(tf.zeros([2, 3]), axis=2)
