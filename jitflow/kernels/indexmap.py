"""Index maps: how a kernel's iteration index reaches an element of a buffer.

An element offset is ``base + sum(idx[a] * stride[a])`` over the kernel's iteration axes.

* Concrete maps (``contig``, ``broadcast_strides``, ``operand_map``, ``embed``): ints for the
  concrete shapes of one input signature (a backend that binds launch arguments per signature
  passes them as they are).
* Symbolic maps (``IndexMap``): each base/stride is a ``Ref``: a compile-time int
  (``Ref(c=4)``) or a slot of the run-time int64 parameter table, filled per input-shape
  signature by a function of the concrete shapes (``Ref(slot=3)``); static strides of 0 or 1
  let a compiler vectorize the innermost loop.

A remap op's own map (transpose, strided slice) is its record's ``index_map`` trait.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ..ir.core import Op, Value
from ..ir.opdef import OPS

Shapes = dict  # id(Value) -> tuple of concrete ints


# ================================================================ concrete maps ==============

def contig(shape) -> list[int]:
    """Row-major strides of a contiguous tensor of ``shape``."""
    st, acc = [0] * len(shape), 1
    for k in range(len(shape) - 1, -1, -1):
        st[k] = acc
        acc *= shape[k]
    return st


def broadcast_strides(vs, space) -> tuple:
    """Strides of a tensor of shape ``vs`` read (right-aligned, broadcasting) over ``space``."""
    lead = len(space) - len(vs)
    cs = contig(vs)
    return tuple([0] * lead + [0 if vs[k] == 1 else cs[k] for k in range(len(vs))])


def operand_map(op: Op, idx: int, shapes) -> tuple[int, list[int]]:
    """(base, strides) of ``op.operands[idx]`` over the axes of op's result, for concrete
    ``shapes`` (id(Value) -> shape): a remap op's own index map, bias_add's bias along its
    axis, else a right-aligned broadcast."""
    v = op.operands[idx]
    vs = shapes[id(v)]
    os_ = shapes[id(op.results[0])]
    d = OPS[op.opname]
    if d.index_map is not None:
        return d.index_map(vs, op.attrs)
    if op.opname == "bias_add" and idx == 1:
        st = [0] * len(os_)
        st[op.attrs["axis"] % len(os_)] = 0 if vs[0] == 1 else 1
        return 0, st
    return 0, list(broadcast_strides(vs, os_))


def embed(base: int, local: list[int], op_shape, space_shape) -> tuple:
    """A map over an op's result axes as a map over the space (right-aligned broadcast)."""
    lead = len(space_shape) - len(op_shape)
    st = [0] * lead + [0 if op_shape[k] == 1 else local[k] for k in range(len(op_shape))]
    return (int(base),) + tuple(int(s) for s in st)


# ================================================================ symbolic maps ==============

@dataclass(frozen=True)
class Ref:
    c: Optional[int] = None
    slot: Optional[int] = None

    @property
    def static(self) -> bool:
        return self.c is not None


ZERO = Ref(c=0)
ONE = Ref(c=1)


class ParamTable:
    """Run-time integer parameters shared by all kernels of one executable. Each ``fn`` must
    be a function of the concrete shapes alone: llvm caches its values per input-shape
    signature with the object code (``backends/llvm/cached.py``)."""

    def __init__(self) -> None:
        self.fns: list[Callable[[Shapes], int]] = []
        self.keys: dict = {}

    def ref(self, key, fn: Callable[[Shapes], int]) -> Ref:
        if key not in self.keys:
            self.keys[key] = len(self.fns)
            self.fns.append(fn)
        return Ref(slot=self.keys[key])

    def evaluate(self, shapes: Shapes) -> list[int]:
        return [int(fn(shapes)) for fn in self.fns]


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= x
    return n


def dim_ref(table: ParamTable, v: Value, k: int) -> Ref:
    d = v.type.shape[k]
    if isinstance(d, int):
        return Ref(c=d)
    key = ("sym", d) if isinstance(d, str) else ("dim", id(v), k)
    return table.ref(key, lambda s, vid=id(v), k=k: s[vid][k])


def contig_stride(table: ParamTable, v: Value, k: int) -> Ref:
    later = v.type.shape[k + 1:]
    if all(isinstance(d, int) for d in later):
        return Ref(c=_prod(later))
    return table.ref(("stride", id(v), k), lambda s, vid=id(v), k=k: _prod(s[vid][k + 1:]))


def numel_ref(table: ParamTable, v: Value) -> Ref:
    if all(isinstance(d, int) for d in v.type.shape):
        return Ref(c=_prod(v.type.shape))
    return table.ref(("numel", id(v)), lambda s, vid=id(v): _prod(s[vid]))


@dataclass
class IndexMap:
    base: Ref
    strides: list  # list[Ref], one per iteration axis


def broadcast_map(table: ParamTable, v: Value, sv: Value) -> IndexMap:
    """Read ``v`` (right-aligned, broadcasting) at each index of the iteration space given
    by the shape of ``sv``."""
    out_shape = sv.type.shape
    vs = v.type.shape
    lead = len(out_shape) - len(vs)
    strides = []
    for a, od in enumerate(out_shape):
        if a < lead:
            strides.append(ZERO)
            continue
        k = a - lead
        d = vs[k]
        if d == 1:
            strides.append(ZERO)
        elif d == od and d is not None:
            strides.append(contig_stride(table, v, k))
        else:
            strides.append(table.ref(
                ("bstride", id(v), k, id(sv), a),
                lambda s, vid=id(v), k=k, oid=id(sv), a=a:
                    0 if s[vid][k] == 1 and s[oid][a] != 1 else _prod(s[vid][k + 1:])))
    return IndexMap(ZERO, strides)


def identity_map(table: ParamTable, v: Value) -> IndexMap:
    return IndexMap(ZERO, [contig_stride(table, v, k) for k in range(len(v.type.shape))])


def is_flat_identity(table: ParamTable, m: IndexMap, v: Value, space: Value) -> bool:
    """True when the map is statically the contiguous identity over the iteration space."""
    if v.type.shape != space.type.shape or any(d is None for d in v.type.shape):
        return False
    return m.base == ZERO and m.strides == identity_map(table, v).strides


def is_scalar_map(m: IndexMap) -> bool:
    return all(s.static and s.c == 0 for s in m.strides)


def flat_kind(table: ParamTable, v: Value, space: Value):
    """How ``v`` (broadcast into ``space``) is read from a flat loop over ``space``:
    ("id",) at lin, ("zero",) at 0, ("mod", P) at lin % P, ("div", Q) at lin // Q, or None
    when only nested loops can express it (P and Q are compile-time constants)."""
    m = broadcast_map(table, v, space)
    if is_scalar_map(m):
        return ("zero",)
    if is_flat_identity(table, m, v, space):
        return ("id",)
    out = space.type.shape
    if any(not s.static and s != contig_stride(table, v, a - (len(out) - len(v.type.shape)))
           for a, s in enumerate(m.strides) if not (s.static and s.c == 0)):
        return None
    covered = [not (s.static and s.c == 0) for s in m.strides]
    if not any(covered):
        return ("zero",)
    first = covered.index(True)
    last = len(covered) - 1 - covered[::-1].index(True)
    if not all(covered[first:last + 1]):
        return None
    lead = len(out) - len(v.type.shape)
    for a in range(first, last + 1):
        if v.type.shape[a - lead] != out[a]:
            return None
    if last == len(out) - 1:          # covers a suffix: lin % P
        tail = out[first:]
        if all(isinstance(d, int) for d in tail):
            return ("mod", _prod(tail))
        return None
    if first == 0:                    # covers a prefix: lin // Q
        rest = out[last + 1:]
        if all(isinstance(d, int) for d in rest):
            return ("div", _prod(rest))
    return None
