"""tf.summary and FileWriter: the event files are read back here with an independent reader
(TFRecord framing with CRC-32C checks, protocol buffer fields decoded by hand). The format was
also checked once against TensorFlow's own ``tf.compat.v1.train.summary_iterator``."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.frontend.summary import crc32c, masked_crc32c


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def _fields(buf: bytes) -> list[tuple[int, object]]:
    """(field number, value) pairs: ints for varints, bytes for length-delimited, floats for
    fixed 32/64-bit (as little-endian float/double)."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = struct.unpack_from("<d", buf, i)[0], i + 8
        elif wire == 5:
            v, i = struct.unpack_from("<f", buf, i)[0], i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.append((field, v))
    return out


def read_events(path: Path) -> list[dict]:
    data = path.read_bytes()
    events, i = [], 0
    while i < len(data):
        header = data[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[i + 8:i + 12])[0] == masked_crc32c(header)
        body = data[i + 12:i + 12 + n]
        assert struct.unpack("<I", data[i + 12 + n:i + 16 + n])[0] == masked_crc32c(body)
        i += 16 + n
        ev: dict = {"values": [], "step": 0}      # proto3 omits zero fields
        for f, v in _fields(body):
            if f == 2:
                ev["step"] = v
            elif f == 3:
                ev["file_version"] = v.decode()
            elif f == 4:
                ev["graph_def"] = v
            elif f == 5:
                for vf, value in _fields(v):
                    assert vf == 1
                    entry = dict(_fields(value))
                    item = {"tag": entry[1].decode()}
                    if 2 in entry:
                        item["simple_value"] = entry[2]
                    if 5 in entry:
                        h = _fields(entry[5])
                        hd = dict(h)
                        hd = {k: hd.get(k, 0.0) for k in range(1, 6)} | hd   # proto3: 0 omitted
                        item["histo"] = {"min": hd[1], "max": hd[2], "num": hd[3], "sum": hd[4],
                                         "sum_squares": hd[5],
                                         "counts": struct.unpack(f"<{len(hd[7]) // 8}d", hd[7])}
                    ev["values"].append(item)
        events.append(ev)
    return events


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283           # the standard CRC-32C check value


def test_scalars_and_histograms_round_trip(tmp_path):
    x = tf.placeholder(tf.float32, [None], name="x")
    w = tf.Variable(2.0, name="w")
    loss = tf.reduce_mean(tf.square(x * w))
    train = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    tf.summary.scalar("loss", loss)
    with tf.name_scope("stats"):
        tf.summary.histogram("x", x)
    merged = tf.summary.merge_all()
    writer = tf.summary.FileWriter(str(tmp_path), tf.get_default_graph())
    data = np.arange(6, dtype=np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(3):
            _, s = sess.run([train, merged], {x: data * (step + 1)})
            assert isinstance(s, bytes)
            writer.add_summary(s, step)
    writer.close()
    files = list(tmp_path.glob("events.out.tfevents.*"))
    assert len(files) == 1
    events = read_events(files[0])
    assert events[0]["file_version"] == "brain.Event:2"
    assert b"MatMul" not in events[1]["graph_def"] and b"Square" in events[1]["graph_def"]
    events = events[1:]                     # the graph (FileWriter(logdir, graph)), then these
    assert [e["step"] for e in events[1:]] == [0, 1, 2]
    first = {v["tag"]: v for v in events[1]["values"]}
    assert set(first) == {"loss", "stats/x"}
    assert first["loss"]["simple_value"] == pytest.approx(np.mean(np.square(data * 2.0)))
    h = first["stats/x"]["histo"]
    assert (h["min"], h["max"], h["num"], h["sum"]) == (0.0, 5.0, 6.0, 15.0)
    assert h["sum_squares"] == pytest.approx(55.0) and sum(h["counts"]) == 6


def test_eval_of_one_summary_and_merge(tmp_path):
    a = tf.placeholder(tf.float32, [], name="a_in")
    sa = tf.summary.scalar("a", a)
    sb = tf.summary.scalar("b", a * 2, family="fam")
    both = tf.summary.merge([sa, sb])
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path)) as writer:
        writer.add_summary(sa.eval({a: 1.5}), 7)
        writer.add_summary(sess.run(both, {a: 2.0}), 8)
        assert writer.get_logdir() == str(tmp_path)
    events = read_events(next(tmp_path.glob("events*")))
    assert events[1]["step"] == 7 and events[1]["values"] == [{"tag": "a", "simple_value": 1.5}]
    assert [(v["tag"], v["simple_value"]) for v in events[2]["values"]] == [("a", 2.0),
                                                                           ("fam/b", 4.0)]


def test_summary_errors():
    assert tf.summary.merge_all() is None                # no summaries: None, as in TF
    with pytest.raises(ValueError, match="needs a scalar tensor"):
        tf.summary.scalar("v", tf.constant([1.0, 2.0]))
    with pytest.raises(TypeError, match="takes summaries"):
        tf.summary.merge([tf.constant(1.0)])


def test_add_summary_checks_its_argument(tmp_path):
    s = tf.summary.scalar("c", tf.constant(1.0))
    with tf.summary.FileWriter(str(tmp_path)) as writer:
        with pytest.raises(TypeError, match="not the summary itself"):
            writer.add_summary(s, 0)
        with pytest.raises(TypeError, match="serialized Summary"):
            writer.add_summary(1.0, 0)
    with pytest.raises(RuntimeError, match="closed"):
        writer.add_summary(b"", 1)


def test_summaries_travel_with_the_meta_graph(tmp_path):
    v = tf.Variable(3.0, name="v")
    tf.summary.scalar("v_value", v)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "model"))
    tf.reset_default_graph()
    restorer = tf.train.import_meta_graph(path + ".meta")
    merged = tf.summary.merge_all()
    assert merged is not None
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path / "logs")) as writer:
        restorer.restore(sess, path)
        writer.add_summary(sess.run(merged), 1)
    events = read_events(next((tmp_path / "logs").glob("events*")))
    assert events[1]["values"] == [{"tag": "v_value", "simple_value": 3.0}]


def test_add_summary_flushes_every_flush_secs(tmp_path):
    s = tf.summary.scalar("c", tf.constant(2.0))
    with tf.Session() as sess:
        value = sess.run(s)
    writer = tf.summary.FileWriter(str(tmp_path), flush_secs=0)
    writer.add_summary(value, 3)             # visible on disk before close (TensorBoard live)
    events = read_events(next(tmp_path.glob("events*")))
    assert events[-1]["step"] == 3 and events[-1]["values"][0]["simple_value"] == 2.0
    writer.close()


# ---------------------------------------------------------------------- TF's protos --------

FIX = Path(__file__).resolve().parent / "fixtures" / "tf"


def test_reads_an_event_file_tensorflow_wrote():
    from jitflow.interop import tf_protos as P
    path = next((FIX / "events").glob("events.out.tfevents.*"))
    events = list(tf.train.summary_iterator(str(path)))
    assert events[0].file_version == "brain.Event:2"
    gd = P.graph_pb2.GraphDef.FromString(next(e.graph_def for e in events if e.graph_def))
    assert {"a", "img", "mean_a"} <= {n.name for n in gd.node}
    vals = {(e.step, v.tag): v for e in events for v in e.summary.value}
    assert vals[(0, "mean_a")].simple_value == pytest.approx(2.0)
    assert vals[(1, "mean_a")].simple_value == pytest.approx(7.0 / 3)
    assert vals[(1, "hist_a")].histo.max == 4.0
    img = vals[(0, "img_1/image/0")].image
    assert (img.height, img.width, img.colorspace) == (4, 4, 1)
    assert img.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_corrupted_event_file_is_a_data_loss_error(tmp_path):
    from jitflow import errors
    raw = bytearray(next((FIX / "events").glob("events.out.tfevents.*")).read_bytes())
    raw[40] ^= 1
    (tmp_path / "ev").write_bytes(bytes(raw))
    with pytest.raises(errors.DataLossError, match="corrupted record"):
        list(tf.train.summary_iterator(str(tmp_path / "ev")))


def _png_pixels(png: bytes) -> tuple[int, int, int, bytes]:
    import zlib
    i, idat, ihdr = 8, b"", None
    while i < len(png):
        (n,) = struct.unpack(">I", png[i:i + 4])
        kind, data = png[i + 4:i + 8], png[i + 8:i + 8 + n]
        assert struct.unpack(">I", png[i + 8 + n:i + 12 + n])[0] == zlib.crc32(kind + data)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        i += 12 + n
    w, h, depth, color = ihdr[:4]
    return w, h, color, zlib.decompress(idat)


def test_graph_image_text_audio_summaries(tmp_path):
    import wave
    import io
    from jitflow.interop import tf_protos as P
    imgs = tf.placeholder(tf.float32, [None, 2, 3, 3], name="imgs")
    clip = tf.placeholder(tf.float32, [1, 100], name="clip")
    s = tf.summary.merge([tf.summary.image("pics", imgs, max_outputs=2),
                          tf.summary.audio("sound", clip, sample_rate=8000),
                          tf.summary.text("notes", "hello **TensorBoard**"),
                          tf.summary.text("numbers", tf.constant([1, 2, 3]))])
    pics = np.zeros((3, 2, 3, 3), np.float32)
    pics[0, 0, 0] = [1.0, 0.5, 0.0]
    pics[1, 1, 2] = [0.0, 0.0, 2.0]
    sine = np.sin(np.arange(100) / 5.0).astype(np.float32)[None]
    with tf.Session() as sess, tf.summary.FileWriter(str(tmp_path), sess.graph) as w:
        w.add_summary(sess.run(s, {imgs: pics, clip: sine}), 5)
    events = list(tf.train.summary_iterator(str(next(tmp_path.glob("events*")))))
    gd = P.graph_pb2.GraphDef.FromString(events[1].graph_def)
    assert {n.name: n.op for n in gd.node}["imgs"] == "Placeholder"
    vals = {v.tag: v for v in events[2].summary.value}
    assert set(vals) == {"pics/image/0", "pics/image/1", "sound/audio/0", "notes", "numbers"}
    w_, h_, color, raw = _png_pixels(vals["pics/image/0"].image.encoded_image_string)
    assert (w_, h_, color) == (3, 2, 2)
    assert raw[1:4] == bytes([255, 128, 0])          # row 0, pixel 0: scaled so max -> 255
    _, _, _, raw1 = _png_pixels(vals["pics/image/1"].image.encoded_image_string)
    assert raw1[1 + 9 + 1 + 6:1 + 9 + 1 + 9] == bytes([0, 0, 255])
    a = vals["sound/audio/0"].audio
    assert (a.sample_rate, a.num_channels, a.length_frames, a.content_type) == \
        (8000.0, 1, 100, "audio/wav")
    with wave.open(io.BytesIO(a.encoded_audio_string)) as wf:
        pcm = np.frombuffer(wf.readframes(100), "<i2")
    np.testing.assert_allclose(pcm / 32767.0, sine[0], atol=1e-4)
    assert vals["notes"].metadata.plugin_data.plugin_name == "text"
    assert list(vals["notes"].tensor.string_val) == [b"hello **TensorBoard**"]
    assert list(vals["numbers"].tensor.string_val) == [b"1", b"2", b"3"]


def test_crc32c_is_compiled_and_fast():
    import time
    from jitflow.interop import crc32c as C
    assert C.IMPLEMENTATION == "google-crc32c"
    data = bytes(range(256)) * 4096 * 4                 # 4 MiB
    t = time.perf_counter()
    assert C.crc32c(data) == C.crc32c(bytearray(data))
    assert (time.perf_counter() - t) / 8 < 0.05        # s/MiB (pure Python: ~0.4)
