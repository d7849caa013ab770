"""Host-side TF1 utilities (plain Python, no graph ops): ``tf.logging``, ``tf.app.run``,
``tf.flags``/``tf.app.flags``, ``tf.gfile``/``tf.io.gfile`` on the local file system and
``tf.contrib.training.HParams``."""
from __future__ import annotations

import argparse
import glob as _glob
import logging as _logging
import os
import shutil
import sys
import types
from typing import Any, Callable, Optional

# ---------------------------------------------------------------------- tf.logging ---------

class _StderrHandler(_logging.StreamHandler):
    """Writes to the *current* sys.stderr (it may be replaced after import)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


_LOG = _logging.getLogger("tensorflow")
if not _LOG.handlers:
    _h = _StderrHandler()
    _h.setFormatter(_logging.Formatter("%(levelname)s:tensorflow:%(message)s"))
    _LOG.addHandler(_h)
    _LOG.setLevel(_logging.WARNING)
    _LOG.propagate = False


def _log_fn(level: int) -> Callable:
    def fn(msg: Any, *args: Any, **kwargs: Any) -> None:
        _LOG.log(level, msg, *args, **kwargs)
    return fn


logging = types.SimpleNamespace(
    DEBUG=_logging.DEBUG, INFO=_logging.INFO, WARN=_logging.WARNING, ERROR=_logging.ERROR,
    FATAL=_logging.FATAL, debug=_log_fn(_logging.DEBUG), info=_log_fn(_logging.INFO),
    warn=_log_fn(_logging.WARNING), warning=_log_fn(_logging.WARNING),
    error=_log_fn(_logging.ERROR), fatal=_log_fn(_logging.FATAL),
    log=lambda level, msg, *a, **k: _LOG.log(level, msg, *a, **k),
    set_verbosity=_LOG.setLevel, get_verbosity=_LOG.getEffectiveLevel,
    vlog=lambda level, msg, *a, **k: _LOG.log(_logging.DEBUG, msg, *a, **k))


# ---------------------------------------------------------------------- tf.flags -----------

class _Flags:
    """``tf.flags.FLAGS``: flags defined with ``DEFINE_*``, parsed from ``sys.argv`` at the
    first attribute read (or by ``tf.app.run``); unknown arguments are left alone."""

    def __init__(self) -> None:
        object.__setattr__(self, "_defs", {})
        object.__setattr__(self, "_values", None)

    def _define(self, kind: Callable, name: str, default: Any, help: str) -> None:
        if name in self._defs:
            raise ValueError(f"flag --{name} is defined twice")
        self._defs[name] = (kind, default, help)
        if self._values is not None:
            self._values[name] = default

    def _parse(self, argv: Optional[list] = None) -> list:
        p = argparse.ArgumentParser(add_help=False)
        bools = set()
        for name, (kind, default, help) in self._defs.items():
            if kind is bool:
                bools.add(name)
                p.add_argument(f"--{name}", dest=name, action="store_true", default=default,
                               help=help)
                p.add_argument(f"--no{name}", dest=name, action="store_false")
            else:
                p.add_argument(f"--{name}", type=kind, default=default, help=help)
        args = []
        for a in (sys.argv[1:] if argv is None else list(argv)[1:]):
            key, eq, val = a[2:].partition("=")
            if a.startswith("--") and eq and key in bools:   # --fast=false
                a = f"--{key}" if val.lower() in ("1", "true", "yes", "t") else f"--no{key}"
            args.append(a)
        known, rest = p.parse_known_args(args)
        object.__setattr__(self, "_values", vars(known))
        return ([sys.argv[0]] if argv is None else list(argv)[:1]) + rest

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._values is None:
            self._parse()
        if name not in self._values:
            raise AttributeError(f"flag --{name} is not defined (tf.flags.DEFINE_...)")
        return self._values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if self._values is None:
            self._parse()
        self._values[name] = value

    def __call__(self, argv: list) -> list:
        return self._parse(argv)


FLAGS = _Flags()


def _define(kind: Callable) -> Callable:
    def fn(name: str, default: Any, help: str = "", *args: Any, **kwargs: Any) -> None:
        FLAGS._define(kind, name, default, help)
    return fn


flags = types.SimpleNamespace(
    FLAGS=FLAGS, DEFINE_string=_define(str), DEFINE_integer=_define(int),
    DEFINE_float=_define(float), DEFINE_boolean=_define(bool), DEFINE_bool=_define(bool))


def _run(main: Optional[Callable] = None, argv: Optional[list] = None) -> None:
    """``tf.app.run``: parse the flags, call ``main(remaining argv)`` and exit with its
    result."""
    rest = FLAGS._parse(argv)
    if main is None:
        main = sys.modules["__main__"].main
    sys.exit(main(rest))


app = types.SimpleNamespace(run=_run, flags=flags)


# ---------------------------------------------------------------------- tf.gfile -----------

def _walk(top: str, in_order: bool = True):
    for root, dirs, files in os.walk(top, topdown=in_order):
        yield root, dirs, files


def _rmtree(path: str) -> None:
    shutil.rmtree(path)


def _copy(src: str, dst: str, overwrite: bool = False) -> None:
    if os.path.exists(dst) and not overwrite:
        from ...errors import AlreadyExistsError
        raise AlreadyExistsError(f"file already exists: {dst}")
    shutil.copyfile(src, dst)


def _rename(src: str, dst: str, overwrite: bool = False) -> None:
    if os.path.exists(dst) and not overwrite:
        from ...errors import AlreadyExistsError
        raise AlreadyExistsError(f"file already exists: {dst}")
    os.replace(src, dst)


def _open(name: str, mode: str = "r"):
    return open(name, mode)


gfile = types.SimpleNamespace(
    Exists=os.path.exists, IsDirectory=os.path.isdir, ListDirectory=os.listdir,
    MakeDirs=lambda d: os.makedirs(d, exist_ok=True), MkDir=os.mkdir, Remove=os.remove,
    DeleteRecursively=_rmtree, Glob=_glob.glob, Copy=_copy, Rename=_rename, Walk=_walk,
    GFile=_open, Open=_open, FastGFile=_open, Stat=os.stat)
io_gfile = types.SimpleNamespace(
    exists=os.path.exists, isdir=os.path.isdir, listdir=os.listdir,
    makedirs=lambda d: os.makedirs(d, exist_ok=True), mkdir=os.mkdir, remove=os.remove,
    rmtree=_rmtree, glob=_glob.glob, copy=_copy, rename=_rename, walk=_walk, GFile=_open,
    stat=os.stat)


# ---------------------------------------------------------------------- HParams ------------

class HParams:
    """``tf.contrib.training.HParams``: named hyperparameters with ``parse("a=1,b=x")``
    (values converted to each one's type), ``values()``, ``set_hparam``, ``add_hparam``,
    ``override_from_dict`` and ``to_json``."""

    def __init__(self, hparam_def: Any = None, model_structure: Any = None,
                 **kwargs: Any) -> None:
        object.__setattr__(self, "_names", [])
        for k, v in kwargs.items():
            self.add_hparam(k, v)

    def add_hparam(self, name: str, value: Any) -> None:
        if name in self._names or hasattr(type(self), name):
            raise ValueError(f"Hyperparameter name is reserved or exists: {name}")
        self._names.append(name)
        object.__setattr__(self, name, value)

    def set_hparam(self, name: str, value: Any) -> None:
        if name not in self._names:
            raise ValueError(f"Unknown hyperparameter: {name}")
        cur = getattr(self, name)
        if isinstance(cur, bool) and not isinstance(value, bool):
            raise ValueError(f"Could not convert {value!r} to bool for {name}")
        if isinstance(cur, int) and not isinstance(cur, bool) and isinstance(value, float) \
                and value != int(value):
            raise ValueError(f"Could not convert {value!r} to int for {name} without loss")
        object.__setattr__(self, name, type(cur)(value) if cur is not None and
                           not isinstance(cur, list) else value)

    def del_hparam(self, name: str) -> None:
        if name in self._names:
            self._names.remove(name)
            object.__delattr__(self, name)

    def parse(self, values: str) -> "HParams":
        for item in [p for p in values.split(",") if p.strip()]:
            key, eq, raw = item.partition("=")
            key = key.strip()
            if not eq or key not in self._names:
                raise ValueError(f"Unknown hyperparameter or malformed item {item!r}")
            cur = getattr(self, key)
            raw = raw.strip()
            if isinstance(cur, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"Could not parse {raw!r} as bool for {key}")
                val: Any = raw.lower() in ("true", "1")
            elif isinstance(cur, int):
                val = int(raw)
            elif isinstance(cur, float):
                val = float(raw)
            else:
                val = raw
            object.__setattr__(self, key, val)
        return self

    def override_from_dict(self, values_dict: dict) -> "HParams":
        for k, v in values_dict.items():
            self.set_hparam(k, v)
        return self

    def values(self) -> dict:
        return {k: getattr(self, k) for k in self._names}

    def to_json(self, indent: Any = None, separators: Any = None, sort_keys: bool = False) -> str:
        import json
        return json.dumps(self.values(), indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self._names else default

    def __contains__(self, key: str) -> bool:
        return key in self._names

    def __repr__(self) -> str:
        return f"HParams({self.values()!r})"


training = types.SimpleNamespace(HParams=HParams)
