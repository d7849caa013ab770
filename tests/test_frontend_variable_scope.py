"""get_variable / variable_scope with TF1's exact rules: reuse, AUTO_REUSE, default_name
uniquification, name scopes opened by variable scopes, initializer inheritance."""
import re

import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def test_ch09_golden_get_variable_and_variable_in_scopes():
    # handson-ml ch09, "Sharing variables": recorded output
    # x0: my_scope/x, x1: my_scope/x_1, x2: my_scope/x_2, x3: my_scope/x,
    # x4: my_scope_1/x, x5: my_scope/x, True
    with tf.variable_scope("my_scope"):
        x0 = tf.get_variable("x", shape=(), initializer=tf.constant_initializer(0.))
        x1 = tf.Variable(0., name="x")
        x2 = tf.Variable(0., name="x")
    with tf.variable_scope("my_scope", reuse=True):
        x3 = tf.get_variable("x")
        x4 = tf.Variable(0., name="x")
    with tf.variable_scope("", default_name="", reuse=True):
        x5 = tf.get_variable("my_scope/x")
    assert [x.op.name for x in (x0, x1, x2, x3, x4, x5)] == [
        "my_scope/x", "my_scope/x_1", "my_scope/x_2", "my_scope/x", "my_scope_1/x", "my_scope/x"]
    assert x0 is x3 and x3 is x5


def test_get_variable_ignores_name_scope_but_tf_variable_does_not():
    with tf.name_scope("ns"):
        gv = tf.get_variable("gv", shape=[2])
        tv = tf.Variable(1.0, name="tv")
    assert gv.name == "gv:0"
    assert tv.name == "ns/tv:0"


def test_variable_scope_opens_a_name_scope_for_ops():
    with tf.name_scope("dnn"):
        with tf.variable_scope("hidden1") as vs:
            k = tf.get_variable("kernel", shape=[2, 2])
            c = tf.constant(1.0, name="c")
    assert k.name == "hidden1/kernel:0"
    assert c.name == "dnn/hidden1/c:0"
    assert vs.name == "hidden1"
    assert vs.original_name_scope == "dnn/hidden1/"


def test_reuse_true_requires_existing_variable():
    with tf.variable_scope("s"):
        tf.get_variable("a", shape=[1])
    with tf.variable_scope("s", reuse=True):
        with pytest.raises(ValueError, match=re.escape(
                "Variable s/b does not exist, or was not created with tf.get_variable(). "
                "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?")):
            tf.get_variable("b", shape=[1])


def test_reuse_none_forbids_duplicates():
    with tf.variable_scope("s"):
        tf.get_variable("a", shape=[1])
    with tf.variable_scope("s"):
        with pytest.raises(ValueError, match=re.escape(
                "Variable s/a already exists, disallowed. Did you mean to set reuse=True or "
                "reuse=tf.AUTO_REUSE in VarScope?")) as info:
            tf.get_variable("a", shape=[1])
    # TF1 appends where the original was defined: the user's file, not the framework's
    assert "test_frontend_variable_scope.py" in str(info.value)
    with pytest.raises(ValueError, match="already exists"):
        tf.get_variable("s/a", shape=[1])


def test_reuse_checks_shape_and_dtype():
    with tf.variable_scope("s"):
        a = tf.get_variable("a", shape=[1])
    with tf.variable_scope("s", reuse=True):
        assert tf.get_variable("a", shape=[1]) is a
        assert tf.get_variable("a") is a
        with pytest.raises(ValueError, match=re.escape(
                "Trying to share variable s/a, but specified shape (2,) and found shape (1,).")):
            tf.get_variable("a", shape=[2])
        with pytest.raises(ValueError, match="specified dtype int32 and found dtype float32"):
            tf.get_variable("a", dtype=tf.int32)


def test_reuse_is_inherited_by_subscopes_and_reuse_variables():
    with tf.variable_scope("outer"):
        with tf.variable_scope("inner"):
            v = tf.get_variable("v", shape=[1])
    with tf.variable_scope("outer", reuse=True):
        with tf.variable_scope("inner") as inner:
            assert inner.reuse is True
            assert tf.get_variable("v") is v
    with tf.variable_scope("sc") as scope:
        a = tf.get_variable("a", shape=[1])
        scope.reuse_variables()
        assert tf.get_variable("a") is a
    with tf.variable_scope(scope, reuse=True):
        assert tf.get_variable("a") is a


def test_auto_reuse_creates_then_returns():
    def f():
        with tf.variable_scope("shared", reuse=tf.AUTO_REUSE):
            return tf.get_variable("v", shape=[3])
    v1, v2 = f(), f()
    assert v1 is v2
    assert v1.name == "shared/v:0"
    assert len(tf.global_variables()) == 1
    with tf.variable_scope("shared", reuse=tf.AUTO_REUSE):
        with tf.variable_scope("sub"):
            # AUTO_REUSE is inherited
            assert tf.get_variable("w", shape=[1]) is tf.get_variable("w", shape=[1])


def test_reuse_false_means_none():
    with tf.variable_scope("s", reuse=tf.AUTO_REUSE):
        with tf.variable_scope("t", reuse=False) as t:
            assert t.reuse is tf.AUTO_REUSE  # False cannot switch reuse off


def test_default_name_is_uniquified():
    names, op_names = [], []
    for _ in range(3):
        with tf.variable_scope(None, default_name="layer") as sc:
            names.append(tf.get_variable("k", shape=[1]).name)
            op_names.append(tf.constant(1.0, name="c").name)
            assert sc.name == names[-1].rsplit("/", 1)[0]
    assert names == ["layer/k:0", "layer_1/k:0", "layer_2/k:0"]
    assert op_names == ["layer/c:0", "layer_1/c:0", "layer_2/c:0"]
    with tf.variable_scope("outer"):
        with tf.variable_scope(None, default_name="layer") as a:
            pass
        with tf.variable_scope(None, default_name="layer") as b:
            pass
    assert (a.name, b.name) == ("outer/layer", "outer/layer_1")


def test_default_name_with_reuse_raises():
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with tf.variable_scope(None, default_name="x", reuse=True):
            pass
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        with tf.variable_scope(None):
            pass


def test_reentering_a_scope_object_opens_a_new_name_scope():
    with tf.variable_scope("foo") as vs:
        c0 = tf.constant(0, name="c")
    with tf.variable_scope(vs) as vs1:
        c1 = tf.constant(1, name="c")
        v = tf.get_variable("v", shape=[1])
    assert c0.name == "foo/c:0"
    assert c1.name == "foo_1/c:0"
    assert v.name == "foo/v:0"
    assert vs1.original_name_scope == "foo/"
    # the TF1 docstring recipe restores the original name scope
    with tf.variable_scope(vs, auxiliary_name_scope=False) as vs2:
        with tf.name_scope(vs2.original_name_scope):
            c2 = tf.constant([1], name="c2")
    assert c2.name == "foo/c2:0"


def test_get_variable_scope_nesting():
    assert tf.get_variable_scope().name == ""
    with tf.variable_scope("a"):
        with tf.variable_scope("b"):
            assert tf.get_variable_scope().name == "a/b"
        assert tf.get_variable_scope().name == "a"
    assert tf.get_variable_scope().name == ""


def test_initializer_inheritance_and_defaults():
    with tf.variable_scope("init", initializer=tf.constant_initializer(3.0)):
        inherited = tf.get_variable("inherited", shape=[2])
        with tf.variable_scope("inner"):
            nested = tf.get_variable("nested", shape=[2])
        explicit = tf.get_variable("explicit", shape=[2], initializer=tf.zeros_initializer())
    ints = tf.get_variable("ints", shape=[2], dtype=tf.int32)
    glorot = tf.get_variable("glorot", shape=[20, 30])
    from_value = tf.get_variable("from_value", initializer=tf.constant([1.0, 2.0]))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        got = sess.run([inherited, nested, explicit, ints, glorot, from_value])
    np.testing.assert_array_equal(got[0], [3.0, 3.0])
    np.testing.assert_array_equal(got[1], [3.0, 3.0])
    np.testing.assert_array_equal(got[2], [0.0, 0.0])
    assert got[3].dtype == np.int32 and list(got[3]) == [0, 0]
    limit = np.sqrt(6.0 / (20 + 30))  # glorot_uniform is the default float initializer
    assert np.all(np.abs(got[4]) <= limit) and got[4].std() > limit / 3
    np.testing.assert_array_equal(got[5], [1.0, 2.0])


def test_variable_scope_dtype_and_get_variable_without_shape():
    with tf.variable_scope("d", dtype=tf.float64):
        v = tf.get_variable("v", shape=[1])
    assert v.dtype == tf.float64
    with pytest.raises(ValueError, match="must be fully defined"):
        tf.get_variable("noshape")


def test_get_variable_trainable_and_collections():
    t = tf.get_variable("t", shape=[1])
    n = tf.get_variable("n", shape=[1], trainable=False)
    assert tf.trainable_variables() == [t]
    assert tf.global_variables() == [t, n]


def test_get_variable_with_value_initializer():
    ints = tf.get_variable("ints", initializer=[1, 2, 3])
    assert ints.dtype == tf.int32 and ints.shape.as_list() == [3]
    t = tf.get_variable("t", initializer=tf.constant([[1.0, 2.0]], dtype=tf.float64))
    assert t.dtype == tf.float64 and t.shape.as_list() == [1, 2]
    assert ints.initializer.inputs[1].op.name == "ints/initial_value"
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape."):
        tf.get_variable("bad", shape=[3], initializer=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Initializer type 'float32' and explicit dtype "
                                         "'float64' don't match."):
        tf.get_variable("bad2", initializer=[1.0], dtype=tf.float64)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(ints), [1, 2, 3])


def test_reusing_a_non_float_variable_needs_its_dtype():
    with tf.variable_scope("s"):
        tf.get_variable("i", shape=[1], dtype=tf.int32)
    with tf.variable_scope("s", reuse=True):
        # TF1 compares with the scope's default dtype (float32) when none is given
        with pytest.raises(ValueError, match="specified dtype float32 and found dtype int32"):
            tf.get_variable("i")
        assert tf.get_variable("i", dtype=tf.int32).dtype == tf.int32


def test_variables_ignore_enclosing_control_dependencies():
    """TF's init_scope: optimizer slots created under control_dependencies(update_ops) must
    initialize without running the update ops (the batch-norm training pattern)."""
    import numpy as np
    import jitflow.compat.v1 as tf
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 2], name="X")
        w = tf.Variable(tf.ones([2, 1]))
        counter = tf.Variable(0.0)
        update = tf.assign_add(counter, tf.reduce_sum(x))
        loss = tf.reduce_mean(tf.matmul(x, w))
        with tf.control_dependencies([update]):
            train = tf.train.AdamOptimizer(0.1).minimize(loss)
            v = tf.Variable(3.0)
        assert not v.initializer.control_inputs
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())      # needs no feed of X
            sess.run(train, {x: np.ones((4, 2), np.float32)})
            assert sess.run(counter) == 8.0
