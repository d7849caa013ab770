"""TensorFlow's V2 checkpoint format (the "tensor bundle"), read and write.

Spec followed: ``tensorflow/core/util/tensor_bundle/tensor_bundle.{h,cc}`` and
``tensorflow/core/protobuf/tensor_bundle.proto``, ``tensor_slice.proto``, ``tensor_shape.proto``,
``types.proto``, and the slice-key encoding of ``tensorflow/core/util/saved_tensor_slice_util``
with ``tensorflow/core/lib/strings/ordered_code.cc``.

A checkpoint with prefix ``P`` is

``P.index``
    A sorted string table (:mod:`.table`). Key ``""`` holds a ``BundleHeaderProto``
    (``num_shards`` = 1: int32, ``endianness`` = 2: enum LITTLE=0, ``version`` = 3: VersionDef
    {``producer`` = 1}); every other key is a tensor name whose value is a ``BundleEntryProto``:
    ``dtype`` = 1 (DataType enum: DT_FLOAT=1, DT_DOUBLE=2, DT_INT32=3, DT_UINT8=4, DT_INT16=5,
    DT_INT8=6, DT_INT64=9, DT_BOOL=10, DT_UINT16=17, DT_HALF=19, DT_UINT32=22, DT_UINT64=23),
    ``shape`` = 2 (TensorShapeProto: ``dim`` = 2 {``size`` = 1}), ``shard_id`` = 3,
    ``offset`` = 4, ``size`` = 5, ``crc32c`` = 6 (fixed32: masked CRC-32C of the tensor's
    bytes), ``slices`` = 7 (TensorSliceProto {``extent`` = 1 {``start`` = 1, ``length`` = 2}}).

``P.data-SSSSS-of-NNNNN``
    The tensors' bytes, C order, little-endian, one after another (no padding), in shard
    ``shard_id`` of ``NNNNN``. jitflow writes one shard.

A partitioned variable has an entry with its full shape and ``slices`` (one per partition),
and no data of its own; each partition is stored under the key
``OrderedCode(0) OrderedCode(name) OrderedCode(rank) (OrderedCode-signed(start),
OrderedCode-signed(length or -1)) per dim``. The reader assembles the full tensor.

Reading verifies the table's block checksums, bounds every size by the data file's size
before reading, and checks every tensor's CRC-32C; anything wrong is a ``DataLossError``
naming the file and the entry.
"""
from __future__ import annotations

import math
import os
from typing import Iterable, Optional

import numpy as np

from ...errors import DataLossError
from ...interop.crc32c import masked_crc32c
from ...interop.protowire import (WireError, field_bytes, field_fixed32, field_varint, fields,
                                  signed)
from .table import TableError, build_table, read_table

DT_TO_NP = {1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8",
            8: "complex64", 9: "int64", 10: "bool", 14: "bfloat16", 17: "uint16", 18: "complex128",
            19: "float16", 22: "uint32", 23: "uint64"}
NP_TO_DT = {v: k for k, v in DT_TO_NP.items()}
MAX_DIMS = 64


def data_file(prefix: str, shard: int, num_shards: int) -> str:
    return f"{prefix}.data-{shard:05d}-of-{num_shards:05d}"


# ------------------------------------------------------------------ slice keys -------------

def _oc_string(s: bytes) -> bytes:
    return s.replace(b"\xff", b"\xff\x00").replace(b"\x00", b"\x00\xff") + b"\x00\x01"


def _oc_num(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return bytes([len(raw)]) + raw


_SIGNED_HEADER = [b"", b"\x80", b"\xc0", b"\xe0", b"\xf0", b"\xf8", b"\xfc", b"\xfe", b"\xff\x00",
                  b"\xff\x80", b"\xff\xc0"]


def _oc_signed(v: int) -> bytes:
    x = ~v if v < 0 else v
    n = x.bit_length() // 7 + 1
    buf = bytearray(v.to_bytes(10, "big", signed=True)[10 - n:])
    for i, h in enumerate(_SIGNED_HEADER[n]):
        buf[i] ^= h
    return bytes(buf)


def slice_key(name: str, extents: list[tuple[int, int]]) -> bytes:
    """The table key of one partition of ``name``: ``extents`` = [(start, length or -1)]."""
    out = _oc_num(0) + _oc_string(name.encode()) + _oc_num(len(extents))
    for start, length in extents:
        out += _oc_signed(start) + _oc_signed(length)
    return out


# ------------------------------------------------------------------ entries ----------------

def _shape_proto(shape: Iterable[int]) -> bytes:
    return b"".join(field_bytes(2, field_varint(1, d)) for d in shape)


def _entry_proto(dtype: int, shape: tuple, offset: int, size: int, crc: int) -> bytes:
    out = field_varint(1, dtype) + field_bytes(2, _shape_proto(shape))
    if offset:
        out += field_varint(4, offset)
    return out + field_varint(5, size) + field_fixed32(6, crc)


def _header_proto() -> bytes:
    return field_varint(1, 1) + field_bytes(3, field_varint(1, 1))


def encode(tensors: dict[str, np.ndarray]) -> tuple[bytes, list[bytes]]:
    """(index table bytes, data chunks) of a one-shard bundle holding ``tensors``."""
    items = [(b"", _header_proto())]
    chunks, offset = [], 0
    for name in sorted(tensors, key=lambda n: n.encode()):
        arr = np.asarray(tensors[name])
        dt = NP_TO_DT.get(arr.dtype.name)
        if dt is None or not name:
            raise ValueError(f"cannot save tensor {name!r} of dtype {arr.dtype} in a checkpoint "
                             f"(dtypes: {', '.join(sorted(NP_TO_DT))})")
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        items.append((name.encode(), _entry_proto(dt, arr.shape, offset, len(raw),
                                                   masked_crc32c(raw))))
        chunks.append(raw)
        offset += len(raw)
    return build_table(items), chunks


def _parse_shape(buf: bytes, where: str) -> tuple:
    dims = []
    for f, w, v in fields(buf):
        if f == 2 and w == 2:
            size = -1
            for f2, w2, v2 in fields(v):
                if f2 == 1 and w2 == 0:
                    size = signed(v2)
            if size < 0:
                raise DataLossError(f"{where}: negative or unknown dimension {size} in the "
                                    "saved shape")
            dims.append(size)
        elif f == 3 and v:
            raise DataLossError(f"{where}: the saved shape has unknown rank")
        if len(dims) > MAX_DIMS:
            raise DataLossError(f"{where}: shape has more than {MAX_DIMS} dimensions")
    return tuple(dims)


def _parse_slice(buf: bytes, rank: int, where: str) -> list[tuple[int, int]]:
    ext = []
    for f, w, v in fields(buf):
        if f == 1 and w == 2:
            start, length = 0, -1
            for f2, w2, v2 in fields(v):
                if f2 == 1 and w2 == 0:
                    start = signed(v2)
                elif f2 == 2 and w2 == 0:
                    length = signed(v2)
            if start < 0 or length < -1:
                raise DataLossError(f"{where}: bad slice extent start={start} length={length}")
            ext.append((start, length))
    if ext and len(ext) != rank:
        raise DataLossError(f"{where}: a slice of rank {len(ext)} for a tensor of rank {rank}")
    return ext or [(0, -1)] * rank


class Entry:
    """One tensor of a bundle (``BundleEntryProto``)."""

    __slots__ = ("name", "dtype", "shape", "shard", "offset", "size", "crc", "slices")

    def __init__(self, name: str, value: bytes, where: str) -> None:
        self.name, self.dtype, self.shape = name, None, ()
        self.shard = self.offset = self.size = 0
        self.crc: Optional[int] = None
        self.slices: list[bytes] = []
        for f, w, v in fields(value):
            if f == 1 and w == 0:
                if v not in DT_TO_NP:
                    raise DataLossError(f"{where}: entry {name} has unsupported dtype enum {v}")
                self.dtype = DT_TO_NP[v]
            elif f == 2 and w == 2:
                self.shape = _parse_shape(v, f"{where}: entry {name}")
            elif f == 3 and w == 0:
                self.shard = signed(v)
            elif f == 4 and w == 0:
                self.offset = signed(v)
            elif f == 5 and w == 0:
                self.size = signed(v)
            elif f == 6 and w == 5:
                self.crc = v
            elif f == 7 and w == 2:
                self.slices.append(v)
        if self.dtype is None:
            raise DataLossError(f"{where}: entry {name} has no dtype")
        if self.offset < 0 or self.size < 0 or self.shard < 0:
            raise DataLossError(f"{where}: entry {name} has a negative offset, size or shard")

    def nbytes(self) -> int:
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize    # Python ints: no overflow


class BundleReader:
    """Reads a TF V2 checkpoint, verifying what it reads."""

    def __init__(self, prefix: str, index_path: Optional[str] = None) -> None:
        self.prefix = prefix
        self.index_path = index_path or prefix + ".index"
        try:
            with open(self.index_path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise DataLossError(f"Unable to read {self.index_path}: {e}") from None
        where = self.index_path
        try:
            items = read_table(raw)
        except TableError as e:
            raise DataLossError(f"{where} is corrupted or truncated: {e}") from None
        if not items or items[0][0] != b"":
            raise DataLossError(f"{where}: no bundle header (the table's first key is not \"\")")
        self.num_shards = 1
        try:
            for f, w, v in fields(items[0][1]):
                if f == 1 and w == 0:
                    self.num_shards = signed(v)
                elif f == 2 and w == 0 and v != 0:
                    raise DataLossError(f"{where}: big-endian checkpoints are not supported")
            if not 1 <= self.num_shards <= 100000:
                raise DataLossError(f"{where}: bad shard count {self.num_shards}")
            self.entries: dict[str, Entry] = {}
            self._slices: dict[bytes, Entry] = {}
            for k, v in items[1:]:
                if k[:1] == b"\0":
                    self._slices[k] = Entry(repr(k), v, where)
                else:
                    name = k.decode("utf-8", "replace")
                    self.entries[name] = Entry(name, v, where)
        except WireError as e:
            raise DataLossError(f"{where} is corrupted: bad entry ({e})") from None
        self._shard_sizes = [self._shard_size(i) for i in range(self.num_shards)]
        for e in list(self.entries.values()) + list(self._slices.values()):
            if e.slices:
                continue
            if e.shard >= self.num_shards:
                raise DataLossError(f"{where}: entry {e.name} names shard {e.shard} of "
                                    f"{self.num_shards}")
            if e.nbytes() != e.size:
                raise DataLossError(f"{where}: entry {e.name} has {e.size} bytes but shape "
                                    f"{list(e.shape)} of {e.dtype} needs {e.nbytes()}")
            if e.offset + e.size > self._shard_sizes[e.shard]:
                raise DataLossError(f"{data_file(prefix, e.shard, self.num_shards)} is "
                                    f"truncated: entry {e.name} needs bytes up to "
                                    f"{e.offset + e.size}, the file has "
                                    f"{self._shard_sizes[e.shard]}")

    def _shard_size(self, i: int) -> int:
        path = data_file(self.prefix, i, self.num_shards)
        try:
            return os.path.getsize(path)
        except OSError:
            raise DataLossError(f"{path} is missing (the checkpoint's index {self.index_path} "
                                "exists)") from None

    def data_extent(self) -> list[int]:
        """Per shard, the end of the last tensor's bytes."""
        out = [0] * self.num_shards
        for e in list(self.entries.values()) + list(self._slices.values()):
            if not e.slices:
                out[e.shard] = max(out[e.shard], e.offset + e.size)
        return out

    def _read_raw(self, f_cache: dict, e: Entry) -> np.ndarray:
        path = data_file(self.prefix, e.shard, self.num_shards)
        f = f_cache.get(e.shard)
        if f is None:
            f = f_cache[e.shard] = open(path, "rb")
        f.seek(e.offset)
        raw = f.read(e.size)
        if len(raw) != e.size:
            raise DataLossError(f"{path} is truncated: tensor {e.name} needs {e.size} bytes at "
                                f"offset {e.offset}")
        if e.crc is not None and masked_crc32c(raw) != e.crc:
            raise DataLossError(f"Checksum does not match for tensor {e.name} in {path}: the "
                                "file is corrupted")
        dt = np.dtype(e.dtype).newbyteorder("<")
        return np.frombuffer(raw, dtype=dt).astype(np.dtype(e.dtype)).reshape(e.shape)

    def _assemble(self, files: dict, e: Entry) -> np.ndarray:
        parts = []
        for s in e.slices:
            ext = _parse_slice(s, len(e.shape), f"{self.index_path}: entry {e.name}")
            part = self._slices.get(slice_key(e.name, ext))
            if part is None:
                raise DataLossError(f"{self.index_path}: partition {ext} of {e.name} is missing")
            if part.dtype != e.dtype:
                raise DataLossError(f"{self.index_path}: partition {ext} of {e.name} is "
                                    f"{part.dtype}, the tensor {e.dtype}")
            parts.append((ext, part))
        if sum(p.size for _, p in parts) != e.nbytes():     # checked before allocating
            raise DataLossError(f"{self.index_path}: the partitions of {e.name} hold "
                                f"{sum(p.size for _, p in parts)} bytes, its shape "
                                f"{list(e.shape)} needs {e.nbytes()}")
        out = np.zeros(e.shape, dtype=e.dtype)
        for ext, part in parts:
            idx = tuple(slice(st, None if ln == -1 else st + ln) for st, ln in ext)
            try:
                out[idx] = self._read_raw(files, part)
            except ValueError as ex:
                raise DataLossError(f"{self.index_path}: partition {ext} of {e.name} does not "
                                    f"fit its shape {list(e.shape)}: {ex}") from None
        return out

    def read(self, names: Iterable[str]) -> dict[str, np.ndarray]:
        files: dict = {}
        try:
            out = {}
            for n in names:
                e = self.entries[n]
                out[n] = (self._assemble(files, e) if e.slices else
                          self._read_raw(files, e)).copy()
            return out
        except OSError as ex:
            raise DataLossError(f"Unable to read the data of {self.prefix}: {ex}") from None
        finally:
            for f in files.values():
                f.close()
