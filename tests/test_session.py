"""Session.run end to end: fetch structures, feeds, variables and assignments, default
session, compile cache, randomness (TF1_API.md rows 1-6, 23, 38, 39, 44 and §5.2-§5.5)."""
import collections

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.runtime.session import _default_session_stack


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g
    assert not _default_session_stack(), "a test left a default session installed"


@pytest.fixture
def model():
    x = tf.placeholder(tf.float32, [None, 2], name="X")
    v = tf.Variable(3.0, name="v")
    y = tf.reduce_sum(x, name="total") * v
    init = tf.global_variables_initializer()
    return x, v, y, init


# ---------------------------------------------------------------- fetch structures ---------

def test_single_fetch_and_scalar_type(model):
    x, v, y, init = model
    with tf.Session() as sess:
        assert sess.run(init) is None
        r = sess.run(y, feed_dict={x: [[1, 2]]})
        assert type(r) is np.float32
        assert r == 9.0
        assert "%i" % r == "9"
        arr = sess.run(x * 2.0, {x: [[1, 2], [3, 4]]})
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
        np.testing.assert_array_equal(arr, [[2, 4], [6, 8]])
        i = sess.run(tf.constant(7))
        assert type(i) is np.int32
        b = sess.run(tf.constant(1.0) > 0.5)
        assert type(b) is np.bool_ and b


def test_list_tuple_dict_namedtuple_and_nested_fetches(model):
    x, v, y, init = model
    Pair = collections.namedtuple("Pair", "value op")
    feed = {x: [[1, 2]]}
    with tf.Session() as sess:
        sess.run(init)
        lst = sess.run([y, v], feed)
        assert isinstance(lst, list) and lst == [9.0, 3.0]
        tup = sess.run((y, init), feed)
        assert isinstance(tup, tuple) and tup == (9.0, None)
        d = sess.run({"loss": y, "nested": [v, (v, init)]}, feed)
        assert d == {"loss": 9.0, "nested": [3.0, (3.0, None)]}
        assert isinstance(d["nested"][1], tuple)
        nt = sess.run(Pair(value=v, op=init))
        assert isinstance(nt, Pair) and nt.value == 3.0 and nt.op is None
        assert sess.run([]) == []
        od = sess.run(collections.OrderedDict([("b", v), ("a", y)]), feed)
        assert isinstance(od, collections.OrderedDict) and list(od) == ["b", "a"]


def test_operation_fetch_returns_none_and_train_pattern(model):
    x, v, y, init = model
    upd = tf.assign_add(v, 1.0)
    with tf.Session() as sess:
        sess.run(init)
        _, c = sess.run([upd.op, y], {x: [[1, 1]]})
        assert _ is None
        assert c == 6.0          # computed from the pre-update value (3.0)
        assert sess.run(v) == 4.0


def test_fetch_by_name_and_variable(model):
    x, v, y, init = model
    with tf.Session() as sess:
        assert sess.run("init") is None
        assert sess.run("v:0") == 3.0
        assert sess.run(v) == 3.0
        assert sess.run("total:0", {"X:0": [[1, 2], [3, 4]]}) == 10.0
        r = sess.run([y, "v:0"], {x: [[1, 1]]})
        assert r == [6.0, 3.0]


def test_same_tensor_fetched_twice_is_computed_once():
    r = tf.random_normal([3])
    with tf.Session() as sess:
        a, b, c = sess.run([r, r, r * 1.0])
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_fetched_arrays_are_independent_copies():
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        got = sess.run(v)
        got[0] = 100.0
        assert sess.run(v)[0] == 1.0


def test_no_array_is_shared_between_user_and_variables():
    v = tf.Variable([0.0, 0.0], name="v")
    w = tf.Variable([5.0, 5.0], name="w")
    p = tf.placeholder(tf.float32, [2], name="p")
    with tf.Session() as sess:
        sess.run([v.initializer, w.initializer])
        fetched = sess.run(v.assign(tf.ones([2]) * 2.0))   # the new value, fetched
        fetched[0] = 100.0
        np.testing.assert_array_equal(sess.run(v), [2.0, 2.0])
        fed = np.array([1.0, 2.0], np.float32)
        sess.run(v.assign(p), {p: fed})                     # a fed array becomes the value
        fed[0] = 42.0
        np.testing.assert_array_equal(sess.run(v), [1.0, 2.0])
        sess.run(v.assign(w))                               # one variable copied to another
        sess.run(w.assign_add([1.0, 1.0]))
        np.testing.assert_array_equal(sess.run(v), [5.0, 5.0])
        a, b = sess.run([v.value(), tf.identity(v.value())])
        a[0] = -1.0
        assert b[0] == 5.0


# ---------------------------------------------------------------- feeds --------------------

def test_feed_by_tensor_and_by_name_and_conversion(model):
    x, v, y, init = model
    with tf.Session() as sess:
        sess.run(init)
        assert sess.run(y, {x: np.array([[1.5, 2.5]], dtype=np.float64)}) == 12.0
        assert sess.run(y, {"X:0": [[1, 1]]}) == 6.0
        # a variable can be fed like any tensor (TF1), without changing its value
        assert sess.run(y, {x: [[1, 1]], v: 10.0}) == 20.0
        assert sess.run(v) == 3.0
    with tf.Session() as sess:   # a fed variable needs no initialization
        assert sess.run(y, {x: [[1, 1]], v: 0.5}) == 1.0


def test_unknown_shape_placeholder_accepts_any_shape():
    u = tf.placeholder(tf.float32, name="u")
    with tf.Session() as sess:
        assert sess.run(u * 2.0, {u: np.ones((2, 3, 4))}).shape == (2, 3, 4)
        assert sess.run(u * 2.0, {u: 3}) == 6.0


def test_feed_any_tensor_ch11_assign_input_pattern():
    v = tf.Variable(tf.zeros([2, 2]), name="kernel")
    init = tf.global_variables_initializer()
    graph = tf.get_default_graph()
    assign_op = graph.get_operation_by_name("kernel/Assign")
    init_value = assign_op.inputs[1]
    new = np.array([[1, 2], [3, 4]], dtype=np.float32)
    with tf.Session() as sess:
        sess.run(init, feed_dict={init_value: new})
        np.testing.assert_array_equal(sess.run(v), new)
        sess.run(init)
        np.testing.assert_array_equal(sess.run(v), np.zeros((2, 2)))
        # feeding an intermediate tensor replaces its producer
        z = (v + 1.0) * 2.0
        np.testing.assert_array_equal(sess.run(z, {z.op.inputs[0]: np.ones((2, 2))}),
                                      2 * np.ones((2, 2)))


def test_placeholder_with_default():
    training = tf.placeholder_with_default(False, shape=[], name="training")
    p = tf.placeholder_with_default(tf.constant([1.0, 2.0]), shape=[None], name="p")
    with tf.Session() as sess:
        assert sess.run(training) == False  # noqa: E712 - numpy bool
        assert sess.run(training, {training: True}) == True  # noqa: E712
        np.testing.assert_array_equal(sess.run(p), [1.0, 2.0])
        np.testing.assert_array_equal(sess.run(p * 2.0, {p: [1.0, 1.0, 1.0]}), [2.0, 2.0, 2.0])
    assert p.shape.as_list() == [None]


def test_only_the_needed_subgraph_runs():
    a = tf.placeholder(tf.float32, name="a")
    b = tf.placeholder(tf.float32, name="b")
    s_a = a * 2.0
    _ = a + b
    with tf.Session() as sess:
        assert sess.run(s_a, {a: 1.0}) == 2.0  # b is not needed, so not required


# ---------------------------------------------------------------- variables ----------------

def test_assign_semantics():
    v = tf.Variable(1.0, name="v")
    a = tf.assign(v, 5.0)
    add = tf.assign_add(v, 2.0)
    sub = v.assign_sub(0.5)
    chained = tf.assign(v, v * 10.0)
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(a) == 5.0           # the assign returns the new value
        assert sess.run(v) == 5.0
        assert sess.run(add) == 7.0
        assert sess.run(sub) == 6.5
        assert sess.run(v) == 6.5
        assert sess.run(chained) == 65.0
        assert sess.run(v.read_value()) == 65.0
        v.load(1.25, sess)
        assert sess.run(v) == 1.25


def test_assign_to_array_variable_and_eval():
    v = tf.Variable(np.zeros((2, 3), np.float32), name="v")
    upd = v.assign(tf.ones([2, 3]) * 4.0)
    with tf.Session() as sess:
        v.initializer.run()
        upd.eval()
        np.testing.assert_array_equal(v.eval(), np.full((2, 3), 4.0))


def test_value_fetched_beside_update_is_pre_update_value():
    w = tf.Variable(2.0, name="w")
    loss = tf.square(w)
    train = tf.train.GradientDescentOptimizer(0.25).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        _, l0 = sess.run([train, loss])
        assert l0 == 4.0                    # before the step: w == 2
        assert sess.run(w) == 1.0           # w -= 0.25 * 2w
        l1, _ = sess.run([loss, train])
        assert l1 == 1.0
        assert sess.run(w) == 0.5


def test_two_sessions_on_one_graph_have_separate_values():
    v = tf.Variable(1.0, name="v")
    inc = tf.assign_add(v, 1.0)
    s1, s2 = tf.Session(), tf.Session()
    try:
        s1.run(v.initializer)
        s1.run(inc)
        s1.run(inc)
        with pytest.raises(tf.errors.FailedPreconditionError):
            s2.run(v)
        s2.run(v.initializer)
        assert s2.run(v) == 1.0
        assert s1.run(v) == 3.0
    finally:
        s1.close()
        s2.close()


def test_ops_added_after_session_creation_still_run():
    x = tf.placeholder(tf.float32, [None], name="x")
    with tf.Session() as sess:
        doubled = x * 2.0
        assert list(sess.run(doubled, {x: [1, 2]})) == [2.0, 4.0]
        total = tf.reduce_sum(doubled)
        acc = tf.cast(tf.equal(total, 6.0), tf.float32)
        assert sess.run(acc, {x: [1, 2]}) == 1.0


def test_control_dependencies_and_group_run_their_updates():
    w = tf.Variable(1.0, name="w")
    moving = tf.Variable(0.0, name="moving")
    counter = tf.Variable(0, name="counter")
    update_moving = tf.assign(moving, moving * 0.5 + 1.0)
    tf.add_to_collection(tf.GraphKeys.UPDATE_OPS, update_moving)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train = tf.train.GradientDescentOptimizer(0.5).minimize(tf.square(w))
    both = tf.group(tf.assign_add(counter, 1), tf.assign_add(counter, 10))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        assert sess.run(moving) == 1.0
        assert sess.run(w) == 0.0
        sess.run(train)
        assert sess.run(moving) == 1.5
        sess.run(both)                       # updates of one variable apply in graph order
        assert sess.run(counter) == 11


def test_a_read_ordered_after_an_assignment_sees_the_new_value():
    v = tf.Variable(1.0, name="v")
    inc = tf.assign_add(v, 2.0)
    plain = v * 10                               # not ordered: the value at the start of the run
    with tf.control_dependencies([inc]):
        fresh = v.read_value()                   # TF1's way to read in the current context
        ident = tf.identity(v)                   # through the v/read snapshot, as TF1's alias
        scaled = v * 10
    after_both = tf.identity(fresh) + 0.0        # ordered after through its input
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run([plain, fresh, ident, scaled, after_both]) == [10.0, 3.0, 3.0, 30.0, 3.0]
        assert sess.run(v) == 3.0
        assert sess.run(plain) == 30.0           # no assignment in this run
        assert sess.run(fresh) == 5.0            # the fetch runs the assignment it depends on


def test_reads_see_the_latest_of_the_assignments_they_are_ordered_after():
    v = tf.Variable(1.0, name="v")
    first = tf.assign(v, 5.0)
    with tf.control_dependencies([first]):
        second = tf.assign(v, v.read_value() * 2.0)   # 10
    with tf.control_dependencies([second]):
        last = v.read_value()
    with tf.control_dependencies([first]):
        mid = v.read_value()
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert sess.run([mid, last]) == [5.0, 10.0]
        assert sess.run(v) == 10.0


def test_reading_after_the_initializer_in_the_same_run():
    v = tf.Variable(4.0, name="v")
    with tf.control_dependencies([v.initializer]):
        y = v.read_value() * 2
    with tf.Session() as sess:
        assert sess.run(y) == 8.0                # no uninitialized-value error: it was just set


# ---------------------------------------------------------------- default session ----------

def test_eval_and_run_inside_with_session(model):
    x, v, y, init = model
    with tf.Session() as sess:
        assert tf.get_default_session() is sess
        init.run()
        assert y.eval(feed_dict={x: [[1, 2]]}) == 9.0
        assert y.eval({x: [[1, 1]]}) == 6.0          # positional feed_dict
        assert v.eval() == 3.0
    assert tf.get_default_session() is None
    assert sess.closed
    with pytest.raises(RuntimeError, match="Attempted to use a closed Session."):
        sess.run(v)


def test_as_default_and_explicit_session(model):
    x, v, y, init = model
    sess = tf.Session()
    try:
        with sess.as_default():
            assert tf.get_default_session() is sess
            init.run()
        assert tf.get_default_session() is None
        assert y.eval(session=sess, feed_dict={x: [[2, 2]]}) == 12.0
        init.run(session=sess)
        assert not sess.closed  # as_default does not close
    finally:
        sess.close()


def test_session_on_explicit_graph():
    g = tf.Graph()
    with g.as_default():
        c = tf.constant(5.0) * 2.0
    with tf.Session(graph=g) as sess:
        assert tf.get_default_graph() is g
        assert sess.graph is g
        assert c.eval() == 10.0


def test_interactive_session_installs_itself():
    sess = tf.InteractiveSession()
    try:
        assert tf.get_default_session() is sess
        v = tf.Variable(2.0)
        v.initializer.run()
        assert (v * 3.0).eval() == 6.0
    finally:
        sess.close()
    assert tf.get_default_session() is None


# ---------------------------------------------------------------- compile cache ------------

def test_new_batch_size_does_not_recompile():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(tf.ones([3, 1]), name="w")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w)))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    with tf.Session() as sess:
        sess.run(w.initializer)
        assert len(sess._cache) == 1
        for n in (4, 7, 1, 32):
            sess.run(train, {x: np.ones((n, 3))})
            assert len(sess._cache) == 2
        for n in (2, 9):
            sess.run(loss, {x: np.ones((n, 3))})
        assert len(sess._cache) == 3
    with tf.Session() as sess:
        sess.run(loss, {x: np.ones((3, 3)), w: np.ones((3, 1))})
        sess.run(loss, {x: np.ones((5, 3)), w: np.zeros((3, 1))})
        assert len(sess._cache) == 1


# ---------------------------------------------------------------- randomness ---------------

def _seeded_values(seed):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(seed)
        r = tf.random_normal([4])
        u = tf.random_uniform([3], seed=7)
        v = tf.Variable(tf.truncated_normal([2, 2]))
        with tf.Session() as sess:
            sess.run(v.initializer)
            return [sess.run(r), sess.run(r), sess.run(u), sess.run(v)]


def test_random_ops_new_values_each_run_and_reproducible_with_graph_seed():
    first = _seeded_values(42)
    second = _seeded_values(42)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])  # a new draw each run
    other = _seeded_values(43)
    assert not np.array_equal(first[0], other[0])


def test_unseeded_random_ops_differ_between_graphs():
    vals = []
    for _ in range(2):
        with tf.Graph().as_default():
            r = tf.random_uniform([8])
            with tf.Session() as sess:
                vals.append(sess.run(r))
    assert not np.array_equal(vals[0], vals[1])
    assert np.all((vals[0] >= 0) & (vals[0] < 1))


def test_op_seed_rule():
    def draw(graph_seed, extra_ops, op_seed):
        with tf.Graph().as_default():
            if graph_seed is not None:
                tf.set_random_seed(graph_seed)
            for _ in range(extra_ops):
                tf.constant(0.0)
            r = tf.random_normal([5], seed=op_seed)
            with tf.Session() as sess:
                return sess.run(r)
    # an op seed alone is deterministic, whatever else is in the graph
    np.testing.assert_array_equal(draw(None, 0, 5), draw(None, 3, 5))
    # with a graph seed and no op seed, the op seed comes from the graph's op count:
    # adding an op earlier shifts later random values
    np.testing.assert_array_equal(draw(1, 0, None), draw(1, 0, None))
    assert not np.array_equal(draw(1, 0, None), draw(1, 2, None))
    # with both seeds the earlier ops do not matter
    np.testing.assert_array_equal(draw(1, 0, 9), draw(1, 2, 9))


def test_random_distributions_statistics():
    tf.set_random_seed(0)
    n = tf.random_normal([20000], mean=2.0, stddev=0.5)
    t = tf.truncated_normal([20000], stddev=1.0)
    u = tf.random_uniform([20000], minval=-1.0, maxval=3.0)
    with tf.Session() as sess:
        nv, tv, uv = sess.run([n, t, u])
    assert abs(nv.mean() - 2.0) < 0.03 and abs(nv.std() - 0.5) < 0.03
    assert np.abs(tv).max() <= 2.0 and 0.8 < tv.std() < 0.92
    assert uv.min() >= -1.0 and uv.max() < 3.0 and abs(uv.mean() - 1.0) < 0.05
    assert n.dtype == tf.float32


def test_ch13_get_and_restore_model_params_pattern():
    x = tf.placeholder(tf.float32, [None, 2], name="X")
    with tf.variable_scope("dense"):
        kernel = tf.get_variable("kernel", shape=[2, 1])
        bias = tf.get_variable("bias", shape=[1], initializer=tf.zeros_initializer())
    loss = tf.reduce_mean(tf.square(tf.matmul(x, kernel) + bias - 1.0))
    train = tf.train.AdamOptimizer(0.1).minimize(loss)
    init = tf.global_variables_initializer()
    data = {x: np.array([[1.0, 2.0], [0.5, -1.0]], np.float32)}

    def get_model_params():
        gvars = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES)
        return {gvar.op.name: value for gvar, value in
                zip(gvars, tf.get_default_session().run(gvars))}

    def restore_model_params(model_params):
        gvar_names = list(model_params.keys())
        assign_ops = {name: tf.get_default_graph().get_operation_by_name(name + "/Assign")
                      for name in gvar_names}
        init_values = {name: op.inputs[1] for name, op in assign_ops.items()}
        feed_dict = {init_values[name]: model_params[name] for name in gvar_names}
        return tf.get_default_session().run(assign_ops, feed_dict=feed_dict)

    with tf.Session() as sess:
        init.run()
        for _ in range(3):
            sess.run(train, feed_dict=data)
        best = get_model_params()
        assert set(best) == {"dense/kernel", "dense/bias", "beta1_power", "beta2_power",
                             "dense/kernel/Adam", "dense/kernel/Adam_1", "dense/bias/Adam",
                             "dense/bias/Adam_1"}
        best_loss = sess.run(loss, data)
        for _ in range(3):
            sess.run(train, feed_dict=data)
        assert sess.run(loss, data) != best_loss
        assert restore_model_params(best) == {name: None for name in best}
        assert sess.run(loss, data) == best_loss
        for name, value in get_model_params().items():
            np.testing.assert_array_equal(value, best[name])


def test_variable_options():
    calls = []

    def init_fn():
        calls.append(1)
        return tf.ones([2]) * 3.0
    v = tf.Variable(init_fn, name="lazy")
    frozen = tf.Variable(0.5, trainable=False, name="frozen")
    d = tf.Variable(1, dtype=tf.float64, name="d")
    assert calls == [1]
    assert v.initial_value.op.name.startswith("lazy/Initializer/")
    assert tf.trainable_variables() == [v, d]
    assert d.dtype == tf.float64
    tf.disable_v2_behavior()
    tf.disable_eager_execution()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(v.read_value()), [3.0, 3.0])
        assert sess.run(frozen) == 0.5
        assert sess.run(d) == 1.0 and sess.run(d).dtype == np.float64


def test_interactive_session_with_explicit_graph_makes_it_default():
    g = tf.Graph()
    outer = tf.get_default_graph()
    sess = tf.InteractiveSession(graph=g)
    try:
        assert tf.get_default_graph() is g
        c = tf.constant(2.0) * 4.0
        assert c.graph is g
        assert c.eval() == 8.0
    finally:
        sess.close()
    assert tf.get_default_graph() is outer
