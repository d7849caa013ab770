"""String tensors outside tf.data: `tf.constant("Hello, TensorFlow!")` is a host string
tensor, and Session.run fetches host strings (as bytes, like TF) beside numbers, every value
from one host evaluation."""
from __future__ import annotations

import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def _graph():
    with tf.Graph().as_default():
        yield


def test_hello_world():
    hello = tf.constant("Hello, TensorFlow!")
    with tf.Session() as sess:
        assert sess.run(hello) == b"Hello, TensorFlow!"
        assert sess.run(tf.constant(10) + tf.constant(32)) == 42


def test_string_arrays_shapes_and_mixed_fetches():
    words = tf.constant([["a", "bc"], ["d", "é"]])
    filled = tf.constant("x", dtype=tf.string, shape=[3])
    assert words.shape.as_list() == [2, 2] and words.dtype == tf.string
    n = tf.reduce_sum(tf.ones([4]))
    with tf.Session() as s:
        got = s.run({"w": words, "n": n, "f": [filled, filled]})
    assert got["w"].tolist() == [[b"a", b"bc"], [b"d", "é".encode()]]
    assert got["n"] == 4.0 and got["f"][0].tolist() == [b"x"] * 3
    with pytest.raises(ValueError, match="cannot fill shape"):
        tf.constant(["a", "b"], shape=[3])


def test_a_fed_string_placeholder_is_fetched_back():
    p = tf.placeholder(tf.string, [None])
    with tf.Session() as s:
        assert s.run(p, {p: ["u", "v"]}).tolist() == [b"u", b"v"]
        with pytest.raises(tf.errors.InvalidArgumentError, match="must feed a value"):
            s.run(p)


def test_a_record_and_the_numbers_parsed_from_it_come_from_one_element():
    ds = tf.data.Dataset.from_tensor_slices(["1.5", "2.5", "4"])
    line = ds.make_one_shot_iterator().get_next()
    num = tf.string_to_number(line) * 2.0
    with tf.Session() as s:
        got = [s.run([line, num]) for _ in range(3)]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run([line, num])
    assert [(a, float(b)) for a, b in got] == [(b"1.5", 3.0), (b"2.5", 5.0), (b"4", 8.0)]


def test_tf_strings_ops_broadcast_and_feed_numbers_to_compiled_ops():
    a = tf.constant(["Hello", "Tensor"])
    joined = tf.strings.join([a, "World"], separator=", ")
    n = tf.strings.length(joined)
    assert joined.shape.as_list() == [2] and n.dtype == tf.int32
    chars = tf.strings.length(tf.constant("é"), unit="UTF8_CHAR")
    with tf.Session() as s:
        got = s.run([joined, n * 2, chars, tf.strings.upper(a), tf.strings.lower(a),
                     tf.strings.regex_replace(a, "l+", "L"),
                     tf.strings.regex_replace(a, "[a-z]", "_", replace_global=False),
                     tf.strings.substr(a, 1, 3), tf.strings.strip(tf.constant("  x ")),
                     tf.strings.reduce_join(tf.constant([["a", "b"], ["c", "d"]]), axis=1,
                                            separator="-"),
                     tf.string_join(["x", "y"])])
    assert got[0].tolist() == [b"Hello, World", b"Tensor, World"]
    assert got[1].tolist() == [24, 26] and got[2] == 1
    assert got[3].tolist() == [b"HELLO", b"TENSOR"] and got[4].tolist() == [b"hello", b"tensor"]
    assert got[5].tolist() == [b"HeLo", b"Tensor"] and got[6].tolist() == [b"H_llo", b"T_nsor"]
    assert got[7].tolist() == [b"ell", b"ens"] and got[8] == b"x"
    assert got[9].tolist() == [b"a-b", b"c-d"] and got[10] == b"xy"
    with pytest.raises(ValueError, match="unit must be"):
        tf.strings.length(a, unit="CHAR")


def test_string_ops_inside_a_dataset_map():
    ds = tf.data.Dataset.from_tensor_slices(["a b", "ccc d"]).map(
        lambda s: (tf.strings.upper(s), tf.strings.length(s)))
    u, n = ds.make_one_shot_iterator().get_next()
    with tf.Session() as s:
        assert [tuple(s.run([u, n + 1])) for _ in range(2)] == [(b"A B", 4), (b"CCC D", 6)]
