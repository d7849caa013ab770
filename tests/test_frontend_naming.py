"""TF1 naming: unique op names, name scopes, tensor names, reprs, variable ops, graph lookups.

Golden values come from the outputs recorded in ageron/handson-ml ch09/ch11 and hunkim's labs
(see ../shared/notes/TF1_API.md §5.1, §5.9, §6).
"""
import numpy as np
import pytest

import jitflow.compat.v1 as tf


@pytest.fixture(autouse=True)
def graph():
    g = tf.Graph()
    with g.as_default():
        yield g


def test_ch09_unique_names_and_name_scopes():
    a1 = tf.Variable(0, name="a")
    a2 = tf.Variable(0, name="a")
    with tf.name_scope("param"):
        a3 = tf.Variable(0, name="a")
    with tf.name_scope("param"):
        a4 = tf.Variable(0, name="a")
    assert [v.op.name for v in (a1, a2, a3, a4)] == ["a", "a_1", "param/a", "param_1/a"]
    assert [v.name for v in (a1, a2, a3, a4)] == ["a:0", "a_1:0", "param/a:0", "param_1/a:0"]


def test_ch09_operator_inside_name_scope_is_lowercase_sub():
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    y_pred = tf.placeholder(tf.float32, [None, 1], name="y_pred")
    with tf.name_scope("loss") as scope:
        error = y_pred - y
        mse = tf.reduce_mean(tf.square(error), name="mse")
    assert scope == "loss/"
    assert error.op.name == "loss/sub"
    assert error.name == "loss/sub:0"
    assert mse.op.name == "loss/mse"
    assert error.op.type == "Sub"


def test_default_op_names_are_uniquified_per_type():
    c1 = tf.constant(1.0)
    c2 = tf.constant(2.0)
    s1 = c1 + c2
    s2 = c1 + c2
    m = tf.matmul(tf.ones([2, 2]), tf.ones([2, 2]))
    assert [c1.op.name, c2.op.name] == ["Const", "Const_1"]
    assert [s1.op.name, s2.op.name] == ["add", "add_1"]
    assert (c1 * c2).op.name == "mul"
    assert m.op.name == "MatMul"
    # names are unique case-insensitively: "Add" collides with "add", "add_1"
    assert tf.add(c1, c2).op.name == "Add_2"
    # a name that collides with an auto-generated one is made unique too
    assert tf.constant(3.0, name="Const_2").op.name == "Const_2"
    assert tf.constant(4.0).op.name == "Const_3"


def test_unique_names_are_case_insensitive_like_tf():
    a = tf.constant(1.0, name="foo")
    b = tf.constant(1.0, name="Foo")
    assert a.op.name == "foo"
    assert b.op.name == "Foo_1"


def test_name_scope_reentry_with_trailing_slash_and_reset():
    with tf.name_scope("loss") as scope:
        pass
    assert scope == "loss/"
    with tf.name_scope(scope) as again:
        c = tf.constant(1.0, name="c")
    assert again == "loss/"
    assert c.name == "loss/c:0"
    with tf.name_scope("loss") as fresh:
        pass
    assert fresh == "loss_1/"
    with tf.name_scope("outer"):
        with tf.name_scope(None) as root:
            top = tf.constant(0.0, name="top")
        with tf.name_scope("inner") as inner:
            d = tf.constant(0.0, name="d")
    assert root == ""
    assert top.name == "top:0"
    assert inner == "outer/inner/"
    assert d.name == "outer/inner/d:0"


def test_name_scope_default_name_and_op_named_by_scope():
    with tf.name_scope(None, "my_op") as scope:
        out = tf.identity(tf.constant(1.0), name=scope)
    assert scope == "my_op/"
    assert out.op.name == "my_op"
    with tf.name_scope(None, "my_op") as scope2:
        pass
    assert scope2 == "my_op_1/"


def test_tensor_names_are_op_name_colon_index():
    x = tf.placeholder(tf.float32, shape=(None, 3), name="X")
    with tf.name_scope("dnn"):
        with tf.name_scope("hidden1"):
            z = tf.matmul(x, tf.ones([3, 2]))
    assert x.name == "X:0"
    assert x.op.name == "X"
    assert x.op.type == "Placeholder"
    assert z.name == "dnn/hidden1/MatMul:0"
    assert z.value_index == 0
    assert z.op.outputs[0] is z
    assert z.op.inputs[0] is x


def test_placeholder_names_uniquified():
    a = tf.placeholder(tf.float32, name="X")
    b = tf.placeholder(tf.float32, name="X")
    assert (a.name, b.name) == ("X:0", "X_1:0")


def test_str_and_repr_of_tensor_match_tf1():
    y = tf.placeholder(tf.float32, shape=(None, 1, 7), name="one_hot")
    assert str(y) == 'Tensor("one_hot:0", shape=(?, 1, 7), dtype=float32)'
    assert repr(y) == "<tf.Tensor 'one_hot:0' shape=(?, 1, 7) dtype=float32>"
    r = tf.reshape(y, [-1, 7])
    assert str(r) == 'Tensor("Reshape:0", shape=(?, 7), dtype=float32)'
    u = tf.placeholder(tf.int32, shape=None, name="y")
    assert str(u) == 'Tensor("y:0", shape=<unknown>, dtype=int32)'
    s = tf.constant(1.0, name="s")
    assert str(s) == 'Tensor("s:0", shape=(), dtype=float32)'


def test_variable_repr_and_ops():
    with tf.variable_scope("hidden1"):
        kernel = tf.get_variable("kernel", shape=(2, 3))
    assert repr(kernel) == "<tf.Variable 'hidden1/kernel:0' shape=(2, 3) dtype=float32_ref>"
    assert kernel.name == "hidden1/kernel:0"
    assert kernel.op.name == "hidden1/kernel"
    g = tf.get_default_graph()
    assign = g.get_operation_by_name("hidden1/kernel/Assign")
    assert kernel.initializer is assign
    assert assign.type == "Assign"
    assert g.get_operation_by_name("hidden1/kernel/read").type == "Identity"
    assert assign.inputs[1].op.name.startswith("hidden1/kernel/Initializer/")


def test_tf_variable_creates_assign_read_and_initial_value_ops():
    v = tf.Variable(3.0, name="v")
    g = tf.get_default_graph()
    names = [op.name for op in g.get_operations()]
    assert names == ["v/initial_value", "v", "v/Assign", "v/read"]
    assert v.initializer.name == "v/Assign"
    assert v.op.type == "VariableV2"
    assert v.value().name == "v/read:0"
    assert v.initializer.inputs[0] is v.op.outputs[0]
    assert v.initializer.inputs[1].name == "v/initial_value:0"
    assert v.dtype == tf.float32
    assert v.shape.as_list() == []
    default = tf.Variable([1, 2])
    assert default.name == "Variable:0"
    assert default.dtype == tf.int32
    assert tf.Variable(np.zeros(2)).dtype == tf.float64


def test_user_assign_ops_are_named_assign():
    v = tf.Variable(1.0, name="v")
    a1 = tf.assign(v, 2.0)
    a2 = v.assign(3.0)
    a3 = tf.assign_add(v, 1.0)
    a4 = v.assign_sub(1.0)
    assert [a1.op.name, a2.op.name] == ["Assign", "Assign_1"]
    assert (a3.op.type, a4.op.type) == ("AssignAdd", "AssignSub")
    assert a1.shape == v.shape


def test_tensor_shape_api():
    x = tf.placeholder(tf.float32, shape=(None, 784), name="X")
    assert x.shape.as_list() == [None, 784]
    assert x.get_shape()[1] == 784
    assert int(x.get_shape()[1]) == 784
    assert x.shape.ndims == 2
    assert x.shape == tf.TensorShape([None, 784])
    assert str(x.shape) == "(?, 784)"
    y = tf.placeholder(tf.int32, shape=(None), name="y")
    assert y.shape.ndims is None
    with pytest.raises(ValueError):
        y.shape.as_list()
    s = tf.placeholder(tf.float32, shape=[])
    assert s.shape.as_list() == []


def test_graph_lookups_by_name():
    g = tf.get_default_graph()
    x = tf.placeholder(tf.float32, shape=(None, 2), name="X")
    assert g.get_tensor_by_name("X:0") is x
    assert g.get_operation_by_name("X") is x.op
    assert x.graph is g
    with pytest.raises(KeyError, match="The name 'X:1' refers to a Tensor which does not exist"):
        g.get_tensor_by_name("X:1")
    with pytest.raises(KeyError, match="The name 'Y:0' refers to a Tensor which does not exist"):
        g.get_tensor_by_name("Y:0")
    with pytest.raises(ValueError, match="appears to refer to a Tensor"):
        g.get_operation_by_name("X:0")
    with pytest.raises(KeyError):
        g.get_operation_by_name("nope")
    assert [op.name for op in g.get_operations()] == ["X"]


def test_default_graph_and_as_default():
    outer = tf.get_default_graph()
    g2 = tf.Graph()
    with g2.as_default():
        assert tf.get_default_graph() is g2
        c = tf.constant(1.0)
        assert c.graph is g2
    assert tf.get_default_graph() is outer
    assert c.op.name == "Const"  # names are per graph
    assert tf.constant(1.0).op.name == "Const"


def test_reset_default_graph_resets_names_and_seed():
    # outside the autouse graph context: exercise the global default graph
    g_fixture = tf.get_default_graph()
    from jitflow.frontend import graph as graph_mod
    stack = graph_mod._stack()
    saved = list(stack)
    stack.clear()
    try:
        tf.reset_default_graph()
        tf.set_random_seed(42)
        tf.constant(1.0, name="a")
        tf.reset_default_graph()
        g = tf.get_default_graph()
        assert g.seed is None
        assert tf.constant(1.0, name="a").op.name == "a"
        with tf.Graph().as_default():
            with pytest.raises(AssertionError, match="nested graphs"):
                tf.reset_default_graph()
    finally:
        stack[:] = saved
    assert tf.get_default_graph() is g_fixture


def test_control_dependencies_group_and_no_op():
    v = tf.Variable(0.0, name="v")
    a = tf.assign_add(v, 1.0)
    with tf.control_dependencies([a]):
        n = tf.no_op(name="after")
    assert n.control_inputs == [a.op]
    grp = tf.group(a, n, name="both")
    assert grp.name == "both"
    assert grp.type == "NoOp"
    assert set(op.name for op in grp.control_inputs) == {a.op.name, "after"}
