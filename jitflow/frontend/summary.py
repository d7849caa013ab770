"""``tf.summary``: scalar, histogram, image, audio and text summaries, and a ``FileWriter``
that writes TensorBoard event files, graph included.

A summary (``tf.summary.scalar``/``histogram``/``image``/``audio``/``text``/``merge``/
``merge_all``) is a fetchable: running it (``sess.run(s)``, ``s.eval()``) computes its tensors
with the rest of the run and returns a serialized ``Summary`` protocol buffer (bytes), which
``FileWriter.add_summary(bytes, step)`` writes as an ``Event``. The messages are TensorFlow's
own (``tensorboard.compat.proto``: ``Event``, ``Summary``, ``HistogramProto``, ``GraphDef``).
Event files are TFRecord files (uint64 LE length, masked CRC-32C of the length, data, masked
CRC-32C of the data) named ``events.out.tfevents.<time>.<host>``; the CRC-32C is the compiled
one of :mod:`jitflow.interop.crc32c`. ``FileWriter(logdir, graph)`` and ``add_graph`` write the
graph's ``GraphDef`` (frontend/graph_def.py), which fills TensorBoard's graph tab.
Images are encoded as PNG and audio as 16-bit PCM WAV here (zlib and struct, no imaging
library); text summaries carry a string tensor with the ``text`` plugin's metadata.
"""
from __future__ import annotations

import io
import os
import socket
import struct
import time
import wave
import zlib
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from ..interop.crc32c import crc32c, masked_crc32c  # noqa: F401  (also imported from here)
from ..interop.protowire import field_bytes as _bytes_field, varint as _varint  # noqa: F401
from .graph import GraphKeys, Tensor, get_default_graph

__all__ = ["scalar", "histogram", "image", "audio", "text", "merge", "merge_all", "FileWriter",
           "SummaryTensor", "summary_iterator", "crc32c", "masked_crc32c", "tfrecord"]


def _protos():
    from ..interop import tf_protos as P
    return P


# ------------------------------------------------------------------ TFRecord framing -------

def tfrecord(data: bytes) -> bytes:
    """One TFRecord: length, its masked CRC-32C, the data, its masked CRC-32C."""
    n = struct.pack("<Q", len(data))
    return n + struct.pack("<I", masked_crc32c(n)) + data + struct.pack("<I", masked_crc32c(data))


def read_tfrecords(path: str) -> Iterator[bytes]:
    """The records of a TFRecord file, each checksum verified (``DataLossError`` otherwise)."""
    from ..errors import DataLossError
    with open(path, "rb") as f:
        data = f.read()
    i = 0
    while i < len(data):
        if i + 12 > len(data):
            raise DataLossError(f"{path}: truncated record header at byte {i}")
        head = data[i:i + 8]
        (n,) = struct.unpack("<Q", head)
        if struct.unpack_from("<I", data, i + 8)[0] != masked_crc32c(head):
            raise DataLossError(f"{path}: corrupted record length at byte {i}")
        if i + 16 + n > len(data):
            raise DataLossError(f"{path}: truncated record at byte {i} ({n} bytes announced)")
        body = data[i + 12:i + 12 + n]
        if struct.unpack_from("<I", data, i + 12 + n)[0] != masked_crc32c(body):
            raise DataLossError(f"{path}: corrupted record at byte {i}")
        i += 16 + n
        yield body


def summary_iterator(path: str) -> Iterator[Any]:
    """``tf.compat.v1.train.summary_iterator``: the ``Event`` messages of an event file."""
    P = _protos()
    for rec in read_tfrecords(path):
        yield P.event_pb2.Event.FromString(rec)


# ------------------------------------------------------------------ encoders ---------------

def _histogram(values: np.ndarray, bins: int = 30) -> Any:
    """A ``HistogramProto``: min, max, num, sum, sum_squares, bucket_limit, bucket."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    v = v[np.isfinite(v)]
    if v.size == 0:
        lo = hi = 0.0
        limits, counts = [0.0], [0.0]
    else:
        lo, hi = float(v.min()), float(v.max())
        if lo == hi:
            limits, counts = [hi], [float(v.size)]
        else:
            counts_arr, edges = np.histogram(v, bins=bins, range=(lo, hi))
            limits, counts = edges[1:].tolist(), counts_arr.astype(np.float64).tolist()
    return _protos().summary_pb2.HistogramProto(
        min=lo, max=hi, num=float(v.size), sum=float(v.sum()),
        sum_squares=float(np.square(v).sum()), bucket_limit=limits, bucket=counts)


def _png(img: np.ndarray) -> bytes:
    """PNG bytes of a uint8 image [h, w, c], c in 1 (grey), 3 (RGB), 4 (RGBA)."""
    h, w, c = img.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\0" + img[r].tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """TF1's image_summary scaling of a float image: non-negative -> largest value 255;
    otherwise 0.0 -> 127 and scaled so the smallest is 0 or the largest 255."""
    x = np.asarray(img, np.float64)
    if np.issubdtype(np.asarray(img).dtype, np.integer):
        return np.clip(x, 0, 255).astype(np.uint8)
    finite = np.where(np.isfinite(x), x, 0.0)
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0:
        scale = 255.0 / hi if hi > 0 else 0.0
        out = finite * scale
    else:
        scale = 127.0 / max(-lo, hi if hi > 0 else 0.0, 1e-12)
        out = finite * scale + 127.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _wav(clip: np.ndarray, sample_rate: int) -> bytes:
    frames = np.clip(np.asarray(clip, np.float64), -1.0, 1.0)
    pcm = (frames * 32767.0).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def _values(tag: str, kind: str, value: np.ndarray, opts: dict) -> list:
    """The ``Summary.Value`` messages of one summary entry."""
    S = _protos().summary_pb2
    if kind == "scalar":
        return [S.Summary.Value(tag=tag, simple_value=float(np.asarray(value).reshape(())))]
    if kind == "histogram":
        return [S.Summary.Value(tag=tag, histo=_histogram(value))]
    if kind == "image":
        imgs = np.asarray(value)
        most = int(opts.get("max_outputs", 3))      # TF's tags: .../image/<i> unless 1
        n = min(most, imgs.shape[0])
        out = []
        for i in range(n):
            im = _to_uint8(imgs[i])
            t = f"{tag}/image" if most == 1 else f"{tag}/image/{i}"
            out.append(S.Summary.Value(tag=t, image=S.Summary.Image(
                height=im.shape[0], width=im.shape[1], colorspace=im.shape[2],
                encoded_image_string=_png(im))))
        return out
    if kind == "audio":
        clips = np.asarray(value)
        if clips.ndim == 2:
            clips = clips[:, :, None]
        most = int(opts.get("max_outputs", 3))
        n = min(most, clips.shape[0])
        rate = float(opts["sample_rate"])
        out = []
        for i in range(n):
            t = f"{tag}/audio" if most == 1 else f"{tag}/audio/{i}"
            out.append(S.Summary.Value(tag=t, audio=S.Summary.Audio(
                sample_rate=rate, num_channels=clips.shape[2], length_frames=clips.shape[1],
                encoded_audio_string=_wav(clips[i], int(rate)), content_type="audio/wav")))
        return out
    if kind == "text":
        from .graph_def import tensor_proto
        texts = opts.get("static")
        if texts is None:
            texts = np.vectorize(lambda x: str(x).encode(), otypes=[object])(np.asarray(value))
        v = S.Summary.Value(tag=tag, tensor=tensor_proto(np.asarray(texts, dtype=object)))
        v.metadata.plugin_data.plugin_name = "text"
        return [v]
    raise ValueError(f"unknown summary kind {kind!r}")


def scalar_summary(tag: str, value: float) -> bytes:
    """A serialized ``Summary`` holding one scalar (what a fetched ``tf.summary.scalar``
    gives), for host code such as training hooks that report rates."""
    S = _protos().summary_pb2
    return S.Summary(value=_values(tag, "scalar", np.float32(value), {})).SerializeToString()


# ------------------------------------------------------------------ summaries --------------

class SummaryTensor:
    """What ``tf.summary.*`` return: fetch it (``sess.run``, ``.eval()``) to get a serialized
    ``Summary`` (bytes) for ``FileWriter.add_summary``."""

    def __init__(self, entries: list[tuple[str, str, Tensor]], name: str) -> None:
        self._entries = entries          # (tag, kind, tensor); kind "image:<max_outputs>", ...
        self.name = name
        self.graph = entries[0][2].graph if entries else get_default_graph()
        self.dtype = "string"

    def _fetch_parts(self):
        tensors = [t for _, _, t in self._entries]

        def combine(values: list) -> bytes:
            s = _protos().summary_pb2.Summary()
            for (tag, kind, _), v in zip(self._entries, values):
                base, opts = _parse_kind(kind)
                if base == "text" and v.dtype == np.int32 and opts.get("utf8"):
                    opts["static"] = [bytes(bytearray(int(b) for b in row[row >= 0]))
                                      for row in np.atleast_2d(v)]
                s.value.extend(_values(tag, base, v, opts))
            return s.SerializeToString()
        return tensors, combine

    def eval(self, feed_dict: Optional[dict] = None, session: Any = None) -> bytes:
        from .default_session import session_for
        return session_for(session, "eval()").run(self, feed_dict)

    def __repr__(self) -> str:
        tags = ", ".join(tag for tag, _, _ in self._entries)
        return f"<tf.summary '{self.name}' ({tags})>"


def _parse_kind(kind: str) -> tuple[str, dict]:
    """"image:max_outputs=3,..." -> ("image", {"max_outputs": 3.0, ...})."""
    base, _, rest = kind.partition(":")
    opts: dict = {}
    for item in filter(None, rest.split(",")):
        k, _, v = item.partition("=")
        opts[k] = float(v) if v else True
    return base, opts


def _make(kind: str, name: str, tensor: Any, collections: Optional[Sequence[str]],
          family: Optional[str], check=None) -> SummaryTensor:
    from .array_ops import identity
    from .graph import name_scope
    from .op_builder import convert_to_tensor
    t = convert_to_tensor(tensor)
    if check is not None:
        check(t)
    if family:
        with name_scope(family):
            value = identity(t, name=name)
    else:
        value = identity(t, name=name)
    tag = value.op.name
    s = SummaryTensor([(tag, kind, value)], tag)
    g = get_default_graph()
    for key in (collections if collections is not None else [GraphKeys.SUMMARIES]):
        g.add_to_collection(key, s)
    return s


def scalar(name: str, tensor: Any, collections: Optional[Sequence[str]] = None,
           family: Optional[str] = None) -> SummaryTensor:
    def check(t):
        dims = t.shape.dims
        if dims is not None and all(isinstance(d, int) for d in dims) and \
                int(np.prod(dims)) != 1:
            raise ValueError(f"tf.summary.scalar {name!r} needs a scalar tensor, got shape "
                             f"{t.shape}")
    return _make("scalar", name, tensor, collections, family, check)


def histogram(name: str, values: Any, collections: Optional[Sequence[str]] = None,
              family: Optional[str] = None) -> SummaryTensor:
    return _make("histogram", name, values, collections, family)


def image(name: str, tensor: Any, max_outputs: int = 3,
          collections: Optional[Sequence[str]] = None,
          family: Optional[str] = None) -> SummaryTensor:
    """Images [batch, height, width, channels] (channels 1, 3 or 4) as PNGs."""
    def check(t):
        d = t.shape.dims
        if d is None or len(d) != 4 or d[3] not in (1, 3, 4):
            raise ValueError(f"tf.summary.image {name!r} needs a [batch, height, width, 1|3|4] "
                             f"tensor, got shape {t.shape}")
    return _make(f"image:max_outputs={int(max_outputs)}", name, tensor, collections, family,
                 check)


def audio(name: str, tensor: Any, sample_rate: Any, max_outputs: int = 3,
          collections: Optional[Sequence[str]] = None,
          family: Optional[str] = None) -> SummaryTensor:
    """Clips [batch, frames] or [batch, frames, channels] with values in [-1, 1] as WAVs."""
    from .op_builder import static_value
    rate = static_value(sample_rate)
    if rate is None:
        raise NotImplementedError("tf.summary.audio: sample_rate must be known when the graph "
                                  "is built (a Python number or a constant)")

    def check(t):
        d = t.shape.dims
        if d is None or len(d) not in (2, 3):
            raise ValueError(f"tf.summary.audio {name!r} needs a [batch, frames(, channels)] "
                             f"tensor, got shape {t.shape}")
    return _make(f"audio:max_outputs={int(max_outputs)},sample_rate={float(rate)}", name,
                 tensor, collections, family, check)


def text(name: str, tensor: Any, collections: Optional[Sequence[str]] = None) -> SummaryTensor:
    """A text summary (TensorBoard's text plugin). jitflow has no string tensors: ``tensor`` is
    a Python string or list of strings (written as given), or a numeric tensor (its values
    written as text)."""
    from .op_builder import constant
    if isinstance(tensor, (str, bytes)) or (isinstance(tensor, (list, tuple)) and tensor and
                                            all(isinstance(x, (str, bytes)) for x in tensor)):
        items = [tensor] if isinstance(tensor, (str, bytes)) else list(tensor)
        raw = [x.encode() if isinstance(x, str) else x for x in items]
        width = max(len(r) for r in raw)
        codes = np.full((len(raw), width), -1, np.int32)
        for i, r in enumerate(raw):
            codes[i, :len(r)] = list(r)
        return _make("text:utf8", name, constant(codes), collections, None)
    return _make("text", name, tensor, collections, None)


def merge(inputs: Sequence[Any], collections: Optional[Sequence[str]] = None,
          name: Optional[str] = None) -> SummaryTensor:
    entries: list = []
    for s in inputs:
        if not isinstance(s, SummaryTensor):
            raise TypeError(f"tf.summary.merge takes summaries (tf.summary.scalar/histogram/"
                            f"merge), got {s!r}")
        entries.extend(s._entries)
    out = SummaryTensor(entries, name or "Merge/MergeSummary")
    for key in collections or []:
        get_default_graph().add_to_collection(key, out)
    return out


def merge_all(key: str = GraphKeys.SUMMARIES, scope: Optional[str] = None,
              name: Optional[str] = None) -> Optional[SummaryTensor]:
    """All summaries in collection ``key`` (None when there are none, as in TF)."""
    found = [s for s in get_default_graph().get_collection(key)
             if isinstance(s, SummaryTensor) and (scope is None or s.name.startswith(scope))]
    return merge(found, name=name) if found else None


# ------------------------------------------------------------------ writer -----------------

class FileWriter:
    """Writes TensorBoard event files into ``logdir`` (created if needed), with the graph's
    ``GraphDef`` when ``graph`` is given or ``add_graph`` is called."""

    def __init__(self, logdir: str, graph: Any = None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: Optional[str] = None,
                 session: Any = None, graph_def: Any = None) -> None:
        self._logdir = str(logdir)
        os.makedirs(self._logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}" + \
            (filename_suffix or "")
        self._path = os.path.join(self._logdir, name)
        self._file = open(self._path, "ab")
        self._closed = False
        self._flush_secs = float(flush_secs)      # add_summary flushes at most this often
        self._flushed = time.monotonic()
        self._write_event(file_version="brain.Event:2")
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)
        self.flush()

    def _write_event(self, step: int = 0, **fields: Any) -> None:
        if self._closed:
            raise RuntimeError("FileWriter is closed")
        ev = _protos().event_pb2.Event(wall_time=time.time(), step=int(step), **fields)
        self._file.write(tfrecord(ev.SerializeToString()))

    def add_summary(self, summary: Any, global_step: Optional[int] = None) -> None:
        """``summary``: the bytes a summary fetch returned (a serialized ``Summary``), or a
        ``Summary`` message."""
        if isinstance(summary, SummaryTensor):
            raise TypeError("add_summary takes the value of a summary (sess.run(summary) or "
                            "summary.eval()), not the summary itself")
        S = _protos().summary_pb2
        if isinstance(summary, S.Summary):
            msg = summary
        elif isinstance(summary, (bytes, bytearray)):
            msg = S.Summary.FromString(bytes(summary))
        else:
            raise TypeError(f"add_summary takes a serialized Summary (bytes), got "
                            f"{type(summary).__name__}")
        self._write_event(int(global_step or 0), summary=msg)
        if time.monotonic() - self._flushed >= self._flush_secs:
            self.flush()

    def add_graph(self, graph: Any, global_step: Optional[int] = None,
                  graph_def: Any = None) -> None:
        """Write the graph (a jitflow Graph or a GraphDef) for TensorBoard's graph tab."""
        from .graph_def import as_graph_def
        gd = graph_def if graph_def is not None else (
            graph if hasattr(graph, "node") else as_graph_def(graph, add_shapes=True))
        self._write_event(int(global_step or 0), graph_def=gd.SerializeToString())

    def add_event(self, event: Any) -> None:
        if self._closed:
            raise RuntimeError("FileWriter is closed")
        self._file.write(tfrecord(event.SerializeToString()))

    def get_logdir(self) -> str:
        return self._logdir

    def flush(self) -> None:
        if not self._closed:
            self._file.flush()
            self._flushed = time.monotonic()

    def close(self) -> None:
        if not self._closed:
            self._file.flush()
            self._file.close()
            self._closed = True

    def reopen(self) -> None:
        if self._closed:
            self._file = open(self._path, "ab")
            self._closed = False

    def __enter__(self) -> "FileWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
