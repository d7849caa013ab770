"""tf.data on jitflow: sources, transformations against a plain-Python model, iterators,
OutOfRangeError, traced map/filter, prefetch, and the bad-input errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def drain(ds, sess=None):
    """All elements of ``ds`` through a one-shot iterator, then OutOfRange twice."""
    nxt = ds.make_one_shot_iterator().get_next()
    out = []
    with tf.Session() as s:
        while True:
            try:
                out.append(s.run(nxt))
            except tf.errors.OutOfRangeError:
                break
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt)          # stays at the end
    return out


def py_batches(xs, n, drop):
    out = [xs[i:i + n] for i in range(0, len(xs), n)]
    return [b for b in out if len(b) == n] if drop else out


# ------------------------------------------------------------------ properties -------------

@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 23), batch=st.integers(1, 7), drop=st.booleans(),
       repeat=st.integers(1, 3), take=st.integers(-1, 30), skip=st.integers(0, 10))
def test_range_repeat_skip_take_batch_match_python_model(n, batch, drop, repeat, take, skip):
    tf.reset_default_graph()
    ds = tf.data.Dataset.range(n).repeat(repeat).skip(skip).take(take).batch(batch, drop)
    got = [b.tolist() for b in drain(ds)]
    xs = list(range(n)) * repeat
    xs = xs[skip:]
    xs = xs if take < 0 else xs[:take]
    assert got == py_batches(xs, batch, drop)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 40), buf=st.integers(1, 50), seed=st.integers(0, 2 ** 31 - 1))
def test_shuffle_is_a_seeded_permutation_reshuffled_each_epoch(n, buf, seed):
    tf.reset_default_graph()
    ds = tf.data.Dataset.range(n).shuffle(buf, seed=seed).repeat(2)
    got = [int(v) for v in drain(ds)]
    first, second = got[:n], got[n:]
    assert sorted(first) == list(range(n)) and sorted(second) == list(range(n))
    tf.reset_default_graph()
    again = [int(v) for v in drain(tf.data.Dataset.range(n).shuffle(buf, seed=seed).repeat(2))]
    assert again == got                       # same seed, same order
    if buf == 1:
        assert first == list(range(n))        # a one-element buffer cannot reorder


def test_shuffle_buffer_bounds_displacement_and_reshuffle_flag():
    # with a buffer of b, element i can only come out at position >= i - b + 1 (TF's rule)
    got = [int(v) for v in drain(tf.data.Dataset.range(100).shuffle(5, seed=3))]
    assert all(pos >= v - 4 for pos, v in enumerate(got))
    assert got != list(range(100))
    tf.reset_default_graph()
    fixed = [int(v) for v in drain(tf.data.Dataset.range(30).shuffle(
        30, seed=4, reshuffle_each_iteration=False).repeat(2))]
    assert fixed[:30] == fixed[30:]
    tf.reset_default_graph()
    moving = [int(v) for v in drain(tf.data.Dataset.range(30).shuffle(30, seed=4).repeat(2))]
    assert moving[:30] != moving[30:]


def test_graph_seed_makes_unseeded_shuffle_deterministic():
    def run():
        tf.reset_default_graph()
        tf.set_random_seed(11)
        return [int(v) for v in drain(tf.data.Dataset.range(50).shuffle(50))]
    assert run() == run()


# ------------------------------------------------------------------ sources/structure -------

def test_from_tensor_slices_structures_and_dtypes():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.arange(6, dtype=np.uint8)
    ds = tf.data.Dataset.from_tensor_slices({"x": x, "y": y})
    assert ds.output_types == {"x": tf.float32, "y": tf.uint8}
    assert ds.output_shapes["x"].as_list() == [2]
    out = drain(ds.batch(4))
    assert [o["x"].shape for o in out] == [(4, 2), (2, 2)]
    np.testing.assert_array_equal(out[0]["y"], [0, 1, 2, 3])
    tf.reset_default_graph()
    nxt = tf.data.Dataset.from_tensors(([1, 2, 3], 7.0)).make_one_shot_iterator().get_next()
    with tf.Session() as s:
        a, b = s.run(nxt)
    assert a.tolist() == [1, 2, 3] and b == np.float32(7.0)
    with pytest.raises(ValueError, match="same size in dimension 0"):
        tf.data.Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))


def test_zip_concatenate_padded_batch_cache_filter():
    a = tf.data.Dataset.range(5)
    b = tf.data.Dataset.range(10, 20)
    got = drain(tf.data.Dataset.zip((a, b)))
    assert [(int(x), int(y)) for x, y in got] == [(i, 10 + i) for i in range(5)]
    tf.reset_default_graph()
    got = drain(tf.data.Dataset.range(3).concatenate(tf.data.Dataset.range(7, 9)))
    assert [int(v) for v in got] == [0, 1, 2, 7, 8]
    tf.reset_default_graph()
    seqs = [[1], [2, 3, 4], [5, 6]]
    ds = tf.data.Dataset.from_generator(lambda: iter(seqs), tf.int64, tf.TensorShape([None]))
    out = drain(ds.padded_batch(2, padded_shapes=[None]))
    assert out[0].tolist() == [[1, 0, 0], [2, 3, 4]] and out[1].tolist() == [[5, 6]]
    tf.reset_default_graph()
    out = drain(tf.data.Dataset.range(10).filter(lambda v: tf.equal(v % 3, 0)))
    assert [int(v) for v in out] == [0, 3, 6, 9]
    tf.reset_default_graph()
    calls = []

    def gen():
        calls.append(1)
        yield from range(3)
    cached = tf.data.Dataset.from_generator(gen, tf.int64, tf.TensorShape([])).cache().repeat(3)
    assert [int(v) for v in drain(cached)] == [0, 1, 2] * 3
    assert len(calls) == 1


def test_map_is_traced_once_and_compiled():
    traces = []

    def fn(x, y):
        traces.append(1)                          # Python side effect: trace time only
        return tf.nn.relu(x * 2.0 - 3.0), tf.cast(y, tf.float32) + 0.5
    x = np.arange(8, dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(8))).map(fn).batch(4)
    assert ds.output_types == (tf.float32, tf.float32)
    out = drain(ds)
    assert len(traces) == 1
    np.testing.assert_allclose(np.concatenate([o[0] for o in out]), np.maximum(x * 2 - 3, 0))
    np.testing.assert_allclose(np.concatenate([o[1] for o in out]), np.arange(8) + 0.5)


def test_map_with_random_ops_draws_per_element_and_dict_output():
    ds = tf.data.Dataset.range(20).map(
        lambda v: {"v": v, "noise": tf.random_uniform([2])})
    out = drain(ds)
    noise = np.stack([o["noise"] for o in out])
    assert len({tuple(r) for r in noise.round(6)}) == 20
    assert [int(o["v"]) for o in out] == list(range(20))


# ------------------------------------------------------------------ iterators ---------------

def test_initializable_iterator_with_placeholders_reinitializes():
    ph = tf.placeholder(tf.float32, [None])
    it = tf.data.Dataset.from_tensor_slices(ph).map(lambda v: v + 1.0).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="not been initialized"):
            s.run(nxt)
        s.run(it.initializer, feed_dict={ph: [1.0, 2.0]})
        assert [float(s.run(nxt)), float(s.run(nxt))] == [2.0, 3.0]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt)
        s.run(it.initializer, feed_dict={ph: [10.0]})
        assert float(s.run(nxt)) == 11.0


def test_reinitializable_iterator_from_structure_and_compat_function():
    train = tf.data.Dataset.range(4).map(lambda v: v * 2)
    valid = tf.data.Dataset.range(3).map(lambda v: v * 100)
    it = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    nxt = it.get_next()
    to_train, to_valid = it.make_initializer(train), it.make_initializer(valid)
    with pytest.raises(TypeError, match="output types"):
        it.make_initializer(tf.data.Dataset.from_tensors(1.0))
    with tf.Session() as s:
        for init, want in ((to_train, [0, 2, 4, 6]), (to_valid, [0, 100, 200]),
                           (to_train, [0, 2, 4, 6])):
            s.run(init)
            got = []
            while True:
                try:
                    got.append(int(s.run(nxt)))
                except tf.errors.OutOfRangeError:
                    break
            assert got == want
    tf.reset_default_graph()
    nxt = tf.compat.v1.data.make_one_shot_iterator(tf.data.Dataset.range(2)).get_next()
    with tf.Session() as s:
        assert [int(s.run(nxt)), int(s.run(nxt))] == [0, 1]


def test_one_element_per_run_and_separate_sessions():
    x = tf.data.Dataset.range(6).make_one_shot_iterator().get_next()
    y = x * 10
    with tf.Session() as s:
        a, b = s.run([x, y])          # both from the same element
        assert b == a * 10
        assert int(s.run(x)) == a + 1
    with tf.Session() as s2:          # iterator state lives per session, as in TF
        assert int(s2.run(x)) == 0


def test_prefetch_thread_produces_the_same_stream_and_forwards_errors():
    xs = np.random.RandomState(0).rand(50, 3).astype(np.float32)
    plain = drain(tf.data.Dataset.from_tensor_slices(xs).batch(8))
    tf.reset_default_graph()
    pre = drain(tf.data.Dataset.from_tensor_slices(xs).batch(8).prefetch(3))
    assert all(np.array_equal(a, b) for a, b in zip(plain, pre)) and len(plain) == len(pre)
    tf.reset_default_graph()

    def bad():
        yield 1.0
        raise KeyError("sensor 7 offline")
    nxt = tf.data.Dataset.from_generator(bad, tf.float32).prefetch(2).make_one_shot_iterator().get_next()
    with tf.Session() as s:
        assert s.run(nxt) == 1.0
        with pytest.raises(tf.errors.InvalidArgumentError, match="sensor 7 offline.*element 1"):
            s.run(nxt)


# ------------------------------------------------------------------ bad input ---------------

def test_batch_of_unequal_shapes_names_the_element():
    ds = tf.data.Dataset.from_generator(lambda: iter([[1, 2], [3, 4], [5, 6, 7]]), tf.int32,
                                        tf.TensorShape([None])).batch(3)
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"component 0.*shape \[2\].*element 2 had shape \[3\]"):
            s.run(nxt)


def test_generator_type_and_shape_errors_name_the_element():
    ds = tf.data.Dataset.from_generator(lambda: iter([1.0, "x"]), tf.float32)
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as s:
        s.run(nxt)
        with pytest.raises(tf.errors.InvalidArgumentError, match="element 1"):
            s.run(nxt)
    tf.reset_default_graph()
    ds = tf.data.Dataset.from_generator(lambda: iter([[1.0, 2.0]]), tf.float32, tf.TensorShape([3]))
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"element 0.*\[2\].*\(3,\)|element 0"):
            s.run(nxt)


def test_failing_input_leaves_variables_untouched():
    def gen():
        yield np.ones(2, np.float32)
        raise ValueError("corrupt sample")
    x = tf.data.Dataset.from_generator(gen, tf.float32, tf.TensorShape([2])) \
        .make_one_shot_iterator().get_next()
    w = tf.Variable([1.0, 1.0])
    step = tf.assign_add(w, x)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        s.run(step)
        before = s.run(w).copy()
        with pytest.raises(tf.errors.InvalidArgumentError, match="corrupt sample"):
            s.run(step)
        np.testing.assert_array_equal(s.run(w), before)     # the failed step applied nothing


def test_string_components_are_fetched_as_bytes_one_element_per_run():
    nxt = tf.data.Dataset.from_tensor_slices(np.array([b"a", b"b"], dtype=object)) \
        .make_one_shot_iterator().get_next()
    with tf.Session() as s:
        assert [s.run(nxt), s.run(nxt)] == [b"a", b"b"]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt)
    with pytest.raises(TypeError, match="tf.string tensor"):
        tf.reduce_sum(nxt)            # compiled ops never take strings


def test_one_shot_iterator_over_placeholders_and_captured_tensors_explain_themselves():
    ph = tf.placeholder(tf.float32, [None])
    nxt = tf.data.Dataset.from_tensor_slices(ph).make_one_shot_iterator().get_next()
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError,
                           match="use make_initializable_iterator"):
            s.run(nxt)
    outer = tf.constant(2.0)
    with pytest.raises(ValueError, match="Dataset.map uses a tensor created outside it"):
        tf.data.Dataset.range(3).map(lambda v: tf.cast(v, tf.float32) * outer)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 30), buf=st.integers(1, 40), batch=st.integers(1, 9),
       repeat=st.integers(1, 3), take=st.integers(-1, 40), drop=st.booleans(),
       seed=st.integers(0, 1000))
def test_row_gather_batching_equals_element_batching(n, buf, batch, repeat, take, drop, seed):
    """slices->shuffle/repeat/take->batch gathers rows by index; a zip (not a row-order-only
    step) forces element-wise batching: both must give the same batches."""
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)

    def chain(ds):
        return ds.shuffle(buf, seed=seed).repeat(repeat).take(take)
    tf.reset_default_graph()
    fast = drain(chain(tf.data.Dataset.from_tensor_slices(x)).batch(batch, drop))
    tf.reset_default_graph()
    zipped = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(x), tf.data.Dataset.range(n)))
    slow = drain(chain(zipped).batch(batch, drop))
    assert len(fast) == len(slow)
    for f, (sx, sr) in zip(fast, slow):
        np.testing.assert_array_equal(f, sx)
        np.testing.assert_array_equal(sx[:, 0] / 2, sr)


def py_interleave(inputs, make, cycle, block):
    """TF's InterleaveDataset loop on Python lists."""
    inputs, slots = list(inputs), [None] * cycle
    out, ci, bi, n_open, end = [], 0, 0, 0, False
    while not end or n_open:
        if slots[ci] is not None:
            if slots[ci]:
                out.append(slots[ci].pop(0))
                bi += 1
                if bi == block:
                    bi, ci = 0, (ci + 1) % cycle
                continue
            slots[ci], n_open, bi, ci = None, n_open - 1, 0, (ci + 1) % cycle
        elif not end:
            if inputs:
                slots[ci], n_open = list(make(inputs.pop(0))), n_open + 1
            else:
                end = True
        else:
            bi, ci = 0, (ci + 1) % cycle
    return out


def test_interleave_documented_example():
    ds = tf.data.Dataset.range(1, 6).interleave(
        lambda x: tf.data.Dataset.from_tensors(x).repeat(6), cycle_length=2, block_length=4)
    assert [int(v) for v in drain(ds)] == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4,
                                           4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]


@settings(max_examples=20, deadline=None)
@given(lens=st.lists(st.integers(0, 5), min_size=1, max_size=6), cycle=st.integers(1, 4),
       block=st.integers(1, 3))
def test_interleave_matches_round_robin_model(lens, cycle, block):
    tf.reset_default_graph()
    arr = np.array(lens, dtype=np.int64)
    ds = tf.data.Dataset.from_tensor_slices(arr).interleave(
        lambda n: tf.data.Dataset.range(int(n) * 10, int(n) * 10 + int(n)),
        cycle_length=cycle, block_length=block)
    got = [int(v) for v in drain(ds)]
    want = py_interleave(lens, lambda n: range(n * 10, n * 10 + n), cycle, block)
    assert got == want


def test_experimental_apply_helpers():
    ds = tf.data.Dataset.range(6).apply(tf.data.experimental.map_and_batch(lambda v: v * 3, 4))
    assert [b.tolist() for b in drain(ds)] == [[0, 3, 6, 9], [12, 15]]
    tf.reset_default_graph()
    ds = tf.data.Dataset.range(5).apply(tf.data.experimental.shuffle_and_repeat(5, 2, seed=1))
    got = [int(v) for v in drain(ds)]
    assert sorted(got[:5]) == sorted(got[5:]) == list(range(5))


def test_feedable_iterator_switches_between_datasets_by_handle():
    train = tf.data.Dataset.range(100).repeat()
    valid = tf.data.Dataset.range(1000, 1003)
    handle = tf.placeholder(tf.string, shape=[])
    it = tf.data.Iterator.from_string_handle(handle, train.output_types, train.output_shapes)
    nxt = it.get_next()
    doubled = nxt * 2
    train_it, valid_it = train.make_one_shot_iterator(), valid.make_initializable_iterator()
    with tf.Session() as s:
        th, vh = s.run([train_it.string_handle(), valid_it.string_handle()])
        assert isinstance(th, bytes) and th != vh
        assert [int(s.run(nxt, {handle: th})) for _ in range(3)] == [0, 1, 2]
        s.run(valid_it.initializer)
        assert [int(s.run(doubled, {handle: vh})) for _ in range(3)] == [2000, 2002, 2004]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt, {handle: vh})
        assert int(s.run(nxt, {handle: th})) == 3          # the train pass went on
        with pytest.raises(tf.errors.InvalidArgumentError, match="must feed a value"):
            s.run(nxt)
        with pytest.raises(tf.errors.InvalidArgumentError, match="not the string_handle"):
            s.run(nxt, {handle: b"nonsense"})
    floats = tf.data.Dataset.from_tensors(1.0).make_one_shot_iterator()
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="expects"):
            s.run(nxt, {handle: s.run(floats.string_handle())})
