"""conv2d and its backprops: im2col / col2im around one GEMM (kernel sources and
launches)."""
from __future__ import annotations

from typing import TYPE_CHECKING


from ....ir.core import Op, Value
from ....ir.dtypes import DType
from ....ops.window import window_geometry
from ..source import lit
from ..steps import Launch, Step
from .gemm import _gemm2d
from ....kernels.plan import Buffer
from . import TEMPLATES, _dt, _prod, _scratch, _shape, kernel, library_op

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


_GEO = ("    NB = g[0]\n    H = g[1]\n    W = g[2]\n    C = g[3]\n    OH = g[4]\n    OW = g[5]\n"
        "    KH = g[6]\n    KW = g[7]\n    SH = g[8]\n    SW = g[9]\n    DH = g[10]\n"
        "    DW = g[11]\n    PT = g[12]\n    PL = g[13]\n")


def _im2col_src(dt: DType) -> str:
    return f"""def kernel(n, g, x, cols):
{_GEO}    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
        c = i % C
        t = i // C
        jk = t % KW
        t = t // KW
        ik = t % KH
        t = t // KH
        ow = t % OW
        t = t // OW
        oh = t % OH
        b = t // OH
        h = oh * SH - PT + ik * DH
        w = ow * SW - PL + jk * DW
        if h >= 0 and h < H and w >= 0 and w < W:
            cols[i] = x[((b * H + h) * W + w) * C + c]
        else:
            cols[i] = {lit(0, dt)}
        i += _st
"""


def _col2im_src(dt: DType) -> str:
    return f"""def kernel(n, g, dcols, dx):
{_GEO}    KK = KH * KW * C
    i = cuda.grid(1)
    _st = cuda.gridsize(1)
    while i < n:
        c = i % C
        t = i // C
        w = t % W
        t = t // W
        h = t % H
        b = t // H
        acc = {lit(0, dt)}
        for ik in range(KH):
            ph = h + PT - ik * DH
            if ph >= 0 and ph % SH == 0 and ph // SH < OH:
                oh = ph // SH
                for jk in range(KW):
                    pw = w + PL - jk * DW
                    if pw >= 0 and pw % SW == 0 and pw // SW < OW:
                        ow = pw // SW
                        acc = acc + dcols[((b * OH + oh) * OW + ow) * KK + (ik * KW + jk) * C + c]
        dx[i] = acc
        i += _st
"""


TEMPLATES["im2col"] = lambda dt: _im2col_src(dt)
TEMPLATES["col2im"] = lambda dt: _col2im_src(dt)


def _conv_geo(xs, ws, attrs):
    from ....ops.window import window_geometry
    (sh, sw), (dh, dw) = attrs["strides"], attrs["dilations"]
    oh, pt, _ = window_geometry(xs[1], ws[0], sh, dh, attrs["padding"])
    ow, pl, _ = window_geometry(xs[2], ws[1], sw, dw, attrs["padding"])
    return (xs[0], xs[1], xs[2], xs[3], oh, ow, ws[0], ws[1], sh, sw, dh, dw, pt, pl)


def _im2col_launch(ex: CUDAExecutable, geo, ix: int, icols: int, dt) -> list:
    n = geo[0] * geo[4] * geo[5] * geo[6] * geo[7] * geo[3]
    if n == 0:
        return []
    k = kernel("im2col", dt=dt)
    grid, block = ex.grid_for(n)
    return [Launch(k, grid, block, [(0, n), (0, tuple(geo)), (1, ix), (1, icols)])]


def _conv_dims(shapes, x: Value, w: Value, attrs) -> tuple:
    """(geometry, M, K, O) of a convolution as one GEMM: M output pixels, K = kh*kw*cin,
    O output channels."""
    g = _conv_geo(_shape(shapes, x), _shape(shapes, w), attrs)
    return g, g[0] * g[4] * g[5], g[6] * g[7] * g[3], _shape(shapes, w)[3]


def _cols_scratch(ex: CUDAExecutable, step: Step, op: Op, x: Value, w: Value, dt, what: str) -> Buffer:
    """Scratch for the (M, K) im2col matrix of a convolution, sized per input shape."""
    def nbytes(shapes):
        _, M, K, _ = _conv_dims(shapes, x, w, op.attrs)
        return M * K * dt.np.itemsize
    return _scratch(ex, step, nbytes, dt.np, f"{op.loc.tf_name or 'conv2d'}/{what}")


@library_op("conv2d")
def _conv2d(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x, w = op.operands
    out = step.writes[0]
    dt = _dt(x)
    ix, iw = ex.storage[id(x)].idx, ex.storage[id(w)].idx
    cols = _cols_scratch(ex, step, op, x, w, dt, "im2col")

    def bind(shapes, plan):
        g, M, K, O = _conv_dims(shapes, x, w, op.attrs)
        if M == 0 or O == 0:
            return []
        if K == 0:
            return ex._fill_launch(out.idx, M * O, 0)
        return (_im2col_launch(ex, g, ix, cols.idx, dt) +
                _gemm2d(ex, cols.idx, (M, K), False, iw, (K, O), False, out.idx))
    step.bind = bind


@library_op("conv2d_backprop_filter")
def _conv_bpf(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x, gy, like = op.operands
    out = step.writes[0]
    dt = _dt(x)
    ix, ig = ex.storage[id(x)].idx, ex.storage[id(gy)].idx
    cols = _cols_scratch(ex, step, op, x, like, dt, "im2col")

    def bind(shapes, plan):
        g, M, K, O = _conv_dims(shapes, x, like, op.attrs)
        if K == 0 or O == 0:
            return []
        if M == 0:
            return ex._fill_launch(out.idx, K * O, 0)
        return (_im2col_launch(ex, g, ix, cols.idx, dt) +
                _gemm2d(ex, cols.idx, (M, K), True, ig, (M, O), False, out.idx))
    step.bind = bind


@library_op("conv2d_backprop_input")
def _conv_bpi(ex: CUDAExecutable, step: Step, op: Op) -> None:
    gy, w, like = op.operands
    out = step.writes[0]
    dt = _dt(gy)
    ig, iw = ex.storage[id(gy)].idx, ex.storage[id(w)].idx
    dcols = _cols_scratch(ex, step, op, like, w, dt, "dcols")

    def bind(shapes, plan):
        g, M, K, O = _conv_dims(shapes, like, w, op.attrs)
        xs = _shape(shapes, like)
        n = _prod(xs)
        if n == 0:
            return []
        if M == 0 or K == 0 or O == 0:
            return ex._fill_launch(out.idx, n, 0)
        k = kernel("col2im", dt=dt)
        grid, block = ex.grid_for(n)
        return (_gemm2d(ex, ig, (M, O), False, iw, (K, O), True, dcols.idx) +
                [Launch(k, grid, block, [(0, n), (0, tuple(g)), (1, dcols.idx), (1, out.idx)])])
    step.bind = bind

