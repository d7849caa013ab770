"""Ops the Session runs on the host, between compiled segments: ``py_call`` runs a Python
function on NumPy arrays in the middle of a run (tf.py_func, tf.numpy_function, tf.Print,
tf.print); ``where_indices``, ``unique`` and ``dynamic_partition`` have result shapes that
depend on the values (at the end of the file).

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
from ..ir.dtypes import int32, int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType

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
      unlowered_on=dict.fromkeys(("llvm", "cuda"), "runs Python on the host: the Session gives "
                                 "it a host segment of its own, run by the reference "
                                 "interpreter between compiled segments"),
      doc="call the registered host Python function fn on the operands")


# ----------------------------------------------------- data-dependent shapes, on the host ----
# Ops whose result shape depends on the values (the number of true elements, of distinct
# values). The compiled code after them sees a symbolic dim; the Session runs them on the host
# like py_call (kind ``host``).

_HOST_ONLY = dict.fromkeys(("llvm", "cuda"), "a data-dependent result shape: the Session runs "
                           "it on the host, between the compiled segments (runtime/placement.py)")


def _where_infer(types, a):
    t = types[0]
    if t.shape is None:
        raise ValueError("where(condition) needs a condition of known rank")
    return TensorType(int64, (None, len(t.shape)))


defop("where_indices", kind="host", num_inputs=1, infer=_where_infer,
      reference=lambda c: np.argwhere(c).astype(np.int64), differentiable=False,
      unlowered_on=_HOST_ONLY,
      doc="the indices of the nonzero (true) elements of the operand, one row each, row-major")


def _unique_infer(types, a):
    t = types[0]
    if t.shape is None or len(t.shape) != 1:
        raise ShapeMismatch(f"unique expects a 1-D vector, got {t}")
    out = [TensorType(t.dtype, (None,)), TensorType(a["out_idx"], t.shape)]
    if a["counts"]:
        out.append(TensorType(a["out_idx"], (None,)))
    return out


def _unique_ref(x, out_idx, counts):
    """TF's order: the distinct values in order of first occurrence."""
    _, first, inverse, cnt = np.unique(x, return_index=True, return_inverse=True,
                                       return_counts=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    y = x[first[order]]
    idx = rank[inverse.reshape(-1)].astype(out_idx.np)
    return (y, idx, cnt[order].astype(out_idx.np)) if counts else (y, idx)


defop("unique", kind="host", num_inputs=1, infer=_unique_infer, reference=_unique_ref,
      attrs={"out_idx": Attr("dtype", int32), "counts": Attr("bool", False)},
      differentiable=False, unlowered_on=_HOST_ONLY,
      doc="(distinct values in order of first occurrence, index of each element's value"
          "[, count of each value])")


def _partition_infer(types, a):
    data, parts = types
    if data.shape is None or parts.shape is None:
        raise ValueError("dynamic_partition needs operands of known rank")
    k = len(parts.shape)
    if data.shape[:k] != parts.shape[:k] and any(
            isinstance(d, int) and isinstance(p, int) and d != p
            for d, p in zip(data.shape[:k], parts.shape)):
        raise ShapeMismatch(f"dynamic_partition: partitions shape {parts} must be a prefix of "
                            f"data shape {data}")
    if not parts.dtype.is_integer:
        raise TypeError(f"dynamic_partition: partitions must be int32, got {parts.dtype.name}")
    return [TensorType(data.dtype, (None,) + tuple(data.shape[k:]))] * a["num_partitions"]


def _partition_ref(data, parts, num_partitions):
    if parts.size and (parts.min() < 0 or parts.max() >= num_partitions):
        bad = parts[(parts < 0) | (parts >= num_partitions)].reshape(-1)[0]
        raise errors.InvalidArgumentError(f"partitions must be in [0, {num_partitions}), "
                                          f"got {bad}")
    flat = data.reshape((-1,) + data.shape[parts.ndim:])
    p = parts.reshape(-1)
    parts = tuple(flat[p == i] for i in range(num_partitions))
    return parts[0] if num_partitions == 1 else parts


defop("dynamic_partition", kind="host", num_inputs=2, infer=_partition_infer,
      reference=_partition_ref, attrs={"num_partitions": Attr("int")}, differentiable=False,
      unlowered_on=_HOST_ONLY,
      doc="split data into num_partitions parts by the partition index of each element")


def _stitch_infer(types, a):
    n = a["n"]
    idx, data = types[:n], types[n:]
    if len(data) != n or n == 0:
        raise ValueError(f"dynamic_stitch takes as many data tensors as index tensors, got "
                         f"{n} and {len(data)}")
    tail = None
    for i, d in zip(idx, data):
        if i.shape is None or d.shape is None:
            raise ValueError("dynamic_stitch needs operands of known rank")
        if not i.dtype.is_integer:
            raise TypeError(f"dynamic_stitch indices must be int32, got {i.dtype.name}")
        t = tuple(d.shape[len(i.shape):])
        if tail is not None and len(t) != len(tail):
            raise ShapeMismatch(f"dynamic_stitch: data slices of ranks {len(tail)} and {len(t)}")
        tail = t if tail is None else tuple(x if x == y else None for x, y in zip(tail, t))
        if d.dtype is not data[0].dtype:
            raise TypeError("dynamic_stitch: all data tensors must have one dtype")
    return TensorType(data[0].dtype, (None,) + tail)


def _stitch_ref(*xs, n):
    idx, data = xs[:n], xs[n:]
    size = 1 + max((int(i.max()) for i in idx if i.size), default=-1)
    tail = data[0].shape[idx[0].ndim:]
    out = np.zeros((size,) + tail, data[0].dtype)
    for i, d in zip(idx, data):                    # later tensors win, as in TF
        out[i.reshape(-1)] = d.reshape((-1,) + tail)
    return out


defop("dynamic_stitch", kind="host", infer=_stitch_infer, reference=_stitch_ref,
      attrs={"n": Attr("int")}, differentiable=False, unlowered_on=_HOST_ONLY,
      doc="interleave the data tensors into one, row indices[i][j] from data[i][j]")


# ------------------------------------------------ shapes given by values (run on the host) ---
# A shape whose entries are values the graph computes (a fed batch size, arithmetic on dims)
# and not dims of tensors the IR knows: the ops after it see symbolic dims, and the Session
# runs these on the host (frontend/dynamic_shape.py turns such shapes into them).

def _shape_vector(types, what: str) -> int:
    s = types[-1]
    if s.dtype is None or not s.dtype.is_integer:
        raise TypeError(f"{what}: the shape must be an int32/int64 vector, got {s}")
    if s.shape is None or len(s.shape) != 1 or s.shape[0] is None:
        raise ShapeMismatch(f"{what}: the shape must be a vector of a length known at graph "
                            f"build (the result's rank), got {s}")
    return s.shape[0]


def _known(a, rank: int) -> tuple:
    known = tuple(a["known"]) or (-1,) * rank
    if len(known) != rank:
        raise ShapeMismatch(f"expected {rank} known-dim entries, got {list(known)}")
    return tuple(None if d < 0 else d for d in known)


def _check_dims(dims: np.ndarray, known: tuple, what: str) -> tuple:
    out = tuple(int(d) for d in np.asarray(dims).reshape(-1))
    for i, (d, k) in enumerate(zip(out, known)):
        if k is not None and d != k:
            raise errors.InvalidArgumentError(f"{what}: dim {i} of the shape {list(out)} is {d}, "
                                              f"but the graph was built for {k}")
    return out


def _zeros_infer(types, a):
    rank = _shape_vector(types, "zeros of a computed shape")
    return TensorType(a["dtype"], _known(a, rank))


def _zeros_ref(dims, dtype, known):
    shape = _check_dims(dims, _known({"known": known}, len(dims)), "zeros of a computed shape")
    if any(d < 0 for d in shape):
        raise errors.InvalidArgumentError(f"Dimension {min(shape)} must be >= 0 (shape "
                                          f"{list(shape)})")
    return np.zeros(shape, dtype.np)


defop("zeros_of_shape", kind="host", num_inputs=1, infer=_zeros_infer, reference=_zeros_ref,
      attrs={"dtype": Attr("dtype", int32), "known": Attr("ints", ())}, differentiable=False,
      unlowered_on=_HOST_ONLY,
      doc="zeros of the shape the operand's values give (known: the dims known at graph "
          "build, -1 for the others)")


def _reshape_to_infer(types, a):
    rank = _shape_vector(types, "reshape to a computed shape")
    return TensorType(types[0].dtype, _known(a, rank))


def _reshape_to_ref(x, dims, known):
    shape = list(_check_dims(dims, (None,) * len(dims), "reshape"))
    if shape.count(-1) > 1:
        raise errors.InvalidArgumentError(f"only one input size may be -1, not both (shape "
                                          f"{shape})")
    rest = int(np.prod([d for d in shape if d != -1]))
    if -1 in shape and rest and x.size % rest == 0:
        shape[shape.index(-1)] = x.size // rest
    if int(np.prod(shape)) != x.size or any(d < 0 for d in shape):
        raise errors.InvalidArgumentError(f"Input to reshape is a tensor with {x.size} values, "
                                          f"but the requested shape has {int(np.prod(shape))}"
                                          f" ({shape})")
    return np.reshape(x, shape)


defop("reshape_to", kind="host", num_inputs=2, infer=_reshape_to_infer,
      reference=_reshape_to_ref, attrs={"known": Attr("ints", ())}, unlowered_on=_HOST_ONLY,
      grad=lambda b, op, g: [b.reshape_like(g[0], op.operands[0]), None],
      doc="reshape to the shape the second operand's values give (one -1 inferred), as "
          "TF's Reshape with a computed shape")


def _range_infer(types, a):
    dts = {t.dtype for t in types}
    if len(dts) != 1:
        raise TypeError(f"range: start, limit and delta must have one dtype, got "
                        f"{[t.dtype.name for t in types]}")
    dt = types[0].dtype
    if not (dt.is_integer or dt.is_floating):
        raise TypeError(f"range: expected an integer or floating dtype, got {dt.name}")
    for t, what in zip(types, ("start", "limit", "delta")):
        if t.shape is not None and len(t.shape) != 0:
            raise ShapeMismatch(f"range: {what} must be a scalar, got {t}")
    return TensorType(dt, (None,))


def _range_ref(start, limit, delta):
    if delta == 0:
        raise errors.InvalidArgumentError("Requires delta != 0: 0")
    if (delta > 0 and start > limit) or (delta < 0 and start < limit):
        return np.zeros(0, np.asarray(start).dtype)
    return np.arange(start, limit, delta, dtype=np.asarray(start).dtype)


defop("range_of", kind="host", num_inputs=3, infer=_range_infer, reference=_range_ref,
      differentiable=False, unlowered_on=_HOST_ONLY,
      doc="start, start + delta, ... up to limit (excluded) for run-time scalar bounds: "
          "a length known only when it runs")
