"""tf.saved_model (TF1): a SavedModel TensorFlow 2.21 wrote (tests/fixtures/tf/saved_model, from
simple_save) loads and runs; jitflow's simple_save/SavedModelBuilder output loads back."""
from pathlib import Path

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow import errors
from jitflow.interop import tf_protos as P

FIX = Path(__file__).resolve().parent / "fixtures" / "tf"
EXP = np.load(FIX / "expected.npz")


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _run_signature(sess, meta, x):
    sig = meta.signature_def[tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
    return sess.run(sig.outputs["probs"].name, {sig.inputs["x"].name: x})


def test_loads_a_tensorflow_saved_model():
    with tf.Session(graph=tf.Graph()) as sess:
        meta = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING],
                                          str(FIX / "saved_model"))
        assert meta.signature_def["serving_default"].method_name == "tensorflow/serving/predict"
        np.testing.assert_allclose(_run_signature(sess, meta, EXP["sm_x"]), EXP["sm_probs"],
                                   rtol=1e-5, atol=1e-7)
    with tf.Session(graph=tf.Graph()) as sess:
        with pytest.raises(RuntimeError, match="could not be found in SavedModel"):
            tf.saved_model.loader.load(sess, ["train"], str(FIX / "saved_model"))


def _net():
    x = tf.placeholder(tf.float32, (None, 3), name="x")
    h = tf.layers.dense(x, 4, activation=tf.nn.relu, name="hidden")
    probs = tf.nn.softmax(tf.layers.dense(h, 2, name="out"), name="probs")
    return x, probs


def test_simple_save_and_builder_round_trip(tmp_path):
    x, probs = _net()
    step = tf.Variable(0, name="step", trainable=False)
    bump = tf.assign_add(step, 5)
    xv = np.random.RandomState(1).rand(4, 3).astype(np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        want = sess.run(probs, {x: xv})
        tf.saved_model.simple_save(sess, str(tmp_path / "simple"), {"x": x}, {"probs": probs})
        b = tf.saved_model.builder.SavedModelBuilder(str(tmp_path / "built"))
        sig = tf.saved_model.signature_def_utils.predict_signature_def({"x": x},
                                                                      {"probs": probs})
        b.add_meta_graph_and_variables(sess, ["serve"], {"serving_default": sig},
                                       main_op=bump.op)
        b.add_meta_graph(["train"])
        b.save(as_text=True)
        with pytest.raises(AssertionError, match="isn't empty"):
            tf.saved_model.builder.SavedModelBuilder(str(tmp_path / "simple"))
    assert (tmp_path / "simple" / "variables" / "variables.index").exists()
    sm = P.SavedModel.FromString((tmp_path / "simple" / "saved_model.pb").read_bytes())
    assert sm.saved_model_schema_version == 1 and list(sm.meta_graphs[0].meta_info_def.tags) == \
        ["serve"]
    assert (tmp_path / "built" / "saved_model.pbtxt").read_text().startswith(
        "saved_model_schema_version: 1")
    for d in ("simple", "built"):
        with tf.Session(graph=tf.Graph()) as sess:
            meta = tf.saved_model.loader.load(sess, ["serve"], str(tmp_path / d))
            np.testing.assert_allclose(_run_signature(sess, meta, xv), want, rtol=1e-6)
            if d == "built":                       # the main op ran after the restore
                assert sess.run("step:0") == 5
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, ["train"], str(tmp_path / "built"))
        assert sess.run("step:0") == 5


def test_missing_or_corrupted_saved_model(tmp_path):
    with tf.Session() as sess:
        with pytest.raises(OSError, match="SavedModel file does not exist"):
            tf.saved_model.loader.load(sess, ["serve"], str(tmp_path))
        (tmp_path / "saved_model.pb").write_bytes(b"\x12\xff\xff\xff\x0f garbage")
        with pytest.raises(errors.DataLossError, match="saved_model.pb is corrupted"):
            tf.saved_model.loader.load(sess, ["serve"], str(tmp_path))
