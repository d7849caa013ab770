"""IR text form. Example::

    func @main(%0: f32[s0,1] "X:0", %1: f32[1,10] "Variable:0") -> (f32[s0,10] "MatMul:0") {
      %2 = matmul(%0, %1) {transpose_a = false, transpose_b = false} : f32[s0,10]  loc("MatMul" "prog.py":33)
      return %2
    }

Values are numbered in definition order (parameters first), so the text is stable. An op
with regions (``cond``, ``while``) prints them after its location, between ``[`` and ``]``, as
nested ``func``s; a region is closed (it uses only its own parameters) and numbers its values
from ``%0``::

      %3 = cond(%0, %1, %2) : f32[3]  loc("cond" "prog.py":7) [
        func @then(%0: f32[3], %1: f32[3]) -> (f32[3]) {
          %2 = add(%0, %1) : f32[3]
          return %2
        }
        func @else(%0: f32[3], %1: f32[3]) -> (f32[3]) {
          return %1
        }
      ]
"""
from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np

from .core import Function, Op, Value
from .dtypes import DType, as_dtype
from .types import TensorType, format_type

INLINE_ARRAY_LIMIT = 16


def format_float(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    r = repr(float(x))
    return r if ("." in r or "e" in r) else r + ".0"


def format_attr(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format_float(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, DType):
        return v.short
    if isinstance(v, tuple):
        return "[" + ", ".join(format_attr(x) for x in v) + "]"
    if isinstance(v, np.ndarray):
        return format_array(v)
    raise TypeError(f"cannot print attribute value {v!r} of type {type(v).__name__}")


def format_array(a: np.ndarray) -> str:
    dtype = as_dtype(a.dtype)
    t = format_type(TensorType(dtype, a.shape))
    if a.size <= INLINE_ARRAY_LIMIT and not dtype.is_complex:
        flat = a.reshape(-1).tolist()
        if dtype.is_floating:
            flat = a.reshape(-1).astype(np.float64).tolist()
            body = ", ".join(format_float(x) for x in flat)
        elif dtype.is_bool:
            body = ", ".join("true" if x else "false" for x in flat)
        else:
            body = ", ".join(str(x) for x in flat)
        return f"array<{t}: [{body}]>"
    raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    return f'array<{t}: b64"{base64.b64encode(raw).decode()}">'


def _names(f: Function) -> dict[int, str]:
    names: dict[int, str] = {}
    for v in f.values():
        names[id(v)] = f"%{len(names)}"
    return names


def format_op(op: Op, names: dict[int, str], indent: str = "  ") -> str:
    lhs = ", ".join(names[id(r)] for r in op.results)
    args = ", ".join(names.get(id(v), "%<undefined>") for v in op.operands)
    text = f"{lhs} = {op.opname}({args})" if op.results else f"{op.opname}({args})"
    if op.attrs:
        text += " {" + ", ".join(f"{k} = {format_attr(op.attrs[k])}" for k in sorted(op.attrs)) + "}"
    types = [format_type(r.type) for r in op.results]
    text += " : " + (types[0] if len(types) == 1 else "(" + ", ".join(types) + ")")
    if op.group is not None:
        text += f"  group({op.group})"
    loc = op.loc
    if loc.tf_name or loc.file:
        text += f"  loc({json.dumps(loc.tf_name)} {json.dumps(loc.file)}:{loc.line})"
    if op.regions:
        inner = indent + "  "
        text += " [\n" + "".join(print_function(r, inner) for r in op.regions) + indent + "]"
    return text


def _label(v: Value) -> str:
    return f" {json.dumps(v.name)}" if v.name else ""


def print_function(f: Function, indent: str = "") -> str:
    names = _names(f)
    params = ", ".join(f"{names[id(p)]}: {format_type(p.type)}{_label(p)}" for p in f.params)
    res_types = ", ".join(
        format_type(v.type) + (f" {json.dumps(n)}" if n else "")
        for v, n in zip(f.results, f.result_names))
    body = indent + "  "
    lines = [f"{indent}func @{f.name}({params}) -> ({res_types}) {{"]
    for op in f.ops:
        lines.append(body + format_op(op, names, body))
    lines.append(body + "return " + ", ".join(names.get(id(v), "%<undefined>") for v in f.results))
    lines.append(indent + "}")
    return "\n".join(lines) + "\n"
