"""Leftovers of issue 14: ``tf.as_string`` (TF's printf formats), TF1's ``tf.string_split`` and
``tf.strings.split`` (SparseTensor results) and ``tf.where_v2`` (broadcasting select)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError


def _run(fetches, feed=None, backend="llvm"):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


def test_as_string_formats_as_tf():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [4])
    i = tf.placeholder(tf.int32, [3])
    outs = {"plain": tf.as_string(x), "prec": tf.as_string(x, precision=2),
            "sci": tf.as_string(x, scientific=True, precision=3),
            "short": tf.as_string(x, shortest=True),
            "zero": tf.as_string(i, width=5, fill="0"), "width": tf.as_string(i, width=4),
            "left": tf.as_string(x * 2, width=10, precision=1, fill="-"),
            "plus": tf.as_string(i, fill="+"),
            "bool": tf.as_string(tf.constant([True, False])),
            "half": tf.as_string(tf.cast(x, tf.float16), shortest=True),
            "u8": tf.as_string(tf.cast(i, tf.uint8))}
    got = _run(outs, {x: [1.5, -0.1, 123456.789, 1e-7], i: [3, -42, 123456]})
    got = {k: [b.decode() for b in v.tolist()] for k, v in got.items()}
    assert got["plain"] == ["1.500000", "-0.100000", "123456.789062", "0.000000"]
    assert got["prec"] == ["1.50", "-0.10", "123456.79", "0.00"]
    assert got["sci"] == ["1.500e+00", "-1.000e-01", "1.235e+05", "1.000e-07"]
    assert got["short"] == ["1.5", "-0.1", "123457", "1e-07"]
    assert got["zero"] == ["00003", "-0042", "123456"]
    assert got["width"] == ["   3", " -42", "123456"]
    assert got["left"] == ["3.0       ", "-0.2      ", "246913.6  ", "0.0       "]
    assert got["plus"] == ["+3", "-42", "+123456"]
    assert got["bool"] == ["true", "false"]
    assert got["half"] == ["1.5", "-0.0999756", "inf", "1.19209e-07"]   # the half's value
    assert got["u8"] == ["3", "214", "64"]                              # wrapped to uint8


@pytest.mark.parametrize("kwargs, message", [
    (dict(scientific=True, shortest=True), "both scientific and shortest"),
    (dict(fill="ab"), "one or fewer characters"),
    (dict(fill="x"), "Fill argument not supported"),
])
def test_as_string_refuses_what_tf_refuses(kwargs, message):
    tf.reset_default_graph()
    with pytest.raises(InvalidArgumentError, match=message):
        tf.as_string(tf.constant([1.0]), **kwargs)
    with pytest.raises(InvalidArgumentError, match="precision not supported"):
        tf.as_string(tf.constant([1]), precision=2)


@settings(max_examples=20, deadline=None)
@given(x=hnp.arrays(np.float32, st.integers(1, 6), elements=st.floats(-1e6, 1e6, width=32)),
       precision=st.integers(-1, 8), width=st.integers(-1, 14), fill=st.sampled_from(["", "0", "-", " "]))
def test_as_string_is_printf_of_the_value(x, precision, width, fill):
    tf.reset_default_graph()
    p = tf.placeholder(tf.float32, [x.size])
    got = _run(tf.as_string(p * 1.0, precision=precision, width=width, fill=fill), {p: x},
               backend="reference")
    fmt = "%" + fill + (str(width) if width >= 0 else "") + \
        (f".{precision}" if precision >= 0 else "") + "f"
    assert [b.decode() for b in got.tolist()] == [fmt % float(v) for v in x]


def test_string_split_is_tf1s_sparse_tensor():
    tf.reset_default_graph()
    src = tf.placeholder(tf.string, [3])
    sp = tf.string_split(src, delimiter=" ,")
    assert isinstance(sp, tf.SparseTensor)
    v = _run(sp, {src: ["hello world", "a  b,c", ""]})
    assert isinstance(v, tf.SparseTensorValue)
    assert v.indices.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]]
    assert v.values.tolist() == [b"hello", b"world", b"a", b"b", b"c"]
    assert v.dense_shape.tolist() == [3, 3] and v.indices.dtype == np.int64
    keep = _run(tf.string_split(["a,,b"], delimiter=",", skip_empty=False))
    assert keep.values.tolist() == [b"a", b"", b"b"] and keep.dense_shape.tolist() == [1, 3]
    chars = _run(tf.string_split(["ab c"], delimiter=""))
    assert chars.values.tolist() == [b"a", b"b", b" ", b"c"]


def test_strings_split_is_python_split_per_string():
    tf.reset_default_graph()
    v = _run(tf.strings.split(tf.constant(["1<>2<><>3", "  a b "]), sep="<>"))
    assert v.values.tolist() == [b"1", b"2", b"", b"3", b"  a b "]
    assert v.indices.tolist() == [[0, 0], [0, 1], [0, 2], [0, 3], [1, 0]]
    w = _run(tf.strings.split(["  a b ", "c d e"], maxsplit=1))
    assert w.values.tolist() == [b"a", b"b ", b"c", b"d e"] and w.dense_shape.tolist() == [2, 2]
    with pytest.raises(NotImplementedError, match="RaggedTensor"):
        tf.strings.split(["a"], result_type="RaggedTensor")
    with pytest.raises(ValueError, match="vector"):
        tf.strings.split(tf.constant([["a"]]))
    joined = tf.strings.join([tf.as_string(tf.constant([1, 2])), tf.constant(["x", "y"])], "=")
    assert _run(joined).tolist() == [b"1=x", b"2=y"]


@pytest.mark.parametrize("backend", ["reference", "llvm", "cuda"])
def test_where_v2_broadcasts_condition_and_branches(backend):
    if backend == "cuda":
        import _cuda_util  # noqa: F401  (selects the simulator)
    tf.reset_default_graph()
    c = tf.placeholder(tf.bool, [3])
    x = tf.placeholder(tf.float32, [2, 1])
    out = tf.where_v2(c, x, 0.0)
    rows = tf.where_v2(tf.constant([[True], [False]]), tf.constant([1, 2, 3]), -1)
    cv, xv = np.array([True, False, True]), np.array([[1.0], [2.0]], np.float32)
    got = _run([out, rows, tf.where_v2(c)], {c: cv, x: xv}, backend)
    np.testing.assert_array_equal(got[0], np.where(cv, xv, np.float32(0)))
    assert got[0].shape == (2, 3) and out.shape.as_list() == [2, 3]
    np.testing.assert_array_equal(got[1], [[1, 2, 3], [-1, -1, -1]])
    assert got[2].tolist() == [[0], [2]]


def test_where_v2_gradient_flows_to_both_branches():
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [3])
    y = tf.placeholder(tf.float32, [1])
    out = tf.reduce_sum(tf.where_v2(tf.constant([True, False, False]), x * x, y))
    gx, gy = tf.gradients(out, [x, y])
    got = _run([gx, gy], {x: [1.0, 2.0, 3.0], y: [5.0]})
    assert got[0].tolist() == [2.0, 0.0, 0.0] and got[1].tolist() == [2.0]
