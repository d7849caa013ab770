"""``tf.train.Example`` / ``Features`` / ``Feature`` / ``BytesList`` / ``FloatList`` /
``Int64List``: the protocol buffers of TFRecord data, encoded and decoded without protobuf
(wire-compatible with TensorFlow's: packed and unpacked repeated numbers both decode)."""
from __future__ import annotations

import struct
from typing import Any, Iterable, Optional

import numpy as np

from ..summary import _bytes_field, _varint


class DecodeError(ValueError):
    """A serialized Example that is not valid protocol buffer data."""


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise DecodeError("varint too long")


def _fields(buf: bytes) -> Iterable[tuple[int, int, Any]]:
    """(field number, wire type, value) of a message; length-delimited values are bytes."""
    pos, n = 0, len(buf)
    while pos < n:
        key, pos = _read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, pos = _read_varint(buf, pos)
        elif wire == 1:
            if pos + 8 > n:
                raise DecodeError("truncated fixed64")
            v, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            ln, pos = _read_varint(buf, pos)
            if pos + ln > n:
                raise DecodeError(f"field {field}: length {ln} past the end of the message")
            v, pos = bytes(buf[pos:pos + ln]), pos + ln
        elif wire == 5:
            if pos + 4 > n:
                raise DecodeError("truncated fixed32")
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise DecodeError(f"unsupported wire type {wire} for field {field}")
        yield field, wire, v


class _List:
    _kind = ""

    def __init__(self, value: Optional[Iterable] = None) -> None:
        self.value = list(value) if value is not None else []

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and list(self.value) == list(other.value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self.value!r})"


class BytesList(_List):
    def SerializeToString(self) -> bytes:  # noqa: N802 (protobuf's name)
        return b"".join(_bytes_field(1, v.encode() if isinstance(v, str) else bytes(v))
                        for v in self.value)

    @classmethod
    def FromString(cls, buf: bytes) -> "BytesList":  # noqa: N802
        return cls([v for f, w, v in _fields(buf) if f == 1 and w == 2])


class FloatList(_List):
    def SerializeToString(self) -> bytes:  # noqa: N802
        if not self.value:
            return b""
        vals = np.asarray(self.value, dtype="<f4").reshape(-1)
        return _bytes_field(1, vals.tobytes())

    @classmethod
    def FromString(cls, buf: bytes) -> "FloatList":  # noqa: N802
        out: list = []
        for f, w, v in _fields(buf):
            if f != 1:
                continue
            if w == 2:
                out.extend(np.frombuffer(v, dtype="<f4").tolist())
            elif w == 5:
                out.append(struct.unpack("<f", v)[0])
        return cls(out)


class Int64List(_List):
    def SerializeToString(self) -> bytes:  # noqa: N802
        if not self.value:
            return b""
        return _bytes_field(1, b"".join(_varint(int(v)) for v in self.value))

    @classmethod
    def FromString(cls, buf: bytes) -> "Int64List":  # noqa: N802
        out: list = []
        for f, w, v in _fields(buf):
            if f != 1:
                continue
            if w == 2:
                pos = 0
                while pos < len(v):
                    x, pos = _read_varint(v, pos)
                    out.append(x - (1 << 64) if x >= 1 << 63 else x)
            elif w == 0:
                out.append(v - (1 << 64) if v >= 1 << 63 else v)
        return cls(out)


class Feature:
    """One of ``bytes_list``, ``float_list``, ``int64_list``."""

    def __init__(self, bytes_list: Optional[BytesList] = None,
                 float_list: Optional[FloatList] = None,
                 int64_list: Optional[Int64List] = None) -> None:
        given = [x for x in (bytes_list, float_list, int64_list) if x is not None]
        if len(given) > 1:
            raise ValueError("a Feature holds one of bytes_list, float_list, int64_list")
        self.bytes_list, self.float_list, self.int64_list = bytes_list, float_list, int64_list

    def WhichOneof(self, name: str = "kind") -> Optional[str]:  # noqa: N802
        for k in ("bytes_list", "float_list", "int64_list"):
            if getattr(self, k) is not None:
                return k
        return None

    def SerializeToString(self) -> bytes:  # noqa: N802
        for i, k in enumerate(("bytes_list", "float_list", "int64_list"), start=1):
            v = getattr(self, k)
            if v is not None:
                return _bytes_field(i, v.SerializeToString())
        return b""

    @classmethod
    def FromString(cls, buf: bytes) -> "Feature":  # noqa: N802
        kinds = {1: ("bytes_list", BytesList), 2: ("float_list", FloatList),
                 3: ("int64_list", Int64List)}
        kw: dict = {}
        for f, w, v in _fields(buf):
            if f in kinds and w == 2:
                name, typ = kinds[f]
                kw = {name: typ.FromString(v)}
        return cls(**kw)


class Features:
    def __init__(self, feature: Optional[dict] = None) -> None:
        self.feature = dict(feature or {})

    def SerializeToString(self) -> bytes:  # noqa: N802
        out = b""
        for k in sorted(self.feature):
            entry = _bytes_field(1, k.encode()) + _bytes_field(2, self.feature[k].SerializeToString())
            out += _bytes_field(1, entry)
        return out

    @classmethod
    def FromString(cls, buf: bytes) -> "Features":  # noqa: N802
        feats = {}
        for f, w, v in _fields(buf):
            if f == 1 and w == 2:
                key, val = b"", b""
                for f2, w2, v2 in _fields(v):
                    if f2 == 1 and w2 == 2:
                        key = v2
                    elif f2 == 2 and w2 == 2:
                        val = v2
                feats[key.decode()] = Feature.FromString(val)
        return cls(feats)


class Example:
    """``tf.train.Example(features=tf.train.Features(feature={...}))``."""

    def __init__(self, features: Optional[Features] = None) -> None:
        self.features = features if features is not None else Features()

    def SerializeToString(self) -> bytes:  # noqa: N802
        return _bytes_field(1, self.features.SerializeToString())

    @classmethod
    def FromString(cls, buf: bytes) -> "Example":  # noqa: N802
        feats = Features()
        for f, w, v in _fields(bytes(buf)):
            if f == 1 and w == 2:
                feats = Features.FromString(v)
        return cls(feats)

    def ParseFromString(self, buf: bytes) -> None:  # noqa: N802
        self.features = Example.FromString(buf).features

    def __repr__(self) -> str:
        return f"Example(features={sorted(self.features.feature)})"

