"""Namespaces of the ``tf`` module that name the TF symbol a program asked for when jitflow
lacks it, instead of a bare ``AttributeError``.

* ``NotImplementedInJitflow`` (a subclass of ``AttributeError``, so ``hasattr`` and
  ``getattr(tf, name, default)`` keep working) says ``tf.nn.ctc_loss is not implemented in
  jitflow yet``;
* ``TFNamespace`` is a module object (``import tensorflow.contrib.layers`` can bind it) that
  looks a name up in its own attributes, then in an optional base object (a frontend module or
  a ``SimpleNamespace``; looked up at each access, so names added to the base later show);
* ``UnsupportedDType`` stands for a TF dtype name jitflow does not support (``tf.qint8``):
  the name exists, and using it as a dtype fails with ``dtype qint8 is not supported by
  jitflow yet``.
"""
from __future__ import annotations

import importlib
import importlib.util
import types
from typing import Any, Optional

DOC = "docs/tf_import.md"


#: why some often-used names are missing (shown in the error)
WHY = {
    "tf.estimator": "tf.estimator is not planned; use a Session loop",
}


class NotImplementedInJitflow(AttributeError):
    """A TF1 symbol that jitflow does not provide (yet)."""

    def __init__(self, symbol: str, detail: str = "") -> None:
        self.symbol = symbol
        detail = detail or WHY.get(symbol, "")
        msg = f"{symbol} is not implemented in jitflow yet"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg + f"; jitflow covers a subset of the TF1 API, see {DOC}")


class TFNameNotImplementedImport(ImportError):
    """``import tensorflow.X`` / ``from tensorflow.X import Y`` for a missing X or Y."""


def _public(name: str) -> bool:
    return not (name.startswith("__") and name.endswith("__"))


class TFNamespace(types.ModuleType):
    """A ``tf.<name>`` namespace: own attributes, then ``base``'s, then a named error."""

    def __init__(self, tf_name: str, base: Any = None, doc: Optional[str] = None,
                 **attrs: Any) -> None:
        # the module name is TF's (tensorflow.contrib): `from tensorflow.contrib import rnn`
        # imports `<__name__>.rnn` when the attribute is missing, and the alias hook answers
        super().__init__("tensorflow" + tf_name[2:] if tf_name.startswith("tf.") else tf_name,
                         doc or getattr(base, "__doc__", None))
        object.__setattr__(self, "_tf_name", tf_name)
        object.__setattr__(self, "_base", base)
        self.__path__ = []          # a package for the import system: `from tf.X import Y`
        for k, v in attrs.items():
            setattr(self, k, v)

    def __getattr__(self, name: str) -> Any:
        if not _public(name):
            raise AttributeError(name)
        base = self.__dict__.get("_base")
        if base is not None:
            try:
                return getattr(base, name)
            except AttributeError:
                pass
        raise NotImplementedInJitflow(f"{self.__dict__.get('_tf_name', '?')}.{name}")

    def __dir__(self) -> list:
        names = set(self.__dict__)
        base = self.__dict__.get("_base")
        if base is not None:
            names |= set(dir(base))
        return sorted(n for n in names if not n.startswith("_"))

    def __repr__(self) -> str:
        return f"<jitflow namespace {self._tf_name}>"


class UnsupportedDType:
    """A TF dtype name jitflow has no support for: usable as a name, refused as a dtype."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def dtype(self):        # NumPy asks for this when jitflow converts the object to a dtype
        raise TypeError(self.message())

    @property
    def as_numpy_dtype(self):
        raise TypeError(self.message())

    def message(self) -> str:
        from ...ir.dtypes import ALL
        return (f"dtype {self.name} is not supported by jitflow yet (supported: "
                f"{', '.join(d.name for d in ALL)})")

    def __repr__(self) -> str:
        return f"tf.{self.name} (dtype {self.name} is not supported by jitflow yet)"

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, UnsupportedDType):
            return other.name == self.name
        return isinstance(other, str) and other == self.name

    def __hash__(self) -> int:
        return hash(("UnsupportedDType", self.name))


def wrap(tf_name: str, obj: Any) -> Any:
    """``obj`` (a SimpleNamespace or a jitflow module) as a TFNamespace; nested
    SimpleNamespaces become TFNamespaces too. Anything else is returned unchanged."""
    if isinstance(obj, TFNamespace):
        return obj
    done = _WRAPPED.get(id(obj))
    if done is not None and done[0] is obj:     # one object, one namespace (tf.app.flags is
        return done[1]                          # tf.flags)
    if isinstance(obj, types.SimpleNamespace):
        ns = TFNamespace(tf_name)
        _WRAPPED[id(obj)] = (obj, ns)
        for k, v in vars(obj).items():
            setattr(ns, k, wrap(f"{tf_name}.{k}", v))
        object.__setattr__(ns, "_base", obj)      # names set on the original later still show
        return ns
    if isinstance(obj, types.ModuleType) and obj.__name__.startswith("jitflow."):
        ns = TFNamespace(tf_name, base=obj)
        _WRAPPED[id(obj)] = (obj, ns)
        return ns
    return obj


_WRAPPED: dict = {}


def module_getattr(package: str, tf_name: str = "tf"):
    """A module ``__getattr__`` for the ``tf`` package: a submodule of ``package`` if there is
    one (``tf.examples``), else ``NotImplementedInJitflow``."""
    def __getattr__(name: str) -> Any:
        if not _public(name):
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = f"{package}.{name}"
        try:
            spec = importlib.util.find_spec(full)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            return importlib.import_module(full)
        raise NotImplementedInJitflow(f"{tf_name}.{name}")
    return __getattr__
