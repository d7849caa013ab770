"""Builder: creates typed ops (result types from the OpDef's rule) into a list of ops."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import numpy as np

from .core import UNKNOWN_LOC, Function, Location, Op, Value
from .dtypes import DType
from .opdef import OPS, get_opdef
from .types import TensorType


class Builder:
    """Appends new ops to ``ops`` (a list: a Function's body, or a block to splice in).

    ``b.op("mul", x, y)`` and the sugar ``b.mul(x, y)`` return the result Value (a tuple for
    multi-result ops). Python numbers among the operands become constants of the dtype of the
    first Value operand.
    """

    def __init__(self, ops: list, loc: Location = UNKNOWN_LOC) -> None:
        self.ops = ops
        self.loc = loc

    def op(self, opname: str, *operands: Any, loc: Optional[Location] = None,
           regions: Optional[Sequence[Function]] = None, **attrs: Any):
        """``regions``: the nested Functions of a control-flow op (``cond``, ``while``)."""
        opdef = get_opdef(opname)
        if opdef.num_inputs >= 0 and len(operands) != opdef.num_inputs:
            raise TypeError(f"op {opname!r} takes {opdef.num_inputs} operands, got {len(operands)}")
        want = len(opdef.region_names)
        if len(regions or ()) != want:
            raise ValueError(f"op {opname!r} takes {want} regions {list(opdef.region_names)}, "
                             f"got {len(regions or ())}")
        ref_dtype = next((v.type.dtype for v in operands if isinstance(v, Value)), None)
        vals = [v if isinstance(v, Value) else self.const(v, ref_dtype) for v in operands]
        attrs = opdef.complete_attrs(attrs)
        types = opdef.result_types([v.type for v in vals], attrs, regions if want else None)
        op = Op(opname, vals, attrs, types, loc or self.loc, regions or ())
        self.ops.append(op)
        return op.results[0] if len(op.results) == 1 else tuple(op.results)

    def const(self, value: Any, dtype: Optional[DType] = None) -> Value:
        arr = np.asarray(value, dtype=None if dtype is None else dtype.np)
        if dtype is None and arr.dtype == np.float64 and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)
        return self.op("constant", value=arr)

    def __getattr__(self, name: str):
        if name in OPS:
            return lambda *operands, **attrs: self.op(name, *operands, **attrs)
        raise AttributeError(name)


def value_type(v: Value) -> TensorType:
    return v.type


def build_region(name: str, param_types: Sequence[TensorType], body: Callable[..., Any],
                 loc: Location = UNKNOWN_LOC) -> Function:
    """A region for a control-flow op: a Function with parameters of ``param_types`` whose
    results are what ``body(builder, *params)`` returns (a Value or a sequence of them)."""
    f = Function(name)
    ps = [f.add_param(t) for t in param_types]
    out = body(Builder(f.ops, loc), *ps)
    f.set_results(list(out) if isinstance(out, (list, tuple)) else [out])
    return f
