"""Wiring of the wider TF1 surface into ``jitflow.compat.v1`` (the ``tf`` module).

Imported once, at the end of ``compat/v1/__init__.py``. It adds the names built in the
frontend (metrics, image, schedules, more losses/optimizers/layers, keras/contrib layers, ...),
turns every namespace (``tf.nn``, ``tf.train``, ``tf.contrib.layers``, ...) into a
``TFNamespace`` so that a missing name raises ``NotImplementedInJitflow`` naming the TF symbol,
and gives the package a module ``__getattr__`` doing the same for ``tf.<name>``.
"""
from __future__ import annotations

import sys
import types
from typing import Any

from ._namespace import TFNamespace, UnsupportedDType, module_getattr, wrap

_PKG = __name__.rpartition(".")[0]

#: TF dtype names that exist as names but are refused when used as a dtype.
UNSUPPORTED_DTYPES = ("float16", "half", "bfloat16", "uint8", "uint16", "uint32", "uint64",
                      "int8", "int16", "complex64", "complex128", "string", "qint8", "quint8",
                      "qint32", "resource", "variant")


def _namespaces(tf: types.ModuleType) -> list[str]:
    return [k for k, v in vars(tf).items() if not k.startswith("_")
            and (isinstance(v, types.SimpleNamespace)
                 or (isinstance(v, types.ModuleType) and v.__name__.startswith("jitflow.")
                     and not v.__name__.startswith(_PKG + ".")))]


def _ns(tf: types.ModuleType, name: str) -> TFNamespace:
    """``tf.<name>`` as a TFNamespace (created empty when missing)."""
    cur = getattr(tf, name, None) if name in vars(tf) else None
    ns = wrap(f"tf.{name}", cur) if cur is not None else TFNamespace(f"tf.{name}")
    setattr(tf, name, ns)
    return ns


def add_names(ns: Any, **names: Any) -> None:
    for k, v in names.items():
        setattr(ns, k, v)


def install(tf: types.ModuleType) -> None:
    """Wire everything into the ``tf`` package module ``tf``."""
    for name in _namespaces(tf):
        setattr(tf, name, wrap(f"tf.{name}", getattr(tf, name)))
    dtypes = _ns(tf, "dtypes")
    for name in UNSUPPORTED_DTYPES:
        d = getattr(tf, name, None)      # tf.data's host dtypes (tf.string, tf.uint8, ...)
        if d is None:
            d = UnsupportedDType(name)
            setattr(tf, name, d)
        if name not in vars(dtypes):       # the tf-level object (a real dtype, or d)
            setattr(dtypes, name, getattr(tf, name))
    from ...frontend import dimension as _dim
    tf.Dimension, tf.dimension_value = _dim.Dimension, _dim.dimension_value
    tf.dimension_at_index = _dim.dimension_at_index
    tf.enable_v2_tensorshape = _dim.enable_v2_tensorshape
    tf.disable_v2_tensorshape = _dim.disable_v2_tensorshape
    tf.compat = TFNamespace("tf.compat", v1=tf, dimension_value=_dim.dimension_value,
                            dimension_at_index=_dim.dimension_at_index)
    if "__version__" not in vars(tf):
        from ... import __version__
        tf.__version__ = f"1.15.0+jitflow{__version__}"   # the TF1 API level it implements
    from . import _surface_names
    _surface_names.install(tf, _ns)
    for name in _namespaces(tf):           # the namespaces just added (tf.logging, tf.app, ...)
        setattr(tf, name, wrap(f"tf.{name}", getattr(tf, name)))
    tf.__getattr__ = module_getattr(_PKG)


install(sys.modules[_PKG])
