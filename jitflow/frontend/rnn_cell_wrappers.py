"""TF1 cell wrappers: DropoutWrapper, ResidualWrapper, DeviceWrapper (no variable scope of
their own, as in TF) and contrib's OutputProjectionWrapper (scope ``output_projection_wrapper``)."""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Optional

import numpy as np

from . import math_ops as M
from .array_ops import ones_like
from .graph import Tensor, device, name_scope
from .initializers import Zeros
from .nn import dropout
from .op_builder import convert_to_tensor, static_value
from .rnn_cell import LSTMStateTuple, RNNCell, flatten, is_sequence, pack_as


class _Wrapper(RNNCell):
    """Calls the wrapped cell directly, so its variables keep their own names."""

    def __init__(self, cell: RNNCell, **kwargs: Any) -> None:
        if not isinstance(cell, RNNCell):
            raise TypeError(f"The parameter cell is not an RNNCell: {cell!r}")
        super().__init__(**kwargs)
        self._cell = cell

    @property
    def wrapped_cell(self) -> RNNCell:
        return self._cell

    @property
    def state_size(self) -> Any:
        return self._cell.state_size

    @property
    def output_size(self) -> Any:
        return self._cell.output_size

    def zero_state(self, batch_size: Any, dtype: Any = None) -> Any:
        with name_scope(f"{type(self).__name__}ZeroState"):
            return self._cell.zero_state(batch_size, dtype)

    @property
    def weights(self) -> list:
        return self._cell.weights

    variables = weights
    trainable_weights = property(lambda self: self._cell.trainable_weights)
    trainable_variables = trainable_weights

    def __call__(self, inputs: Any, state: Any, scope: Any = None, *args: Any, **kwargs: Any):
        self.built = True
        return self._wrapped_call(convert_to_tensor(inputs), state, scope)

    def _wrapped_call(self, inputs: Tensor, state: Any, scope: Any) -> tuple:
        raise NotImplementedError


def _gen_seed(seed: Optional[int], salt_prefix: str, index: int) -> Optional[int]:
    """TF's DropoutWrapper seed derivation (md5 of seed + salt)."""
    if seed is None:
        return None
    text = (str(seed) + f"{salt_prefix}_{index}").encode("utf-8")
    return int(hashlib.md5(text).hexdigest()[:8], 16) & 0x7FFFFFFF


def _default_state_filter(substate: Any) -> Any:
    """TF's default: no dropout on an LSTM's memory ``c``, dropout on everything else."""
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)
    return True


def _keep_value(p: Any, what: str) -> Any:
    v = static_value(p) if not isinstance(p, (int, float)) else p
    if v is not None:
        v = float(np.asarray(v).reshape(()))
        if not 0.0 < v <= 1.0:
            raise ValueError(f"Parameter {what} must be between 0 and 1: {v:g}")
    return v


class DropoutWrapper(_Wrapper):
    """Dropout on the cell's inputs, outputs and (filtered) state, each with its keep
    probability; ``variational_recurrent=True`` keeps one mask for all steps. Seeded masks are
    deterministic and differ from step to step (TF's stateful kernels advance per step)."""

    def __init__(self, cell: RNNCell, input_keep_prob: Any = 1.0, output_keep_prob: Any = 1.0,
                 state_keep_prob: Any = 1.0, variational_recurrent: bool = False,
                 input_size: Any = None, dtype: Any = None, seed: Optional[int] = None,
                 dropout_state_filter_visitor: Optional[Callable] = None, **kwargs: Any) -> None:
        super().__init__(cell, **kwargs)
        self._keep = {"input": input_keep_prob, "state": state_keep_prob,
                      "output": output_keep_prob}
        self._fixed = {k: _keep_value(v, f"{k}_keep_prob") for k, v in self._keep.items()}
        if variational_recurrent and dtype is None:
            raise ValueError("When variational_recurrent=True, dtype must be provided")
        self._variational = variational_recurrent
        self._seed = seed
        self._filter = dropout_state_filter_visitor or _default_state_filter
        self._masks: dict = {}
        self._calls = 0

    def _drop(self, kind: str, values: list, active: Optional[list] = None) -> list:
        keep = self._keep[kind]
        if self._fixed[kind] == 1.0:
            return values
        out = []
        for i, v in enumerate(values):
            if active is not None and not active[i]:
                out.append(v)
                continue
            base = _gen_seed(self._seed, kind, i)
            if self._variational:
                key = (kind, i)
                if key not in self._masks:
                    self._masks[key] = dropout(ones_like(v), keep_prob=keep, seed=base)
                out.append(M.multiply(v, self._masks[key]))
            else:
                step_seed = None if base is None else (base + 7919 * self._calls) & 0x7FFFFFFF
                out.append(dropout(v, keep_prob=keep, seed=step_seed))
        return out

    def _wrapped_call(self, inputs: Tensor, state: Any, scope: Any) -> tuple:
        inputs = self._drop("input", [inputs])[0]
        output, new_state = self._cell(inputs, state, scope=scope)
        leaves = flatten(new_state)
        mask = _state_mask(self._filter, new_state)
        new_state = pack_as(new_state, self._drop("state", leaves, mask))
        output = self._drop("output", [output])[0]
        self._calls += 1
        return output, new_state


def _state_mask(visitor: Callable, state: Any) -> list:
    """Which leaves of ``state`` get dropout: TF's traversal, where the visitor answers a bool
    (True on a nest: ask again for each part) or a structure of bools for the nest's parts."""
    answer = visitor(state)
    if not is_sequence(state):
        return [bool(answer)]
    parts = answer if is_sequence(answer) else [answer] * len(state)
    mask: list = []
    for sub, ans in zip(state, parts):
        if ans is True and is_sequence(sub):
            mask.extend(_state_mask(visitor, sub))
        else:
            mask.extend([bool(ans)] * len(flatten(sub)))
    return mask


class ResidualWrapper(_Wrapper):
    """``output = residual_fn(inputs, cell_output)`` (default: their sum); state unchanged."""

    def __init__(self, cell: RNNCell, residual_fn: Optional[Callable] = None,
                 **kwargs: Any) -> None:
        super().__init__(cell, **kwargs)
        self._residual_fn = residual_fn

    def _wrapped_call(self, inputs: Tensor, state: Any, scope: Any) -> tuple:
        output, new_state = self._cell(inputs, state, scope=scope)
        if self._residual_fn is not None:
            return self._residual_fn(inputs, output), new_state
        if inputs.shape.dims is not None and output.shape.dims is not None and \
                inputs.shape.dim(-1) is not None and inputs.shape.dim(-1) != output.shape.dim(-1):
            raise ValueError(f"ResidualWrapper: inputs of shape {inputs.shape} and cell output "
                             f"of shape {output.shape} cannot be added")
        return M.add(inputs, output), new_state


class DeviceWrapper(_Wrapper):
    """Runs the cell under ``tf.device(device)``."""

    def __init__(self, cell: RNNCell, device: str, **kwargs: Any) -> None:
        super().__init__(cell, **kwargs)
        self._device = device

    def _wrapped_call(self, inputs: Tensor, state: Any, scope: Any) -> tuple:
        with device(self._device):
            return self._cell(inputs, state, scope=scope)


class OutputProjectionWrapper(RNNCell):
    """contrib.rnn: the cell's output times ``kernel`` [cell output, output_size] plus ``bias``,
    in scope ``output_projection_wrapper`` (the wrapped cell's variables nest inside it)."""

    def __init__(self, cell: RNNCell, output_size: int, activation: Optional[Callable] = None,
                 reuse: Any = None) -> None:
        super().__init__(_reuse=reuse)
        if output_size < 1:
            raise ValueError(f"Parameter output_size must be > 0: {output_size}.")
        self._cell = cell
        self._output_size = int(output_size)
        self._act = activation

    @property
    def state_size(self) -> Any:
        return self._cell.state_size

    @property
    def output_size(self) -> int:
        return self._output_size

    def zero_state(self, batch_size: Any, dtype: Any = None) -> Any:
        with name_scope(f"{type(self).__name__}ZeroState"):
            return self._cell.zero_state(batch_size, dtype)

    def call(self, inputs: Tensor, state: Any) -> tuple:
        output, new_state = self._cell(inputs, state)
        if not hasattr(self, "_kernel"):
            self._kernel = self.add_weight("kernel", shape=[int(output.shape.dim(-1)),
                                                            self._output_size])
            self._bias = self.add_weight("bias", shape=[self._output_size], initializer=Zeros())
        projected = M.add(M.matmul(output, self._kernel), self._bias)
        if self._act is not None:
            projected = self._act(projected)
        return projected, new_state
