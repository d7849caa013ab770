"""relu_bias_grad: a layer's relu and bias gradients in one pass over the output gradient.

Rows of C channels (every axis but the last flattened): ``dz = y > 0 ? g : 0`` is stored, and
added per channel in float32 over blocks of ``COLUMN_BLOCK`` rows, each block's sums flushed
into float64 partials (accum.py's column-sum scheme). Parallel over blocks of rows
(``parallel_units``, one contiguous share per thread, each with its own partials, combined in
thread order afterwards), above ``PARALLEL_MIN`` elements.
"""
from __future__ import annotations

from ....ir.core import Op
from ....ir.dtypes import float64
from .. import threads
from ..accum import COLUMN_BLOCK, narrow, widen
from ..compiler import CUSTOM_KERNELS
from ..emitter import rtype
from ..parallel import PARALLEL_MIN
from .conv_gemm import _cap_value, _run_units
from .ir import _IR, _dims, _ptr, _zero


def _relu_bias_grad(gen, op: Op) -> None:
    g, y = op.operands
    dz, db = op.results
    dzp, dbp = gen.out_ptr(dz), gen.out_ptr(db)
    if dzp is None and dbp is None:
        return
    ir = _IR(gen)
    dt = g.type.dtype
    dims = _dims(gen, g)
    C = dims[-1]
    R = ir.prod(dims[:-1])
    gp, yp = _ptr(gen, g), _ptr(gen, y)
    gi = id(g)

    def rows_of(s):
        n = 1
        for d in s[gi][:-1]:
            n *= d
        return n

    def cap_fn(s):
        if rows_of(s) * s[gi][-1] < PARALLEL_MIN:
            return 1
        return max(threads.available_cpus(), threads.fixed_threads() or 1)
    cap = gen.runtime_param(("rbg_cap", id(op)), cap_fn)
    nblk = gen.runtime_param(("rbg_blocks", id(op)), lambda s: -(-rows_of(s) // COLUMN_BLOCK))
    csz = lambda s: max(1, s[gi][-1])  # noqa: E731
    acc = gen.scratch(lambda s: dt.np.itemsize * csz(s) * _cap_value(gen, cap, s))
    wide = gen.scratch(lambda s: 8 * csz(s) * _cap_value(gen, cap, s))

    def body(lo, hi, tid):
        a32 = ir.gep(dt, acc, ir.mul(tid, C))
        a64 = ir.gep(float64, wide, ir.mul(tid, C))
        if dbp is not None:
            ir.fill(float64, a64, C, "0.0")

        def block(b):
            r0 = ir.mul(b, str(COLUMN_BLOCK))
            r1 = ir.smin(ir.add(r0, str(COLUMN_BLOCK)), R)
            if dbp is not None:
                ir.fill(dt, a32, C, _zero(dt))

            def row(r):
                base = ir.mul(r, C)

                def ch(c):
                    o = ir.add(base, c)
                    yv = ir.ld(dt, yp, o)
                    pos = ir.em.op(f"fcmp ogt {rtype(dt)} {yv}, {_zero(dt)}")
                    v = ir.sel(pos, rtype(dt), ir.ld(dt, gp, o), _zero(dt))
                    if dzp is not None:
                        ir.st(dt, v, dzp, o)
                    if dbp is not None:
                        ir.st(dt, ir.fadd(dt, ir.ld(dt, a32, c), v), a32, c)
                ir.vloop(C, ch)
            ir.range(r0, r1, row)
            if dbp is not None:
                ir.vloop(C, lambda c: ir.st(float64, ir.em.op(
                    f"fadd double {ir.ld(float64, a64, c)}, {widen(ir.em, dt, ir.ld(dt, a32, c))}"),
                    a64, c))
        ir.range(lo, hi, block)

    def post(nt):
        if dbp is None:
            return

        def ch(c):
            s = ir.local("double")
            ir.put("double", "0.0", s)
            ir.loop(nt, lambda t: ir.put("double", ir.em.op(
                f"fadd double {ir.get('double', s)}, "
                f"{ir.ld(float64, wide, ir.add(ir.mul(t, C), c))}"), s))
            ir.st(dt, narrow(ir.em, dt, ir.get("double", s)), dbp, c)
        ir.loop(C, ch)
    _run_units(gen, ir, nblk, cap, False, body, post, blas=False)


CUSTOM_KERNELS["relu_bias_grad"] = _relu_bias_grad
