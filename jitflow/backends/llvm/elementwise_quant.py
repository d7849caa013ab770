"""LLVM lowerings of ops/quant.py's fake quantization ops (entries of elementwise.LOWER).

The operations and their order are the record's (TF's functor): float32 throughout, no
contraction into FMAs. An Args op's nudged range is a compile-time constant (``nudge_args``);
the Vars ops nudge per element from their (broadcast) min and max operands, which LLVM
hoists out of the loop when they are loop-invariant.
"""
from __future__ import annotations

from ...ir.dtypes import float32
from ...ops.quant import nudge_args, quant_range
from .elementwise import _minmax, lowering
from .emitter import Emitter, const


def _k(v: float) -> str:
    return const(v, float32)


def _clamp(em: Emitter, op, x: str, nmin: str, nmax: str) -> str:
    """max(min(x, nudged_max), nudged_min), NaN-propagating as NumPy's minimum/maximum."""
    return _minmax(em, op, [_minmax(em, op, [x, nmax], False), nmin], True)


def _floor(em: Emitter, x: str) -> str:
    return em.op(f"call float @llvm.floor.f32(float {x})")


def _nudge(em: Emitter, mn: str, mx: str, attrs: dict) -> tuple[str, str, str]:
    """(nudged_min, nudged_max, scale) of run-time min and max: TF's Nudge()."""
    qmin, qmax = quant_range(attrs["num_bits"], attrs["narrow_range"])
    scale = em.op(f"fdiv float {em.op(f'fsub float {mx}, {mn}')}, {_k(qmax - qmin)}")
    zpm = em.op(f"fsub float {_k(qmin)}, {em.op(f'fdiv float {mn}, {scale}')}")
    f = _floor(em, zpm)
    up = em.op(f"fcmp oge float {em.op(f'fsub float {zpm}, {f}')}, {_k(0.5)}")
    rounded = em.op(f"fadd float {f}, {em.op(f'select i1 {up}, float {_k(1)}, float {_k(0)}')}")
    above = em.op(f"fcmp ogt float {zpm}, {_k(qmax)}")
    zp = em.op(f"select i1 {above}, float {_k(qmax)}, float {rounded}")
    below = em.op(f"fcmp olt float {zpm}, {_k(qmin)}")
    zp = em.op(f"select i1 {below}, float {_k(qmin)}, float {zp}")
    nmin = em.op(f"fmul float {em.op(f'fsub float {_k(qmin)}, {zp}')}, {scale}")
    nmax = em.op(f"fmul float {em.op(f'fsub float {_k(qmax)}, {zp}')}, {scale}")
    return nmin, nmax, scale


def _both_zero(em: Emitter, mn: str, mx: str) -> str:
    return em.op(f"and i1 {em.op(f'fcmp oeq float {mn}, 0.0')}, "
                 f"{em.op(f'fcmp oeq float {mx}, 0.0')}")


def _masked(em: Emitter, g: str, mask: str) -> str:
    """g * (mask ? 1 : 0), as TF multiplies (an infinite g outside the range gives NaN)."""
    return em.op(f"fmul float {g}, {em.op(f'select i1 {mask}, float {_k(1)}, float {_k(0)}')}")


def _inside(em: Emitter, x: str, nmin: str, nmax: str) -> str:
    return em.op(f"and i1 {em.op(f'fcmp oge float {x}, {nmin}')}, "
                 f"{em.op(f'fcmp ole float {x}, {nmax}')}")


@lowering("fake_quant_with_min_max_args")
def _args(em, op, a, ctx):
    nmin, nmax, scale, inv = (_k(v) for v in nudge_args(op.attrs))
    s = em.op(f"fsub float {_clamp(em, op, a[0], nmin, nmax)}, {nmin}")
    t = em.op(f"fadd float {em.op(f'fmul float {s}, {inv}')}, {_k(0.5)}")
    return em.op(f"fadd float {em.op(f'fmul float {_floor(em, t)}, {scale}')}, {nmin}")


@lowering("fake_quant_with_min_max_args_gradient")
def _args_gradient(em, op, a, ctx):
    nmin, nmax, _, _ = (_k(v) for v in nudge_args(op.attrs))
    return _masked(em, a[0], _inside(em, a[1], nmin, nmax))


@lowering("fake_quant_with_min_max_vars", "fake_quant_with_min_max_vars_per_channel")
def _vars(em, op, a, ctx):
    x, mn, mx = a
    nmin, nmax, scale = _nudge(em, mn, mx, op.attrs)
    s = em.op(f"fsub float {_clamp(em, op, x, nmin, nmax)}, {nmin}")
    t = em.op(f"fadd float {em.op(f'fdiv float {s}, {scale}')}, {_k(0.5)}")
    q = em.op(f"fadd float {em.op(f'fmul float {_floor(em, t)}, {scale}')}, {nmin}")
    return em.op(f"select i1 {_both_zero(em, mn, mx)}, float {_k(0)}, float {q}")


@lowering("fake_quant_vars_backprop")
def _backprop(em, op, a, ctx):
    g, x, mn, mx = a
    nmin, nmax, _ = _nudge(em, mn, mx, op.attrs)
    zero = _both_zero(em, mn, mx)
    wrt = op.attrs["wrt"]
    if wrt == "inputs":
        return _masked(em, g, em.op(f"or i1 {_inside(em, x, nmin, nmax)}, {zero}"))
    outside = em.op(f"fcmp {'olt' if wrt == 'min' else 'ogt'} float {x}, "
                    f"{nmin if wrt == 'min' else nmax}")
    return em.op(f"select i1 {zero}, float {_k(0)}, float {_masked(em, g, outside)}")
