"""``tf.summary``: scalar and histogram summaries and a ``FileWriter`` that writes TensorBoard
event files, with no TensorFlow or protobuf dependency.

A summary (``tf.summary.scalar``/``histogram``/``merge``/``merge_all``) is a fetchable: running
it (``sess.run(s)``, ``s.eval()``) computes its tensors with the rest of the run and returns a
serialized ``Summary`` protocol buffer (bytes), which ``FileWriter.add_summary(bytes, step)``
writes as an ``Event`` record. Event files are TFRecord files (length, masked CRC-32C of the
length, data, masked CRC-32C of the data) named ``events.out.tfevents.<time>.<host>``, so
TensorBoard and ``tf.compat.v1.train.summary_iterator`` read them. Not written: the graph
(``add_graph`` and ``FileWriter(logdir, graph)`` accept it and record nothing), images, audio
and text summaries.
"""
from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any, Optional, Sequence

import numpy as np

from .graph import GraphKeys, Tensor, get_default_graph

# ------------------------------------------------------------------ wire format ------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _bytes_field(field: int, data: bytes) -> bytes:
    return _key(field, 2) + _varint(len(data)) + data


def _double_field(field: int, x: float) -> bytes:
    return _key(field, 1) + struct.pack("<d", float(x))


def _float_field(field: int, x: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", float(x))


def _packed_doubles(field: int, xs: Sequence[float]) -> bytes:
    return _bytes_field(field, struct.pack(f"<{len(xs)}d", *map(float, xs)))


def _histogram(values: np.ndarray, bins: int = 30) -> bytes:
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
    return (_double_field(1, lo) + _double_field(2, hi) + _double_field(3, float(v.size)) +
            _double_field(4, float(v.sum())) + _double_field(5, float(np.square(v).sum())) +
            _packed_doubles(6, limits) + _packed_doubles(7, counts))


def _summary_value(tag: str, kind: str, value: np.ndarray) -> bytes:
    """One ``Summary.Value``: tag (1) and simple_value (2) or histo (5)."""
    body = _bytes_field(1, tag.encode())
    if kind == "scalar":
        body += _float_field(2, float(np.asarray(value).reshape(())))
    else:
        body += _bytes_field(5, _histogram(value))
    return _bytes_field(1, body)           # Summary.value (field 1, repeated)


def _event(wall_time: float, step: int, *, file_version: Optional[str] = None,
           summary: Optional[bytes] = None) -> bytes:
    out = _double_field(1, wall_time) + _key(2, 0) + _varint(int(step))
    if file_version is not None:
        out += _bytes_field(3, file_version.encode())
    if summary is not None:
        out += _bytes_field(5, summary)
    return out


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord uses."""
    c = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    n = struct.pack("<Q", len(data))
    return n + struct.pack("<I", masked_crc32c(n)) + data + struct.pack("<I", masked_crc32c(data))


# ------------------------------------------------------------------ summaries --------------

class SummaryTensor:
    """What ``tf.summary.scalar``/``histogram``/``merge`` return: fetch it (``sess.run``,
    ``.eval()``) to get a serialized ``Summary`` (bytes) for ``FileWriter.add_summary``."""

    def __init__(self, entries: list[tuple[str, str, Tensor]], name: str) -> None:
        self._entries = entries          # (tag, "scalar" | "histogram", tensor)
        self.name = name
        self.graph = entries[0][2].graph if entries else get_default_graph()
        self.dtype = "string"

    def _fetch_parts(self):
        tensors = [t for _, _, t in self._entries]

        def combine(values: list) -> bytes:
            return b"".join(_summary_value(tag, kind, v)
                            for (tag, kind, _), v in zip(self._entries, values))
        return tensors, combine

    def eval(self, feed_dict: Optional[dict] = None, session: Any = None) -> bytes:
        from .default_session import session_for as _session_for
        return _session_for(session, "eval()").run(self, feed_dict)

    def __repr__(self) -> str:
        tags = ", ".join(tag for tag, _, _ in self._entries)
        return f"<tf.summary '{self.name}' ({tags})>"


def _make(kind: str, name: str, tensor: Any, collections: Optional[Sequence[str]],
          family: Optional[str]) -> SummaryTensor:
    from .array_ops import identity
    from .graph import name_scope
    from .op_builder import convert_to_tensor
    t = convert_to_tensor(tensor)
    dims = t.shape.dims
    if kind == "scalar" and dims is not None and all(isinstance(d, int) for d in dims) and \
            int(np.prod(dims)) != 1:
        raise ValueError(f"tf.summary.scalar {name!r} needs a scalar tensor, got shape {t.shape}")
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
    return _make("scalar", name, tensor, collections, family)


def histogram(name: str, values: Any, collections: Optional[Sequence[str]] = None,
              family: Optional[str] = None) -> SummaryTensor:
    return _make("histogram", name, values, collections, family)


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
    """Writes TensorBoard event files into ``logdir`` (created if needed). ``graph`` and
    ``add_graph`` are accepted; the graph itself is not written (see the module docstring)."""

    def __init__(self, logdir: str, graph: Any = None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: Optional[str] = None,
                 session: Any = None) -> None:
        self._logdir = str(logdir)
        os.makedirs(self._logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}" + \
            (filename_suffix or "")
        self._path = os.path.join(self._logdir, name)
        self._file = open(self._path, "ab")
        self._closed = False
        self._flush_secs = float(flush_secs)      # add_summary flushes at most this often
        self._flushed = time.monotonic()
        self._write(_event(time.time(), 0, file_version="brain.Event:2"))
        self.flush()

    def _write(self, event: bytes) -> None:
        if self._closed:
            raise RuntimeError("FileWriter is closed")
        self._file.write(tfrecord(event))

    def add_summary(self, summary: Any, global_step: Optional[int] = None) -> None:
        """``summary``: the bytes a summary fetch returned (a serialized ``Summary``)."""
        if isinstance(summary, SummaryTensor):
            raise TypeError("add_summary takes the value of a summary (sess.run(summary) or "
                            "summary.eval()), not the summary itself")
        if not isinstance(summary, (bytes, bytearray)):
            raise TypeError(f"add_summary takes a serialized Summary (bytes), got "
                            f"{type(summary).__name__}")
        self._write(_event(time.time(), int(global_step or 0), summary=bytes(summary)))
        if time.monotonic() - self._flushed >= self._flush_secs:
            self.flush()

    def add_graph(self, graph: Any, global_step: Optional[int] = None) -> None:
        """Accepted; the graph is not written (jitflow has no GraphDef protocol buffers)."""

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
