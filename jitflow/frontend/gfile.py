"""``tf.gfile`` / ``tf.io.gfile`` for local files (no GCS/HDFS): GFile and the file-system
helpers under both spellings (``Exists``/``exists``, ``MakeDirs``/``makedirs``, ...). A missing
file raises ``tf.errors.NotFoundError`` naming it, as TF does."""
from __future__ import annotations

import glob as _glob
import os
import shutil
from typing import Any, Iterator

from ..errors import AlreadyExistsError, FailedPreconditionError, NotFoundError


def _path(p: Any) -> str:
    p = os.fspath(p)
    return p.decode() if isinstance(p, bytes) else p


class GFile:
    """``tf.gfile.GFile(name, mode='r')``: a local file; text modes read/write ``str``."""

    def __init__(self, name: Any, mode: str = "r") -> None:
        self.name = _path(name)
        self.mode = mode
        try:
            self._f = open(self.name, mode if "b" in mode else mode, **(
                {} if "b" in mode else {"encoding": "utf-8", "newline": ""}))
        except FileNotFoundError:
            raise NotFoundError(f"{self.name}; No such file or directory") from None
        except IsADirectoryError:
            raise FailedPreconditionError(f"{self.name}; Is a directory") from None

    def read(self, n: int = -1) -> Any:
        return self._f.read(n)

    def readline(self) -> Any:
        return self._f.readline()

    def readlines(self) -> list:
        return self._f.readlines()

    def write(self, data: Any) -> None:
        if "b" not in self.mode and isinstance(data, bytes):
            data = data.decode()
        self._f.write(data)

    def flush(self) -> None:
        self._f.flush()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def size(self) -> int:
        return os.path.getsize(self.name)

    def close(self) -> None:
        self._f.close()

    def __iter__(self) -> Iterator:
        return iter(self._f)

    def __next__(self) -> Any:
        return next(self._f)

    def __enter__(self) -> "GFile":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


Open = GFile
FastGFile = GFile


class _Stat:
    def __init__(self, st: os.stat_result, is_dir: bool) -> None:
        self.length = st.st_size
        self.mtime_nsec = st.st_mtime_ns
        self.is_directory = is_dir


def exists(path: Any) -> bool:
    return os.path.exists(_path(path))


def isdir(path: Any) -> bool:
    return os.path.isdir(_path(path))


def listdir(path: Any) -> list[str]:
    p = _path(path)
    if not os.path.isdir(p):
        raise NotFoundError(f"Could not find directory {p}")
    return sorted(os.listdir(p))


def glob(pattern: Any) -> list[str]:
    pats = [pattern] if isinstance(pattern, (str, bytes, os.PathLike)) else list(pattern)
    return sorted({m for p in pats for m in _glob.glob(_path(p))})


def makedirs(path: Any) -> None:
    os.makedirs(_path(path), exist_ok=True)


def mkdir(path: Any) -> None:
    p = _path(path)
    if os.path.exists(p):
        raise AlreadyExistsError(f"{p}; File exists")
    try:
        os.mkdir(p)
    except FileNotFoundError:
        raise NotFoundError(f"{p}; No such file or directory (the parent folder is missing)") from None


def remove(path: Any) -> None:
    p = _path(path)
    try:
        os.remove(p)
    except FileNotFoundError:
        raise NotFoundError(f"{p}; No such file or directory") from None


def rmtree(path: Any) -> None:
    p = _path(path)
    if not os.path.exists(p):
        raise NotFoundError(f"{p}; No such file or directory")
    shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)


def rename(oldname: Any, newname: Any, overwrite: bool = False) -> None:
    src, dst = _path(oldname), _path(newname)
    if not os.path.exists(src):
        raise NotFoundError(f"{src}; No such file or directory")
    if os.path.exists(dst) and not overwrite:
        raise AlreadyExistsError(f"{dst}; File already exists (pass overwrite=True)")
    os.replace(src, dst)


def copy(oldpath: Any, newpath: Any, overwrite: bool = False) -> None:
    src, dst = _path(oldpath), _path(newpath)
    if not os.path.exists(src):
        raise NotFoundError(f"{src}; No such file or directory")
    if os.path.exists(dst) and not overwrite:
        raise AlreadyExistsError(f"{dst}; File already exists (pass overwrite=True)")
    shutil.copyfile(src, dst)


def stat(path: Any) -> _Stat:
    p = _path(path)
    try:
        return _Stat(os.stat(p), os.path.isdir(p))
    except FileNotFoundError:
        raise NotFoundError(f"{p}; No such file or directory") from None


def walk(top: Any, topdown: bool = True, onerror: Any = None) -> Iterator:
    yield from os.walk(_path(top), topdown=topdown, onerror=onerror)


# TF1's CamelCase names (tf.gfile.*)
Exists, IsDirectory, ListDirectory, Glob, MakeDirs, MkDir = exists, isdir, listdir, glob, makedirs, mkdir
Remove, DeleteRecursively, Rename, Copy, Stat, Walk = remove, rmtree, rename, copy, stat, walk
