"""Kernels for the ops that are not elementwise or reductions: GEMM (tiled, shared memory),
convolution (im2col / col2im around a GEMM), pooling and its gradients, softmax and the
cross-entropies, argmax, in_top_k, gather (and its scatter-add gradient), one_hot, tile, and
strided copies (concat, split, pad, strided_slice_grad).

Each is a Python source template specialized by dtype (typed literals, shared-memory arrays)
and, where it unrolls index arithmetic, by rank; ``kernel(name, **spec)`` compiles it once per
specialization. Buffers are flat; shapes arrive as integer arguments, so a new batch size
reuses the compiled kernel.
"""
from __future__ import annotations

import numpy as np

from ...ir.dtypes import DType
from .codegen import CTOR, lit
from .runtime_ns import compile_source


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


def _copy_strided(rank: int) -> str:
    """dst[db + sum ix*ds] = src[sb + sum ix*ss] over dims (rank >= 1)."""
    d = " + ".join(f"ix{a} * ds[{a}]" for a in range(rank))
    s = " + ".join(f"ix{a} * ss[{a}]" for a in range(rank))
    return (f"def kernel(n, dims, dst, db, ds, src, sb, ss):\n{GRID_LOOP}"
            f"{_unravel('i', 'dims', rank, 'ix', '        ')}\n"
            f"        dst[db + {d}] = src[sb + {s}]\n"
            f"        i += _st\n")


def _fill() -> str:
    return f"def kernel(n, dst, value):\n{GRID_LOOP}        dst[i] = value\n        i += _st\n"


def _tile(rank: int) -> str:
    lines = ["def kernel(n, odims, idims, dst, src):", GRID_LOOP.rstrip("\n"),
             _unravel("i", "odims", rank, "ix", "        "),
             "        off = 0", "        acc = 1"]
    for a in range(rank - 1, -1, -1):
        lines.append(f"        off += (ix{a} % idims[{a}]) * acc")
        lines.append(f"        acc *= idims[{a}]")
    lines += ["        dst[i] = src[off]", "        i += _st"]
    return "\n".join(lines) + "\n"


def _tile_grad(rank: int, dt: DType) -> str:
    acc_t = _acc_t(dt)
    lines = ["def kernel(n, idims, mult, ntile, out, g):", GRID_LOOP.rstrip("\n"),
             _unravel("i", "idims", rank, "ix", "        "),
             f"        acc = {acc_t}(0)",
             "        t = 0",
             "        while t < ntile:",
             _unravel("t", "mult", rank, "jx", "            "),
             "            off = 0",
             "            st = 1"]
    for a in range(rank - 1, -1, -1):
        lines.append(f"            off += (jx{a} * idims[{a}] + ix{a}) * st")
        lines.append(f"            st *= idims[{a}] * mult[{a}]")
    lines += [f"            acc = acc + {acc_t}(g[off])", "            t += 1",
              f"        out[i] = {CTOR[dt.short]}(acc)", "        i += _st"]
    return "\n".join(lines) + "\n"


def _one_hot() -> str:
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


def _gather(dt: DType) -> str:
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


def _gather_grad() -> str:
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


def _gemm(dt: DType, tile: int, reg: int) -> str:
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


# geometry tuple g = (N, H, W, C, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL)
_GEO = ("    NB = g[0]\n    H = g[1]\n    W = g[2]\n    C = g[3]\n    OH = g[4]\n    OW = g[5]\n"
        "    KH = g[6]\n    KW = g[7]\n    SH = g[8]\n    SW = g[9]\n    DH = g[10]\n"
        "    DW = g[11]\n    PT = g[12]\n    PL = g[13]\n")


def _im2col(dt: DType) -> str:
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


def _col2im(dt: DType) -> str:
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


# pooling geometry p = (N, H, W, C, OH, OW, KH, KW, SH, SW, PT, PL)
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


def _max_pool(dt: DType) -> str:
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


def _max_pool_grad(dt: DType) -> str:
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


def _max_pool_grad_grad(dt: DType) -> str:
    return f"""def kernel(n, p, x, gg, out):
{_PGEO}{GRID_LOOP}{_OUT_IDX}{_argmax_window(dt, '        ')}        out[i] = gg[((b * H + ph) * W + pw) * C + c]
        i += _st
"""


_COUNT = """{ind}h0 = {oh} * SH - PT
{ind}w0 = {ow} * SW - PL
{ind}ch = min(h0 + KH, H) - max(h0, 0)
{ind}cw = min(w0 + KW, W) - max(w0, 0)
{ind}cnt = {T}(ch * cw)
"""


def _avg_pool(dt: DType) -> str:
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


def _avg_pool_grad(dt: DType) -> str:
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


def _softmax(dt: DType, log: bool) -> str:
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
        s = {lit(0, dt)}
        for j in range(L):
            s = s + {T}(_exp_{T}(x[base + j * inner] - m))
{lse}        for j in range(L):
            z = x[base + j * inner] - m
{tail}        i += _st
"""


def _sparse_xent(dt: DType) -> str:
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
            s = {lit(0, dt)}
            for j in range(L):
                s = s + {T}(_exp_{T}(logits[base + j] - m))
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


def _xent(dt: DType, rank: int) -> str:
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
        s = {lit(0, dt)}
        for j in range(L):
            s = s + {T}(_exp_{T}(x[xb + j * xl] - m))
        lse = {T}(_log_{T}(s))
        acc = {lit(0, dt)}
        for j in range(L):
            lp = (x[xb + j * xl] - m) - lse
            yv = y[yb + j * yl]
            acc = acc + _mul_{T}(yv, lp)
            bp[i * L + j] = {T}(_exp_{T}(lp)) - yv
        loss[i] = -acc
        i += _st
"""


def _in_top_k(dt: DType) -> str:
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


def _arg_extreme(dt: DType, is_max: bool) -> str:
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


TEMPLATES = {
    "copy_strided": lambda rank: _copy_strided(rank),
    "fill": lambda: _fill(),
    "tile": lambda rank: _tile(rank),
    "tile_grad": lambda rank, dt: _tile_grad(rank, dt),
    "one_hot": lambda: _one_hot(),
    "gather": lambda dt: _gather(dt),
    "gather_grad": lambda: _gather_grad(),
    "gemm": lambda dt, tile, reg: _gemm(dt, tile, reg),
    "im2col": lambda dt: _im2col(dt),
    "col2im": lambda dt: _col2im(dt),
    "max_pool": lambda dt: _max_pool(dt),
    "max_pool_grad": lambda dt: _max_pool_grad(dt),
    "max_pool_grad_grad": lambda dt: _max_pool_grad_grad(dt),
    "avg_pool": lambda dt: _avg_pool(dt),
    "avg_pool_grad": lambda dt: _avg_pool_grad(dt),
    "softmax": lambda dt: _softmax(dt, False),
    "log_softmax": lambda dt: _softmax(dt, True),
    "sparse_xent": lambda dt: _sparse_xent(dt),
    "xent": lambda dt, rank: _xent(dt, rank),
    "in_top_k": lambda dt: _in_top_k(dt),
    "argmax": lambda dt: _arg_extreme(dt, True),
    "argmin": lambda dt: _arg_extreme(dt, False),
}


def source(name: str, **spec) -> str:
    return TEMPLATES[name](**spec)


def kernel(name: str, **spec):
    """The compiled (Numba dispatcher) kernel ``name`` for ``spec`` (dtype, rank, ...)."""
    return compile_source(source(name, **spec), ("kernel",))["kernel"]
