"""TensorFlow's V2 checkpoint format: reading files TensorFlow 2.21 wrote (tests/fixtures/tf,
made by make_fixtures.py), the seed's partial restore, the old jitflow format, bad files."""
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf
from jitflow import errors
from jitflow.frontend import saver as S
from jitflow.frontend.saver import bundle, table
from jitflow.interop.protowire import field_bytes, field_varint

FIX = Path(__file__).resolve().parent / "fixtures" / "tf"
EXP = np.load(FIX / "expected.npz")
DNN = str(FIX / "dnn" / "model.ckpt")


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def test_reads_a_tensorflow_checkpoint():
    names = [n for n, _ in tf.train.list_variables(str(FIX / "dnn"))]
    assert names == ["hidden1/bias", "hidden1/kernel", "hidden2/bias", "hidden2/kernel",
                     "hidden3/bias", "hidden3/kernel", "outputs/bias", "outputs/kernel"]
    assert dict(tf.train.list_variables(DNN))["hidden2/kernel"] == [5, 4]
    for n in names:
        np.testing.assert_array_equal(tf.train.load_variable(DNN, n), EXP["var/" + n])
    # recorded when the fixture was made (TF's values after 3 steps of gradient descent)
    np.testing.assert_allclose(tf.train.load_variable(DNN, "hidden1/bias"),
                               [0.09567734, 0.0837897, 0.10923643, 0.1, 0.09027838], rtol=1e-6)
    r = tf.train.NewCheckpointReader(DNN)
    assert r.get_variable_to_dtype_map()["outputs/kernel"] == tf.float32


def test_reads_partitioned_variables_and_int64():
    p = str(FIX / "part" / "model.ckpt")
    r = tf.train.NewCheckpointReader(p)
    assert r.get_variable_to_shape_map() == {"part": [7, 2], "scalar_i64": []}
    np.testing.assert_array_equal(r.get_tensor("part"), EXP["part"])
    assert r.get_tensor("scalar_i64") == 12345678901 and r.get_tensor("scalar_i64").dtype == np.int64


def _seed_transfer_graph():
    X = tf.placeholder(tf.float32, (None, 4), name="X")
    with tf.name_scope("dnn"):
        h1 = tf.layers.dense(X, 5, activation=tf.nn.relu, name="hidden1")
        h2 = tf.layers.dense(h1, 4, activation=tf.nn.relu, name="hidden2")
        h3 = tf.layers.dense(h2, 3, activation=tf.nn.relu, name="hidden3")
        h4 = tf.layers.dense(h3, 6, activation=tf.nn.relu, name="hidden4")   # new
        logits = tf.layers.dense(h4, 2, name="outputs_new")                  # new
    return X, logits


def test_seed_transfer_learning_restores_a_tf_checkpoint_with_a_partial_var_list():
    X, logits = _seed_transfer_graph()
    reuse = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[123]")
    assert len(reuse) == 6
    restore_saver = tf.train.Saver(reuse)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        new_before = s.run("hidden4/kernel:0")
        restore_saver.restore(s, DNN)
        for v in reuse:
            np.testing.assert_array_equal(s.run(v), EXP["var/" + v.op.name])
        np.testing.assert_array_equal(s.run("hidden4/kernel:0"), new_before)
        assert s.run(logits, {X: EXP["X_probe"]}).shape == (3, 2)


def test_init_from_checkpoint_maps_scopes_and_names():
    X, logits = _seed_transfer_graph()
    tf.train.init_from_checkpoint(DNN, {"hidden1/": "hidden1/",
                                        "hidden2/kernel": "hidden2/kernel"})
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(s.run("hidden1/kernel:0"), EXP["var/hidden1/kernel"])
        np.testing.assert_array_equal(s.run("hidden1/bias:0"), EXP["var/hidden1/bias"])
        np.testing.assert_array_equal(s.run("hidden2/kernel:0"), EXP["var/hidden2/kernel"])
        assert not np.array_equal(s.run("hidden2/bias:0"), EXP["var/hidden2/bias"])
    with pytest.raises(ValueError, match="hidden4/kernel.*not found"):
        tf.train.init_from_checkpoint(DNN, {"hidden4/": "hidden4/"})


def test_jitflow_checkpoint_round_trips_every_dtype(tmp_path):
    vals = {"a/f32": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.float64(2.5),
            "c": np.array([1, -2], np.int32), "d": np.array([[2 ** 40]], np.int64),
            "e": np.array([True, False, True])}
    S.write_checkpoint(str(tmp_path / "m"), vals)
    r = tf.train.NewCheckpointReader(str(tmp_path / "m"))
    for k, v in vals.items():
        got = r.get_tensor(k)
        assert got.dtype == np.asarray(v).dtype and got.shape == np.shape(v)
        np.testing.assert_array_equal(got, v)


def test_old_jitflow_format_is_read_with_a_deprecation_warning(tmp_path):
    v = tf.Variable(np.arange(4, dtype=np.float32), name="v")
    S.write_jitflow_checkpoint(str(tmp_path / "old"), {"v": np.full(4, 3.0, np.float32)})
    assert (tmp_path / "old.index").read_bytes()[:1] == b"{"
    with tf.Session() as s:
        with pytest.warns(DeprecationWarning, match="jitflow 0.1 checkpoint format"):
            tf.train.Saver().restore(s, str(tmp_path / "old"))
        np.testing.assert_array_equal(s.run(v), np.full(4, 3.0, np.float32))
        p = tf.train.Saver().save(s, str(tmp_path / "new"))    # re-saved in TF's format
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(tf.train.load_variable(p, "v"), np.full(4, 3.0))


# ---------------------------------------------------------------------- bad files ----------

def _copy_dnn(tmp_path):
    for f in (FIX / "dnn").glob("model.ckpt.*"):
        shutil.copy(f, tmp_path / f.name)
    return str(tmp_path / "model.ckpt")


def _restore_all(p):
    X, logits = _seed_transfer_graph()
    reuse = tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, scope="hidden[123]")
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        before = s.run(reuse)
        try:
            tf.train.Saver(reuse).restore(s, p)
        finally:
            for b, a in zip(before, s.run(reuse)):       # nothing loaded
                np.testing.assert_array_equal(a, b)


def test_truncated_index_is_a_data_loss_error(tmp_path):
    p = _copy_dnn(tmp_path)
    raw = Path(p + ".index").read_bytes()
    for n in (len(raw) - 1, len(raw) // 2, 10):
        Path(p + ".index").write_bytes(raw[:n])
        with pytest.raises(errors.DataLossError, match=r"model\.ckpt\.index.*truncated"):
            _restore_all(p)
        tf.reset_default_graph()


def test_flipped_byte_in_a_shard_is_a_data_loss_error_and_nothing_is_loaded(tmp_path):
    p = _copy_dnn(tmp_path)
    e = bundle.BundleReader(p).entries["hidden3/kernel"]
    raw = bytearray(Path(p + ".data-00000-of-00001").read_bytes())
    raw[e.offset + 5] ^= 0x10
    Path(p + ".data-00000-of-00001").write_bytes(bytes(raw))
    with pytest.raises(errors.DataLossError, match=r"Checksum does not match for tensor "
                                                   r"hidden3/kernel in .*data-00000-of-00001"):
        _restore_all(p)


def _index_with_entry(name, entry):
    return table.build_table([(b"", bundle._header_proto()), (name.encode(), entry)])


def test_negative_dims_and_oversized_entries_are_refused_before_reading(tmp_path):
    p = str(tmp_path / "bad")
    Path(p + ".data-00000-of-00001").write_bytes(b"\0" * 16)
    neg = field_varint(1, 1) + field_bytes(2, field_bytes(2, field_varint(1, -3))) + \
        field_varint(5, 12)
    Path(p + ".index").write_bytes(_index_with_entry("w/neg", neg))
    with pytest.raises(errors.DataLossError, match=r"bad\.index: entry w/neg: negative .*-3"):
        tf.train.NewCheckpointReader(p)
    huge = field_varint(1, 1) + field_bytes(2, field_bytes(2, field_varint(1, 10 ** 9))) + \
        field_varint(5, 4 * 10 ** 9)
    Path(p + ".index").write_bytes(_index_with_entry("w/huge", huge))
    with pytest.raises(errors.DataLossError, match=r"truncated: entry w/huge needs bytes up to "
                                                   r"4000000000, the file has 16"):
        tf.train.NewCheckpointReader(p)
    lie = field_varint(1, 1) + field_bytes(2, field_bytes(2, field_varint(1, 10 ** 6))) + \
        field_varint(5, 8)
    Path(p + ".index").write_bytes(_index_with_entry("w/lie", lie))
    with pytest.raises(errors.DataLossError, match=r"entry w/lie has 8 bytes but shape"):
        tf.train.NewCheckpointReader(p)


def test_missing_data_shard(tmp_path):
    p = _copy_dnn(tmp_path)
    Path(p + ".data-00000-of-00001").unlink()
    with pytest.raises(errors.DataLossError, match="data-00000-of-00001 is missing"):
        tf.train.NewCheckpointReader(p)


# ---------------------------------------------------------------------- properties ---------

@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF),
                               min_size=1, max_size=12),
                       st.tuples(st.sampled_from(["float32", "float64", "int32", "int64",
                                                  "bool"]),
                                 st.lists(st.integers(0, 4), max_size=3)),
                       min_size=1, max_size=40))
def test_bundle_round_trip(tmp_path_factory, spec):
    p = str(tmp_path_factory.mktemp("b") / "m")
    rng = np.random.RandomState(0)
    vals = {k: np.asarray(rng.randn(*shape) * 100).astype(dt) for k, (dt, shape) in spec.items()}
    S.write_checkpoint(p, vals)
    got = tf.train.NewCheckpointReader(p).read(vals)
    for k in vals:
        assert got[k].dtype == vals[k].dtype and got[k].shape == vals[k].shape
        np.testing.assert_array_equal(got[k], vals[k])


@given(st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), min_size=2, max_size=20))
def test_slice_key_numbers_are_order_preserving(xs):
    """OrderedCode's signed numbers sort as the numbers do (what makes TF's keys sorted)."""
    xs = sorted(set(xs))
    enc = [bundle._oc_signed(x) for x in xs]
    assert enc == sorted(enc)


def test_slice_keys_match_the_ones_tensorflow_wrote():
    keys = [k for k, _ in table.read_table((FIX / "part" / "model.ckpt.index").read_bytes())]
    want = {bundle.slice_key("part", [(0, 3), (0, 2)]), bundle.slice_key("part", [(3, 2), (0, 2)]),
            bundle.slice_key("part", [(5, 2), (0, 2)])}
    assert want <= set(keys)


def test_restore_assembles_a_partitioned_variable():
    p = tf.Variable(np.zeros((7, 2), np.float32), name="part")
    with tf.Session() as s:
        tf.train.Saver([p]).restore(s, str(FIX / "part" / "model.ckpt"))
        np.testing.assert_array_equal(s.run(p), EXP["part"])


def test_old_jitflow_meta_graph_json_is_read_with_a_deprecation_warning(tmp_path):
    from jitflow.frontend.saver.format import _sealed_json
    x = tf.placeholder(tf.float32, (None, 2), name="x")
    y = tf.reduce_sum(x * 3.0, axis=1, name="y")
    meta = dict(tf.train.export_meta_graph())
    (tmp_path / "old.meta").write_bytes(_sealed_json(meta))
    tf.reset_default_graph()
    with pytest.warns(DeprecationWarning, match="jitflow 0.1 meta graph"):
        tf.train.import_meta_graph(str(tmp_path / "old.meta"))
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run("y:0", {"x:0": [[1.0, 2.0]]}), [9.0])
    _ = y


def test_a_partitioned_entry_whose_parts_do_not_cover_it_is_refused(tmp_path):
    p = str(tmp_path / "bad")
    Path(p + ".data-00000-of-00001").write_bytes(b"\0" * 8)
    ext = field_bytes(1, field_varint(2, 1)) + field_bytes(1, field_varint(2, 2))
    full = field_varint(1, 1) + field_bytes(2, bundle._shape_proto((10 ** 6, 10 ** 6))) + \
        field_bytes(7, ext)
    part = bundle._entry_proto(1, (1, 2), 0, 8, 0)
    items = sorted([(b"", bundle._header_proto()), (b"w", full),
                    (bundle.slice_key("w", [(0, 1), (0, 2)]), part)])
    Path(p + ".index").write_bytes(table.build_table(items))
    with pytest.raises(errors.DataLossError, match=r"partitions of w hold 8 bytes, its shape "
                                                   r"\[1000000, 1000000\] needs 4000000000000"):
        tf.train.NewCheckpointReader(p).get_tensor("w")
