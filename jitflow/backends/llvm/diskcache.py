"""The llvm backend's disk cache of object code, which no other user can poison.

Entries live in ``~/.cache/jitflow`` (or ``JITFLOW_CACHE_DIR``) as ``<key>.o``: a magic line,
an HMAC-SHA256 of (key, object code) under a per-user secret key, and the object code; beside
it ``<key>.plan``, what the executable needs without generating the module's LLVM IR again
(``llvm/cached.py``), stored the same way (its HMAC also covers the suffix).

* The directory is used only when it is owned by the current user and not writable by group
  or others, and no directory above it lets another user replace it (writable by others
  without the sticky bit, or owned by someone other than the user or root) -- as ssh checks
  ``~/.ssh``. Otherwise jitflow warns once and runs without the disk cache.
* The secret key is ``<dir>/key`` (32 random bytes, mode 0600). A key file another user could
  read, or a damaged one, is replaced by a fresh key: every entry made under the old key then
  fails authentication and is rebuilt.
* An entry is loaded only if its HMAC verifies (``hmac.compare_digest``): a forged, damaged or
  foreign file, a file of another key renamed, or something that is not a regular file (a
  directory, a symlink) is removed and rebuilt, never loaded.
* ``JITFLOW_CACHE_MAX_BYTES`` (default 512 MiB; K/M/G suffixes; 0 keeps nothing) bounds the
  directory: after each write the least recently used entries (a hit refreshes an entry's
  mtime) are deleted until the rest fit. Temporaries older than an hour (a killed writer's)
  are deleted too.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import stat
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Optional

MAGIC = b"JFOBJ3\n"
DIGEST_LEN = 64                  # hex HMAC-SHA256
KEY_NAME = "key"
KEY_LEN = 32
DEFAULT_MAX_BYTES = 512 << 20
STALE_TMP_SECONDS = 3600
#: the kinds of entry: object code and the plan record beside it
SUFFIXES = (".o", ".plan")

_lock = threading.Lock()
_warned: set = set()
_keys: dict[str, bytes] = {}     # directory -> secret key, read once per process
#: directory -> [bytes the last scan found + bytes written since, writes since that scan]:
#: a write rescans the directory (O(entries)) only when this estimate passes the limit, on
#: the process's first write, or every RESCAN_WRITES writes (other processes write too)
_estimates: dict[str, list[int]] = {}
RESCAN_WRITES = 64


class CacheDirRefused(Exception):
    """The cache directory is unsafe to use; the message says why and how to fix it."""


def cache_dir() -> Path:
    return Path(os.environ.get("JITFLOW_CACHE_DIR") or Path.home() / ".cache" / "jitflow")


def enabled() -> bool:
    return not os.environ.get("JITFLOW_NO_DISK_CACHE")


def max_bytes() -> int:
    """``JITFLOW_CACHE_MAX_BYTES`` (an integer with an optional K, M or G suffix)."""
    raw = os.environ.get("JITFLOW_CACHE_MAX_BYTES", "").strip()
    if not raw:
        return DEFAULT_MAX_BYTES
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(raw[-1].upper(), 1)
    try:
        n = int(float(raw[:-1] if mult > 1 else raw) * mult)
    except ValueError:
        _warn_once(("max", raw), f"JITFLOW_CACHE_MAX_BYTES={raw!r} is not a size (expected "
                   f"bytes, e.g. 200000000 or 200M); using {DEFAULT_MAX_BYTES}")
        return DEFAULT_MAX_BYTES
    return max(n, 0)


def _warn_once(tag, msg: str) -> None:
    with _lock:
        if tag in _warned:
            return
        _warned.add(tag)
    warnings.warn(f"jitflow: {msg}", RuntimeWarning, stacklevel=3)


# ----------------------------------------------------------------------- the directory -----
def _check_ancestors(d: Path, uid: int) -> None:
    for parent in d.parents:
        try:
            st = os.stat(parent)
        except OSError:
            continue
        if st.st_uid not in (uid, 0):
            raise CacheDirRefused(f"{parent} (above it) is owned by uid {st.st_uid}, who can "
                                  "replace the cache directory")
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            raise CacheDirRefused(f"{parent} (above it) is writable by other users (mode "
                                  f"{stat.S_IMODE(st.st_mode):04o}), who can replace the cache "
                                  "directory")


def check_dir(d: Path, create: bool = True) -> Path:
    """``d`` if it is safe to cache in (created 0700 when missing and ``create``); raises
    CacheDirRefused (unsafe) or OSError (cannot be created)."""
    uid = os.getuid()
    if create and not os.path.lexists(d):
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = os.stat(d)
    if not stat.S_ISDIR(st.st_mode):
        raise CacheDirRefused(f"{d} is not a directory")
    if st.st_uid != uid:
        raise CacheDirRefused(f"{d} is owned by uid {st.st_uid}, not by you (uid {uid})")
    if st.st_mode & 0o022:
        raise CacheDirRefused(f"{d} is writable by other users (mode "
                              f"{stat.S_IMODE(st.st_mode):04o}; `chmod go-w {d}` fixes it)")
    _check_ancestors(d.resolve(), uid)
    return d


def usable_dir() -> Optional[Path]:
    """The cache directory, or None (with a warning, once per directory and reason) when it
    is unsafe or cannot be created."""
    d = cache_dir()
    try:
        return check_dir(d)
    except CacheDirRefused as e:
        _warn_once((str(d), str(e)), f"not using the disk cache: {e}. Set JITFLOW_CACHE_DIR to "
                   "a directory only you can write, or JITFLOW_NO_DISK_CACHE=1")
    except OSError as e:
        _warn_once((str(d), "oserror"), f"not using the disk cache at {d}: "
                   f"{e.strerror or e}")
    return None


# ----------------------------------------------------------------------- the secret key ----
def _read_key(path: Path) -> Optional[bytes]:
    """The key if ``path`` is a regular file of ours, readable by us only, of the right size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            return None
        data = os.read(fd, KEY_LEN + 1)
    finally:
        os.close(fd)
    return data if len(data) == KEY_LEN else None


def secret_key(d: Path) -> bytes:
    """This user's key for directory ``d`` (made on first use)."""
    with _lock:
        if str(d) in _keys:
            return _keys[str(d)]
    path = d / KEY_NAME
    key = _read_key(path)
    if key is None:
        existed = os.path.lexists(path)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-key-")   # mode 0600
        try:
            os.write(fd, os.urandom(KEY_LEN))
        finally:
            os.close(fd)
        try:
            if existed:     # unreadable, damaged or exposed: replace it (old entries die)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                os.replace(tmp, path)
                _warn_once((str(d), "key"), f"the cache key {path} was damaged or readable "
                           "by others; made a new one (cached entries will be rebuilt)")
            else:           # two processes making the first key: one link wins
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        key = _read_key(path)
        if key is None:
            raise OSError(f"cannot create the cache key {path}")
    with _lock:
        _keys[str(d)] = key
    return key


def digest(key: bytes, name: str, obj: bytes) -> bytes:
    """HMAC-SHA256 of the entry name and its object code under the user's secret key."""
    return hmac.new(key, name.encode() + b"\0" + obj, hashlib.sha256).hexdigest().encode()


# ----------------------------------------------------------------------- entries -----------
def _remove(path: Path) -> None:
    """Delete whatever sits at an entry's path (a file, a link, a directory)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass


def _mac_name(name: str, suffix: str) -> str:
    return name if suffix == ".o" else name + suffix


def read(name: str, suffix: str = ".o") -> Optional[bytes]:
    """The object code (or the entry of another ``suffix``) cached under ``name`` if it
    authenticates; a bad entry is removed (so the rebuild's write replaces it) and None
    returned."""
    d = usable_dir()
    if d is None:
        return None
    path = d / f"{name}{suffix}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError:                 # a symlink (ELOOP), a directory opened oddly, no access
        _remove(path)
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            blob = None
        else:
            with os.fdopen(os.dup(fd), "rb") as fh:
                blob = fh.read()
    finally:
        os.close(fd)
    try:
        key = secret_key(d)
    except OSError:
        return None
    head = len(MAGIC) + DIGEST_LEN
    if blob is None or not blob.startswith(MAGIC) or len(blob) <= head or \
            not _authentic(d, key, _mac_name(name, suffix), blob[len(MAGIC):head], blob[head:]):
        _remove(path)
        return None
    try:
        os.utime(path)              # LRU: a hit makes the entry the most recently used
    except OSError:
        pass
    return blob[head:]


def _authentic(d: Path, key: bytes, name: str, mac: bytes, obj: bytes) -> bool:
    if hmac.compare_digest(mac, digest(key, name, obj)):
        return True
    fresh = _read_key(d / KEY_NAME)   # another process replaced a bad key after we read it
    if fresh is None or fresh == key:
        return False
    with _lock:
        _keys[str(d)] = fresh
    return hmac.compare_digest(mac, digest(fresh, name, obj))


def write(name: str, obj: bytes, suffix: str = ".o") -> None:
    """Store ``obj`` under ``name`` (atomically), then evict down to the size limit. A
    read-only or full disk only costs a recompile next time."""
    d = usable_dir()
    if d is None:
        return
    tmp = None
    try:
        key = secret_key(d)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + digest(key, _mac_name(name, suffix), obj) + obj)
        path = d / f"{name}{suffix}"
        if os.path.isdir(path) and not os.path.islink(path):
            _remove(path)           # os.replace cannot replace a directory
        os.replace(tmp, path)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    limit = max_bytes()
    with _lock:
        est = _estimates.get(str(d))
        if est is not None:
            est[0] += len(MAGIC) + DIGEST_LEN + len(obj)
            est[1] += 1
            if est[0] <= limit and est[1] < RESCAN_WRITES:
                return
    evict(d, limit)


def _entries(d: Path) -> tuple[list[tuple[float, int, Path]], list[Path]]:
    """(mtime, size, path) of each entry and the stale temporaries."""
    entries, stale = [], []
    now = time.time()
    try:
        it = list(os.scandir(d))
    except OSError:
        return [], []
    for e in it:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if e.name.startswith(".tmp-"):
            if now - st.st_mtime > STALE_TMP_SECONDS:
                stale.append(Path(e.path))
        elif e.name.endswith(SUFFIXES) and stat.S_ISREG(st.st_mode):
            entries.append((st.st_mtime, st.st_size, Path(e.path)))
    return entries, stale


def evict(d: Path, limit: Optional[int] = None) -> int:
    """Delete least recently used entries until the rest fit in ``limit`` (default
    ``max_bytes()``); return the bytes freed."""
    limit = max_bytes() if limit is None else limit
    entries, stale = _entries(d)
    for p in stale:
        _remove(p)
    total = sum(s for _, s, _ in entries)
    freed = 0
    for _, size, path in sorted(entries, key=lambda e: (e[0], str(e[2]))):
        if total <= limit:
            break
        _remove(path)
        total -= size
        freed += size
    with _lock:
        _estimates[str(d)] = [total, 0]
    return freed


def info() -> dict:
    """What ``jitflow cache info`` prints: directory, state, entries (modules: object code,
    counted with its plan record), bytes, limit."""
    d = cache_dir()
    out = {"directory": str(d), "limit_bytes": max_bytes(), "entries": 0, "bytes": 0,
           "enabled": enabled()}
    if not os.path.lexists(d):
        out["state"] = "not created yet"
        return out
    try:
        check_dir(d, create=False)
        out["state"] = "in use" if enabled() else "disabled by JITFLOW_NO_DISK_CACHE"
    except (CacheDirRefused, OSError) as e:
        out["state"] = f"refused: {e}"
    entries, stale = _entries(d)
    out["entries"] = sum(1 for *_, p in entries if p.suffix == ".o")   # modules (with plans)
    out["bytes"] = sum(s for _, s, _ in entries)
    out["stale_temporaries"] = len(stale)
    out["key"] = "present" if _read_key(d / KEY_NAME) is not None else "absent"
    if entries:
        out["oldest_use"] = min(m for m, _, _ in entries)
        out["newest_use"] = max(m for m, _, _ in entries)
    return out


def clear() -> tuple[int, int]:
    """Delete every entry and temporary (the key stays); (modules, bytes) removed. Raises
    CacheDirRefused for a directory that is not the user's own."""
    d = cache_dir()
    if not os.path.lexists(d):
        return 0, 0
    check_dir(d, create=False)
    entries, _ = _entries(d)
    n = b = 0
    for _, size, path in entries:
        _remove(path)
        n += path.suffix == ".o"
        b += size
    for e in os.scandir(d):
        if e.name.startswith(".tmp-") or (e.name.endswith(SUFFIXES) and not e.is_file()):
            _remove(Path(e.path))
    return n, b
