"""``tf.train`` learning-rate schedules (TF1 formulas), as ops of ``global_step``:
piecewise_constant, polynomial_decay, natural_exp_decay, inverse_time_decay, cosine_decay,
cosine_decay_restarts, linear_cosine_decay (exponential_decay is in ``train``).

jitflow has no cosine op yet, so the cosine schedules use ``_cos``: a range reduction to
[0, pi] and a degree-17 Taylor polynomial (|error| < 1e-13), built from mul/add/floormod.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from ..ir.dtypes import float32
from . import math_ops as M
from .array_ops import identity, select as where
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor

__all__ = ["piecewise_constant", "polynomial_decay", "natural_exp_decay", "inverse_time_decay",
           "cosine_decay", "cosine_decay_restarts", "linear_cosine_decay"]


def _lr(learning_rate: Any) -> Tensor:
    lr = convert_to_tensor(learning_rate, name="learning_rate",
                           dtype=None if isinstance(learning_rate, Tensor) else float32)
    if not lr.dtype.is_floating:
        raise TypeError(f"learning_rate must be a float, got {lr.dtype.name}")
    return lr


def _as(x: Any, like: Tensor, name: str) -> Tensor:
    if x is None:
        raise ValueError(f"{name} is required")
    t = convert_to_tensor(x, name=name, dtype=None if isinstance(x, Tensor) or
                          hasattr(x, "_as_tensor") else like.dtype)
    return M.cast(t, like.dtype) if t.dtype is not like.dtype else t


def _floor(x: Tensor) -> Tensor:
    return M.floordiv(x, convert_to_tensor(1.0, dtype=x.dtype))


def _cos(x: Tensor) -> Tensor:
    """cos(x) for any real x: r = |x mod 2pi - pi| in [0, pi], cos(x) = -cos(r), and
    cos(r) = -sin(r - pi/2) by its Taylor series on [-pi/2, pi/2]."""
    two_pi = convert_to_tensor(2 * math.pi, dtype=x.dtype)
    r = M.abs(M.subtract(M.floormod(x, two_pi), math.pi))
    y = M.subtract(r, math.pi / 2)
    y2 = M.square(y)
    # sin(y) = y * (1 - y2/3! + y2^2/5! - ...), Horner in y2 up to y^17
    coeffs = [(-1) ** k / math.factorial(2 * k + 1) for k in range(9)]
    acc = convert_to_tensor(coeffs[-1], dtype=x.dtype)
    for c in reversed(coeffs[:-1]):
        acc = M.add(M.multiply(acc, y2), c)
    sin_y = M.multiply(acc, y)
    return sin_y          # cos(x) = -cos(r) = -(-sin(y)) = sin(y)


def piecewise_constant(x: Any, boundaries: Sequence[Any], values: Sequence[Any],
                       name: Optional[str] = None) -> Tensor:
    """``values[0]`` for x <= boundaries[0], ``values[i]`` for boundaries[i-1] < x <=
    boundaries[i], ``values[-1]`` beyond the last boundary."""
    if len(values) != len(boundaries) + 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant") as scope:
        xt = convert_to_tensor(x, name="x")
        bs = [_as(b, xt, "boundary") for b in boundaries]
        vs = [convert_to_tensor(v, name="value", dtype=None if isinstance(v, Tensor) else
                                float32 if isinstance(v, float) else None) for v in values]
        dt = vs[0].dtype
        for v in vs:
            if v.dtype is not dt:
                raise ValueError(f"Values must have elements all with the same dtype ({dt.name}"
                                 f" vs {v.dtype.name})")
        out = vs[-1]
        for b, v in reversed(list(zip(bs, vs[:-1]))):
            out = where(M.less_equal(xt, b), v, out)
        return identity(out, name=scope)


def _step_fraction(global_step: Any, decay_steps: Any, lr: Tensor, staircase: bool) -> Tensor:
    step = _as(global_step, lr, "global_step")
    p = M.truediv(step, _as(decay_steps, lr, "decay_steps"))
    return _floor(p) if staircase else p


def natural_exp_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                      staircase: bool = False, name: Optional[str] = None) -> Tensor:
    """``lr * exp(-decay_rate * global_step / decay_steps)`` (floored when staircase)."""
    with name_scope(name, "NaturalExpDecay") as scope:
        lr = _lr(learning_rate)
        p = _step_fraction(global_step, decay_steps, lr, staircase)
        return M.multiply(lr, M.exp(M.negative(M.multiply(_as(decay_rate, lr, "decay_rate"),
                                                           p))), name=scope)


def inverse_time_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                       staircase: bool = False, name: Optional[str] = None) -> Tensor:
    """``lr / (1 + decay_rate * global_step / decay_steps)`` (floored when staircase)."""
    with name_scope(name, "InverseTimeDecay") as scope:
        lr = _lr(learning_rate)
        p = _step_fraction(global_step, decay_steps, lr, staircase)
        denom = M.add(M.multiply(_as(decay_rate, lr, "decay_rate"), p), 1.0)
        return M.truediv(lr, denom, name=scope)


def polynomial_decay(learning_rate: Any, global_step: Any, decay_steps: Any,
                     end_learning_rate: Any = 0.0001, power: Any = 1.0, cycle: bool = False,
                     name: Optional[str] = None) -> Tensor:
    """``(lr - end) * (1 - step / decay_steps) ** power + end`` with the step capped at
    decay_steps, or (cycle) decay_steps stretched to the next multiple above the step."""
    with name_scope(name, "PolynomialDecay") as scope:
        lr = _lr(learning_rate)
        end = _as(end_learning_rate, lr, "end_learning_rate")
        step = _as(global_step, lr, "global_step")
        ds = _as(decay_steps, lr, "decay_steps")
        if cycle:
            mult = M.negative(_floor(M.negative(M.truediv(step, ds))))      # ceil
            mult = where(M.equal(step, 0.0), M.add(M.multiply(mult, 0.0), 1.0), mult)
            ds = M.multiply(ds, mult)
        else:
            step = M.minimum(step, ds)
        frac = M.subtract(1.0, M.truediv(step, ds))
        return M.add(M.multiply(M.subtract(lr, end), M.pow(frac, _as(power, lr, "power"))),
                     end, name=scope)


def cosine_decay(learning_rate: Any, global_step: Any, decay_steps: Any, alpha: float = 0.0,
                 name: Optional[str] = None) -> Tensor:
    """``lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
    + alpha)``."""
    with name_scope(name, "CosineDecay") as scope:
        lr = _lr(learning_rate)
        ds = _as(decay_steps, lr, "decay_steps")
        step = M.minimum(_as(global_step, lr, "global_step"), ds)
        cos = M.multiply(M.add(_cos(M.multiply(M.truediv(step, ds), math.pi)), 1.0), 0.5)
        a = _as(alpha, lr, "alpha")
        return M.multiply(lr, M.add(M.multiply(M.subtract(1.0, a), cos), a), name=scope)


def cosine_decay_restarts(learning_rate: Any, global_step: Any, first_decay_steps: Any,
                          t_mul: float = 2.0, m_mul: float = 1.0, alpha: float = 0.0,
                          name: Optional[str] = None) -> Tensor:
    """SGDR: cosine decay restarted after ``first_decay_steps``, each period ``t_mul`` times
    longer and its peak ``m_mul`` times lower."""
    with name_scope(name, "SGDRDecay") as scope:
        lr = _lr(learning_rate)
        frac = M.truediv(_as(global_step, lr, "global_step"),
                         _as(first_decay_steps, lr, "first_decay_steps"))
        if isinstance(t_mul, Tensor):
            raise NotImplementedError("cosine_decay_restarts: t_mul must be a Python number")
        if t_mul == 1.0:
            i_restart = _floor(frac)
            frac = M.subtract(frac, i_restart)
        else:
            tm = float(t_mul)
            i_restart = _floor(M.truediv(M.log(M.subtract(1.0, M.multiply(frac, 1.0 - tm))),
                                         math.log(tm)))
            tm_i = M.pow(convert_to_tensor(tm, dtype=lr.dtype), i_restart)
            sum_r = M.truediv(M.subtract(1.0, tm_i), 1.0 - tm)
            frac = M.truediv(M.subtract(frac, sum_r), tm_i)
        m_fac = M.pow(_as(m_mul, lr, "m_mul"), i_restart)
        cos = M.multiply(M.multiply(m_fac, 0.5), M.add(_cos(M.multiply(frac, math.pi)), 1.0))
        a = _as(alpha, lr, "alpha")
        return M.multiply(lr, M.add(M.multiply(M.subtract(1.0, a), cos), a), name=scope)


def linear_cosine_decay(learning_rate: Any, global_step: Any, decay_steps: Any,
                        num_periods: float = 0.5, alpha: float = 0.0, beta: float = 0.001,
                        name: Optional[str] = None) -> Tensor:
    """``lr * ((alpha + (decay_steps - step) / decay_steps) * 0.5 * (1 + cos(2 pi
    num_periods step / decay_steps)) + beta)`` with the step capped at decay_steps."""
    with name_scope(name, "LinearCosineDecay") as scope:
        lr = _lr(learning_rate)
        ds = _as(decay_steps, lr, "decay_steps")
        step = M.minimum(_as(global_step, lr, "global_step"), ds)
        linear = M.truediv(M.subtract(ds, step), ds)
        fraction = M.multiply(M.truediv(step, ds), 2.0 * float(num_periods))
        cos = M.multiply(M.add(_cos(M.multiply(fraction, math.pi)), 1.0), 0.5)
        decayed = M.add(M.multiply(M.add(linear, _as(alpha, lr, "alpha")), cos),
                        _as(beta, lr, "beta"))
        return M.multiply(lr, decayed, name=scope)
