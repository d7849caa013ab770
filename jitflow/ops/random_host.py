"""Seeded samplers run on the host: ``random_gamma`` (and its gradient ``random_gamma_grad``),
``random_poisson``; ``sample_distorted_bounding_box`` is in ``ops/bbox_sample.py``.

Their draws need rejection loops (Marsaglia-Tsang for gamma, PTRS for Poisson, up to
``max_attempts`` crops), so they are not counter-based elementwise ``random`` ops: they are
host ops (kind ``host``, placed on the host device between compiled segments like
``py_call``, the reference being the real implementation) that take the run step as
operand 0, as the ``random`` ops do. Each draws from NumPy's Philox generator keyed by the
op's seed pair (TF1's graph seed + op seed, ``frontend/random_ops.get_seed``) with the
run step as its counter (``stream``): a function of (seed, seed2, step) alone, so every
backend gives the same values, each run of a session new ones (TF's stateful random ops),
and a new session, or a rebuilt graph under the same ``tf.set_random_seed``, the same
sequence again. A loop's trips see the step mixed with the trip counter, as the other
random ops do. The values differ from TensorFlow's own streams.

Operands after the step: the sample shape as an int vector (a constant, or computed: the
dims of the result then come from its values at run time; ``known`` holds those known at
graph build, -1 for the others) and the distribution's parameter, whose shape is appended.
"""
from __future__ import annotations

import numpy as np

from .. import errors
from ..ir.dtypes import float32, int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .gamma_math import gamma_sample_der_alpha

_HOST = dict.fromkeys(("llvm", "cuda"), "a sampler with rejection loops, seeded per run: the "
                      "Session runs it on the host between the compiled segments "
                      "(runtime/placement.py)")
_MASK64 = (1 << 64) - 1


def stream(seed: int, seed2: int, step: int) -> np.random.Generator:
    """The generator of one op at one run step: Philox keyed by the seed pair, the step in
    the counter's third word (the generator counts in the first two, so the streams of two
    steps never overlap)."""
    key = np.array([int(seed) & _MASK64, int(seed2) & _MASK64], np.uint64)
    counter = np.array([0, 0, int(step) & _MASK64, 0], np.uint64)
    return np.random.Generator(np.random.Philox(key=key, counter=counter))


def _check_step(t: TensorType, what: str) -> None:
    if t.dtype is not int64 or t.rank != 0:
        raise ShapeMismatch(f"{what} takes the run step (an int64 scalar) as operand 0, got {t}")


def _sample_type(types, a, what: str, dtype) -> TensorType:
    if len(types) != 3:
        raise ShapeMismatch(f"{what} takes (step, shape, parameter), got {len(types)} operands")
    step, shape, param = types
    _check_step(step, what)
    if not shape.dtype.is_integer or shape.shape is None or len(shape.shape) != 1 or \
            shape.shape[0] is None:
        raise ShapeMismatch(f"{what}: the shape must be an int vector of a length known at "
                            f"graph build, got {shape}")
    known = tuple(a["known"])
    if len(known) != shape.shape[0]:
        raise ShapeMismatch(f"{what}: {len(known)} known-dim entries for a shape of "
                            f"{shape.shape[0]} entries")
    if param.shape is None:
        raise ShapeMismatch(f"{what}: the parameter needs a known rank, got {param}")
    return TensorType(dtype, tuple(None if d < 0 else d for d in known) + tuple(param.shape))


def _out_shape(shape: np.ndarray, known: tuple, param: np.ndarray, what: str) -> tuple:
    dims = tuple(int(d) for d in np.asarray(shape).reshape(-1))
    for i, (d, k) in enumerate(zip(dims, known)):
        if d < 0:
            raise errors.InvalidArgumentError(f"{what}: shape {list(dims)} has a negative "
                                              f"dimension")
        if k >= 0 and d != k:
            raise errors.InvalidArgumentError(f"{what}: dim {i} of the shape {list(dims)} is "
                                              f"{d}, but the graph was built for {k}")
    return dims + param.shape


SAMPLER_ATTRS = {"known": Attr("ints", ()), "seed": Attr("int", 0), "seed2": Attr("int", 0)}


# ------------------------------------------------------------------------------- gamma ---

def _gamma_infer(types, a):
    alpha = types[-1]
    if not alpha.dtype.is_floating or alpha.dtype.is_complex:
        raise TypeError(f"random_gamma: alpha must be float16, float32 or float64, got "
                        f"{alpha.dtype.name}")
    return _sample_type(types, a, "random_gamma", alpha.dtype)


def _gamma_ref(step, shape, alpha, *, known, seed, seed2):
    """Standard gamma samples (scale 1) of shape ``shape + alpha.shape``; NaN where alpha is
    not positive."""
    out_shape = _out_shape(shape, known, alpha, "random_gamma")
    a = np.broadcast_to(np.asarray(alpha, np.float64), out_shape)
    bad = ~(a > 0)
    x = stream(seed, seed2, step).standard_gamma(np.where(bad, 1.0, a), size=out_shape)
    return np.where(bad, np.nan, x).astype(alpha.dtype)


def _gamma_grad(b, op, g):
    """TF's _RandomGammaGrad: the sample's implicit derivative in alpha times the cotangent,
    summed over the sample dims."""
    alpha = op.operands[2]
    k = len(op.attrs["known"])
    partial = b.random_gamma_grad(alpha, op.result)
    da = b.mul(g[0], partial)
    if k:
        da = b.reduce_sum(da, axes=tuple(range(k)))
    return [None, None, da]


defop("random_gamma", kind="host", num_inputs=3, infer=_gamma_infer, reference=_gamma_ref,
      grad=_gamma_grad, attrs=SAMPLER_ATTRS, stateful=True, unlowered_on=_HOST,
      doc="standard gamma samples of shape shape + alpha.shape (TF's RandomGamma); operands "
          "(step, shape, alpha)")


def _gamma_grad_infer(types, a):
    alpha, x = types
    if alpha.dtype is not x.dtype or not x.dtype.is_floating:
        raise TypeError(f"random_gamma_grad: alpha and sample must be of one float dtype, got "
                        f"{alpha.dtype.name} and {x.dtype.name}")
    if alpha.shape is None or x.shape is None or len(alpha.shape) > len(x.shape):
        raise ShapeMismatch(f"random_gamma_grad: alpha {alpha} must broadcast to the sample "
                            f"{x}")
    return x


def _gamma_grad_ref(alpha, x):
    return gamma_sample_der_alpha(alpha, x).astype(x.dtype)


defop("random_gamma_grad", kind="host", num_inputs=2, infer=_gamma_grad_infer,
      reference=_gamma_grad_ref, differentiable=False,
      unlowered_on=dict.fromkeys(("llvm", "cuda"), "a series of data-dependent length (the "
                                 "gamma CDF's derivative in alpha), run on the host"),
      doc="d sample / d alpha of standard gamma samples (TF's RandomGammaGrad): "
          "-(dP/dalpha)(alpha, x) / density(x); alpha broadcasts to the sample")


# ----------------------------------------------------------------------------- poisson ---

_POISSON_OUT = ("float16", "float32", "float64", "int32", "int64")


def _poisson_infer(types, a):
    lam = types[-1]
    if lam.dtype.name not in _POISSON_OUT:
        raise TypeError(f"random_poisson: lam must be one of {list(_POISSON_OUT)}, got "
                        f"{lam.dtype.name}")
    if a["dtype"].name not in _POISSON_OUT:
        raise TypeError(f"random_poisson: dtype must be one of {list(_POISSON_OUT)}, got "
                        f"{a['dtype'].name}")
    return _sample_type(types, a, "random_poisson", a["dtype"])


def _poisson_ref(step, shape, lam, *, known, seed, seed2, dtype):
    """Poisson counts of shape ``shape + lam.shape``: 0 where lam <= 0 (TF's Knuth loop
    stops at once), inf where lam is inf and NaN where it is NaN (float dtypes)."""
    out_shape = _out_shape(shape, known, lam, "random_poisson")
    r = np.broadcast_to(np.asarray(lam, np.float64), out_shape)
    finite = np.isfinite(r) & (r > 0)
    x = stream(seed, seed2, step).poisson(np.where(finite, r, 0.0), size=out_shape)
    x = x.astype(np.float64)
    x = np.where(np.isnan(r), np.nan, np.where(np.isposinf(r), np.inf, x))
    if dtype.is_integer:
        x = np.where(np.isfinite(x), x, 0.0)
    return x.astype(dtype.np)


defop("random_poisson", kind="host", num_inputs=3, infer=_poisson_infer, reference=_poisson_ref,
      attrs={**SAMPLER_ATTRS, "dtype": Attr("dtype", float32)}, differentiable=False,
      stateful=True, unlowered_on=_HOST,
      doc="Poisson samples of shape shape + lam.shape (TF's RandomPoissonV2); operands "
          "(step, shape, lam)")
