"""Concrete shapes for one run, shared by the compiling backends (llvm, cuda): each
parameter is checked against its declared static dims and one size per symbol (the kernels
trust them: a mismatch would read or write out of bounds, and the type rules alone would not
catch every case), then every op's type rule gives its results' shapes."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.core import Function, Op
from ..ir.opdef import OPS
from ..ir.types import ShapeMismatch, TensorType


def _node(op: Op) -> str:
    return (f"\n\t [[node {op.loc.tf_name or op.opname} (defined at "
            f"{op.loc.file or '<unknown>'}:{op.loc.line}) ]]")


def run_shapes(f: Function, args: Sequence, max_elements: Optional[int] = None,
               backend: str = "") -> dict[int, tuple]:
    """id(Value) -> concrete shape for arrays ``args``; InvalidArgumentError naming the
    parameter or the op otherwise. ``max_elements``: the backend's limit on a tensor's size."""
    def too_big(shape) -> bool:
        return max_elements is not None and int(np.prod(shape, dtype=np.int64)) >= max_elements

    shapes: dict[int, tuple] = {}
    symbols: dict = {}
    for i, (p, a) in enumerate(zip(f.params, args)):
        decl, ash = p.type.shape, tuple(a.shape)
        bad = len(ash) != len(decl) or too_big(ash)
        if not bad:
            for d, n in zip(decl, ash):
                if isinstance(d, int) and d != n:
                    bad = True
                elif isinstance(d, str) and symbols.setdefault(d, n) != n:
                    bad = True
        if bad:
            sym = {d: symbols[d] for d in decl if isinstance(d, str) and d in symbols}
            raise InvalidArgumentError(
                f"parameter {i} ({p.name or 'unnamed'}) of type {p.type} cannot take an array "
                f"of shape {ash}" + (f" (bound so far: {sym})" if sym else ""))
        shapes[id(p)] = ash
    for op in f.ops:
        ins = [TensorType(v.type.dtype, shapes[id(v)]) for v in op.operands]
        try:
            outs = OPS[op.opname].result_types(ins, op.attrs)
        except (ShapeMismatch, ValueError, TypeError) as e:
            raise InvalidArgumentError(f"{e}{_node(op)}") from None
        for r, t in zip(op.results, outs):
            if any(not isinstance(d, int) for d in t.shape):
                raise InvalidArgumentError(
                    f"cannot determine the run-time shape of {op.opname}{_node(op)}")
            if too_big(t.shape):
                raise InvalidArgumentError(
                    f"{op.loc.tf_name or op.opname}: tensors of {max_elements} or more elements "
                    f"are not supported by the {backend} backend (shape {t.shape})")
            shapes[id(r)] = tuple(t.shape)
    return shapes
