"""GraphDef/MetaGraphDef in and out: files TensorFlow 2.21 wrote (tests/fixtures/tf), jitflow's
own export read back through the TF path, freezing, write_graph, and bad files."""
import json
from pathlib import Path

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow import errors
from jitflow.frontend import graph_def as GD
from jitflow.frontend.tf_op_table import TABLE
from jitflow.interop import tf_protos as P
from jitflow.interop.protowire import field_bytes

FIX = Path(__file__).resolve().parent / "fixtures" / "tf"
EXP = np.load(FIX / "expected.npz")


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def test_tensorflow_meta_graph_imports_restores_and_trains_like_tensorflow():
    saver = tf.train.import_meta_graph(str(FIX / "dnn" / "model.ckpt.meta"))
    g = tf.get_default_graph()
    assert [v.op.name for v in tf.trainable_variables()] == [
        "hidden1/kernel", "hidden1/bias", "hidden2/kernel", "hidden2/bias", "hidden3/kernel",
        "hidden3/bias", "outputs/kernel", "outputs/bias"]
    train_op = tf.get_collection("train_op")[0]
    assert train_op.name == "train/GradientDescent"
    assert tf.get_collection("my_losses") == [g.get_tensor_by_name("loss/loss:0")]
    feed = {"X:0": EXP["X_train"], "y:0": EXP["y_train"]}
    with tf.Session() as s:
        saver.restore(s, str(FIX / "dnn" / "model.ckpt"))
        np.testing.assert_allclose(s.run("logits:0", {"X:0": EXP["X_probe"]}),
                                   EXP["logits_probe"], rtol=1e-5, atol=1e-6)
        assert s.run("loss/loss:0", feed) == pytest.approx(float(EXP["loss_after"]), rel=1e-6)
        s.run(train_op, feed)          # jitflow's symbolic gradients stand in for TF's
        assert s.run("loss/loss:0", feed) == pytest.approx(
            float(EXP["loss_after_one_more_step"]), rel=1e-5)
        # recorded from TensorFlow when the fixtures were made
        assert float(EXP["loss_after_one_more_step"]) == pytest.approx(0.69508606, rel=1e-6)
        s.run(tf.global_variables_initializer())          # the imported initializers run too


def test_frozen_pb_from_tensorflow_runs_with_input_map_and_return_elements():
    gd = P.graph_pb2.GraphDef.FromString((FIX / "frozen.pb").read_bytes())
    assert not any(n.op == "VariableV2" for n in gd.node)
    x = tf.placeholder(tf.float32, (None, 4), name="my_input")
    logits, = tf.import_graph_def(gd, input_map={"X:0": x}, return_elements=["logits:0"],
                                  name="frozen")
    assert logits.name == "frozen/logits:0"
    with tf.Session() as s:
        np.testing.assert_allclose(s.run(logits, {x: EXP["X_probe"]}), EXP["logits_probe"],
                                   rtol=1e-5, atol=1e-6)
    assert tf.get_default_graph().get_operation_by_name("frozen/dnn/hidden1_1/MatMul")


def _unknown_op_graph_def():
    gd = P.graph_pb2.GraphDef()
    gd.node.add(name="a", op="Placeholder").attr["dtype"].type = 1
    gd.node.add(name="weird", op="FancyNewOp", input=["a"])
    return gd


def test_unknown_op_is_a_clear_error_at_import_and_nothing_is_created(tmp_path):
    n = len(tf.get_default_graph().get_operations())
    with pytest.raises(errors.NotFoundError, match=r"node weird: op type 'FancyNewOp' has no "
                                                   r"jitflow mapping"):
        tf.import_graph_def(_unknown_op_graph_def())
    assert len(tf.get_default_graph().get_operations()) == n
    m = P.meta_graph_pb2.MetaGraphDef()
    m.graph_def.CopyFrom(_unknown_op_graph_def())
    (tmp_path / "bad.meta").write_bytes(m.SerializeToString())
    with pytest.raises(errors.NotFoundError, match=r"bad\.meta: node weird: op type 'FancyNewOp'"):
        tf.train.import_meta_graph(str(tmp_path / "bad.meta"))


def test_deeply_nested_attribute_is_a_data_loss_error_not_a_recursion_error(tmp_path):
    inner = b"\x10\x01"                                    # AttrValue{i: 1}
    for _ in range(400):                                   # AttrValue{func{attr{"a": inner}}}
        inner = field_bytes(10, field_bytes(2, field_bytes(1, b"a") + field_bytes(2, inner)))
    node = field_bytes(1, b"c") + field_bytes(2, b"Const") + \
        field_bytes(5, field_bytes(1, b"value") + field_bytes(2, inner))
    m = field_bytes(2, field_bytes(1, node))               # MetaGraphDef{graph_def{node}}
    (tmp_path / "deep.meta").write_bytes(m)
    with pytest.raises(errors.DataLossError, match=r"deep\.meta"):
        tf.train.import_meta_graph(str(tmp_path / "deep.meta"))
    with pytest.raises(errors.DataLossError):
        tf.import_graph_def(field_bytes(1, node))
    # jitflow 0.1's JSON meta graphs: a too-deep attribute and an unknown IR op
    tf.constant([1.0, 2.0], name="c")
    meta = dict(tf.train.export_meta_graph())
    tf.reset_default_graph()
    deep = json.loads(json.dumps(meta))
    deep["ops"][0]["attrs"]["value"] = "[" * 5000 + "]" * 5000
    with pytest.raises(errors.DataLossError, match="nested too deeply"):
        tf.train.import_meta_graph(deep)
    tf.reset_default_graph()
    unknown = json.loads(json.dumps(meta))
    unknown["ops"][0]["ir_op"] = "no_such_op"
    with pytest.raises(errors.NotFoundError, match=r"op c .*unknown IR op 'no_such_op'"):
        tf.train.import_meta_graph(unknown)


def _model():
    X = tf.placeholder(tf.float32, (None, 4), name="X")
    with tf.name_scope("dnn"):
        h = tf.layers.dense(X, 6, activation=tf.nn.relu, name="hidden1")
        h = tf.nn.sigmoid(h) * 2.0 - tf.reduce_mean(h, axis=1, keepdims=True)
        h = tf.reshape(tf.concat([h, tf.square(h)], axis=1), [-1, 12])
        logits = tf.layers.dense(h, 3, name="outputs")
    probs = tf.nn.softmax(logits, name="probs")
    return X, logits, probs


def test_jitflow_graph_def_round_trips_through_the_tf_path(tmp_path):
    X, logits, probs = _model()
    x = np.random.RandomState(0).rand(5, 4).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        want = s.run(probs, {X: x})
        gd = s.graph_def
        frozen = tf.graph_util.convert_variables_to_constants(s, gd, ["probs"])
    assert {n.op for n in gd.node} >= {"Placeholder", "VariableV2", "MatMul", "BiasAdd", "Relu",
                                       "Sigmoid", "Mean", "Reshape", "ConcatV2", "Softmax"}
    assert not any(n.op == "VariableV2" for n in frozen.node)
    text = tf.train.write_graph(frozen, str(tmp_path), "f.pbtxt", as_text=True)
    binary = tf.train.write_graph(frozen, str(tmp_path), "f.pb", as_text=False)
    assert Path(text).read_text().startswith("node {")
    tf.reset_default_graph()
    for path in (text, binary):
        with tf.Graph().as_default():
            p, = tf.import_graph_def(GD.parse_graph_def(Path(path).read_bytes(), path),
                                     return_elements=["probs:0"], name="")
            with tf.Session() as s:
                np.testing.assert_allclose(s.run(p, {"X:0": x}), want, rtol=1e-6)


def test_saver_writes_a_tensorflow_meta_graph(tmp_path):
    X, logits, probs = _model()
    y = tf.placeholder(tf.int32, (None,), name="y")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y,
                                                                        logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    tf.add_to_collection(tf.GraphKeys.TRAIN_OP, train)
    x = np.random.RandomState(0).rand(5, 4).astype(np.float32)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        p = tf.train.Saver().save(s, str(tmp_path / "m.ckpt"))
        want = s.run(probs, {X: x})
    m = P.meta_graph_pb2.MetaGraphDef.FromString(Path(p + ".meta").read_bytes())
    assert m.saver_def.restore_op_name == "save/restore_all"
    ops = {n.name: n.op for n in m.graph_def.node}
    assert ops["save/SaveV2"] == "SaveV2" and ops["save/RestoreV2"] == "RestoreV2"
    assert len(m.collection_def["trainable_variables"].bytes_list.value) == 4
    # TF's view (no jitflow extension): the forward graph, variables and a working Saver
    del m.collection_def["jitflow_meta_graph"]
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(m)
    with tf.Session() as s:
        saver.restore(s, p)
        np.testing.assert_allclose(s.run("probs:0", {"X:0": x}), want, rtol=1e-6)


def test_the_op_table_covers_the_common_tf_op_types():
    common = ["Add", "AddV2", "Sub", "Mul", "RealDiv", "MatMul", "BiasAdd", "Relu", "Sigmoid",
              "Tanh", "Softmax", "Const", "Placeholder", "Identity", "VariableV2", "Assign",
              "Mean", "Sum", "Max", "Reshape", "ConcatV2", "Conv2D", "MaxPool", "AvgPool",
              "Cast", "ExpandDims", "Squeeze", "Transpose", "Fill", "RandomUniform",
              "SparseSoftmaxCrossEntropyWithLogits", "NoOp", "Shape", "GatherV2", "Exp", "Log"]
    assert set(common) <= set(TABLE)


@pytest.mark.parametrize("opt", ["adam", "momentum", "resource_adam"])
def test_tensorflow_adam_and_momentum_graphs_train_like_tensorflow(opt):
    saver = tf.train.import_meta_graph(str(FIX / opt / "model.ckpt.meta"))
    train_op = tf.get_collection("train_op")[0]
    feed = {"X:0": EXP[opt + "_x"], "y:0": EXP[opt + "_y"]}
    with tf.Session() as s:
        saver.restore(s, str(FIX / opt / "model.ckpt"))     # slots and beta powers too
        assert s.run("loss:0", feed) == pytest.approx(float(EXP[opt + "_loss"]), rel=1e-6)
        for i in range(1, 4):
            s.run(train_op, feed)
            assert s.run("loss:0", feed) == pytest.approx(float(EXP[f"{opt}_loss_{i}"]),
                                                          rel=1e-5)


def test_hostile_sizes_are_refused_before_allocating():
    gd = P.graph_pb2.GraphDef()
    c = gd.node.add(name="big", op="Const")
    c.attr["dtype"].type = 1
    t = c.attr["value"].tensor
    t.dtype = 1
    for d in (1 << 20, 1 << 20):
        t.tensor_shape.dim.add().size = d
    t.float_val.append(1.0)                   # "repeat the last value" a trillion times
    with pytest.raises(errors.DataLossError, match=r"node big.*exceeds the limit"):
        tf.import_graph_def(gd)


def test_more_op_types_round_trip(tmp_path):
    x = tf.placeholder(tf.float32, (None, 4), name="x")
    labels = tf.placeholder(tf.int32, (None,), name="labels")
    a, b = tf.split(x, 2, axis=1, name="halves")
    c, d = tf.split(x, [1, 3], axis=1, name="parts")
    st = tf.stack([a, b], axis=1, name="stacked")
    out = tf.concat([tf.reshape(st, [-1, 4]), tf.pad(c, [[0, 0], [1, 2]]),
                     tf.nn.leaky_relu(d, alpha=0.3), tf.squared_difference(a, b),
                     tf.one_hot(labels, 3, dtype=tf.float32)], axis=1, name="all")
    am = tf.argmax(out, axis=1, name="am")
    xv = np.random.RandomState(3).randn(3, 4).astype(np.float32)
    lv = np.array([2, 0, 1], np.int32)
    with tf.Session() as s:
        want = s.run([out, am], {x: xv, labels: lv})
        gd = s.graph_def
    assert {"Split", "SplitV", "ConcatV2", "Pad", "LeakyRelu", "OneHot", "ArgMax"} <= \
        {n.op for n in gd.node}
    tf.train.write_graph(gd, str(tmp_path), "more.pb", as_text=False)
    with tf.Graph().as_default():
        o, m = tf.import_graph_def(P.graph_pb2.GraphDef.FromString(
            (tmp_path / "more.pb").read_bytes()), return_elements=["all:0", "am:0"], name="")
        with tf.Session() as s:
            got = s.run([o, m], {"x:0": xv, "labels:0": lv})
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_array_equal(got[1], want[1])
