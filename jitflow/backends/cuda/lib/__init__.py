"""The cuda backend's library kernels: the ops that are not elementwise or reductions, each
family's kernel source templates and launch planning in one module (copy, gemm, conv, pool,
softmax, classify, scan).

A template is Python source specialized by dtype (typed literals, shared-memory arrays) and,
where it unrolls index arithmetic, by rank; ``kernel(name, **spec)`` compiles it once per
specialization. Buffers are flat; shapes arrive as integer arguments, so a new batch size
reuses the compiled kernel. ``LIBRARY[opname](executable, step, op)`` plans an op's step: its
scratch buffers and ``step.bind(shapes, plan) -> [Launch]``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ....ir.core import Value
from ....ir.dtypes import DType
from ..runtime_ns import compile_source
from ..source import lit

#: op name -> fn(executable, step, op) planning the op's launches
LIBRARY: dict[str, Callable] = {}
#: template name -> fn(**spec) -> kernel source
TEMPLATES: dict[str, Callable] = {}


def library_op(*names):
    def deco(fn):
        for n in names:
            LIBRARY[n] = fn
        return fn
    return deco


def source(name: str, **spec) -> str:
    return TEMPLATES[name](**spec)


def kernel(name: str, **spec):
    """The compiled (Numba dispatcher) kernel ``name`` for ``spec`` (dtype, rank, ...)."""
    return compile_source(source(name, **spec), ("kernel",))["kernel"]


def _lowest(dt: DType) -> str:
    return lit(-np.inf, dt) if dt.is_floating else lit(np.iinfo(dt.np).min, dt)


def _acc_t(dt: DType) -> str:
    return "i64" if dt.is_integer else dt.short


def _unravel(var: str, dims: str, rank: int, prefix: str, ind: str) -> str:
    lines = [f"{ind}_t = {var}"]
    for a in range(rank - 1, 0, -1):
        lines.append(f"{ind}{prefix}{a} = _t % {dims}[{a}]")
        lines.append(f"{ind}_t = _t // {dims}[{a}]")
    lines.append(f"{ind}{prefix}0 = _t")
    return "\n".join(lines)


GRID_LOOP = """    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
"""


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _dt(v: Value):
    return v.type.dtype


def _shape(shapes, v):
    return tuple(int(d) for d in shapes[id(v)])


def _axis_split(shape, axis):
    ax = axis % len(shape)
    return _prod(shape[:ax]), int(shape[ax]), _prod(shape[ax + 1:])


def _scratch(ex, step, fn, dtype, name):
    """A scratch buffer of ``fn(shapes)`` bytes, live only while ``step`` runs."""
    b = ex._new("scratch", None, dtype=np.dtype(dtype), nbytes=fn, name=name)
    step.scratch.append(b)
    return b


from . import classify, conv, copy, gemm, pool, scan, softmax  # noqa: E402,F401  (register the ops)
