"""The jitflow checkpoint format of release 0.1 (deprecated: read for one release).

``P.data-00000-of-00001``: a 64-byte header -- magic ``b"JFCKPTDATA\\0\\0"``, uint32 LE format
version 1, the 16-byte random ``save_id``, zero padding -- then each tensor's raw bytes (C
order, little-endian) at 64-byte aligned offsets. ``P.index``: UTF-8 JSON ``{"format":
"jitflow.checkpoint.index", "version": 1, "save_id", "data_file", "data_size", "byte_order",
"tensors": [{"name", "dtype", "shape", "offset", "length", "sha256"}], "sha256"}``, the last
field the SHA-256 of the canonical JSON of the others. A reader checks the index's checksum,
the data's size and ``save_id`` (rolling forward to a complete ``P.index.pending``), and each
tensor's SHA-256; any mismatch is a ``DataLossError``. ``tf.train.Saver`` now writes
TensorFlow's format (:mod:`.bundle`); :func:`write_jitflow_checkpoint` remains for tests.
"""
from __future__ import annotations

import hashlib
import os
import uuid
import warnings
from typing import Iterable

import numpy as np

from ...errors import DataLossError, NotFoundError
from ...ir.dtypes import as_dtype
from .format import (ALIGN, DATA_HEADER, DATA_MAGIC, DATA_SUFFIX, FORMAT_VERSION, INDEX_SUFFIX,
                     PENDING_SUFFIX, _DTYPES, _clean_stale_temps, _fsync_dir, _load_sealed_json,
                     _sealed_json, _silent_remove, _test_pause, _tmp_name, _write_durable,
                     ReaderAPI)

# ====================================================================== checkpoint files =====

def _dtype_name(arr: np.ndarray) -> str:
    return as_dtype(arr.dtype).name


def write_jitflow_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
    """Write ``P.data-00000-of-00001`` and ``P.index`` atomically (see the module docstring)."""
    d = os.path.dirname(prefix)
    _clean_stale_temps(prefix)
    save_id = uuid.uuid4().bytes
    entries, chunks = [], []
    header = DATA_MAGIC + FORMAT_VERSION.to_bytes(4, "little") + save_id
    header += b"\0" * (DATA_HEADER - len(header))
    chunks.append(header)
    offset = DATA_HEADER
    for name in sorted(tensors):
        arr = np.asarray(tensors[name])
        dt = _dtype_name(arr)
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        entries.append({"name": name, "dtype": dt, "shape": list(arr.shape), "offset": offset,
                        "length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()})
        chunks.append(raw)
        offset += len(raw)
        pad = (-offset) % ALIGN
        if pad:
            chunks.append(b"\0" * pad)
            offset += pad
    index = {"format": "jitflow.checkpoint.index", "version": FORMAT_VERSION,
             "save_id": save_id.hex(), "data_file": os.path.basename(prefix) + DATA_SUFFIX,
             "data_size": offset, "byte_order": "little", "tensors": entries}
    data_path, index_path = prefix + DATA_SUFFIX, prefix + INDEX_SUFFIX
    pending = prefix + PENDING_SUFFIX
    data_tmp, index_tmp = _tmp_name(data_path), _tmp_name(index_path)
    try:
        _write_durable(data_tmp, chunks)
        _test_pause("after_data")
        _write_durable(index_tmp, [_sealed_json(index)])
        os.replace(index_tmp, pending)
        _fsync_dir(d)
        os.replace(data_tmp, data_path)
        _fsync_dir(d)
        _test_pause("after_data_rename")
        os.replace(pending, index_path)
        _fsync_dir(d)
    except BaseException:
        _silent_remove(data_tmp)
        _silent_remove(index_tmp)
        raise


class JitflowCheckpointReader(ReaderAPI):
    """Reads a checkpoint written by :func:`write_checkpoint`, verifying everything it reads
    (``tf.train.NewCheckpointReader``)."""

    def __init__(self, prefix: str) -> None:
        warnings.warn(f"{prefix} is in the jitflow 0.1 checkpoint format, which is deprecated "
                      "and will not be readable in the next release: re-save it with "
                      "tf.train.Saver (TensorFlow's format)", DeprecationWarning, stacklevel=3)
        self.prefix = str(prefix)
        self.data_path = self.prefix + DATA_SUFFIX
        self.index_path = self.prefix + INDEX_SUFFIX
        data_id, data_size = self._data_header()
        index = None
        errors = []
        for path in (self.index_path, self.prefix + PENDING_SUFFIX):
            if not os.path.exists(path):
                continue
            try:
                cand = _load_sealed_json(path, "jitflow.checkpoint.index")
            except DataLossError as e:
                errors.append(e)
                continue
            if cand.get("save_id") == data_id:
                index = cand
                self.index_path = path
                break
            errors.append(DataLossError(
                f"{path} does not describe {self.data_path} (the save ids differ: the data file "
                "was replaced by another save that did not complete, or the files come from "
                "different checkpoints)"))
        if index is None:
            if errors:
                raise errors[0]
            raise NotFoundError(f"Unsuccessful TensorSliceReader constructor: Failed to find "
                                f"any matching files for {self.prefix} (no {self.index_path})")
        if index.get("data_size") != data_size:
            raise DataLossError(f"{self.data_path} is truncated or has extra bytes: "
                                f"{data_size} bytes, but {self.index_path} expects "
                                f"{index.get('data_size')}")
        self._entries: dict[str, dict] = {}
        try:
            for e in index["tensors"]:
                if e["dtype"] not in _DTYPES:
                    raise DataLossError(f"{self.index_path}: tensor {e['name']} has unknown dtype "
                                        f"{e['dtype']!r}")
                n = int(np.prod(e["shape"], dtype=np.int64))
                if n * np.dtype(e["dtype"]).itemsize != e["length"] or \
                        e["offset"] + e["length"] > data_size or e["offset"] < DATA_HEADER:
                    raise DataLossError(f"{self.index_path}: entry for {e['name']} is "
                                        "inconsistent (offset/length/shape)")
                self._entries[e["name"]] = e
        except (KeyError, TypeError, ValueError) as ex:
            raise DataLossError(f"{self.index_path} is malformed: {ex}") from None

    def _data_header(self) -> tuple[str, int]:
        try:
            with open(self.data_path, "rb") as f:
                head = f.read(DATA_HEADER)
                f.seek(0, os.SEEK_END)
                size = f.tell()
        except FileNotFoundError:
            if os.path.exists(self.index_path):
                raise DataLossError(f"{self.data_path} is missing (the checkpoint's index "
                                    f"{self.index_path} exists)") from None
            raise NotFoundError(f"Unsuccessful TensorSliceReader constructor: Failed to find "
                                f"any matching files for {self.prefix}") from None
        if len(head) < DATA_HEADER or head[:len(DATA_MAGIC)] != DATA_MAGIC:
            raise DataLossError(f"{self.data_path} is not a jitflow checkpoint data file or is "
                                "truncated (bad header; checkpoints written by TensorFlow itself "
                                "are not readable)")
        version = int.from_bytes(head[12:16], "little")
        if version != FORMAT_VERSION:
            raise DataLossError(f"{self.data_path}: unsupported data format version {version}")
        return head[16:32].hex(), size

    # -------------------------------------------------------------- TF reader API --------
    # has_tensor, get_variable_to_shape_map/dtype_map, keys, entry, get_tensor: ReaderAPI


    def read(self, names: Iterable[str]) -> dict[str, np.ndarray]:
        """Read and verify the named tensors (all of them, or an error)."""
        names = list(names)
        entries = [self.entry(n) for n in names]
        out = {}
        try:
            with open(self.data_path, "rb") as f:
                for n, e in zip(names, entries):
                    f.seek(e["offset"])
                    raw = f.read(e["length"])
                    if len(raw) != e["length"]:
                        raise DataLossError(f"{self.data_path} is truncated: tensor {n} needs "
                                            f"{e['length']} bytes at offset {e['offset']}")
                    if hashlib.sha256(raw).hexdigest() != e["sha256"]:
                        raise DataLossError(f"Checksum does not match for tensor {n} in "
                                            f"{self.data_path}: the file is corrupted")
                    dt = np.dtype(e["dtype"]).newbyteorder("<")
                    out[n] = np.frombuffer(raw, dtype=dt).astype(np.dtype(e["dtype"])) \
                        .reshape(e["shape"]).copy()
        except OSError as ex:
            raise DataLossError(f"Unable to read {self.data_path}: {ex}") from None
        return out
