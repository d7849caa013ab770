"""Creating frontend ops: conversion of Python values to tensors and typed op creation.

Every op is created through ``make_op``, which runs the IR op's own type rule on the TF
partial shapes, so a shape or dtype error is reported at graph build with the op's name, its
input types and the user's file:line.
"""
from __future__ import annotations

import numbers
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import GraphShapeError, GraphTypeError
from ..ir.dtypes import DType, as_dtype, bool_, complex128, float32, int32, int64
from ..ir.opdef import get_opdef
from ..ir.types import ShapeMismatch, TensorType
from .graph import Operation, Tensor, get_default_graph, user_location

RNG_STEP_TYPE = TensorType(int64, ())


def _fmt_types(types: Sequence[TensorType]) -> str:
    return ", ".join("[" + ",".join("?" if not isinstance(d, int) else str(d) for d in t.shape) + "]"
                     if t.shape is not None else "<unknown>" for t in types)


def make_op(op_type: str, ir_op: Optional[str], inputs: Sequence[Tensor], attrs: Optional[dict] = None,
            name: Optional[str] = None, *, out_types: Optional[Sequence[TensorType]] = None,
            rng: bool = False, graph=None) -> Operation:
    """Create an Operation whose result types come from ``ir_op``'s type rule."""
    graph = graph or (inputs[0].graph if inputs else get_default_graph())
    loc = user_location()
    if ir_op is not None:
        opdef = get_opdef(ir_op)
        try:
            attrs = opdef.complete_attrs(attrs or {})
            in_types = [t._type for t in inputs]
            if rng:
                in_types = [RNG_STEP_TYPE] + in_types
            if out_types is None:
                out_types = _result_types(opdef, in_types, attrs)
        except (ShapeMismatch, TypeError, ValueError) as e:
            op_name = graph.unique_name(name or op_type, mark_as_used=False)
            if name and name.endswith("/"):
                op_name = name[:-1]
            cls = GraphTypeError if isinstance(e, TypeError) else GraphShapeError
            raise cls(f"{e} for '{op_name}' (op: '{op_type}') with input shapes: "
                      f"{_fmt_types([t._type for t in inputs])} and dtypes "
                      f"[{', '.join(t.dtype.name for t in inputs)}], defined at {loc[0]}:{loc[1]}"
                      ) from None
    op = graph._add_op(op_type, inputs, out_types or [], ir_op, attrs, name, loc, rng)
    override = getattr(graph, "_gradient_override", None)
    if override and op_type in override:        # Graph.gradient_override_map
        from .custom_gradient import attach_override
        attach_override(op, override[op_type])
    return op


def _result_types(opdef, in_types: list[TensorType], attrs: dict) -> list[TensorType]:
    """``opdef``'s result types. An operand of unknown rank (a placeholder without a shape) is
    accepted as TF does: its rank is fixed per run by the fed value, when the run's IR is built
    and checked with the real ranks. At graph build the op's type rule is tried with that
    operand at two ranks: where both give the same types (``reduce_sum`` to a scalar) those are
    the static types; where only the dtypes agree, the results have unknown rank. A rule that
    fails at every rank is a real error (a wrong dtype, say) and is raised."""
    try:
        return opdef.result_types(in_types, attrs)
    except (ShapeMismatch, TypeError, ValueError) as first:
        if all(t.shape is not None for t in in_types):
            raise
        error = first
    top = max((len(t.shape) for t in in_types if t.shape is not None), default=2)
    guesses = sorted({top, top + 1, 0, 1, 2, 3, 4}, key=lambda r: (r < top, r))
    found: list[list[TensorType]] = []
    for r in guesses:
        trial = [TensorType(t.dtype, (None,) * r) if t.shape is None else t for t in in_types]
        try:
            found.append(opdef.result_types(trial, attrs))
        except (ShapeMismatch, TypeError, ValueError) as e:
            if isinstance(e, TypeError):
                error = e
            continue
        if len(found) == 2:
            break
    if not found:
        raise error
    if len(found) == 2 and found[0] == found[1]:
        return found[0]
    return [TensorType(t.dtype, None) for t in found[0]]


def infer_dtype(value: Any) -> DType:
    """TF1's dtype for a Python/NumPy value: floats -> float32, ints -> int32 (int64 if large),
    NumPy arrays keep their dtype."""
    if isinstance(value, (np.ndarray, np.generic)):
        return as_dtype(value.dtype)
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        return bool_
    if arr.dtype.kind in "iu":
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return int64
        return int32
    if arr.dtype.kind == "f":
        return float32
    if arr.dtype.kind == "c":
        return complex128   # as TF: a Python complex is a complex128
    raise TypeError(f"Failed to convert object of type {type(value).__name__} to Tensor. "
                    f"Contents: {value!r}. Consider casting elements to a supported type.")


def _first_mismatch(value: Any, ok) -> Any:
    """TF1's ``_AssertCompatible``: the first leaf of a (nested) Python value that ``ok``
    rejects, or None."""
    if isinstance(value, (list, tuple)):
        for v in value:
            bad = _first_mismatch(v, ok)
            if bad is not None:
                return bad
        return None
    if isinstance(value, np.ndarray):
        return None
    return None if ok(value) else value


def _is_int(v: Any) -> bool:
    return isinstance(v, (numbers.Integral, np.integer))


def _is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def to_numpy(value: Any, dtype: Optional[DType]) -> np.ndarray:
    """A Python/NumPy value as an array of ``dtype``. Like TF1, NumPy values are cast, while
    Python values must fit the dtype: a Python float for an integer dtype is a TypeError
    (``Expected int32, got 0.5 of type 'float' instead.``)."""
    if dtype is None:
        dtype = infer_dtype(value)
    if (dtype.is_integer or dtype.is_bool) and not isinstance(value, (np.ndarray, np.generic)):
        bad = _first_mismatch(value, _is_bool if dtype.is_bool else _is_int)
        if bad is not None:
            raise TypeError(f"Expected {dtype.name}, got {bad!r} of type "
                            f"'{type(bad).__name__}' instead.")
    try:
        return np.asarray(value, dtype=dtype.np)
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"Expected {dtype.name}, got {value!r} of type '{type(value).__name__}' "
                        f"instead: {e}") from None


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const",
             verify_shape: bool = False) -> Tensor:
    dt = as_dtype(dtype) if dtype is not None else None
    arr = to_numpy(value, dt)
    if shape is not None:
        shape = tuple(int(d) for d in (shape if isinstance(shape, (list, tuple)) else [shape]))
        size = int(np.prod(shape))
        if verify_shape and arr.shape != shape:
            raise TypeError(f"Expected Tensor's shape: {shape}, got {arr.shape}.")
        if arr.size == 1:
            arr = np.full(shape, arr.reshape(()), dtype=arr.dtype)
        elif arr.size == size:
            arr = arr.reshape(shape)
        elif 0 < arr.size < size:   # TF1 fills the rest with the last value
            flat = arr.reshape(-1)
            arr = np.concatenate([flat, np.full(size - flat.size, flat[-1], flat.dtype)]
                                 ).reshape(shape)
        else:
            raise ValueError(f"Too many elements provided. Takes at most {size}, but got "
                             f"{arr.size}.")
    return make_op("Const", "constant", [], {"value": np.array(arr)}, name).outputs[0]


def convert_to_tensor(value: Any, dtype: Any = None, name: Optional[str] = None,
                      preferred_dtype: Any = None) -> Tensor:
    dt = as_dtype(dtype) if dtype is not None else None
    conv = getattr(value, "_as_tensor", None)
    if conv is not None:
        value = conv()
    if isinstance(value, Tensor):
        if dt is not None and value.dtype is not dt:
            raise GraphTypeError(f"Tensor conversion requested dtype {dt.name} for Tensor with "
                                 f"dtype {value.dtype.name}: {value!r}")
        return value
    if isinstance(value, Operation):
        raise TypeError(f"Can not convert an Operation ({value.name}) into a Tensor.")
    if hasattr(value, "_as_graph_element") and getattr(getattr(value, "dtype", None), "name",
                                                       "") == "string":
        value._as_graph_element()      # a host string tensor: raises, saying what takes one
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) or hasattr(v, "_as_tensor")
                                                for v in value):
        from .array_ops import stack
        return stack(list(value), name=name or "packed")
    if dt is None and preferred_dtype is not None:
        try:
            to_numpy(value, as_dtype(preferred_dtype))
            dt = as_dtype(preferred_dtype)
        except TypeError:
            dt = None
    return constant(value, dtype=dt, name=name or "Const")


#: op kinds whose value static_value computes from known operands (small arrays only)
_FOLDABLE_KINDS = frozenset(("elementwise", "reduction", "view", "remap", "constant"))
_FOLD_MAX_ELEMENTS = 4096
_fold_depth = [0]


def _folded(t: Tensor) -> Optional[np.ndarray]:
    """``t``'s value when its op is a small pure computation of values known at graph build
    (``tf.rank(x) - 1``, ``tf.shape(x)[0] * 2`` of a static shape), by the op's reference;
    memoized on the op. Like TF's constant folding, it ignores that such a tensor could be
    fed."""
    op = t.op
    memo = op.__dict__.get("_static_fold", ())
    if memo != ():
        return None if memo is None else memo[t.value_index]
    op._static_fold = None
    if op.ir_op is None or getattr(op, "regions", None) or op.rng or \
            getattr(op, "lower_attrs", None) is not None or _fold_depth[0] > 64:
        return None
    from ..ir.opdef import OPS
    d = OPS.get(op.ir_op)
    if d is None or d.kind not in _FOLDABLE_KINDS or d.stateful or d.effectful or \
            d.reference is None:
        return None
    _fold_depth[0] += 1
    try:
        args = [static_value(x) for x in op.inputs]
    finally:
        _fold_depth[0] -= 1
    if any(a is None or np.asarray(a).size > _FOLD_MAX_ELEMENTS for a in args):
        return None
    try:
        res = d.reference(*[np.asarray(a, dtype=x.dtype.np) for a, x in zip(args, op.inputs)],
                          **op.attrs)
    except Exception:  # noqa: BLE001 - an error it raises is the run's, not the build's
        return None
    res = list(res) if isinstance(res, (tuple, list)) else [res]
    if len(res) != len(op.outputs) or any(np.asarray(r).size > _FOLD_MAX_ELEMENTS
                                          for r in res):
        return None
    op._static_fold = tuple(np.asarray(r, dtype=o.dtype.np) for r, o in zip(res, op.outputs))
    return op._static_fold[t.value_index]


def static_value(t: Any) -> Optional[np.ndarray]:
    """The value of a Python value or a Const tensor (or a small pure computation of
    constants, ``_folded``), if known at graph build; else None."""
    if isinstance(t, Tensor):
        if t.op.type == "Const":
            return t.op.attrs["value"]
        return _folded(t)
    if isinstance(t, (list, tuple)) and any(isinstance(e, Tensor) for e in t):
        vals = [static_value(e) for e in t]
        return None if any(v is None for v in vals) else np.asarray(vals)
    conv = getattr(t, "_as_tensor", None)
    if conv is not None:
        return None
    return np.asarray(t)


def static_ints(v: Any, what: str) -> Optional[tuple]:
    """Axis/shape arguments given as ints, lists or Const tensors -> tuple of ints."""
    if v is None:
        return None
    arr = static_value(v)
    if arr is None:
        raise NotImplementedError(f"{what} must be known when the graph is built (a Python int/"
                                  f"list or a constant); got the computed tensor {v.name}")
    return tuple(int(a) for a in np.asarray(arr).reshape(-1))
