"""``tf.train.Saver`` and checkpoint files; meta graph export/import.

Checkpoint files
================

``saver.save(sess, "dir/model.ckpt", global_step=1000)`` writes, for the prefix
``P = dir/model.ckpt-1000``, TF1's file names:

``P.data-00000-of-00001``
    A 64-byte header -- the magic ``b"JFCKPTDATA\\0\\0"``, a little-endian uint32 format version
    (1), the 16-byte random ``save_id`` of this save, zero padding -- followed by each tensor's
    raw bytes: C order, little-endian, at offsets aligned to 64 bytes. Nothing else: no pickle,
    no code, nothing executed when it is read.

``P.index``
    UTF-8 JSON describing the data file::

        {"format": "jitflow.checkpoint.index", "version": 1,
         "save_id": "<32 hex digits, as in the data header>",
         "data_file": "model.ckpt-1000.data-00000-of-00001", "data_size": <bytes>,
         "byte_order": "little",
         "tensors": [{"name": "hidden1/kernel", "dtype": "float32", "shape": [784, 300],
                      "offset": 64, "length": 940800, "sha256": "<hex>"}, ...],
         "sha256": "<hex>"}

    Tensors are listed by name (the checkpoint keys: variable op names such as
    ``hidden1/kernel``, optimizer slots ``hidden1/kernel/Adam``, ``beta1_power``, or the keys of
    a ``Saver({"name": var})`` dict); dtypes are float32, float64, int32, int64 or bool (one
    byte). The final ``sha256`` is the SHA-256 of the canonical JSON of all other fields
    (``json.dumps(obj, sort_keys=True, separators=(",", ":"))``), so the index checks itself.

``P.meta``
    The graph (see *Meta graphs* below).

``dir/checkpoint``
    The state file, TF's text format: ``model_checkpoint_path: "model.ckpt-1000"`` and one
    ``all_model_checkpoint_paths: "..."`` line per kept checkpoint (oldest first), plus their
    timestamps. Paths are relative to ``dir`` unless the save path was absolute.

Integrity. A reader checks the index's own checksum, the data file's size and header
``save_id`` against the index, and the SHA-256 of every tensor it reads; any mismatch, a
truncated file or a malformed index raises ``tf.errors.DataLossError`` naming the file, and
nothing is loaded (``restore`` verifies every tensor before assigning any).

Atomic saves. Every file is written to a temporary name in the same directory and fsync'ed;
then the new index is renamed to ``P.index.pending``, the data file renamed into place, and
``P.index.pending`` renamed to ``P.index`` (directory fsync'ed after each rename); the ``.meta``
and the state file follow, also by rename. A crash before the data file's rename leaves the
previous files untouched; between the two renames, readers find that ``P.index`` no longer
matches the data's ``save_id`` and use the complete ``P.index.pending`` that does (roll
forward). The state file names a checkpoint only once it is complete, so
``tf.train.latest_checkpoint`` never returns a partial one. Old checkpoints beyond
``max_to_keep`` are deleted index first.

Meta graphs
===========

``P.meta`` (and ``tf.train.export_meta_graph(filename)``) is UTF-8 JSON::

    {"format": "jitflow.meta_graph", "version": 1,
     "ops": [{"name": "dnn/hidden1/MatMul", "type": "MatMul", "ir_op": "matmul",
              "attrs": {"transpose_a": "false", ...},   # IR attribute text (ir.printer)
              "inputs": ["X:0", "hidden1/kernel/read:0"], "control_inputs": [],
              "outputs": [{"dtype": "float32", "shape": [null, 300]}],
              "device": "", "rng": false, "file": "model.py", "line": 12}, ...],
     "variables": [{"name": "hidden1/kernel", "trainable": true,
                    "initializer": "hidden1/kernel/Assign", "snapshot": "hidden1/kernel/read:0",
                    "initial_value": "hidden1/kernel/Initializer/random_uniform:0"}, ...],
     "collections": {"trainable_variables": [{"variable": "hidden1/kernel"}, ...],
                     "train_op": [{"op": "train/GradientDescent"}],
                     "losses": [{"tensor": "loss/value:0"}], "my_ints": [{"value": 3}]},
     "saver": {"var_list": {"hidden1/kernel": "hidden1/kernel", ...}, "max_to_keep": 5, ...},
     "sha256": "<hex, as for the index>"}

Ops appear in creation order; attribute values are printed by ``jitflow.ir.printer.format_attr``
and parsed back by the IR parser, so constants (base64 arrays), dtypes and shapes round-trip
exactly. ``tf.train.import_meta_graph`` recreates every op under its original name in the
default graph, the Variable objects and the collections, and returns a Saver for the saved
var_list: ``get_tensor_by_name``/``get_operation_by_name`` work, and training continues after
``saver.restore`` with no Python model code.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import uuid
from typing import Any, Iterable, Optional

import numpy as np

from ..errors import DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError
from ..ir.dtypes import DType, as_dtype
from ..ir.types import TensorType
from .graph import GraphKeys, Operation, Tensor, get_default_graph

__all__ = [
    "Saver", "CheckpointState", "CheckpointReader", "NewCheckpointReader", "MetaGraph",
    "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists", "update_checkpoint_state",
    "remove_checkpoint", "list_variables", "load_variable", "load_checkpoint",
    "export_meta_graph", "import_meta_graph",
]

DATA_SUFFIX = ".data-00000-of-00001"
INDEX_SUFFIX = ".index"
PENDING_SUFFIX = ".index.pending"
META_SUFFIX = ".meta"
DATA_MAGIC = b"JFCKPTDATA\0\0"
DATA_HEADER = 64
ALIGN = 64
FORMAT_VERSION = 1
_TMP_MARK = ".jftmp-"
_DTYPES = ("float32", "float64", "int32", "int64", "bool")


# ====================================================================== file helpers =========

def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _tmp_name(final: str) -> str:
    return f"{final}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _write_durable(final_tmp: str, chunks: Iterable[bytes]) -> None:
    with open(final_tmp, "wb") as f:
        for c in chunks:
            f.write(c)
        f.flush()
        os.fsync(f.fileno())


def _atomic_write(path: str, data: bytes) -> None:
    tmp = _tmp_name(path)
    try:
        _write_durable(tmp, [data])
        os.replace(tmp, path)
    except BaseException:
        _silent_remove(tmp)
        raise
    _fsync_dir(os.path.dirname(path))


def _silent_remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _clean_stale_temps(prefix: str) -> None:
    """Remove temporary files (``*.jftmp-<pid>-<hex>``) in the prefix's directory left by saves
    whose process is gone."""
    d = os.path.dirname(prefix)
    try:
        names = os.listdir(d or ".")
    except OSError:
        return
    pat = re.compile(r".+" + re.escape(_TMP_MARK) + r"(\d+)-[0-9a-f]{8}$")
    for n in names:
        m = pat.match(n)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            _silent_remove(os.path.join(d, n))


def _test_pause(phase: str) -> None:
    """Test hook: ``JITFLOW_SAVER_TEST_PAUSE="<phase>:<seconds>"`` sleeps at that point of a
    save (phases: ``after_data`` -- data written, index not yet; ``after_data_rename`` -- data
    renamed into place, index still pending), announcing it on stderr."""
    spec = os.environ.get("JITFLOW_SAVER_TEST_PAUSE", "")
    if not spec:
        return
    want, _, secs = spec.partition(":")
    if want == phase:
        print(f"jitflow-saver: paused at {phase}", file=sys.stderr, flush=True)
        time.sleep(float(secs or 30))


def _canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sealed_json(obj: dict) -> bytes:
    body = dict(obj)
    body.pop("sha256", None)
    body["sha256"] = hashlib.sha256(_canonical(body)).hexdigest()
    return (json.dumps(body, indent=1, sort_keys=False) + "\n").encode("utf-8")


def _load_sealed_json(path: str, fmt: str) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise
    except OSError as e:
        raise DataLossError(f"Unable to read {path}: {e}") from None
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataLossError(f"{path} is corrupted or truncated (not valid JSON: {e})") from None
    if not isinstance(obj, dict) or obj.get("format") != fmt:
        raise DataLossError(f"{path} is not a {fmt} file (format field "
                            f"{obj.get('format') if isinstance(obj, dict) else None!r})")
    stored = obj.get("sha256")
    body = {k: v for k, v in obj.items() if k != "sha256"}
    if stored != hashlib.sha256(_canonical(body)).hexdigest():
        raise DataLossError(f"{path} is corrupted: its checksum does not match its contents")
    if obj.get("version") != FORMAT_VERSION:
        raise DataLossError(f"{path}: unsupported {fmt} version {obj.get('version')!r}")
    return obj


# ====================================================================== checkpoint files =====

def _dtype_name(arr: np.ndarray) -> str:
    return as_dtype(arr.dtype).name


def write_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
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


class CheckpointReader:
    """Reads a checkpoint written by :func:`write_checkpoint`, verifying everything it reads
    (``tf.train.NewCheckpointReader``)."""

    def __init__(self, prefix: str) -> None:
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
    def has_tensor(self, name: str) -> bool:
        return name in self._entries

    def get_variable_to_shape_map(self) -> dict[str, list]:
        return {k: list(e["shape"]) for k, e in self._entries.items()}

    def get_variable_to_dtype_map(self) -> dict[str, DType]:
        return {k: as_dtype(e["dtype"]) for k, e in self._entries.items()}

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> dict:
        e = self._entries.get(name)
        if e is None:
            raise NotFoundError(f"Key {name} not found in checkpoint {self.prefix}")
        return e

    def get_tensor(self, name: str) -> np.ndarray:
        return self.read([name])[name]

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


def NewCheckpointReader(filepattern: str) -> CheckpointReader:  # noqa: N802 (TF's name)
    return CheckpointReader(filepattern)


def _resolve_ckpt(ckpt_dir_or_file: str) -> str:
    if os.path.isdir(ckpt_dir_or_file):
        p = latest_checkpoint(ckpt_dir_or_file)
        if p is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given "
                             f"directory {ckpt_dir_or_file}")
        return p
    return ckpt_dir_or_file


def load_checkpoint(ckpt_dir_or_file: str) -> CheckpointReader:
    return CheckpointReader(_resolve_ckpt(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: str) -> list[tuple[str, list]]:
    """``tf.train.list_variables``: [(name, shape)] sorted by name."""
    r = load_checkpoint(ckpt_dir_or_file)
    return [(k, r.get_variable_to_shape_map()[k]) for k in r.keys()]


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    """``tf.train.load_variable``: one tensor's value (``name`` may end in ``:0``)."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """Whether a (V2) checkpoint with this prefix exists: ``P.index`` (or a complete
    ``P.index.pending``) is present."""
    p = str(checkpoint_prefix)
    return os.path.isfile(p + INDEX_SUFFIX) or (os.path.isfile(p + PENDING_SUFFIX)
                                                and os.path.isfile(p + DATA_SUFFIX))


def remove_checkpoint(checkpoint_prefix: str, checkpoint_format_version: int = 2,
                      meta_graph_suffix: str = "meta") -> None:
    """Delete a checkpoint's files (index first, so it stops existing atomically)."""
    p = str(checkpoint_prefix)
    for suffix in (INDEX_SUFFIX, PENDING_SUFFIX, DATA_SUFFIX, "." + meta_graph_suffix):
        _silent_remove(p + suffix)


# ====================================================================== state file ===========

class CheckpointState:
    """The ``checkpoint`` file's contents (TF's CheckpointState proto)."""

    def __init__(self, model_checkpoint_path: str = "",
                 all_model_checkpoint_paths: Optional[list] = None,
                 all_model_checkpoint_timestamps: Optional[list] = None,
                 last_preserved_timestamp: float = 0.0) -> None:
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths or [])
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps or [])
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self) -> str:
        return (f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r}, "
                f"all_model_checkpoint_paths={self.all_model_checkpoint_paths!r})")

    __str__ = __repr__


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _unquote(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _state_path(save_dir: str, latest_filename: Optional[str]) -> str:
    return os.path.join(save_dir, latest_filename or "checkpoint")


def _relative_to(path: str, save_dir: str) -> str:
    if os.path.isabs(save_dir) or os.path.isabs(path):
        return path
    return os.path.relpath(path, save_dir or ".")


def update_checkpoint_state(save_dir: str, model_checkpoint_path: str,
                            all_model_checkpoint_paths: Optional[list] = None,
                            latest_filename: Optional[str] = None,
                            all_model_checkpoint_timestamps: Optional[list] = None,
                            last_preserved_timestamp: Optional[float] = None) -> None:
    """Write the ``checkpoint`` state file (atomically)."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    lines = [f"model_checkpoint_path: {_quote(_relative_to(model_checkpoint_path, save_dir))}"]
    lines += [f"all_model_checkpoint_paths: {_quote(_relative_to(p, save_dir))}" for p in paths]
    for ts in all_model_checkpoint_timestamps or []:
        lines.append(f"all_model_checkpoint_timestamps: {ts!r}")
    if last_preserved_timestamp is not None:
        lines.append(f"last_preserved_timestamp: {last_preserved_timestamp!r}")
    _atomic_write(_state_path(save_dir, latest_filename), ("\n".join(lines) + "\n").encode())


_STATE_LINE = re.compile(r'^\s*(\w+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([-+0-9.eE]+|inf|nan))\s*$')


def get_checkpoint_state(checkpoint_dir: str,
                         latest_filename: Optional[str] = None) -> Optional[CheckpointState]:
    """``tf.train.get_checkpoint_state``: the parsed ``checkpoint`` file, relative paths joined
    to ``checkpoint_dir``; None when there is no (readable) state file."""
    path = _state_path(checkpoint_dir, latest_filename)
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as e:
        print(f"jitflow: warning: {path}: {e}; checkpoint ignored", file=sys.stderr)
        return None
    st = CheckpointState()
    for ln, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _STATE_LINE.match(line)
        if not m:
            print(f"jitflow: warning: {path}:{ln}: cannot parse {line!r}; checkpoint ignored",
                  file=sys.stderr)
            return None
        key, sval, nval = m.group(1), m.group(2), m.group(3)
        if key == "model_checkpoint_path" and sval is not None:
            st.model_checkpoint_path = _unquote(sval)
        elif key == "all_model_checkpoint_paths" and sval is not None:
            st.all_model_checkpoint_paths.append(_unquote(sval))
        elif key == "all_model_checkpoint_timestamps" and nval is not None:
            st.all_model_checkpoint_timestamps.append(float(nval))
        elif key == "last_preserved_timestamp" and nval is not None:
            st.last_preserved_timestamp = float(nval)
    if not st.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")

    def fix(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)
    st.model_checkpoint_path = fix(st.model_checkpoint_path)
    st.all_model_checkpoint_paths = [fix(p) for p in st.all_model_checkpoint_paths]
    return st


def latest_checkpoint(checkpoint_dir: str, latest_filename: Optional[str] = None) -> Optional[str]:
    """``tf.train.latest_checkpoint``: the newest complete checkpoint's prefix, or None."""
    st = get_checkpoint_state(checkpoint_dir, latest_filename)
    if st and st.model_checkpoint_path:
        if checkpoint_exists(st.model_checkpoint_path):
            return st.model_checkpoint_path
        print(f"jitflow: error: couldn't match files for checkpoint {st.model_checkpoint_path}",
              file=sys.stderr)
    return None


# ====================================================================== Saver ================

def _variables_by_op(g) -> dict:
    return getattr(g, "_variables_by_op", {})


def _as_variable(item: Any) -> Any:
    """A Variable, or a VariableV2 tensor/op -> its Variable object."""
    from .variables import Variable
    if isinstance(item, Variable):
        return item
    op = item.op if isinstance(item, Tensor) else item
    if isinstance(op, Operation) and op.type == "VariableV2":
        v = _variables_by_op(op.graph).get(op)
        if v is not None:
            return v
    raise TypeError(f"Variable to save is not a Variable: {item!r}")


def _var_list_to_dict(var_list: Any) -> dict:
    if isinstance(var_list, dict):
        out = {}
        for k, v in var_list.items():
            if not isinstance(k, str):
                raise TypeError(f"Saver's var_list keys must be strings, got {k!r}")
            out[k] = _as_variable(v)
        return out
    out = {}
    for item in var_list:
        v = _as_variable(item)
        key = v.op.name
        if key in out:
            raise ValueError(f"At least two variables have the same name: {key}")
        out[key] = v
    return out


class Saver:
    """``tf.train.Saver``: saves and restores variables' values in a Session.

    ``var_list``: None (all global variables at construction, including optimizer slots), a
    list (keys = variable op names) or a dict ``{key: variable}``. See the module docstring for
    the files and their guarantees."""

    def __init__(self, var_list: Any = None, reshape: bool = False, sharded: bool = False,
                 max_to_keep: Optional[int] = 5, keep_checkpoint_every_n_hours: float = 10000.0,
                 name: Optional[str] = None, restore_sequentially: bool = False,
                 saver_def: Any = None, builder: Any = None, defer_build: bool = False,
                 allow_empty: bool = False, write_version: int = 2,
                 pad_step_number: bool = False, save_relative_paths: bool = False,
                 filename: Optional[str] = None) -> None:
        self._graph = get_default_graph()
        self._var_list_arg = var_list
        self._allow_empty = allow_empty
        self._max_to_keep = max_to_keep
        self._keep_every_n_hours = keep_checkpoint_every_n_hours
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths
        self._filename = filename
        self._last_checkpoints: list[tuple[str, float]] = []
        self._next_preserve = time.time() + keep_checkpoint_every_n_hours * 3600
        self._vars: Optional[dict] = None
        if not defer_build:
            self.build()

    def build(self) -> None:
        if self._vars is not None:
            return
        var_list = self._var_list_arg
        if var_list is None:
            var_list = self._graph.get_collection(GraphKeys.GLOBAL_VARIABLES) + \
                self._graph.get_collection("saveable_objects")
        self._vars = _var_list_to_dict(var_list)
        if not self._vars and not self._allow_empty:
            raise ValueError("No variables to save")

    # -------------------------------------------------------------- properties ------------
    @property
    def last_checkpoints(self) -> list[str]:
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints: list) -> None:
        self._last_checkpoints = [(p, time.time()) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list) -> None:
        self._last_checkpoints = [(p, t) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths: list) -> None:
        self._last_checkpoints = [(p, os.path.getmtime(p + INDEX_SUFFIX))
                                  for p in checkpoint_paths if checkpoint_exists(p)]

    @property
    def var_list(self) -> dict:
        self.build()
        return dict(self._vars)

    # -------------------------------------------------------------- save ------------------
    def save(self, sess: Any, save_path: str, global_step: Any = None,
             latest_filename: Optional[str] = None, meta_graph_suffix: str = "meta",
             write_meta_graph: bool = True, write_state: bool = True,
             strip_default_attrs: bool = False, save_debug_info: bool = False) -> str:
        """Write the checkpoint; returns its prefix (``save_path`` or ``save_path-<step>``)."""
        self.build()
        if latest_filename and os.path.basename(latest_filename) != latest_filename:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            step = _global_step_value(sess, global_step)
            prefix = (f"{save_path}-{step:08d}" if self._pad_step_number
                      else f"{save_path}-{step}")
        else:
            prefix = save_path
        save_dir = os.path.dirname(prefix)
        if save_dir and not os.path.isdir(save_dir):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        _check_session(sess)
        values = {}
        for key, var in self._vars.items():
            val = sess._variable_value(var)
            if val is None:
                raise FailedPreconditionError(
                    f"Attempting to use uninitialized value {var.op.name} (while saving "
                    f"{prefix}: run the initializer or restore before saving)")
            values[key] = np.asarray(val)
        write_checkpoint(prefix, values)
        if write_meta_graph:
            export_meta_graph(prefix + "." + meta_graph_suffix, graph=self._graph, saver=self)
        self._record(prefix, meta_graph_suffix)
        if write_state:
            update_checkpoint_state(
                save_dir, prefix, self.last_checkpoints, latest_filename,
                all_model_checkpoint_timestamps=[t for _, t in self._last_checkpoints],
                last_preserved_timestamp=self._next_preserve - self._keep_every_n_hours * 3600)
        return prefix

    def _record(self, prefix: str, meta_suffix: str) -> None:
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        if not self._max_to_keep or self._max_to_keep <= 0:
            return
        while len(self._last_checkpoints) > self._max_to_keep:
            old, t = self._last_checkpoints.pop(0)
            if t > self._next_preserve:   # keep_checkpoint_every_n_hours: preserve this one
                self._next_preserve += self._keep_every_n_hours * 3600
                continue
            remove_checkpoint(old, meta_graph_suffix=meta_suffix)

    # -------------------------------------------------------------- restore ---------------
    def restore(self, sess: Any, save_path: Optional[str]) -> None:
        """Assign the saved values to this Saver's variables (only those; all or nothing)."""
        self.build()
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        if not checkpoint_exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        _check_session(sess)
        reader = CheckpointReader(save_path)
        for key, var in self._vars.items():
            if not reader.has_tensor(key):
                raise NotFoundError(
                    f"Key {key} not found in checkpoint {save_path} (restoring variable "
                    f"{var.name}). The checkpoint holds: {', '.join(reader.keys()) or 'nothing'}")
            e = reader.entry(key)
            want_shape = tuple(var.shape.as_list())
            if tuple(e["shape"]) != want_shape:
                raise InvalidArgumentError(
                    f"Assign requires shapes of both tensors to match. lhs shape= "
                    f"{list(want_shape)} rhs shape= {list(e['shape'])}: restoring variable "
                    f"{var.op.name} from key {key} in checkpoint {save_path}")
            if e["dtype"] != var.dtype.name:
                raise InvalidArgumentError(
                    f"tensor_name = {key}; expected dtype {var.dtype.name} does not equal "
                    f"original dtype {e['dtype']} (restoring variable {var.op.name} from "
                    f"checkpoint {save_path})")
        values = reader.read(self._vars.keys())
        for key, var in self._vars.items():
            sess._load_variable(var, values[key])

    # -------------------------------------------------------------- meta graph ------------
    def export_meta_graph(self, filename: Optional[str] = None, collection_list=None,
                          as_text: bool = False, export_scope: Optional[str] = None,
                          clear_devices: bool = False, clear_extraneous_savers: bool = False,
                          strip_default_attrs: bool = False, save_debug_info: bool = False):
        return export_meta_graph(filename, collection_list=collection_list, graph=self._graph,
                                 clear_devices=clear_devices, saver=self)

    def _saver_def(self) -> dict:
        self.build()
        return {"var_list": {k: v.op.name for k, v in self._vars.items()},
                "max_to_keep": self._max_to_keep,
                "keep_checkpoint_every_n_hours": self._keep_every_n_hours,
                "pad_step_number": self._pad_step_number}


def _check_session(sess: Any) -> None:
    if not hasattr(sess, "_variable_value") or not hasattr(sess, "_load_variable"):
        raise TypeError(f"'sess' must be a Session; {sess!r}")
    if getattr(sess, "_closed", False):
        raise RuntimeError("Attempted to use a closed Session.")


def _global_step_value(sess: Any, global_step: Any) -> int:
    if isinstance(global_step, (int, np.integer)) and not isinstance(global_step, bool):
        return int(global_step)
    return int(np.asarray(sess.run(global_step)))


# ====================================================================== meta graphs ==========

class MetaGraph(dict):
    """What ``export_meta_graph`` returns: the JSON object (a dict) of the .meta file."""


def _format_attr_value(op: Operation, key: str, v: Any) -> str:
    from ..ir.printer import format_attr

    def canon(x: Any) -> Any:
        if isinstance(x, (list, tuple)):
            return tuple(canon(i) for i in x)
        if isinstance(x, np.generic):
            return x.item()
        return x
    try:
        return format_attr(canon(v))
    except TypeError as e:
        raise ValueError(f"cannot export op {op.name} ({op.type}): attribute {key} = {v!r} has "
                         f"no IR text form ({e})") from None


def _parse_attr_text(text: str, where: str) -> Any:
    from ..ir.parser import IRParseError, _parse_attr, _Tokens
    try:
        ts = _Tokens(text)
        v = _parse_attr(ts)
        if ts.peek()[0] != "eof":
            raise IRParseError(f"trailing text after the value: {ts.peek()[1]!r}")
        return v
    except (IRParseError, ValueError, TypeError) as e:
        raise DataLossError(f"{where}: cannot parse attribute {text[:80]!r}: {e}") from None


def _collection_item(item: Any) -> Optional[dict]:
    from .variables import Variable
    if isinstance(item, Variable):
        return {"variable": item.op.name}
    if isinstance(item, Tensor):
        return {"tensor": item.name}
    if isinstance(item, Operation):
        return {"op": item.name}
    if item is None or isinstance(item, (bool, int, float, str)):
        return {"value": item}
    from .summary import SummaryTensor
    if isinstance(item, SummaryTensor):
        return {"summary": item.name,
                "entries": [[tag, kind, t.name] for tag, kind, t in item._entries]}
    return None


def export_meta_graph(filename: Optional[str] = None, meta_info_def: Any = None,
                      graph_def: Any = None, saver_def: Any = None, collection_list=None,
                      as_text: bool = False, graph: Any = None, export_scope: Optional[str] = None,
                      clear_devices: bool = False, clear_extraneous_savers: bool = False,
                      strip_default_attrs: bool = False, save_debug_info: bool = False,
                      saver: Optional[Saver] = None, **kwargs: Any) -> MetaGraph:
    """``tf.train.export_meta_graph``: the graph, its variables and collections as JSON
    (written atomically to ``filename`` if given); returns the JSON object."""
    g = graph or get_default_graph()
    ops = []
    for op in g.get_operations():
        ops.append({
            "name": op.name, "type": op.type, "ir_op": op.ir_op,
            "attrs": {k: _format_attr_value(op, k, v) for k, v in sorted(op.attrs.items())},
            "inputs": [t.name for t in op.inputs],
            "control_inputs": [c.name for c in op.control_inputs],
            "outputs": [{"dtype": t.dtype.name,
                         "shape": None if t.shape.dims is None else list(t.shape.dims)}
                        for t in op.outputs],
            "device": "" if clear_devices else (op.device or ""),
            "rng": bool(op.rng), "file": op.file, "line": op.line,
        })
    variables = []
    for var_op, v in _variables_by_op(g).items():
        variables.append({
            "name": var_op.name, "trainable": bool(v.trainable),
            "initializer": v.initializer.name if getattr(v, "initializer", None) else None,
            "snapshot": v._snapshot.name,
            "initial_value": (v._initial_value.name
                              if getattr(v, "_initial_value", None) is not None else None),
        })
    keys = g.get_all_collection_keys() if collection_list is None else list(collection_list)
    collections = {}
    for key in keys:
        items = []
        for item in g.get_collection(key):
            d = _collection_item(item)
            if d is not None:
                items.append(d)
        if items:
            collections[key] = items
    meta = {"format": "jitflow.meta_graph", "version": FORMAT_VERSION,
            "producer": "jitflow", "ops": ops, "variables": variables,
            "collections": collections,
            "saver": saver._saver_def() if saver is not None else None}
    if filename:
        _atomic_write(os.fspath(filename), _sealed_json(meta))
    return MetaGraph(meta)


def _read_meta(meta_graph_or_file: Any) -> dict:
    if isinstance(meta_graph_or_file, dict):
        return dict(meta_graph_or_file)
    path = os.fspath(meta_graph_or_file)
    try:
        return _load_sealed_json(path, "jitflow.meta_graph")
    except FileNotFoundError:
        raise OSError(f"File {path} does not exist.") from None


def import_meta_graph(meta_graph_or_file: Any, clear_devices: bool = False,
                      import_scope: Optional[str] = None, **kwargs: Any) -> Optional[Saver]:
    """``tf.train.import_meta_graph``: recreate the saved graph's ops (same names, or under
    ``import_scope/``), Variables and collections in the default graph. Returns a Saver for the
    saved var_list (or all imported global variables), or None when there are no variables."""
    from .variables import Variable
    meta = _read_meta(meta_graph_or_file)
    where = meta_graph_or_file if isinstance(meta_graph_or_file, (str, os.PathLike)) else "meta graph"
    g = get_default_graph()
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""

    def rename(n: str) -> str:
        return prefix + n

    def tensor(name: str) -> Tensor:
        op_name, _, idx = name.rpartition(":")
        op = created.get(op_name)
        if op is None or not idx.isdigit() or int(idx) >= len(op.outputs):
            raise DataLossError(f"{where}: reference to unknown tensor {name}")
        return op.outputs[int(idx)]

    created: dict[str, Operation] = {}
    pending_ctrl: list[tuple[Operation, list]] = []
    try:
        op_entries = meta["ops"]
        for e in op_entries:
            name = rename(e["name"])
            if name in g._ops_by_name:
                raise ValueError(f"Cannot import {where}: an op named {name} already exists in "
                                 "the default graph (use import_scope= or a new graph)")
            inputs = [tensor(t) for t in e["inputs"]]
            outs = [TensorType(as_dtype(o["dtype"]),
                               None if o["shape"] is None else tuple(o["shape"]))
                    for o in e["outputs"]]
            attrs = {k: _parse_attr_text(v, f"{where}: op {e['name']}")
                     for k, v in e["attrs"].items()}
            _mark_name(g, name)
            with g.name_scope(None), g.control_dependencies(None):
                op = g._add_op(e["type"], inputs, outs, e.get("ir_op"), attrs, name + "/",
                               (e.get("file", "<unknown>"), int(e.get("line", 0))),
                               rng=bool(e.get("rng", False)))
            if not clear_devices:
                op.device = e.get("device", "") or ""
            created[e["name"]] = op
            pending_ctrl.append((op, e.get("control_inputs", [])))
        for op, ctrl in pending_ctrl:
            try:
                op.control_inputs = [created[c] for c in ctrl]
            except KeyError as ex:
                raise DataLossError(f"{where}: op {op.name} has an unknown control input "
                                    f"{ex.args[0]}") from None
        variables: dict[str, Any] = {}
        by_op = getattr(g, "_variables_by_op", None)
        if by_op is None:
            by_op = g._variables_by_op = {}
        for ve in meta.get("variables", []):
            var_op = created.get(ve["name"])
            if var_op is None or var_op.type != "VariableV2":
                raise DataLossError(f"{where}: variable {ve['name']} has no VariableV2 op")
            v = _rebuild_variable(
                Variable, var_op, ve.get("trainable", True),
                created.get(ve["initializer"]) if ve.get("initializer") else None,
                tensor(ve["snapshot"]),
                tensor(ve["initial_value"]) if ve.get("initial_value") else None)
            by_op[var_op] = v
            variables[ve["name"]] = v
        for key, items in meta.get("collections", {}).items():
            for d in items:
                if "variable" in d:
                    v = variables.get(d["variable"])
                    if v is None:
                        raise DataLossError(f"{where}: collection {key} names unknown variable "
                                            f"{d['variable']}")
                    g.add_to_collection(key, v)
                elif "tensor" in d:
                    g.add_to_collection(key, tensor(d["tensor"]))
                elif "op" in d:
                    op = created.get(d["op"])
                    if op is None:
                        raise DataLossError(f"{where}: collection {key} names unknown op "
                                            f"{d['op']}")
                    g.add_to_collection(key, op)
                elif "value" in d:
                    g.add_to_collection(key, d["value"])
                elif "summary" in d:
                    from .summary import SummaryTensor
                    g.add_to_collection(key, SummaryTensor(
                        [(tag, kind, tensor(name)) for tag, kind, name in d["entries"]],
                        d["summary"]))
    except (KeyError, TypeError) as ex:
        raise DataLossError(f"{where} is malformed: {ex!r}") from None
    sd = meta.get("saver")
    if sd:
        try:
            var_list = {k: variables[n] for k, n in sd["var_list"].items()}
        except KeyError as ex:
            raise DataLossError(f"{where}: the saver names unknown variable {ex.args[0]}") from None
        return Saver(var_list, max_to_keep=sd.get("max_to_keep", 5),
                     keep_checkpoint_every_n_hours=sd.get("keep_checkpoint_every_n_hours",
                                                          10000.0),
                     pad_step_number=sd.get("pad_step_number", False), allow_empty=True)
    ours = {id(v) for v in variables.values()}
    imported = [v for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES) if id(v) in ours]
    if imported:
        return Saver(imported)
    return None


def _mark_name(g: Any, name: str) -> None:
    """Reserve an imported op's name so later ops are uniquified around it."""
    key = name.lower()
    if key not in g._names_in_use:
        g._names_in_use[key] = 1


def _rebuild_variable(cls: Any, var_op: Operation, trainable: bool,
                      initializer: Optional[Operation], snapshot: Tensor,
                      initial_value: Optional[Tensor]) -> Any:
    """A Variable object over existing ops (no new ops), as TF's Variable(variable_def=...)."""
    make = getattr(cls, "_from_ops", None)
    if make is not None:
        return make(var_op, initializer=initializer, snapshot=snapshot,
                    initial_value=initial_value, trainable=trainable)
    v = cls.__new__(cls)
    v._variable_op = var_op
    v._variable = var_op.outputs[0]
    v._initial_value = initial_value
    v.initializer = initializer
    v._snapshot = snapshot
    v.trainable = trainable
    return v

