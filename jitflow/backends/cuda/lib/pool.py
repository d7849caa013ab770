"""Max and average pooling and their gradients (kernel sources and launches)."""
from __future__ import annotations

from typing import TYPE_CHECKING


from ....ir.core import Op
from ....ir.dtypes import DType
from ....ops.window import window_geometry
from ....passes.fusion import data_operands
from ..source import lit
from ..steps import Launch, Step
from . import GRID_LOOP, LIBRARY, TEMPLATES, _dt, _lowest, _prod, _shape, kernel

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


_PGEO = ("    NB = p[0]\n    H = p[1]\n    W = p[2]\n    C = p[3]\n    OH = p[4]\n    OW = p[5]\n"
         "    KH = p[6]\n    KW = p[7]\n    SH = p[8]\n    SW = p[9]\n    PT = p[10]\n"
         "    PL = p[11]\n")


_OUT_IDX = """        c = i % C
        t = i // C
        ow = t % OW
        t = t // OW
        oh = t % OH
        b = t // OH
"""


_IN_IDX = """        c = i % C
        t = i // C
        w = t % W
        t = t // W
        h = t % H
        b = t // H
"""


def _argmax_window(dt: DType, ind: str) -> str:
    """Sets (ph, pw), the window's first maximum (row-major; NaN wins), of window (oh, ow)."""
    return f"""{ind}m = {_lowest(dt)}
{ind}ph = -1
{ind}pw = -1
{ind}for a in range(KH):
{ind}    hh = oh * SH - PT + a
{ind}    if hh >= 0 and hh < H:
{ind}        for bb in range(KW):
{ind}            ww = ow * SW - PL + bb
{ind}            if ww >= 0 and ww < W:
{ind}                v = x[((b * H + hh) * W + ww) * C + c]
{ind}                if ph < 0 or v > m or (v != v and m == m):
{ind}                    m = v
{ind}                    ph = hh
{ind}                    pw = ww
"""


_COUNT = """{ind}h0 = {oh} * SH - PT
{ind}w0 = {ow} * SW - PL
{ind}ch = min(h0 + KH, H) - max(h0, 0)
{ind}cw = min(w0 + KW, W) - max(w0, 0)
{ind}cnt = {T}(ch * cw)
"""


def _max_pool_src(dt: DType) -> str:
    return f"""def kernel(n, p, x, out):
{_PGEO}{GRID_LOOP}{_OUT_IDX}        m = {_lowest(dt)}
        for a in range(KH):
            hh = oh * SH - PT + a
            if hh >= 0 and hh < H:
                for bb in range(KW):
                    ww = ow * SW - PL + bb
                    if ww >= 0 and ww < W:
                        v = x[((b * H + hh) * W + ww) * C + c]
                        if v > m or v != v:
                            m = v
        out[i] = m
        i += _st
"""


def _max_pool_grad_src(dt: DType) -> str:
    return f"""def kernel(n, p, x, gy, dx):
{_PGEO}{GRID_LOOP}{_IN_IDX}        acc = {lit(0, dt)}
        for ik in range(KH):
            qh = h + PT - ik
            if qh >= 0 and qh % SH == 0 and qh // SH < OH:
                oh = qh // SH
                for jk in range(KW):
                    qw = w + PL - jk
                    if qw >= 0 and qw % SW == 0 and qw // SW < OW:
                        ow = qw // SW
{_argmax_window(dt, '                        ')}                        if ph == h and pw == w:
                            acc = acc + gy[((b * OH + oh) * OW + ow) * C + c]
        dx[i] = acc
        i += _st
"""


def _max_pool_grad_grad_src(dt: DType) -> str:
    return f"""def kernel(n, p, x, gg, out):
{_PGEO}{GRID_LOOP}{_OUT_IDX}{_argmax_window(dt, '        ')}        out[i] = gg[((b * H + ph) * W + pw) * C + c]
        i += _st
"""


def _avg_pool_src(dt: DType) -> str:
    T = dt.short
    return f"""def kernel(n, p, x, out):
{_PGEO}{GRID_LOOP}{_OUT_IDX}        s = {lit(0, dt)}
        for a in range(KH):
            hh = oh * SH - PT + a
            if hh >= 0 and hh < H:
                for bb in range(KW):
                    ww = ow * SW - PL + bb
                    if ww >= 0 and ww < W:
                        s = s + x[((b * H + hh) * W + ww) * C + c]
{_COUNT.format(ind='        ', oh='oh', ow='ow', T=T)}        out[i] = s / cnt
        i += _st
"""


def _avg_pool_grad_src(dt: DType) -> str:
    T = dt.short
    return f"""def kernel(n, p, gy, dx):
{_PGEO}{GRID_LOOP}{_IN_IDX}        acc = {lit(0, dt)}
        for ik in range(KH):
            qh = h + PT - ik
            if qh >= 0 and qh % SH == 0 and qh // SH < OH:
                oh = qh // SH
                for jk in range(KW):
                    qw = w + PL - jk
                    if qw >= 0 and qw % SW == 0 and qw // SW < OW:
                        ow = qw // SW
{_COUNT.format(ind='                        ', oh='oh', ow='ow', T=T)}                        acc = acc + gy[((b * OH + oh) * OW + ow) * C + c] / cnt
        dx[i] = acc
        i += _st
"""


TEMPLATES["max_pool"] = lambda dt: _max_pool_src(dt)
TEMPLATES["max_pool_grad"] = lambda dt: _max_pool_grad_src(dt)
TEMPLATES["max_pool_grad_grad"] = lambda dt: _max_pool_grad_grad_src(dt)
TEMPLATES["avg_pool"] = lambda dt: _avg_pool_src(dt)
TEMPLATES["avg_pool_grad"] = lambda dt: _avg_pool_grad_src(dt)


def _pool_geo(xs, attrs):
    from ....ops.window import window_geometry
    (kh, kw), (sh, sw) = attrs["ksize"], attrs["strides"]
    oh, pt, _ = window_geometry(xs[1], kh, sh, 1, attrs["padding"])
    ow, pl, _ = window_geometry(xs[2], kw, sw, 1, attrs["padding"])
    return (xs[0], xs[1], xs[2], xs[3], oh, ow, kh, kw, sh, sw, pt, pl)


def _pool(kname: str, x_index: int, n_from: str):
    def handler(ex: CUDAExecutable, step: Step, op: Op) -> None:
        out = step.writes[0]
        xv = op.operands[x_index]
        dt = _dt(op.result)
        ins = [ex.storage[id(v)].idx for _, v in data_operands(op)]

        def bind(shapes, plan):
            xs = _shape(shapes, xv)
            p = _pool_geo(xs, op.attrs)
            n = _prod(_shape(shapes, op.result))
            if n == 0:
                return []
            k = kernel(kname, dt=dt)
            grid, block = ex.grid_for(n)
            return [Launch(k, grid, block, [(0, n), (0, p)] + [(1, i) for i in ins] +
                           [(1, out.idx)])]
        step.bind = bind
    return handler


LIBRARY["max_pool"] = _pool("max_pool", 0, "out")
LIBRARY["max_pool_grad"] = _pool("max_pool_grad", 0, "in")
LIBRARY["max_pool_grad_grad"] = _pool("max_pool_grad_grad", 0, "out")
LIBRARY["avg_pool"] = _pool("avg_pool", 0, "out")
LIBRARY["avg_pool_grad"] = _pool("avg_pool_grad", 1, "in")
