"""TFRecord files: ``tf.python_io.TFRecordWriter`` / ``tf_record_iterator``,
``tf.data.TFRecordDataset`` and ``tf.data.TextLineDataset``.

The framing (little-endian uint64 length, masked CRC-32C of the length, the data, masked
CRC-32C of the data) is summary.py's, shared with TensorBoard event files. Reading checks
both checksums: a mismatch or a truncated record raises ``tf.errors.DataLossError`` naming the
file, the record's index and its byte offset. Record values carry that position
(``Record.where``), so a parse error downstream can name it too.
"""
from __future__ import annotations

import gzip
import struct
import zlib
from typing import Any, Iterator, Optional

import numpy as np

from ...errors import DataLossError, NotFoundError
from ..summary import masked_crc32c, tfrecord
from .dataset import Dataset, _Env
from .hostfeed import StringTensor
from .structure import Spec, string


class Record(bytes):
    """A record's bytes, with ``where`` = "file:record N" (or "file:line N")."""

    where: str = ""


def _record(data: bytes, where: str) -> Record:
    r = Record(data)
    r.where = where
    return r


class TFRecordOptions:
    def __init__(self, compression_type: Any = None, **kwargs: Any) -> None:
        self.compression_type = _compression(compression_type)


class TFRecordCompressionType:
    NONE, ZLIB, GZIP = 0, 1, 2


def _compression(c: Any) -> str:
    if isinstance(c, TFRecordOptions):
        return c.compression_type
    if c in (None, "", 0):
        return ""
    if c in ("GZIP", 2):
        return "GZIP"
    if c in ("ZLIB", 1):
        return "ZLIB"
    raise ValueError(f"unknown TFRecord compression {c!r}; expected '', 'GZIP' or 'ZLIB'")


class TFRecordWriter:
    """``tf.python_io.TFRecordWriter(path, options=None)``: ``write(bytes)``, ``flush``,
    ``close``; a context manager."""

    def __init__(self, path: str, options: Any = None) -> None:
        self._path = str(path)
        self._comp = _compression(options)
        self._file = gzip.open(self._path, "wb") if self._comp == "GZIP" else open(self._path, "wb")
        self._zlib = zlib.compressobj() if self._comp == "ZLIB" else None

    def write(self, record: Any) -> None:
        if isinstance(record, str):
            record = record.encode()
        if not isinstance(record, (bytes, bytearray)):
            raise TypeError(f"TFRecordWriter.write takes bytes (e.g. "
                            f"example.SerializeToString()), got {type(record).__name__}")
        data = tfrecord(bytes(record))
        self._file.write(self._zlib.compress(data) if self._zlib else data)

    def flush(self) -> None:
        if self._zlib is not None:
            self._file.write(self._zlib.flush(zlib.Z_SYNC_FLUSH))
        self._file.flush()

    def close(self) -> None:
        if self._file.closed:
            return
        if self._zlib is not None:
            self._file.write(self._zlib.flush())
        self._file.close()

    def __enter__(self) -> "TFRecordWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _read_all(path: str, comp: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise NotFoundError(f"{path}; No such file or directory") from None
    try:
        if comp == "GZIP":
            return gzip.decompress(raw)
        if comp == "ZLIB":
            return zlib.decompress(raw)
    except (OSError, zlib.error, EOFError) as e:
        raise DataLossError(f"{path}: cannot decompress ({comp}): {e}") from None
    return raw


def read_records(path: str, compression_type: Any = None) -> Iterator[Record]:
    """The records of one TFRecord file, checksums verified."""
    path = path.decode() if isinstance(path, bytes) else str(path)
    buf = _read_all(path, _compression(compression_type))
    pos, i, n = 0, 0, len(buf)
    while pos < n:
        if pos + 12 > n:
            raise DataLossError(f"truncated record at offset {pos} (record {i}) in {path}: "
                                f"{n - pos} bytes left, a record header needs 12")
        header = buf[pos:pos + 8]
        length = struct.unpack("<Q", header)[0]
        if struct.unpack("<I", buf[pos + 8:pos + 12])[0] != masked_crc32c(header):
            raise DataLossError(f"corrupted record at offset {pos} (record {i}) in {path}: "
                                "the length's CRC does not match")
        start = pos + 12
        if start + length + 4 > n:
            raise DataLossError(f"truncated record at offset {pos} (record {i}) in {path}: "
                                f"declares {length} bytes, the file ends first")
        data = buf[start:start + length]
        if struct.unpack("<I", buf[start + length:start + length + 4])[0] != masked_crc32c(data):
            raise DataLossError(f"corrupted record at offset {pos} (record {i}) in {path}: "
                                "the data's CRC does not match")
        yield _record(data, f"{path}:record {i}")
        pos = start + length + 4
        i += 1


def tf_record_iterator(path: str, options: Any = None) -> Iterator[bytes]:
    """``tf.python_io.tf_record_iterator``."""
    return read_records(path, options)


def _filenames(filenames: Any) -> Any:
    from ..graph import Tensor
    if isinstance(filenames, (Tensor, StringTensor, Dataset)):
        return filenames
    if isinstance(filenames, np.ndarray):
        return list(filenames.reshape(-1))
    return [filenames] if isinstance(filenames, (str, bytes)) else list(filenames)


class _FileDataset(Dataset):
    def __init__(self, filenames: Any) -> None:
        self._files = _filenames(filenames)
        self._children = (self._files,) if isinstance(self._files, Dataset) else ()
        self._components = [self._files] if isinstance(self._files, StringTensor) else []
        self._structure = Spec(string, ())

    def _names(self, env: _Env) -> Iterator[str]:
        if isinstance(self._files, StringTensor):      # a fed tf.placeholder(tf.string)
            for v in np.asarray(env.value(self._files), dtype=object).reshape(-1):
                yield v.decode() if isinstance(v, bytes) else str(v)
            return
        if isinstance(self._files, Dataset):
            for elem in self._files._iter(env):
                v = elem[0]
                v = v[()] if hasattr(v, "shape") and v.shape == () else v
                yield v.decode() if isinstance(v, bytes) else str(v)
        else:
            for f in self._files:
                yield f.decode() if isinstance(f, bytes) else str(f)


class TFRecordDataset(_FileDataset):
    """``tf.data.TFRecordDataset(filenames, compression_type=None)``: scalar string records."""

    def __init__(self, filenames: Any, compression_type: Any = None, buffer_size: Any = None,
                 num_parallel_reads: Any = None) -> None:
        super().__init__(filenames)
        self._comp = _compression(compression_type)

    def _iter(self, env: _Env) -> Iterator[list]:
        import numpy as np
        for name in self._names(env):
            for r in read_records(name, self._comp):
                yield [np.asarray(r, dtype=object)]


class TextLineDataset(_FileDataset):
    """``tf.data.TextLineDataset(filenames)``: one scalar string per line (without the line
    ending); ``where`` is "file:line N" (1-based)."""

    def __init__(self, filenames: Any, compression_type: Any = None,
                 buffer_size: Optional[int] = None) -> None:
        super().__init__(filenames)
        self._comp = _compression(compression_type)

    def _iter(self, env: _Env) -> Iterator[list]:
        import numpy as np
        for name in self._names(env):
            for where, line in read_lines(name, self._comp):
                yield [np.asarray(_record(line, where), dtype=object)]


def read_lines(path: str, compression_type: Any = None, skip: int = 0) -> Iterator[tuple]:
    """(where, line bytes) of a text file; ``\\n``/``\\r\\n`` endings removed."""
    buf = _read_all(path, _compression(compression_type))
    lines = buf.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for i, line in enumerate(lines):
        if i < skip:
            continue
        yield f"{path}:line {i + 1}", line[:-1] if line.endswith(b"\r") else line

