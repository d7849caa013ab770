"""Matrix products: cuBLAS (through CuPy) when it is there, else the tiled shared-memory
GEMM kernel (its source and launches)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ....ir.core import Op
from ....ir.dtypes import DType, as_dtype
from ..blas import raw_gemm
from ..source import CTOR, lit
from ..steps import Launch, Step
from . import TEMPLATES, _acc_t, _prod, _shape, kernel, library_op

if TYPE_CHECKING:
    from ..executable import CUDAExecutable


def _gemm_src(dt: DType, tile: int, reg: int) -> str:
    """C[b] = A[b] @ B[b] with shared-memory tiles of (tile*reg)^2 and each of the tile^2
    threads of a block computing a reg x reg patch of C from registers (a local array)."""
    acc_t = _acc_t(dt)
    bm = tile * reg
    z = lit(0, dt)
    mul = f"_mul_{dt.short}(a, sB[kk, tx * {reg} + j])" if dt.is_floating else \
        f"a * {acc_t}(sB[kk, tx * {reg} + j])"
    load_a = "a = sA[ty * %d + ii, kk]" % reg if dt.is_floating else \
        f"a = {acc_t}(sA[ty * {reg} + ii, kk])"
    return f"""def kernel(M, N, K, A, aoff, sam, sak, B, boff, sbk, sbn, C):
    sA = cuda.shared.array(({bm}, {bm}), {dt.short})
    sB = cuda.shared.array(({bm}, {bm}), {dt.short})
    acc = cuda.local.array(({reg}, {reg}), {acc_t})
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * {tile} + tx
    row0 = cuda.blockIdx.y * {bm}
    col0 = cuda.blockIdx.x * {bm}
    bz = cuda.blockIdx.z
    ab = aoff[bz]
    bb = boff[bz]
    for ii in range({reg}):
        for j in range({reg}):
            acc[ii, j] = {acc_t}(0)
    t = 0
    while t < K:
        e = tid
        while e < {bm * bm}:
            r = e // {bm}
            c = e - r * {bm}
            if row0 + r < M and t + c < K:
                sA[r, c] = A[ab + (row0 + r) * sam + (t + c) * sak]
            else:
                sA[r, c] = {z}
            if t + r < K and col0 + c < N:
                sB[r, c] = B[bb + (t + r) * sbk + (col0 + c) * sbn]
            else:
                sB[r, c] = {z}
            e += {tile * tile}
        cuda.syncthreads()
        for kk in range({bm}):
            for ii in range({reg}):
                {load_a}
                for j in range({reg}):
                    acc[ii, j] = acc[ii, j] + {mul}
        cuda.syncthreads()
        t += {bm}
    for ii in range({reg}):
        row = row0 + ty * {reg} + ii
        if row < M:
            for j in range({reg}):
                col = col0 + tx * {reg} + j
                if col < N:
                    C[bz * M * N + row * N + col] = {CTOR[dt.short]}(acc[ii, j])
"""


TEMPLATES["gemm"] = lambda dt, tile, reg: _gemm_src(dt, tile, reg)


@library_op("matmul")
def _matmul(ex: CUDAExecutable, step: Step, op: Op) -> None:
    x, y = op.operands
    out = step.writes[0]
    ta, tb = op.attrs["transpose_a"], op.attrs["transpose_b"]
    ia, ib = ex.storage[id(x)].idx, ex.storage[id(y)].idx

    def bind(shapes, plan):
        xs, ys, os_ = _shape(shapes, x), _shape(shapes, y), _shape(shapes, op.result)
        M, N = os_[-2], os_[-1]
        K = xs[-2] if ta else xs[-1]
        if _prod(os_) == 0:
            return []
        if len(xs) == 2 and len(ys) == 2:
            return _gemm2d(ex, ia, xs, ta, ib, ys, tb, out.idx)
        if ex.cp is not None:
            cp = ex.cp

            def fn(bufs, args):
                a = ex.cp_view(bufs[ia], xs)
                b = ex.cp_view(bufs[ib], ys)
                if ta:
                    a = cp.swapaxes(a, -1, -2)
                if tb:
                    b = cp.swapaxes(b, -1, -2)
                cp.matmul(a, b, out=ex.cp_view(bufs[out.idx], os_))
            return [Launch(fn=fn)]
        return _gemm_launches(ex, ia, xs, ta, ib, ys, tb, out.idx, os_, M, N, K)
    step.bind = bind


def _gemm_launches(self: CUDAExecutable, ia, xs, ta, ib, ys, tb, ic, os_, M, N, K,
                   a_base=0, b_base=0) -> list:
    """C[batch] = op(A) @ op(B) with the tiled shared-memory kernel (batch dims broadcast)."""
    ob = os_[:-2]
    nb = _prod(ob)
    if nb == 0 or M == 0 or N == 0:
        return []
    xb, yb = xs[:-2], ys[:-2]
    xr, xc = xs[-2], xs[-1]
    yr, yc = ys[-2], ys[-1]

    def offsets(b_shape, mat):
        if not b_shape:
            return np.zeros(max(nb, 1), dtype=np.int64)
        base = np.arange(_prod(b_shape), dtype=np.int64).reshape(b_shape) * mat
        return np.ascontiguousarray(np.broadcast_to(base, ob)).reshape(-1)
    aoff = self._upload(offsets(xb, xr * xc) + a_base, "matmul batch offsets")
    boff = self._upload(offsets(yb, yr * yc) + b_base, "matmul batch offsets")
    sam, sak = (1, xc) if ta else (xc, 1)
    sbk, sbn = (1, yc) if tb else (yc, 1)
    dt = self.bufs[ic].np_dtype()
    from ....ir.dtypes import as_dtype
    jdt = as_dtype(dt)
    t = self.tile
    reg = 4 if self.sim or dt.itemsize == 4 else 2     # 48 KiB of static shared memory
    k = kernel("gemm", dt=jdt, tile=t, reg=reg)
    bm = t * reg
    grid = ((N + bm - 1) // bm, (M + bm - 1) // bm, nb)
    L = Launch(k, grid, (t, t), [(0, M), (0, N), (0, K), (1, ia), (0, aoff), (0, sam),
                                 (0, sak), (1, ib), (0, boff), (0, sbk), (0, sbn), (1, ic)])
    return [L]


def _gemm2d(ex: CUDAExecutable, ia, a_shape, ta, ib, b_shape, tb, ic) -> list:
    """A 2-D GEMM between flat buffers: C = op(A) @ op(B)."""
    M = a_shape[1] if ta else a_shape[0]
    K = a_shape[0] if ta else a_shape[1]
    N = b_shape[0] if tb else b_shape[1]
    if M == 0 or N == 0:
        return []
    if K == 0:
        return ex._fill_launch(ic, M * N, 0)
    g = raw_gemm(ex.cp)
    if g is not None and g.supports(ex.bufs[ic].np_dtype()):
        dt, ptr = ex.bufs[ic].np_dtype(), ex.device_ptr
        lda, ldb = a_shape[1], b_shape[1]

        def fn(bufs, args):
            g(dt, ta, tb, M, N, K, ptr(bufs[ia]), lda, ptr(bufs[ib]), ldb, ptr(bufs[ic]))
        return [Launch(fn=fn)]
    if ex.cp is not None:
        cp = ex.cp

        def fn(bufs, args):
            a = ex.cp_view(bufs[ia], a_shape)
            b = ex.cp_view(bufs[ib], b_shape)
            cp.matmul(a.T if ta else a, b.T if tb else b, out=ex.cp_view(bufs[ic], (M, N)))
        return [Launch(fn=fn)]
    return _gemm_launches(ex, ia, a_shape, ta, ib, b_shape, tb, ic, (M, N), M, N, K)

