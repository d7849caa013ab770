"""cumsum and cumprod: one pass along the axis, row after row; the rows' contiguous inner
elements form the vectorized innermost loop (``y[q, a, :] = y[q, a - 1, :] + x[q, a, :]``)."""
from __future__ import annotations

from ....ir.core import Op
from ....ops.scan import scan_axis
from ..compiler import CUSTOM_KERNELS
from ..emitter import const, rtype
from .ir import _IR, _reader
from .softmax import _axis_rows


def _scan(gen, op: Op) -> None:
    x = op.operands[0]
    yp = gen.out_ptr(op.result)
    if yp is None:
        return
    ir = _IR(gen)
    dt = x.type.dtype
    t = rtype(dt)
    excl, rev = op.attrs["exclusive"], op.attrs["reverse"]
    is_sum = op.opname == "cumsum"
    ident = const(0 if is_sum else 1, dt)
    pre, D, inner = _axis_rows(ir, gen, x, scan_axis(len(x.type.shape), op.attrs["axis"]))
    rx = _reader(gen, x)

    def combine(a: str, b: str) -> str:
        if dt.is_floating:
            return ir.fadd(dt, a, b) if is_sum else ir.fmul(dt, a, b)
        return gen.em.op(f"{'add' if is_sum else 'mul'} {t} {a}, {b}")

    def row(ix):
        q, a = ix
        pos = ir.sub(ir.sub(D, "1"), a) if rev else a
        first = ir.cmp("eq", a, "0")
        prev = ir.sel(first, "i64", pos, ir.add(pos, "1") if rev else ir.sub(pos, "1"))
        base = ir.mul(ir.add(ir.mul(q, D), pos), inner)
        pbase = ir.mul(ir.add(ir.mul(q, D), prev), inner)

        def elem(i):
            # the first row's "previous" is itself (not yet written): the select drops it
            y_prev = ir.ld(dt, yp, ir.add(pbase, i))
            z = rx(ir.add(pbase if excl else base, i))
            init = ident if excl else z
            ir.st(dt, ir.sel(first, t, init, combine(y_prev, z)), yp, ir.add(base, i))
        ir.vloop(inner, elem)
    ir.loops([pre, D], row)


CUSTOM_KERNELS.update({"cumsum": _scan, "cumprod": _scan})
