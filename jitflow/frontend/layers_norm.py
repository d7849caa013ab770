"""``tf.layers`` dropout and batch_normalization: ``training`` is a Python bool or a bool
tensor (then both branches are built and ``tf.where`` selects)."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from . import math_ops as M
from .array_ops import identity, reshape, select as where
from .graph import Tensor, get_default_graph
from .initializers import Ones, Zeros
from .layer_base import Layer, _no_constraints, _training_value
from .op_builder import convert_to_tensor, make_op
from .variables import Variable, assign_sub


# ---------------------------------------------------------------------- dropout ------------

def _dropped(x: Tensor, rate: Any, noise_shape: Any, seed: Optional[int]) -> Tensor:
    """``x * mask / (1 - rate)`` with a fresh mask per run (the rate may be a tensor)."""
    from . import nn as _nn
    fn = getattr(_nn, "dropout", None)
    if fn is not None:
        return fn(x, rate=rate, noise_shape=noise_shape, seed=seed)
    from .random_ops import get_seed
    s1, s2 = get_seed(seed)
    with get_default_graph().name_scope("dropout"):
        rate_t = convert_to_tensor(rate, dtype=x.dtype, name="rate")
        if noise_shape is not None:
            from .random_ops import random_uniform
            u = random_uniform(noise_shape, dtype=x.dtype, seed=seed)
        else:
            u = make_op("RandomUniform", "random_uniform", [x],
                        {"dtype": x.dtype, "seed": s1, "seed2": s2}, "random_uniform",
                        rng=True).outputs[0]
        keep = M.greater_equal(u, rate_t, name="GreaterEqual")
        scale = M.truediv(convert_to_tensor(1.0, dtype=x.dtype), M.subtract(1.0, rate_t))
        from .array_ops import zeros_like
        return where(keep, M.multiply(x, scale, name="Mul"), zeros_like(x), name="SelectV2")


class Dropout(Layer):
    """``rate`` is the fraction dropped; identity unless ``training`` (bool or bool tensor)."""

    def __init__(self, rate: Any = 0.5, noise_shape: Any = None, seed: Optional[int] = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        if isinstance(rate, (int, float)) and not 0 <= rate < 1:
            raise ValueError(f"Invalid value received for `rate`, expected a value between 0 "
                             f"and 1, got: {rate}")
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        tr = _training_value(training)
        if tr is False or (isinstance(self.rate, (int, float)) and self.rate == 0):
            return identity(inputs, name="Identity")
        if tr is True:
            return _dropped(inputs, self.rate, self.noise_shape, self.seed)
        dropped = _dropped(inputs, self.rate, self.noise_shape, self.seed)
        return where(tr, dropped, inputs, name="Select")


def dropout(inputs: Any, rate: Any = 0.5, noise_shape: Any = None, seed: Optional[int] = None,
            training: Any = False, name: Optional[str] = None) -> Tensor:
    """``tf.layers.dropout``: drops a fraction ``rate`` and scales by ``1/(1-rate)`` when
    ``training`` is true (a Python bool or a bool tensor); the identity otherwise."""
    return Dropout(rate, noise_shape=noise_shape, seed=seed, name=name).apply(inputs,
                                                                              training=training)


# ---------------------------------------------------------------------- batch norm ---------

class BatchNormalization(Layer):
    """Variables ``gamma``, ``beta`` (trainable), ``moving_mean``, ``moving_variance``."""

    def __init__(self, axis: Any = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = None,
                 gamma_initializer: Any = None, moving_mean_initializer: Any = None,
                 moving_variance_initializer: Any = None,
                 beta_regularizer: Optional[Callable] = None,
                 gamma_regularizer: Optional[Callable] = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, renorm: bool = False, renorm_clipping: Any = None,
                 renorm_momentum: float = 0.99, fused: Optional[bool] = None,
                 trainable: bool = True, virtual_batch_size: Any = None, adjustment: Any = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, **kwargs)
        _no_constraints(beta_constraint, gamma_constraint)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise NotImplementedError("batch_normalization: renorm, virtual_batch_size and "
                                      "adjustment are not supported")
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center, self.scale = center, scale
        self.beta_initializer = beta_initializer if beta_initializer is not None else Zeros()
        self.gamma_initializer = gamma_initializer if gamma_initializer is not None else Ones()
        self.moving_mean_initializer = (moving_mean_initializer
                                        if moving_mean_initializer is not None else Zeros())
        self.moving_variance_initializer = (moving_variance_initializer
                                            if moving_variance_initializer is not None else Ones())
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.fused = fused
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _axes(self, rank: int) -> list[int]:
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        out = []
        for a in axes:
            a = int(a) + rank if int(a) < 0 else int(a)
            if not 0 <= a < rank:
                raise ValueError(f"Invalid axis: {self.axis} for input of rank {rank}")
            out.append(a)
        return sorted(set(out))

    def build(self, input_shape) -> None:
        dims = input_shape.dims
        if dims is None:
            raise ValueError(f"Input has undefined rank: {input_shape}")
        self._rank = len(dims)
        self._norm_axes = self._axes(self._rank)
        param = [dims[a] for a in self._norm_axes]
        if any(d is None for d in param):
            raise ValueError(f"Input has undefined `axis` dimension. Input shape: {input_shape}")
        shape = param
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, trainable=True)
        if self.center:
            self.beta = self.add_weight("beta", shape, initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, trainable=True)
        self.moving_mean = self.add_weight("moving_mean", shape,
                                           initializer=self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape,
                                               initializer=self.moving_variance_initializer,
                                               trainable=False)
        self._fused_path = (self.fused is not False and self._rank == 4
                            and self._norm_axes in ([3], [1]))

    def call(self, inputs: Tensor, training: Any = False) -> Tensor:
        x = inputs
        rank = self._rank
        reduce_axes = [a for a in range(rank) if a not in self._norm_axes]
        # shape that broadcasts a parameter against x
        bshape = [1] * rank
        for a in self._norm_axes:
            bshape[a] = x.shape.dims[a]
        needs_reshape = self._norm_axes != [rank - 1]

        def bc(t: Any) -> Any:
            return reshape(t, bshape) if needs_reshape and isinstance(t, (Tensor, Variable)) else t

        tr = _training_value(training)
        g = get_default_graph()
        if tr is False:
            mean, var = self.moving_mean.value(), self.moving_variance.value()
        else:
            with g.name_scope("moments"):
                batch_mean = M.reduce_mean(x, reduce_axes, name="mean")
                centered = M.subtract(x, bc(stop_grad(batch_mean)))
                batch_var = M.reduce_mean(M.square(centered), reduce_axes, name="variance")
            if tr is True:
                mean, var = batch_mean, batch_var
            else:
                mean = where(tr, batch_mean, self.moving_mean.value())
                var = where(tr, batch_var, self.moving_variance.value())
            self._add_moving_updates(x, reduce_axes, mean, var, tr)
        with g.name_scope("batchnorm"):   # TF's op names: add, Rsqrt, mul, mul_1, ..., add_1
            inv = M.rsqrt(M.add(var, convert_to_tensor(self.epsilon, dtype=x.dtype), name="add"))
            if self.gamma is not None:
                inv = M.multiply(inv, self.gamma.value(), name="mul")
            scaled = M.multiply(x, bc(inv), name="mul")
            shift = M.multiply(mean, inv, name="mul")
            shift = (M.subtract(self.beta.value(), shift, name="sub") if self.beta is not None
                     else M.negative(shift))
            out = M.add(scaled, bc(shift), name="add")
        return out

    def _add_moving_updates(self, x: Tensor, reduce_axes: list[int], mean: Tensor, var: Tensor,
                            tr: Any) -> None:
        g = get_default_graph()
        if self._fused_path:
            # TF's fused kernel feeds the moving variance the unbiased batch variance
            n = 1
            dims = x.shape.dims
            if all(dims[a] is not None for a in reduce_axes):
                n = int(np.prod([dims[a] for a in reduce_axes]))
                factor = convert_to_tensor(n / max(n - 1, 1), dtype=x.dtype)
            else:
                from .array_ops import shape as tf_shape
                count = M.cast(M.reduce_prod(_gather_dims(tf_shape(x), reduce_axes)), x.dtype)
                factor = M.truediv(count, M.maximum(M.subtract(count, 1.0), 1.0))
            var_for_update = M.multiply(var, factor) if tr is True else \
                where(tr, M.multiply(var, factor), var)
        else:
            var_for_update = var
        decay = 1.0 - float(self.momentum) if isinstance(self.momentum, (int, float)) else \
            M.subtract(1.0, self.momentum)
        ups = []
        for i, (moving, value) in enumerate(((self.moving_mean, mean),
                                             (self.moving_variance, var_for_update))):
            with g.name_scope("AssignMovingAvg" if i == 0 else "AssignMovingAvg_1") as scope:
                delta = M.multiply(M.subtract(moving.value(), value, name="sub"),
                                   convert_to_tensor(decay, dtype=x.dtype, name="decay")
                                   if not isinstance(decay, Tensor) else decay, name="mul")
                ups.append(assign_sub(moving, delta, name=scope).op)
        self.add_update(ups)


def stop_grad(t: Tensor) -> Tensor:
    from .array_ops import stop_gradient
    return stop_gradient(t, name="StopGradient")


def _gather_dims(shape_t: Tensor, axes: list[int]) -> Tensor:
    from .array_ops import stack
    return stack([shape_t[a] for a in axes])


def batch_normalization(inputs: Any, axis: Any = -1, momentum: float = 0.99,
                        epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                        beta_initializer: Any = None, gamma_initializer: Any = None,
                        moving_mean_initializer: Any = None,
                        moving_variance_initializer: Any = None,
                        beta_regularizer: Optional[Callable] = None,
                        gamma_regularizer: Optional[Callable] = None, beta_constraint: Any = None,
                        gamma_constraint: Any = None, training: Any = False,
                        trainable: bool = True, name: Optional[str] = None, reuse: Any = None,
                        renorm: bool = False, renorm_clipping: Any = None,
                        renorm_momentum: float = 0.99, fused: Optional[bool] = None,
                        virtual_batch_size: Any = None, adjustment: Any = None) -> Tensor:
    """``tf.layers.batch_normalization``. Training uses the batch's mean and (biased) variance;
    inference the moving averages, which change only when the ops in ``UPDATE_OPS`` run."""
    layer = BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, center=center,
                               scale=scale, beta_initializer=beta_initializer,
                               gamma_initializer=gamma_initializer,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer,
                               beta_regularizer=beta_regularizer,
                               gamma_regularizer=gamma_regularizer,
                               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                               renorm=renorm, fused=fused,
                               trainable=trainable, virtual_batch_size=virtual_batch_size,
                               adjustment=adjustment, name=name, _reuse=reuse)
    return layer.apply(inputs, training=training)
