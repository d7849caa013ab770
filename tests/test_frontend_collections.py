"""Collections (re.match scope filter, copies), GraphKeys, global/trainable variables and the
variable initializer groups."""
import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def _layers(names, units=(2, 3)):
    out = {}
    for n in names:
        with tf.variable_scope(n):
            out[n] = (tf.get_variable("kernel", shape=units),
                      tf.get_variable("bias", shape=units[1:], initializer=tf.zeros_initializer()))
    return out


def test_graphkeys_values():
    assert tf.GraphKeys.GLOBAL_VARIABLES == "variables"
    assert tf.GraphKeys.TRAINABLE_VARIABLES == "trainable_variables"
    assert tf.GraphKeys.UPDATE_OPS == "update_ops"
    assert tf.GraphKeys.REGULARIZATION_LOSSES == "regularization_losses"


def test_get_collection_scope_is_a_prefix_regex():
    _layers(["hidden1", "hidden2", "hidden3", "hidden4", "hidden10", "outputs"])
    names = lambda vs: [v.name for v in vs]  # noqa: E731
    got = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden1")
    # re.match: "hidden1" also matches hidden10/...
    assert names(got) == ["hidden1/kernel:0", "hidden1/bias:0",
                          "hidden10/kernel:0", "hidden10/bias:0"]
    got = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="hidden[34]|outputs")
    assert names(got) == ["hidden3/kernel:0", "hidden3/bias:0", "hidden4/kernel:0",
                          "hidden4/bias:0", "outputs/kernel:0", "outputs/bias:0"]
    got = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[123]")
    assert len(got) == 8  # hidden1, hidden2, hidden3, hidden10
    # match anchors at the start only
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="kernel") == []
    assert names(tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope=".*bias")) == [
        f"{n}/bias:0" for n in ["hidden1", "hidden2", "hidden3", "hidden4", "hidden10", "outputs"]]


def test_ch11_hidden1_collection_golden():
    with tf.variable_scope("hidden1"):
        tf.get_variable("kernel", shape=(2, 3))
        tf.get_variable("bias", shape=(3,), initializer=tf.zeros_initializer())
    got = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden1")
    assert [(v.name, tuple(v.shape.as_list())) for v in got] == [
        ("hidden1/kernel:0", (2, 3)), ("hidden1/bias:0", (3,))]


def test_get_collection_returns_a_copy_in_insertion_order():
    tf.add_to_collection("my_things", 3)
    tf.add_to_collection("my_things", 1)
    tf.add_to_collection("my_things", 2)
    got = tf.get_collection("my_things")
    assert got == [3, 1, 2]
    got.append(99)
    assert tf.get_collection("my_things") == [3, 1, 2]
    ref = tf.get_collection_ref("my_things")
    ref.append(4)
    assert tf.get_collection("my_things") == [3, 1, 2, 4]
    assert tf.get_collection("never_used") == []
    # items without a name are skipped when a scope is given
    assert tf.get_collection("my_things", scope=".*") == []


def test_add_to_collection_of_tensors_with_scope():
    with tf.name_scope("a"):
        t1 = tf.constant(1.0, name="t")
    with tf.name_scope("b"):
        t2 = tf.constant(2.0, name="t")
    tf.add_to_collection("acts", t1)
    tf.add_to_collections(["acts", "other"], t2)
    assert tf.get_collection("acts", scope="b") == [t2]
    assert tf.get_collection("other") == [t2]


def test_global_and_trainable_variables():
    w = tf.Variable(1.0, name="w")
    frozen = tf.Variable(2.0, name="frozen", trainable=False)
    with tf.variable_scope("s"):
        g = tf.get_variable("g", shape=[1], trainable=False)
    assert tf.global_variables() == [w, frozen, g]
    assert tf.trainable_variables() == [w]
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES) == [w, frozen, g]
    assert tf.global_variables(scope="s") == [g]
    custom = tf.Variable(0.0, name="c", collections=["mine"])
    assert tf.get_collection("mine") == [custom]
    assert custom not in tf.global_variables()
    assert custom in tf.trainable_variables()
    assert tf.get_default_graph().get_all_collection_keys()


def test_global_variables_initializer_only_includes_existing_variables():
    a = tf.Variable(1.0, name="a")
    init = tf.global_variables_initializer()
    assert init.name == "init"
    b = tf.Variable(2.0, name="b")
    with tf.Session() as sess:
        sess.run(init)
        assert sess.run(a) == 1.0
        with pytest.raises(tf.errors.FailedPreconditionError, match="b"):
            sess.run(b)
        sess.run(tf.global_variables_initializer())
        assert sess.run(b) == 2.0
    assert tf.global_variables_initializer().name == "init_2"


def test_variables_initializer_subset():
    a = tf.Variable(1.0, name="a")
    b = tf.Variable([1, 2], name="b")
    init_b = tf.variables_initializer([b])
    with tf.Session() as sess:
        sess.run(init_b)
        np.testing.assert_array_equal(sess.run(b), [1, 2])
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value a"):
            sess.run(a)
        sess.run(a.initializer)
        assert sess.run(a) == 1.0
        sess.run(tf.variables_initializer([]))  # an empty group is a no-op


def test_initializer_recomputed_each_run():
    v = tf.Variable(tf.random_normal([4]), name="v")
    init = tf.global_variables_initializer()
    with tf.Session() as sess:
        sess.run(init)
        first = sess.run(v)
        sess.run(init)
        second = sess.run(v)
    assert not np.array_equal(first, second)


def test_initializer_from_another_variable():
    a = tf.Variable(2.0, name="a")
    b = tf.Variable(a.initialized_value() * 3.0, name="b")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(b) == 6.0


def test_regularization_losses_collection():
    w = tf.get_variable("w", shape=[2], initializer=tf.ones_initializer(),
                        regularizer=lambda v: tf.reduce_sum(tf.abs(v)) * 0.5)
    with tf.variable_scope("reg", regularizer=lambda v: tf.reduce_sum(tf.square(v))):
        u = tf.get_variable("u", shape=[3], initializer=tf.constant_initializer(2.0))
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 2
    assert losses[0].op.name.startswith("w/Regularizer/")
    assert losses[1].op.name.startswith("reg/u/Regularizer/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(losses) == [1.0, 12.0]
        assert sess.run(tf.add_n(losses)) == 13.0
    del w, u
