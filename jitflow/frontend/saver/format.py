"""File names, durable and atomic writes, stale-temporary cleanup, and sealed JSON (a JSON
object carrying the SHA-256 of its own canonical form) shared by the checkpoint writers."""
from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import uuid
from typing import Any, Iterable

from ...errors import DataLossError, NotFoundError

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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
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


class ReaderAPI:
    """TF's ``CheckpointReader`` methods over ``self._entries`` (name -> dict with ``shape`` and
    ``dtype``), ``self.prefix`` and ``self.read(names)``: shared by both checkpoint formats."""
    _entries: dict
    prefix: str

    def read(self, names):  # pragma: no cover - each format defines it
        raise NotImplementedError

    def has_tensor(self, name: str) -> bool:
        return name in self._entries

    def get_variable_to_shape_map(self) -> dict[str, list]:
        return {k: list(e["shape"]) for k, e in self._entries.items()}

    def get_variable_to_dtype_map(self) -> dict[str, Any]:
        from ...ir.dtypes import as_dtype
        return {k: as_dtype(e["dtype"]) for k, e in self._entries.items()}

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> dict:
        e = self._entries.get(name)
        if e is None:
            raise NotFoundError(f"Key {name} not found in checkpoint {self.prefix}")
        return e

    def get_tensor(self, name: str) -> Any:
        return self.read([name])[name]

