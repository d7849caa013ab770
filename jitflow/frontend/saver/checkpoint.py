"""Writing checkpoints (TensorFlow's V2 format, atomically) and reading either format.

:func:`write_checkpoint` writes ``P.data-00000-of-00001`` and ``P.index`` as
:mod:`.bundle` describes, so TensorFlow reads them. Atomic save: both files go to temporary
names in the same directory (``<name>.jftmp-<pid>-<hex>``) and are fsync'ed; the new index is
renamed to ``P.index.pending``, the data file into place, then ``P.index.pending`` to
``P.index`` (directory fsync'ed after each rename). A crash before the data rename leaves the
previous checkpoint intact; between the two renames the old ``P.index`` no longer matches the
data (its checksums fail) and :class:`CheckpointReader` rolls forward to the complete
``P.index.pending``, which ``restore`` then renames into place. Temporaries of a killed save
(whose process is gone) are removed by the next save or restore in that directory.

:class:`CheckpointReader` (``tf.train.NewCheckpointReader``) reads TensorFlow's format and,
with a ``DeprecationWarning``, jitflow 0.1's JSON-indexed format (:mod:`.legacy`).
"""
from __future__ import annotations

import os
from typing import Iterable

import numpy as np

from ...errors import DataLossError, NotFoundError
from .bundle import BundleReader, data_file, encode
from .format import (DATA_SUFFIX, INDEX_SUFFIX, PENDING_SUFFIX, _clean_stale_temps, _fsync_dir,
                     _silent_remove, _test_pause, _tmp_name, _write_durable)
from .format import ReaderAPI
from .legacy import JitflowCheckpointReader


def write_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
    """Write a one-shard TF V2 checkpoint for ``tensors`` atomically."""
    d = os.path.dirname(prefix)
    _clean_stale_temps(prefix)
    index, chunks = encode(tensors)
    data_path, index_path = prefix + DATA_SUFFIX, prefix + INDEX_SUFFIX
    pending = prefix + PENDING_SUFFIX
    data_tmp, index_tmp = _tmp_name(data_path), _tmp_name(index_path)
    try:
        _write_durable(data_tmp, chunks)
        _test_pause("after_data")
        _write_durable(index_tmp, [index])
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


def _is_legacy(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(1) == b"{"
    except OSError:
        return False


def _verified(prefix: str, index_path: str) -> BundleReader:
    """A reader over ``index_path`` whose every tensor matches the data (else DataLossError)."""
    r = BundleReader(prefix, index_path)
    sizes = [os.path.getsize(data_file(prefix, i, r.num_shards)) for i in range(r.num_shards)]
    if r.data_extent() != sizes:
        raise DataLossError(f"{index_path} does not describe {data_file(prefix, 0, r.num_shards)}"
                            f" (sizes {r.data_extent()} vs {sizes})")
    r.read(r.entries)
    return r


class CheckpointReader(ReaderAPI):
    """``tf.train.NewCheckpointReader``: a checkpoint's keys, shapes, dtypes and values, every
    value verified on read (all of a ``read`` or a DataLossError)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = p = str(prefix)
        index, pending = p + INDEX_SUFFIX, p + PENDING_SUFFIX
        has_index, has_pending = os.path.isfile(index), os.path.isfile(pending)
        if not has_index and not has_pending:
            if os.path.exists(p + DATA_SUFFIX):
                raise DataLossError(f"{index} is missing (the checkpoint's data file "
                                    f"{p + DATA_SUFFIX} exists)")
            raise NotFoundError(f"Unsuccessful TensorSliceReader constructor: Failed to find "
                                f"any matching files for {p}")
        self.rolled_forward = False
        if _is_legacy(index if has_index else pending):
            self._legacy = JitflowCheckpointReader(p)
            self.index_path = self._legacy.index_path
            self._entries = {k: {"name": k, "dtype": e["dtype"], "shape": list(e["shape"])}
                             for k, e in self._legacy._entries.items()}
            return
        self._legacy = None
        if not has_pending:
            self._r = BundleReader(p, index)
        else:               # a save was interrupted: use whichever index matches the data
            errors = []
            for path in ([index] if has_index else []) + [pending]:
                try:
                    self._r = _verified(p, path)
                    break
                except (DataLossError, OSError) as e:
                    errors.append(e)
            else:
                raise errors[0] if isinstance(errors[0], DataLossError) else \
                    DataLossError(f"Unable to read {p}: {errors[0]}")
            self.rolled_forward = self._r.index_path == pending
        self.index_path = self._r.index_path
        self._entries = {k: {"name": k, "dtype": e.dtype, "shape": list(e.shape)}
                         for k, e in self._r.entries.items()}

    def finish_interrupted_save(self) -> None:
        """If this checkpoint was completed from ``P.index.pending``, rename it into place."""
        if self.rolled_forward:
            os.replace(self.prefix + PENDING_SUFFIX, self.prefix + INDEX_SUFFIX)
            _fsync_dir(os.path.dirname(self.prefix))
            self.index_path = self.prefix + INDEX_SUFFIX
            self.rolled_forward = False

    # -------------------------------------------------------------- TF reader API --------
    # has_tensor, get_variable_to_shape_map/dtype_map, keys, entry, get_tensor: ReaderAPI


    def read(self, names: Iterable[str]) -> dict[str, np.ndarray]:
        """Read and verify the named tensors (all of them, or an error)."""
        names = list(names)
        for n in names:
            self.entry(n)
        if self._legacy is not None:
            return self._legacy.read(names)
        return self._r.read(names)

    def debug_string(self) -> bytes:
        return "".join(f"{k} ({e['dtype']}) {e['shape']}\n"
                       for k, e in sorted(self._entries.items())).encode()
