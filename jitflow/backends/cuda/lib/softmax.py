"""softmax / log_softmax and the cross-entropies (kernel sources and launches); their row
sums are blocked, with float64 partials (``_bsum``)."""
from __future__ import annotations

from typing import TYPE_CHECKING


from ....ir.core import Op
from ....ir.dtypes import DType
from ....kernels.errors import op_where
from ....kernels.indexmap import broadcast_strides
from ..source import SUM_BLOCK, lit
from ..steps import Launch, Step
from . import TEMPLATES, _axis_split, _dt, _lowest, _prod, _shape, _unravel, kernel, library_op

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


def _bsum(T: str, ind: str, var: str, L: str, term: str, pre: tuple = ()) -> str:
    """Source lines (at indent ``ind``) setting ``var`` to the sum over j < L of ``term``, in
    type T: SUM_BLOCK terms at a time in T, their partials in float64 (as the generated
    reductions, ``codegen.py``). ``pre``: lines run first for each j."""
    body = "".join(f"{ind}        {line}\n" for line in pre)
    return (f"{ind}_w = f64(0)\n"        # one type per variable (Numba unifies them)
            f"{ind}_j0 = 0\n"
            f"{ind}while _j0 < {L}:\n"
            f"{ind}    _bs = {T}(0)\n"
            f"{ind}    for j in range(_j0, min(_j0 + {SUM_BLOCK}, {L})):\n"
            f"{body}"
            f"{ind}        _bs = _bs + {term}\n"
            f"{ind}    _w = _w + f64(_bs)\n"
            f"{ind}    _j0 += {SUM_BLOCK}\n"
            f"{ind}{var} = {T}(_w)\n")


def _softmax_src(dt: DType, log: bool) -> str:
    T = dt.short
    tail = ("            out[base + j * inner] = z - lse\n" if log else
            f"            out[base + j * inner] = {T}(_exp_{T}(x[base + j * inner] - m)) / s\n")
    lse = f"        lse = {T}(_log_{T}(s))\n" if log else ""
    return f"""def kernel(n, L, inner, x, out):
    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
        o = i // inner
        k = i - o * inner
        base = o * L * inner + k
        m = {_lowest(dt)}
        for j in range(L):
            v = x[base + j * inner]
            if v > m or v != v:
                m = v
{_bsum(T, " " * 8, "s", "L", f"{T}(_exp_{T}(x[base + j * inner] - m))")}{lse}        for j in range(L):
            z = x[base + j * inner] - m
{tail}        i += _st
"""


def _sparse_xent_src(dt: DType) -> str:
    T = dt.short
    return f"""def kernel(n, L, logits, labels, loss, bp, err, code):
    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
        t = labels[i]
        base = i * L
        if t < 0 or t >= L:
            cuda.atomic.min(err, 0, code)
            loss[i] = {lit(0, dt)}
        else:
            m = {_lowest(dt)}
            for j in range(L):
                v = logits[base + j]
                if v > m or v != v:
                    m = v
{_bsum(T, " " * 12, "s", "L", f"{T}(_exp_{T}(logits[base + j] - m))")}\
            lse = {T}(_log_{T}(s))
            for j in range(L):
                lp = (logits[base + j] - m) - lse
                e = {T}(_exp_{T}(lp))
                if j == t:
                    loss[i] = -lp
                    bp[base + j] = e - {lit(1, dt)}
                else:
                    bp[base + j] = e
        i += _st
"""


def _xent_src(dt: DType, rank: int) -> str:
    """Rows over the broadcast shape's leading axes (rank - 1 of them); strides xs/ys over all
    ``rank`` axes (0 where broadcast)."""
    T = dt.short
    r1 = rank - 1
    xo = " + ".join([f"ix{a} * xs[{a}]" for a in range(r1)] or ["0"])
    yo = " + ".join([f"ix{a} * ys[{a}]" for a in range(r1)] or ["0"])
    unr = _unravel("i", "rdims", r1, "ix", "        ") if r1 else ""
    return f"""def kernel(n, rdims, L, x, xs, y, ys, loss, bp):
    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    xl = xs[{r1}]
    yl = ys[{r1}]
    while i < n:
{unr}
        xb = {xo}
        yb = {yo}
        m = {_lowest(dt)}
        for j in range(L):
            v = x[xb + j * xl]
            if v > m or v != v:
                m = v
{_bsum(T, "        ", "s", "L", f"{T}(_exp_{T}(x[xb + j * xl] - m))")}        lse = {T}(_log_{T}(s))
{_bsum(T, "        ", "acc", "L", f"_mul_{T}(yv, lp)", (
    "lp = (x[xb + j * xl] - m) - lse", "yv = y[yb + j * yl]",
    f"bp[i * L + j] = {T}(_exp_{T}(lp)) - yv"))}        loss[i] = -acc
        i += _st
"""


TEMPLATES["softmax"] = lambda dt: _softmax_src(dt, False)
TEMPLATES["log_softmax"] = lambda dt: _softmax_src(dt, True)
TEMPLATES["sparse_xent"] = lambda dt: _sparse_xent_src(dt)
TEMPLATES["xent"] = lambda dt, rank: _xent_src(dt, rank)


@library_op("softmax", "log_softmax")
def _softmax(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x = op.operands[0]
    out = step.writes[0]
    ixb = ex.storage[id(x)].idx

    def bind(shapes, plan):
        outer, L, inner = _axis_split(_shape(shapes, x), op.attrs["axis"])
        n = outer * inner
        if n == 0 or L == 0:
            return []
        k = kernel(op.opname, dt=_dt(x))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, L), (0, inner), (1, ixb), (1, out.idx)])]
    step.bind = bind


@library_op("sparse_softmax_cross_entropy")
def _sparse_xent(ex: CUDAExecutable, step: Step, op: Op) -> None:
    logits, labels = op.operands
    loss, bp = step.writes
    il, it = ex.storage[id(logits)].idx, ex.storage[id(labels)].idx
    code = ex.errors.code("label out of range" + op_where(op), exact=True)

    def bind(shapes, plan):
        ls = _shape(shapes, logits)
        L = ls[-1]
        n = _prod(ls[:-1])
        if n == 0:
            return []
        k = kernel("sparse_xent", dt=_dt(logits))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, L), (1, il), (1, it), (1, loss.idx),
                                        (1, bp.idx), (3, None), (0, code)])]
    step.bind = bind


@library_op("softmax_cross_entropy")
def _xent(ex: CUDAExecutable, step: Step, op: Op) -> None:
    logits, labels = op.operands
    loss, bp = step.writes
    il, iy = ex.storage[id(logits)].idx, ex.storage[id(labels)].idx

    def bind(shapes, plan):
        S = _shape(shapes, op.results[1])
        rank = len(S)
        L = S[-1]
        n = _prod(S[:-1])
        if n == 0:
            return []
        k = kernel("xent", dt=_dt(logits), rank=rank)
        grid, block = ex.grid_for(n)
        xs = broadcast_strides(_shape(shapes, logits), S)
        ys = broadcast_strides(_shape(shapes, labels), S)
        return [Launch(k, grid, block, [(0, n), (0, tuple(S[:-1]) or (1,)), (0, L), (1, il),
                                        (0, xs), (1, iy), (0, ys), (1, loss.idx),
                                        (1, bp.idx)])]
    step.bind = bind

