"""Python operators on Tensor (TF1 semantics): ``+ - * / // % ** @``, unary ``- abs ~``,
comparisons ``< <= > >=`` (``==`` stays identity), ``& | ^`` on bools, and ``[]`` slicing."""
from __future__ import annotations

from typing import Any

from . import math_ops as M
from .graph import Tensor
from .dynamic_index import apply_dynamic, entry_is_dynamic
from .op_builder import convert_to_tensor, make_op


def _binop(fn, name: str):
    def forward(self, other):
        return fn(self, other, name=name)

    def reverse(self, other):
        return fn(other, self, name=name)
    return forward, reverse


_OPS = {
    "add": (M.add, "add"), "sub": (M.subtract, "sub"), "mul": (M.multiply, "mul"),
    "truediv": (M.truediv, "truediv"), "floordiv": (M.floordiv, "floordiv"),
    "mod": (M.floormod, "mod"), "pow": (M.pow, "pow"), "matmul": (M.matmul, "MatMul"),
    "and": (M.logical_and, "and"), "or": (M.logical_or, "or"),
}
for _py, (_fn, _name) in _OPS.items():
    _f, _r = _binop(_fn, _name)
    setattr(Tensor, f"__{_py}__", _f)
    setattr(Tensor, f"__r{_py}__", _r)

Tensor.__div__ = Tensor.__truediv__
Tensor.__lt__ = lambda self, other: M.less(self, other, name="Less")
Tensor.__le__ = lambda self, other: M.less_equal(self, other, name="LessEqual")
Tensor.__gt__ = lambda self, other: M.greater(self, other, name="Greater")
Tensor.__ge__ = lambda self, other: M.greater_equal(self, other, name="GreaterEqual")
Tensor.__neg__ = lambda self: M.negative(self, name="Neg")
Tensor.__abs__ = lambda self: M.abs(self, name="Abs")
Tensor.__invert__ = lambda self: M.logical_not(self, name="LogicalNot")
Tensor.__xor__ = lambda self, other: M.logical_and(M.logical_or(self, other),
                                                   M.logical_not(M.logical_and(self, other)))


def _getitem(self: Tensor, key: Any) -> Tensor:
    """Basic indexing: ints, slices (with steps), ``None``/newaxis and one ``...``; bounds
    that are computed tensors become gathers (``dynamic_index``)."""
    if not isinstance(key, tuple):
        key = (key,)
    if any(entry_is_dynamic(k) for k in key):
        return _dynamic_getitem(self, key)
    rank = self.shape.ndims
    entries = []
    if any(k is Ellipsis for k in key):
        if sum(1 for k in key if k is Ellipsis) > 1:
            raise ValueError("an index can only have a single ellipsis ('...')")
        if rank is None:
            raise ValueError("'...' needs a tensor of known rank")
        used = sum(1 for k in key if k is not None and k is not Ellipsis)
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (rank - used) + key[i + 1:]
    kinds, begin, end, strides, bmask, emask = [], [], [], [], 0, 0
    for i, k in enumerate(key):
        if k is None:
            kinds.append(2); begin.append(0); end.append(0); strides.append(1)
        elif isinstance(k, slice):
            kinds.append(0)
            b, e, s = (_static_int(k.start), _static_int(k.stop), _static_int(k.step))
            begin.append(0 if b is None else b); end.append(0 if e is None else e)
            strides.append(1 if s is None else s)
            bmask |= (b is None) << i
            emask |= (e is None) << i
        else:
            idx = _static_int(k)
            if idx is None:
                raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`) and tf.newaxis "
                                f"(`None`) are valid indices, got {k!r}")
            kinds.append(1); begin.append(idx); end.append(idx + 1); strides.append(1)
        entries.append(k)
    attrs = {"kinds": tuple(kinds), "begin": tuple(begin), "end": tuple(end),
             "strides": tuple(strides), "begin_mask": bmask, "end_mask": emask}
    return make_op("StridedSlice", "strided_slice", [self], attrs, "strided_slice").outputs[0]


def _dynamic_getitem(x: Tensor, key: tuple) -> Tensor:
    """The static entries by one strided_slice (a dynamic entry is ``:`` there, keeping its
    axis), then one gather per dynamic entry on its axis of that result."""
    if any(k is Ellipsis for k in key) and x.shape.ndims is None:
        raise ValueError("'...' needs a tensor of known rank")
    todo, static_key, axis = [], [], 0
    for k in key:
        if k is Ellipsis:
            used = sum(1 for e in key if e is not None and e is not Ellipsis)
            n = x.shape.ndims - used
            static_key.append(k)
            axis += n
        elif entry_is_dynamic(k):
            todo.append((axis, k))
            static_key.append(slice(None))
            axis += 1
        else:
            static_key.append(k)
            axis += 0 if (k is not None and not isinstance(k, slice)) else 1
    y = _getitem(x, tuple(static_key)) if any(
        not (isinstance(k, slice) and k == slice(None)) for k in static_key) else x
    return apply_dynamic(y, todo)


def _static_int(v: Any):
    if v is None:
        return None
    if isinstance(v, Tensor):
        from .op_builder import static_value
        s = static_value(v)
        if s is None:
            raise TypeError(f"slice bounds must be known at graph build; {v.name} is computed")
        return int(s)
    if hasattr(v, "__index__"):
        return int(v.__index__())
    raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`) and tf.newaxis (`None`) are "
                    f"valid indices, got {v!r}")


Tensor.__getitem__ = _getitem
_ = convert_to_tensor
