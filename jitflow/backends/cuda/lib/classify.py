"""argmax / argmin, in_top_k, one_hot, gather and its scatter-add gradient (kernel
sources and launches)."""
from __future__ import annotations

from typing import TYPE_CHECKING


from ....errors import InvalidArgumentError
from ....ir.core import Op
from ....ir.dtypes import DType
from ....kernels.errors import op_where
from ..source import lit
from ..steps import Launch, Step
from . import GRID_LOOP, TEMPLATES, _axis_split, _dt, _prod, _shape, kernel, library_op

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


def _one_hot_src() -> str:
    return (f"def kernel(n, depth, inner, out, idx, on, off):\n{GRID_LOOP}"
            "        o = i // (depth * inner)\n"
            "        rem = i - o * depth * inner\n"
            "        d = rem // inner\n"
            "        k = rem - d * inner\n"
            "        if idx[o * inner + k] == d:\n"
            "            out[i] = on[0]\n"
            "        else:\n"
            "            out[i] = off[0]\n"
            "        i += _st\n")


def _gather_src(dt: DType) -> str:
    return (f"def kernel(n, inner, nidx, alen, out, params, idx, err, code):\n{GRID_LOOP}"
            "        o = i // (nidx * inner)\n"
            "        rem = i - o * nidx * inner\n"
            "        j = rem // inner\n"
            "        k = rem - j * inner\n"
            "        t = idx[j]\n"
            "        if t < 0 or t >= alen:\n"
            "            cuda.atomic.min(err, 0, code)\n"
            f"            out[i] = {lit(0, dt)}\n"
            "        else:\n"
            "            out[i] = params[(o * alen + t) * inner + k]\n"
            "        i += _st\n")


def _gather_grad_src() -> str:
    return (f"def kernel(n, inner, nidx, alen, out, g, idx, err, code):\n{GRID_LOOP}"
            "        o = i // (nidx * inner)\n"
            "        rem = i - o * nidx * inner\n"
            "        j = rem // inner\n"
            "        k = rem - j * inner\n"
            "        t = idx[j]\n"
            "        if t < 0 or t >= alen:\n"
            "            cuda.atomic.min(err, 0, code)\n"
            "        else:\n"
            "            cuda.atomic.add(out, (o * alen + t) * inner + k, g[i])\n"
            "        i += _st\n")


def _in_top_k_src(dt: DType) -> str:
    return """def kernel(n, C, k, p, t, out):
    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
        tt = t[i]
        ok = tt >= 0 and tt < C
        if C == 0:
            out[i] = False
        else:
            tc = tt if ok else 0
            tv = p[i * C + tc]
            above = 0
            finite = True
            for j in range(C):
                v = p[i * C + j]
                if not (v == v and v != INF and v != -INF):
                    finite = False
                if v > tv:
                    above += 1
            out[i] = ok and finite and above < k
        i += _st
"""


def _arg_extreme_src(dt: DType, is_max: bool) -> str:
    cmp = ">" if is_max else "<"
    return f"""def kernel(n, L, inner, x, out):
    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
        o = i // inner
        k = i - o * inner
        base = o * L * inner + k
        m = x[base]
        bi = 0
        for j in range(1, L):
            v = x[base + j * inner]
            if m == m and (v {cmp} m or v != v):
                m = v
                bi = j
        out[i] = bi
        i += _st
"""


TEMPLATES["one_hot"] = lambda: _one_hot_src()
TEMPLATES["gather"] = lambda dt: _gather_src(dt)
TEMPLATES["gather_grad"] = lambda: _gather_grad_src()
TEMPLATES["in_top_k"] = lambda dt: _in_top_k_src(dt)
TEMPLATES["argmax"] = lambda dt: _arg_extreme_src(dt, True)
TEMPLATES["argmin"] = lambda dt: _arg_extreme_src(dt, False)


@library_op("argmax", "argmin")
def _argx(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x = op.operands[0]
    out = step.writes[0]
    ixb = ex.storage[id(x)].idx

    def bind(shapes, plan):
        xs = _shape(shapes, x)
        outer, L, inner = _axis_split(xs, op.attrs["axis"])
        n = outer * inner
        if n == 0:
            return []
        if L == 0:
            raise InvalidArgumentError(f"Reduction axis {op.attrs['axis']} is empty in shape "
                                       f"{list(xs)}{op_where(op)}")
        k = kernel(op.opname, dt=_dt(x))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, L), (0, inner), (1, ixb), (1, out.idx)])]
    step.bind = bind


@library_op("in_top_k")
def _in_top_k(ex: CUDAExecutable, step: Step, op: Op) -> None:
    p, t = op.operands
    out = step.writes[0]
    ip, itt = ex.storage[id(p)].idx, ex.storage[id(t)].idx

    def bind(shapes, plan):
        n, C = _shape(shapes, p)
        if n == 0:
            return []
        k = kernel("in_top_k", dt=_dt(p))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, C), (0, int(op.attrs["k"])), (1, ip),
                                        (1, itt), (1, out.idx)])]
    step.bind = bind


@library_op("one_hot")
def _one_hot(ex: CUDAExecutable, step: Step, op: Op) -> None:
    idx, on, off = op.operands
    out = step.writes[0]
    ii, ion, ioff = (ex.storage[id(v)].idx for v in (idx, on, off))

    def bind(shapes, plan):
        isz = _shape(shapes, idx)
        rank = len(isz)
        ax = rank if op.attrs["axis"] == -1 else op.attrs["axis"]
        inner = _prod(isz[ax:])
        depth = op.attrs["depth"]
        n = _prod(_shape(shapes, op.result))
        if n == 0:
            return []
        k = kernel("one_hot")
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, depth), (0, inner), (1, out.idx), (1, ii),
                                        (1, ion), (1, ioff)])]
    step.bind = bind


@library_op("gather")
def _gather(ex: CUDAExecutable, step: Step, op: Op) -> None:
    params, idx = op.operands
    out = step.writes[0]
    ip, ii = ex.storage[id(params)].idx, ex.storage[id(idx)].idx
    code = ex.errors.code("gather index out of range" + op_where(op), exact=True)

    def bind(shapes, plan):
        ps = _shape(shapes, params)
        outer, alen, inner = _axis_split(ps, op.attrs["axis"])
        nidx = _prod(_shape(shapes, idx))
        n = outer * nidx * inner
        if n == 0:
            return []
        k = kernel("gather", dt=_dt(params))
        grid, block = ex.grid_for(n)
        return [Launch(k, grid, block, [(0, n), (0, inner), (0, nidx), (0, alen),
                                        (1, out.idx), (1, ip), (1, ii), (3, None),
                                        (0, code)])]
    step.bind = bind


@library_op("gather_grad")
def _gather_grad(ex: CUDAExecutable, step: Step, op: Op) -> None:
    g, idx, like = op.operands
    out = step.writes[0]
    ig, ii = ex.storage[id(g)].idx, ex.storage[id(idx)].idx
    code = ex.errors.code("gather index out of range" + op_where(op), exact=True)

    def bind(shapes, plan):
        ls = _shape(shapes, like)
        outer, alen, inner = _axis_split(ls, op.attrs["axis"])
        nidx = _prod(_shape(shapes, idx))
        n = outer * nidx * inner
        launches = ex._fill_launch(out.idx, _prod(ls), 0)
        if n == 0:
            return launches
        k = kernel("gather_grad")
        grid, block = ex.grid_for(n)
        return launches + [Launch(k, grid, block, [(0, n), (0, inner), (0, nidx), (0, alen),
                                                   (1, out.idx), (1, ig), (1, ii), (3, None),
                                                   (0, code)])]
    step.bind = bind

