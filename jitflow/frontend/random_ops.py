"""Random tensors with TF1's seed rule (graph seed + op seed) on the Philox generator."""
from __future__ import annotations

import secrets
from typing import Any, Optional

from ..ir.dtypes import as_dtype, float32
from .dynamic_shape import is_dynamic, shape_like
from .graph import Tensor, get_default_graph, name_scope
from .op_builder import convert_to_tensor, make_op, static_ints

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2 ** 31 - 1


def get_seed(op_seed: Optional[int]) -> tuple[int, int]:
    """TF1's rule: the graph seed with the op seed, or with the graph's op count if the op
    has none; an op seed alone pairs with a default graph seed; neither is nondeterministic."""
    g = get_default_graph()
    if g.seed is not None:
        seeds = (int(g.seed), int(op_seed) if op_seed is not None else len(g._ops))
    elif op_seed is not None:
        seeds = (DEFAULT_GRAPH_SEED, int(op_seed))
    else:
        seeds = (secrets.randbits(31), secrets.randbits(31))
    if seeds == (0, 0):
        seeds = (0, _MAXINT32)
    return seeds


def set_random_seed(seed: Optional[int]) -> None:
    get_default_graph().seed = seed


def _random(op_type: str, ir_op: str, shape: Any, dtype: Any, seed: Optional[int]) -> Tensor:
    s1, s2 = get_seed(seed)
    if is_dynamic(shape):      # e.g. tf.random_normal(tf.shape(x)): the IR op copies like's shape
        like = shape_like(shape, f"tf.{ir_op}")
        attrs = {"shape": (), "dtype": as_dtype(dtype), "seed": s1, "seed2": s2}
        return make_op(op_type, ir_op, [like], attrs, op_type, rng=True).outputs[0]
    dims = static_ints(shape, "shape")
    attrs = {"shape": dims, "dtype": as_dtype(dtype), "seed": s1, "seed2": s2}
    return make_op(op_type, ir_op, [], attrs, op_type, rng=True).outputs[0]


def random_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = float32,
                  seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    with name_scope(name, "random_normal") as scope:
        dt = as_dtype(dtype)
        mean_t, std_t = convert_to_tensor(mean, dt, "mean"), convert_to_tensor(stddev, dt, "stddev")
        rnd = _random("RandomStandardNormal", "random_normal", shape, dt, seed)
        return _affine(rnd, std_t, mean_t, scope)


def truncated_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = float32,
                     seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    with name_scope(name, "truncated_normal") as scope:
        dt = as_dtype(dtype)
        mean_t, std_t = convert_to_tensor(mean, dt, "mean"), convert_to_tensor(stddev, dt, "stddev")
        rnd = _random("TruncatedNormal", "random_truncated_normal", shape, dt, seed)
        return _affine(rnd, std_t, mean_t, scope)


def random_uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = float32,
                   seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    dt = as_dtype(dtype)
    if not dt.is_floating:
        raise NotImplementedError(f"random_uniform of dtype {dt.name} is not supported yet")
    with name_scope(name, "random_uniform") as scope:
        lo = convert_to_tensor(minval, dt, "min")
        hi = convert_to_tensor(1 if maxval is None else maxval, dt, "max")
        rnd = _random("RandomUniform", "random_uniform", shape, dt, seed)
        from .math_ops import add, multiply, subtract
        return add(multiply(rnd, subtract(hi, lo, name="sub"), name="mul"), lo, name=scope)


def _affine(rnd: Tensor, scale: Tensor, shift: Tensor, scope: str) -> Tensor:
    from .math_ops import add, multiply
    return add(multiply(rnd, scale, name="mul"), shift, name=scope)
