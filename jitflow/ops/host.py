"""Host callbacks: ``py_call`` runs a Python function on NumPy arrays in the middle of a run
(tf.py_func, tf.numpy_function, tf.Print, tf.print).

Attributes: ``fn``, the key of the Python callable in this process's registry (``register``),
``results``, the result types as IR type text (``"f32[?,3] i32[]"``; a py_call may have no
results and run only for its effect), and ``single`` (the function returns its one result
itself, not in a list: TF's ``Tout`` given as one dtype). The op is ``effectful`` (DCE keeps it, CSE never merges
two) and not differentiable (TF1 registers PyFunc as NotDifferentiable); tf.Print's pass-through
gradient is built by the frontend around it.

No backend compiles it: the Session places every ``py_call`` on the host, in a segment of its
own that the reference interpreter runs, between the compiled segments before and after it
(``runtime/placement.py``). Its reference implementation is therefore the real one.
"""
from __future__ import annotations

import itertools
import threading
import traceback
from typing import Callable

import numpy as np

from .. import errors
from ..ir.opdef import Attr, defop
from ..ir.types import TensorType

_REGISTRY: dict[int, Callable] = {}
_NEXT = itertools.count(1)
_LOCK = threading.Lock()

#: Python exception -> TF1 error class, as TF's script ops map them
_ERRORS = ((StopIteration, errors.OutOfRangeError), (NotImplementedError,
           errors.UnimplementedError), (MemoryError, errors.ResourceExhaustedError),
           ((ValueError, TypeError, IndexError, KeyError), errors.InvalidArgumentError))


def register(fn: Callable) -> int:
    """Keep ``fn`` for the py_call ops that name it; returns its key."""
    if not callable(fn):
        raise TypeError(f"a host callback must be callable, got {type(fn).__name__}")
    with _LOCK:
        key = next(_NEXT)
        _REGISTRY[key] = fn
    return key


def parse_results(text: str) -> list[TensorType]:
    from ..ir.parser import _parse_type, _Tokens
    return [_parse_type(_Tokens(t)) for t in text.split()]


def format_results(types) -> str:
    return " ".join(str(t) for t in types)


def _infer(types, a):
    if a["fn"] not in _REGISTRY:
        raise ValueError(f"py_call: no host function is registered under key {a['fn']} (a "
                         "Function naming a callable of another process cannot run here)")
    return parse_results(a["results"])


def _convert(i: int, value, want: TensorType, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype != want.dtype.np:
        raise errors.InvalidArgumentError(
            f"{i}-th value returned by {where} is {value.dtype.name}, but expects "
            f"{want.dtype.name}")
    try:
        arr = np.asarray(value, dtype=want.dtype.np)
    except (TypeError, ValueError) as e:
        raise errors.InvalidArgumentError(
            f"{i}-th value returned by {where} cannot be converted to {want.dtype.name}: "
            f"{e}") from None
    shape = want.shape
    if shape is not None and (arr.ndim != len(shape) or any(
            isinstance(d, int) and d != n for d, n in zip(shape, arr.shape))):
        raise errors.InvalidArgumentError(
            f"{i}-th value returned by {where} has shape {list(arr.shape)}, but the graph "
            f"expects {want} (the shape given with set_shape, or the input's for tf.Print)")
    return arr


def _reference(*xs, fn, results, single=False, name=""):
    where = name or "py_call"
    want = parse_results(results)
    func = _REGISTRY[fn]
    try:
        out = func(*[np.array(x) for x in xs])     # copies: the function may keep or mutate them
    except errors.OpError:
        raise
    except Exception as e:  # noqa: BLE001 - mapped to TF's error classes, traceback kept
        cls = next((c for types, c in _ERRORS if isinstance(e, types)), errors.UnknownError)
        tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)[-3:]).rstrip()
        raise cls(f"{type(e).__name__}: {e}\nin the Python function of {where}:\n{tb}") from e
    if not want:
        return ()
    if single:
        vals = [out]
    elif isinstance(out, (list, tuple)):
        vals = list(out)
    else:
        vals = [out]
    if len(vals) != len(want):
        raise errors.InvalidArgumentError(f"{where} returns {len(vals)} values, but expects to "
                                          f"see {len(want)} values.")
    arrs = [_convert(i, v, t, where) for i, (v, t) in enumerate(zip(vals, want))]
    return arrs[0] if len(arrs) == 1 else tuple(arrs)


defop("py_call", kind="host", infer=_infer, reference=_reference, differentiable=False,
      effectful=True, stateful=True,
      attrs={"fn": Attr("int"), "results": Attr("str"), "single": Attr("bool", False),
             "name": Attr("str", "")},
      reference_only="runs Python on the host: the Session gives it a host segment of its own, "
                     "run by the reference interpreter between compiled segments",
      doc="call the registered host Python function fn on the operands")
