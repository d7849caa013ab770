"""An opt-in import hook that makes ``import tensorflow`` give jitflow's TF1 API.

``install()`` puts a finder first on ``sys.meta_path`` that answers every module name
``tensorflow`` or ``tensorflow.X.Y...``:

* ``tensorflow`` is ``jitflow.compat.v1`` (so ``import tensorflow as tf`` and
  ``import tensorflow.compat.v1 as tf`` bind the same module: ``tf.compat.v1`` is it again);
* ``tensorflow.X.Y`` is, by one generic rule, ``jitflow.compat.v1.X.Y``: a real submodule if
  there is one (``tensorflow.examples.tutorials.mnist.input_data``), else the attribute ``Y`` of
  what ``tensorflow.X`` is (``tensorflow.contrib.layers`` is the namespace ``tf.contrib.layers``);
* a name with neither fails with ``TFNameNotImplementedImport`` (an ``ImportError``) naming the
  TF module, e.g. ``tensorflow.contrib.rnn is not implemented in jitflow yet``.

Nothing on disk changes; ``uninstall()`` removes the finder and the aliases it created.
``jitflow run prog.py`` installs it before running ``prog.py``.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any, Iterator, Optional

ROOT = "tensorflow"
TARGET = "jitflow.compat.v1"


def _not_implemented(fullname: str, why: str = "") -> ImportError:
    from .v1._namespace import DOC, TFNameNotImplementedImport
    tail = f" ({why})" if why else ""
    return TFNameNotImplementedImport(
        f"{fullname} is not implemented in jitflow yet{tail}; `import tensorflow` runs on "
        f"jitflow.compat.v1, which covers a subset of the TF1 API, see {DOC}", name=fullname)


def resolve(fullname: str) -> Any:
    """The object that the module name ``tensorflow[.X.Y...]`` stands for."""
    if fullname == ROOT:
        return importlib.import_module(TARGET)
    parent_name, _, child = fullname.rpartition(".")
    parent = sys.modules.get(parent_name)
    if parent is None:
        parent = resolve(parent_name)
    real = getattr(parent, "__name__", "")
    if isinstance(parent, types.ModuleType) and hasattr(parent, "__file__") and \
            real.startswith(TARGET):
        sub = f"{real}.{child}"
        try:
            spec = importlib.util.find_spec(sub)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            return importlib.import_module(sub)
    try:
        obj = getattr(parent, child)
    except AttributeError:
        raise _not_implemented(fullname) from None
    if not isinstance(obj, types.ModuleType):
        raise ModuleNotFoundError(f"No module named {fullname!r}: it is "
                                  f"{type(obj).__name__} {parent_name}.{child}, not a module; "
                                  f"use `from {parent_name} import {child}`", name=fullname)
    return obj


class _AliasLoader(importlib.abc.Loader):
    """Replaces the module being loaded by the jitflow object it aliases (the import system
    returns what ``sys.modules`` holds after ``exec_module``)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[types.ModuleType]:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        sys.modules[module.__name__] = self.target
        _HOOK.created.add(module.__name__)


class TensorFlowAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` and ``tensorflow.*`` in jitflow (see the module docstring)."""

    def __init__(self) -> None:
        self.created: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None,
                  target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if fullname != ROOT and not fullname.startswith(ROOT + "."):
            return None
        obj = resolve(fullname)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(obj), is_package=True)


_HOOK = TensorFlowAliasFinder()


def installed() -> bool:
    return _HOOK in sys.meta_path


def install() -> None:
    """Make ``import tensorflow`` (and ``tensorflow.*``) give jitflow; idempotent. Refused
    when a real TensorFlow is already imported in this process."""
    mod = sys.modules.get(ROOT)
    if mod is not None and not getattr(mod, "__name__", "").startswith(TARGET):
        raise RuntimeError("TensorFlow itself is already imported in this process "
                           f"({getattr(mod, '__file__', mod)!r}); the jitflow alias must be "
                           "installed before the first `import tensorflow`")
    if not installed():
        sys.meta_path.insert(0, _HOOK)


def uninstall() -> None:
    """Remove the finder and every ``tensorflow*`` alias it put in ``sys.modules``."""
    while _HOOK in sys.meta_path:
        sys.meta_path.remove(_HOOK)
    for name in list(_HOOK.created):
        sys.modules.pop(name, None)
    _HOOK.created.clear()


@contextlib.contextmanager
def aliased() -> Iterator[None]:
    """``with aliased(): import tensorflow as tf`` (uninstalled afterwards if it was not
    installed before)."""
    was = installed()
    install()
    try:
        yield
    finally:
        if not was:
            uninstall()
