"""TFRecord write/read with tf.train.Example and parse_single_example, corrupt records, and
TF1's queue-based readers (CSV, Coordinator, num_epochs, batch/shuffle_batch, bad lines)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf
from jitflow.frontend.summary import crc32c


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def example(i):
    return tf.train.Example(features=tf.train.Features(feature={
        "vec": tf.train.Feature(float_list=tf.train.FloatList(value=[i, -i, 0.25 * i])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i - 3])),
        "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"item%d" % i]))}))


def write(path, n):
    with tf.python_io.TFRecordWriter(path) as w:
        for i in range(n):
            w.write(example(i).SerializeToString())


FEATURES = {"vec": tf.FixedLenFeature([3], tf.float32), "label": tf.FixedLenFeature([], tf.int64)}


def run_all(nxt):
    out = []
    with tf.Session() as s:
        while True:
            try:
                out.append(s.run(nxt))
            except tf.errors.OutOfRangeError:
                return out


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283      # the standard CRC-32C check value


@settings(max_examples=30, deadline=None)
@given(floats=st.lists(st.floats(-1e6, 1e6, width=32), max_size=5),
       ints=st.lists(st.integers(-2 ** 63, 2 ** 63 - 1), max_size=5),
       blobs=st.lists(st.binary(max_size=20), max_size=3))
def test_example_round_trip(floats, ints, blobs):
    ex = tf.train.Example(features=tf.train.Features(feature={
        "f": tf.train.Feature(float_list=tf.train.FloatList(value=floats)),
        "i": tf.train.Feature(int64_list=tf.train.Int64List(value=ints)),
        "b": tf.train.Feature(bytes_list=tf.train.BytesList(value=blobs))}))
    back = tf.train.Example.FromString(ex.SerializeToString()).features.feature
    assert back["f"].float_list.value == [float(np.float32(v)) for v in floats]
    assert back["i"].int64_list.value == ints
    assert back["b"].bytes_list.value == blobs


def test_tfrecord_dataset_parse_single_example(tmp_path):
    path = str(tmp_path / "data.tfrecords")
    write(path, 7)
    assert len(list(tf.python_io.tf_record_iterator(path))) == 7

    def parse(s):
        f = tf.parse_single_example(s, FEATURES)
        return f["vec"] * 2.0, f["label"]
    ds = tf.data.TFRecordDataset([path]).map(parse).batch(3)
    got = run_all(ds.make_one_shot_iterator().get_next())
    vec = np.concatenate([g[0] for g in got])
    lab = np.concatenate([g[1] for g in got])
    np.testing.assert_allclose(vec, [[2 * i, -2 * i, 0.5 * i] for i in range(7)])
    assert lab.tolist() == [i - 3 for i in range(7)] and lab.dtype == np.int64
    tf.reset_default_graph()
    gz = str(tmp_path / "data.gz.tfrecords")
    with tf.python_io.TFRecordWriter(gz, tf.python_io.TFRecordOptions("GZIP")) as w:
        w.write(example(4).SerializeToString())
    ds = tf.data.TFRecordDataset(gz, compression_type="GZIP").map(
        lambda s: tf.parse_single_example(s, FEATURES)["label"])
    assert [int(v) for v in run_all(ds.make_one_shot_iterator().get_next())] == [1]


def test_corrupt_record_names_file_record_and_offset(tmp_path):
    path = str(tmp_path / "c.tfrecords")
    write(path, 3)
    raw = bytearray(open(path, "rb").read())
    first = 12 + int.from_bytes(raw[:8], "little") + 4
    raw[first + 14] ^= 0xFF                           # a data byte of record 1
    open(path, "wb").write(bytes(raw))
    nxt = tf.data.TFRecordDataset(path).map(
        lambda s: tf.parse_single_example(s, FEATURES)["label"]).make_one_shot_iterator().get_next()
    with tf.Session() as s:
        assert int(s.run(nxt)) == -3
        with pytest.raises(tf.errors.DataLossError,
                           match=rf"corrupted record at offset {first} \(record 1\) in .*c.tfrecords"):
            s.run(nxt)
    open(path, "wb").write(bytes(raw[:first + 5]))    # truncated inside record 1's header
    with pytest.raises(tf.errors.DataLossError, match="truncated record"):
        list(tf.python_io.tf_record_iterator(path))


def test_parse_errors_name_feature_and_record(tmp_path):
    path = str(tmp_path / "p.tfrecords")
    write(path, 2)
    for feats, pattern in (
            ({"missing": tf.FixedLenFeature([], tf.float32)}, "Feature: missing .*required"),
            ({"label": tf.FixedLenFeature([], tf.float32)}, "Key: label. Data types don't match"),
            ({"vec": tf.FixedLenFeature([2], tf.float32)}, "Key: vec.*3 values.*needs 2")):
        tf.reset_default_graph()
        nxt = tf.data.TFRecordDataset(path).map(
            lambda s: tf.parse_single_example(s, feats)).make_one_shot_iterator().get_next()
        with tf.Session() as s:
            with pytest.raises(tf.errors.InvalidArgumentError,
                               match=pattern + r".*p.tfrecords:record 0"):
                s.run(nxt)
    tf.reset_default_graph()
    feats = {"missing": tf.FixedLenFeature([2], tf.float32, default_value=[7.0, 8.0])}
    nxt = tf.data.TFRecordDataset(path).map(
        lambda s: tf.parse_single_example(s, feats)["missing"]).make_one_shot_iterator().get_next()
    assert [v.tolist() for v in run_all(nxt)] == [[7.0, 8.0]] * 2


def write_csv(tmp_path, name, rows):
    p = tmp_path / name
    p.write_text("".join(r + "\n" for r in rows))
    return str(p)


def test_csv_queue_pipeline_with_coordinator_and_num_epochs(tmp_path):
    a = write_csv(tmp_path, "a.csv", ["1,10.5", "2,20.5", "3,30.5"])
    b = write_csv(tmp_path, "b.csv", ["4,40.5"])
    fq = tf.train.string_input_producer([a, b], num_epochs=3, shuffle=False)
    key, value = tf.TextLineReader().read(fq)
    i, f = tf.decode_csv(value, record_defaults=[[0], [0.0]])
    bi, bf = tf.train.batch([i, f * 2.0], batch_size=5, allow_smaller_final_batch=True)
    seen = []
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess=s, coord=coord)
        try:
            while not coord.should_stop():
                vi, vf = s.run([bi, bf])
                seen.append((vi.tolist(), vf.tolist()))
        except tf.errors.OutOfRangeError:
            pass
        finally:
            coord.request_stop()
        coord.join(threads)
    ints = [v for bi_, _ in seen for v in bi_]
    assert ints == [1, 2, 3, 4] * 3
    assert [len(x) for x, _ in seen] == [5, 5, 2]
    assert seen[0][1][:2] == [21.0, 41.0]


def test_shuffle_batch_covers_every_record_once_per_epoch(tmp_path):
    rows = [f"{k}" for k in range(40)]
    path = write_csv(tmp_path, "n.csv", rows)
    fq = tf.train.string_input_producer([path], num_epochs=1)
    _, value = tf.TextLineReader().read(fq)
    (col,) = tf.decode_csv(value, [[0]])
    out = tf.train.shuffle_batch([col], batch_size=8, capacity=40, min_after_dequeue=10, seed=1)
    got = []
    with tf.Session() as s:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord)
        try:
            while True:
                got.extend(s.run(out).tolist())
        except tf.errors.OutOfRangeError:
            pass
        coord.request_stop()
        coord.join(threads)
    assert sorted(got) == list(range(40)) and got != list(range(40))


def test_bad_csv_line_is_reported_by_coordinator_with_file_and_line(tmp_path):
    path = write_csv(tmp_path, "bad.csv", ["1,2", "3,4", "5,6,7", "8,9"])
    fq = tf.train.string_input_producer([path], shuffle=False)
    _, value = tf.TextLineReader().read(fq)
    x, y = tf.decode_csv(value, [[0.0], [0.0]])
    bx, by = tf.train.batch([x, y], batch_size=1)
    w = tf.Variable(0.0)
    step = tf.assign_add(w, tf.reduce_sum(bx))
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord)
        with pytest.raises((tf.errors.OutOfRangeError, tf.errors.CancelledError)):
            for _ in range(10):
                s.run(step)
        assert s.run(w) == 4.0                    # lines 1 and 2 only: nothing from line 3
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"Expect 2 fields but have 3 in record 0 .*bad.csv:line 3"):
            coord.join(threads)


def test_decode_csv_in_a_dataset_map_names_the_line(tmp_path):
    path = write_csv(tmp_path, "m.csv", ["1.5,2", "x,3"])
    ds = tf.data.TextLineDataset(path).map(lambda line: tuple(tf.decode_csv(line, [[0.0], [0]])))
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as s:
        a, b = s.run(nxt)
        assert (float(a), int(b)) == (1.5, 2)
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"Field 0 in record 0 is not a valid float: 'x' .*m.csv:line 2"):
            s.run(nxt)


def test_fifo_queue_enqueue_dequeue_close():
    q = tf.FIFOQueue(3, [tf.float32, tf.int32], shapes=[[2], []])
    ph = tf.placeholder(tf.float32, [2])
    enq = q.enqueue([ph * 2.0, tf.constant(5)])
    a, b = q.dequeue()
    many = q.dequeue_many(2)
    close = q.close()
    size = q.size()
    with tf.Session() as s:
        for v in range(3):
            s.run(enq, {ph: [v, v + 1.0]})
        assert int(s.run(size)) == 3
        va, vb = s.run([a, b])
        assert va.tolist() == [0.0, 2.0] and int(vb) == 5
        s.run(close)
        ma, mb = s.run(many)
        assert ma.shape == (2, 2) and mb.tolist() == [5, 5]
        with pytest.raises(tf.errors.OutOfRangeError, match="closed and has insufficient"):
            s.run(a)
        with pytest.raises(tf.errors.CancelledError, match="is closed"):
            s.run(enq, {ph: [0.0, 0.0]})


def test_random_shuffle_queue_keeps_min_after_dequeue_and_shuffles_with_its_seed():
    """TF1's RandomShuffleQueue: every element comes out once, in an order fixed by the seed and
    not the input order; a dequeue waits while fewer than ``min_after_dequeue`` remain unless the
    queue is closed (then it drains)."""
    def drain(seed):
        q = tf.RandomShuffleQueue(capacity=20, min_after_dequeue=5, dtypes=[tf.int32],
                                  shapes=[[]], seed=seed)
        ph = tf.placeholder(tf.int32, [])
        enq, deq, close, size = q.enqueue([ph]), q.dequeue(), q.close(), q.size()
        with tf.Session() as s:
            for v in range(12):
                s.run(enq, {ph: v})
            out = [int(s.run(deq)) for _ in range(7)]   # 12 - 7 = 5 left: min_after_dequeue
            assert int(s.run(size)) == 5
            s.run(close)
            out += [int(s.run(deq)) for _ in range(5)]  # closed: the last 5 drain
            with pytest.raises(tf.errors.OutOfRangeError):
                s.run(deq)
        return out

    first, again, other = drain(7), drain(7), drain(8)
    assert sorted(first) == list(range(12))
    assert first == again and first != list(range(12)) and first != other


def test_sharded_files_through_list_files_and_interleave(tmp_path):
    for k in range(3):
        with tf.python_io.TFRecordWriter(str(tmp_path / f"shard-{k}.tfrecords")) as w:
            for i in range(4):
                w.write(example(10 * k + i).SerializeToString())
    files = tf.data.Dataset.list_files(str(tmp_path / "shard-*.tfrecords"), shuffle=False)
    ds = files.interleave(tf.data.TFRecordDataset, cycle_length=3, block_length=2).map(
        lambda s: tf.parse_single_example(s, FEATURES)["label"] + 3)
    got = [int(v) for v in run_all(ds.make_one_shot_iterator().get_next())]
    assert got == [0, 1, 10, 11, 20, 21, 2, 3, 12, 13, 22, 23]


def test_file_names_fed_through_a_string_placeholder(tmp_path):
    for k in range(2):
        write(str(tmp_path / f"f{k}.tfrecords"), 2 + k)
    filenames = tf.placeholder(tf.string, shape=[None])
    ds = tf.data.TFRecordDataset(filenames).map(
        lambda s: tf.parse_single_example(s, FEATURES)["label"])
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        for files, want in (([tmp_path / "f1.tfrecords"], [-3, -2, -1]),
                            ([tmp_path / "f0.tfrecords", tmp_path / "f1.tfrecords"],
                             [-3, -2, -3, -2, -1])):
            s.run(it.initializer, {filenames: [str(f) for f in files]})
            got = []
            while True:
                try:
                    got.append(int(s.run(nxt)))
                except tf.errors.OutOfRangeError:
                    break
            assert got == want
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            s.run(it.initializer, {filenames: str(tmp_path / "f0.tfrecords")})
