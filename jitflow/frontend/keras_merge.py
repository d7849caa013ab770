"""``tf.keras.layers`` that take several inputs or wrap a function/layer: the merge layers
(Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot) and their functional
forms (``concatenate``, ``add``, ...), ``Lambda`` and ``TimeDistributed``.

A merge layer is called on a list of tensors; the call is recorded with the list as its
input (layer_base._record_call), so a functional ``tf.keras.Model`` follows every branch.
Masks (keras_mask.py) pass as TF 1.15's: a merge's output mask is the AND of its inputs'
masks, Concatenate's the AND over its inputs' masks concatenated along its axis (an input
without one counts as all true), Dot's none; ``Lambda(mask=...)`` gives its mask (a callable
of ``(inputs, mask)``, or a tensor).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import array_ops as A
from . import extra_ops as E
from . import math_ops as M
from .graph import Tensor
from .keras_layers import _drop_shape_kwargs
from .keras_mask import _mask_of, set_mask_metadata
from .layer_base import Layer, _record_call
from .op_builder import convert_to_tensor

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "Dot", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "dot", "Lambda", "TimeDistributed"]


class _ListInput(Layer):
    """A layer whose input may be a list of tensors (kept a list, not packed)."""

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("scope", None)
        if isinstance(inputs, (list, tuple)):
            inputs = [convert_to_tensor(t) for t in inputs]
            first = inputs[0] if inputs else None
        else:
            inputs = first = convert_to_tensor(inputs)
        if self.dtype is None and first is not None:
            self.dtype = first.dtype
        with self._call_scope():
            if not self.built:
                self.build([t.shape for t in inputs] if isinstance(inputs, list)
                           else inputs.shape)
                self.built = True
            outputs = self.call(inputs, *args, **kwargs)
        _record_call(self, inputs, outputs, args, kwargs)
        set_mask_metadata(self, inputs, outputs, _mask_of(inputs))
        return outputs

    apply = __call__


def _checked_masks(inputs: Any, mask: Any) -> list:
    """TF 1.15's checks of a merge layer's masks; the masks that are not None."""
    if not isinstance(mask, (list, tuple)):
        raise ValueError("`mask` should be a list.")
    if not isinstance(inputs, (list, tuple)):
        raise ValueError("`inputs` should be a list.")
    if len(mask) != len(inputs):
        raise ValueError("The lists `inputs` and `mask` should have the same length.")
    return [m for m in mask if m is not None]


class _Merge(_ListInput):
    """Merges a list of at least two tensors of one shape, elementwise."""

    _min_inputs = 2
    supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The AND of the inputs' masks (None where none has one)."""
        if mask is None:
            return None
        ms = _checked_masks(inputs, mask)
        return _fold(M.logical_and, ms) if ms else None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_drop_shape_kwargs(kwargs))

    def _check(self, inputs: Any) -> list:
        if not isinstance(inputs, list) or len(inputs) < self._min_inputs:
            raise ValueError(f"A merge layer ({type(self).__name__}) should be called on a list "
                             f"of at least {self._min_inputs} inputs. Got: {inputs!r}")
        return inputs

    def _merge(self, xs: list) -> Tensor:
        raise NotImplementedError

    def call(self, inputs: Any) -> Tensor:
        return self._merge(self._check(inputs))


def _fold(fn: Callable, xs: list) -> Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


class Add(_Merge):
    def _merge(self, xs: list) -> Tensor:
        return _fold(M.add, xs)


class Subtract(_Merge):
    def _merge(self, xs: list) -> Tensor:
        if len(xs) != 2:
            raise ValueError(f"A `Subtract` layer should be called on exactly 2 inputs, got "
                             f"{len(xs)}")
        return M.subtract(xs[0], xs[1])


class Multiply(_Merge):
    def _merge(self, xs: list) -> Tensor:
        return _fold(M.multiply, xs)


class Average(_Merge):
    def _merge(self, xs: list) -> Tensor:
        return M.multiply(_fold(M.add, xs), 1.0 / len(xs))


class Maximum(_Merge):
    def _merge(self, xs: list) -> Tensor:
        return _fold(M.maximum, xs)


class Minimum(_Merge):
    def _merge(self, xs: list) -> Tensor:
        return _fold(M.minimum, xs)


class Concatenate(_Merge):
    _min_inputs = 1

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The inputs' masks (all true for an input without one, a [batch, time] mask of a
        [batch, time, d] input expanded) concatenated along the axis, ANDed over the last."""
        if mask is None or not _checked_masks(inputs, mask):
            return None
        from ..ir.dtypes import bool_
        full = []
        for x, m in zip(inputs, mask):
            if m is None:
                full.append(A.ones_like(x, dtype=bool_))
            elif m.shape.ndims is not None and x.shape.ndims is not None and \
                    m.shape.ndims < x.shape.ndims:
                full.append(A.expand_dims(m, -1))
            else:
                full.append(m)
        rank = full[0].shape.ndims
        return E.reduce_all(E.concat(full, self.axis % rank if rank else self.axis), axis=-1)

    def _merge(self, xs: list) -> Tensor:
        ranks = {x.shape.ndims for x in xs}
        if len(ranks) != 1 or None in ranks:
            raise ValueError(f"A `Concatenate` layer requires inputs of one known rank. Got "
                             f"inputs shapes: {[x.shape for x in xs]}")
        return E.concat(xs, self.axis % ranks.pop())


class Dot(_Merge):
    """Dot product of two samples-wise tensors along ``axes`` (rank 2 or 3 inputs)."""

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None                 # TF 1.15's Dot gives no mask

    def __init__(self, axes: Any, normalize: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axes = tuple(int(a) for a in axes) if isinstance(axes, (list, tuple)) \
            else (int(axes), int(axes))
        self.normalize = normalize

    def _merge(self, xs: list) -> Tensor:
        if len(xs) != 2:
            raise ValueError(f"A `Dot` layer should be called on exactly 2 inputs, got {len(xs)}")
        x, y = xs
        rx, ry = x.shape.ndims, y.shape.ndims
        if rx != ry or rx not in (2, 3):
            raise NotImplementedError(f"Dot: jitflow supports two inputs of rank 2 or 3, got "
                                      f"shapes {x.shape} and {y.shape}")
        ax, ay = self.axes[0] % rx, self.axes[1] % ry
        if 0 in (ax, ay):
            raise ValueError(f"Dot: cannot contract the batch axis, got axes={self.axes}")
        if self.normalize:
            from .composite_ops import l2_normalize
            x, y = l2_normalize(x, axis=ax), l2_normalize(y, axis=ay)
        if rx == 2:
            return M.reduce_sum(M.multiply(x, y), axis=1, keepdims=True)
        return M.matmul(x, y, transpose_a=(ax == 1), transpose_b=(ay == 2))


def _functional(cls: type) -> Callable:
    def fn(inputs: list, **kwargs: Any) -> Tensor:
        return cls(**kwargs)(inputs)
    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = f"``tf.keras.layers.{fn.__name__}(inputs, **kwargs)``: " \
                 f"``{cls.__name__}(**kwargs)(inputs)``."
    return fn


add, subtract, multiply = _functional(Add), _functional(Subtract), _functional(Multiply)
average, maximum, minimum = _functional(Average), _functional(Maximum), _functional(Minimum)


def concatenate(inputs: list, axis: int = -1, **kwargs: Any) -> Tensor:
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


def dot(inputs: list, axes: Any, normalize: bool = False, **kwargs: Any) -> Tensor:
    """``Dot(axes, normalize, **kwargs)(inputs)``."""
    return Dot(axes, normalize=normalize, **kwargs)(inputs)


# ---------------------------------------------------------------------- wrappers -----------

class Lambda(_ListInput):
    """Applies ``function(inputs, **arguments)`` (inputs may be a list)."""

    def __init__(self, function: Callable, output_shape: Any = None, mask: Any = None,
                 arguments: Optional[dict] = None, **kwargs: Any) -> None:
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable, got {function!r}")
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.function, self.output_shape = function, output_shape
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """TF 1.15's: ``mask(inputs, mask)`` when callable, else the mask given (None)."""
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step of a [batch, time, ...] input (one set of
    weights, made under this layer's scope: ``time_distributed/kernel``)."""

    supports_masking = True      # the input mask passes on (Keras's, for a wrapped Dense)

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"Please initialize `TimeDistributed` layer with a `Layer` "
                             f"instance. You passed: {layer!r}")
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.layer = layer

    def _inner_shape(self, input_shape: Any) -> list:
        dims = input_shape.dims
        if dims is None or len(dims) < 3 or any(d is None for d in dims[2:]):
            raise ValueError(f"`TimeDistributed` Layer should be passed an input of shape "
                             f"[batch, time, ...] with known inner dims, got {input_shape}")
        return [None] + list(dims[2:])

    def build(self, input_shape: Any) -> None:
        from .graph import TensorShape
        if not self.layer.built:
            if self.layer.dtype is None:
                self.layer.dtype = self.dtype
            self.layer.build(TensorShape(self._inner_shape(input_shape)))
            self.layer.built = True

    @property
    def trainable_weights(self) -> list:
        return self.layer.trainable_weights if self.trainable else []

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        return self.layer.non_trainable_weights if self.trainable else self.layer.weights

    non_trainable_variables = non_trainable_weights

    @property
    def weights(self) -> list:
        return self.layer.weights

    variables = weights

    @property
    def updates(self) -> list:
        return self.layer.updates

    @property
    def losses(self) -> list:
        return self.layer.losses

    def call(self, inputs: Tensor, training: Any = None) -> Tensor:
        import inspect
        inner = self._inner_shape(inputs.shape)
        steps = inputs.shape.dims[1]
        flat = A.reshape(inputs, [-1] + inner[1:])
        kw = {}
        if training is not None and "training" in inspect.signature(self.layer.call).parameters:
            kw["training"] = training
        y = self.layer.call(flat, **kw)
        out = y.shape.dims
        if out is None or any(d is None for d in out[1:]):
            raise ValueError(f"TimeDistributed: the wrapped layer's output {y.shape} must have "
                             f"known non-batch dims")
        if steps is None:
            lead = A.shape(inputs)[:2]
            return A.reshape(y, E.concat([lead, list(out[1:])], 0))
        return A.reshape(y, [-1, steps] + list(out[1:]))
