"""The NumPy reference of an op on the narrow float types (float16, bfloat16), as TF runs
them on CPU: the operands widened to float32, the op's reference computed there, the results
rounded back to their declared type (round to nearest even). The narrow integers need no
wrapping: NumPy's int8/uint8/int16/uint16 arithmetic wraps around as TF's does, and a result
NumPy widened (a sum of int8 in int64) is cast back to the declared type, which wraps it."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..ir.dtypes import DType, float32
from ..ir.opdef import OpDef

#: kinds whose references see their operands as declared (regions, Python callbacks, data)
_AS_DECLARED = frozenset({"control", "host", "constant", "pseudo"})


def _narrow_float(d: Any) -> bool:
    return isinstance(d, DType) and d.is_narrow and d.is_floating


def touches_narrow(op, opdef: OpDef) -> bool:
    """Whether ``op`` reads or makes a narrow type (its reference needs :func:`wrap`)."""
    if opdef.kind in _AS_DECLARED:
        return False
    return (any(v.type.dtype.is_narrow for v in op.operands)
            or any(r.type.dtype.is_narrow for r in op.results)
            or any(_narrow_float(a) for a in op.attrs.values()))


def wrap(fn: Callable, opname: str, result_dtypes: Sequence[DType]) -> Callable:
    """``fn`` (an op's reference) computing narrow floats in float32, results as declared."""
    keep_attr = opname == "cast"           # a cast's target type is what it computes

    def run(*arrays, **attrs):
        wide = [a.astype(np.float32) if _narrow_float_array(a) else a for a in arrays]
        if not keep_attr:
            attrs = {k: (float32 if _narrow_float(v) else v) for k, v in attrs.items()}
        res = fn(*wide, **attrs)
        if len(result_dtypes) == 1:
            return _as(res, result_dtypes[0])
        return tuple(_as(r, d) for r, d in zip(res, result_dtypes))
    return run


def _narrow_float_array(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.itemsize == 2 and a.dtype.kind in "fV"


def _as(r: Any, d: DType) -> np.ndarray:
    r = np.asarray(r)
    if r.dtype == d.np:
        return r
    if d.is_narrow and d.is_floating and r.dtype != np.float32:
        r = r.astype(np.float32)          # as TF (Eigen) rounds a double: through float
    return r.astype(d.np)
