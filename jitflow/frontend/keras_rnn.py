"""``tf.keras.layers.LSTM``, ``GRU`` and ``SimpleRNN`` as graph-mode layers in TF1 code, with
TF 1.15's defaults: ``recurrent_activation='hard_sigmoid'`` (``clip(0.2 x + 0.5, 0, 1)``) for
LSTM and GRU, ``kernel_initializer='glorot_uniform'``, ``recurrent_initializer='orthogonal'``,
``bias_initializer='zeros'``, LSTM ``unit_forget_bias=True``, GRU ``reset_after=False``.

Weights are Keras's: ``lstm/kernel`` [input, 4 units] (gates i, f, c, o), ``lstm/recurrent_kernel``
[units, 4 units], ``lstm/bias`` [4 units]; GRU gates z, r, h ([2, 3 units] bias with
``reset_after``); SimpleRNN [input, units]. The recurrence is ``dynamic_rnn``'s while loop (one
GEMM for the input projection of all steps), so it compiles natively. ``dropout`` /
``recurrent_dropout`` are applied only when the layer is called with ``training`` (a bool or a
bool tensor; Keras's learning phase is inference in TF1 graphs): one mask per sequence on the
inputs and one on the recurrent state, as Keras's ``implementation=2``. A Keras mask (the
input's, or ``mask=``) and ``stateful=True`` are handled by keras_rnn_state.py: a masked
call runs its own loop with a per-step select; a stateful one starts from and updates the
layer's state variables.
"""
from __future__ import annotations

from typing import Any, Optional

from . import math_ops as M
from .array_extra import reverse
from .array_ops import ones_like, transpose
from .extra_ops import clip_by_value, split
from .graph import Tensor
from .initializers import Constant
from .layer_base import Layer, _training_value
from .op_builder import convert_to_tensor
from .rnn import dynamic_rnn
from .rnn_cell import LSTMStateTuple, _GatedCell

__all__ = ["LSTM", "GRU", "SimpleRNN", "Bidirectional", "hard_sigmoid"]


def hard_sigmoid(x: Any) -> Tensor:
    """Keras's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)``."""
    x = convert_to_tensor(x)
    return clip_by_value(M.add(M.multiply(x, 0.2), 0.5), 0.0, 1.0)


def _act(a: Any) -> Any:
    from .keras_layers import get_activation
    f = get_activation(a)
    return (lambda x: x) if f is None else f


def _init(init: Any) -> Any:
    from .keras_layers import get_initializer
    return get_initializer(init)


class _KerasCell(_GatedCell):
    """The step of a Keras recurrent layer over the layer's own weights (made by the layer)."""

    def __init__(self, layer: "_KerasRNN") -> None:
        super().__init__(name=f"{layer.name}_cell")
        self._layer = layer
        self.built = True

    @property
    def state_size(self) -> Any:
        u = self._layer.units
        return LSTMStateTuple(u, u) if isinstance(self._layer, LSTM) else u

    @property
    def output_size(self) -> int:
        return self._layer.units

    def _prepare(self, depth: int) -> dict:
        return self._layer._prep

    def _project(self, x: Tensor, prep: dict) -> Tensor:
        y = M.matmul(x, prep["kernel"])
        return y if prep["b_x"] is None else M.add(y, prep["b_x"])

    def _step(self, pre: Tensor, state: Any, prep: dict) -> tuple:
        return self._layer._step(pre, state, prep)


class _KerasRNN(Layer):
    _gates = 1

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, time_major: bool = False, implementation: int = 1,
                 **kwargs: Any) -> None:
        from .keras_layers import _drop_shape_kwargs
        self.zero_output_for_mask = bool(kwargs.pop("zero_output_for_mask", False))
        for k in ("activity_regularizer", "kernel_constraint", "recurrent_constraint",
                  "bias_constraint"):
            if kwargs.pop(k, None) is not None:
                raise NotImplementedError(f"{type(self).__name__}({k}=...) is not supported")
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.units = int(units)
        self.activation = _act(activation)
        self.recurrent_activation = _act(recurrent_activation or "hard_sigmoid")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init(kernel_initializer)
        self.recurrent_initializer = _init(recurrent_initializer)
        self.bias_initializer = _init(bias_initializer)
        self._regs = (kernel_regularizer, recurrent_regularizer, bias_regularizer)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.time_major = bool(go_backwards), bool(time_major)
        self.unroll, self.implementation = unroll, implementation
        self.stateful, self.states = bool(stateful), None

    supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The input mask for ``return_sequences`` (else None); None for the states."""
        if isinstance(mask, list):
            mask = mask[0]
        out = mask if self.return_sequences else None
        return [out] + [None] * (2 if isinstance(self, LSTM) else 1) if self.return_state \
            else out

    def reset_states(self, states: Any = None) -> None:
        """A stateful layer's states to zeros, or to ``states`` ([h] or [h, c] arrays)."""
        from .keras_rnn_state import reset_states
        reset_states(self, states)

    def _bias_shape(self) -> list:
        return [self._gates * self.units]

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape) -> None:
        d = input_shape.dim(-1) if input_shape.ndims else None
        if input_shape.ndims != 3 or d is None:
            raise ValueError(f"{type(self).__name__}: expected inputs [batch, time, features] "
                             f"with known features, got shape {input_shape}")
        w = self._gates * self.units
        kr, rr, br = self._regs
        self.kernel = self.add_weight("kernel", [int(d), w], initializer=self.kernel_initializer,
                                      regularizer=kr)
        self.recurrent_kernel = self.add_weight("recurrent_kernel", [self.units, w],
                                                initializer=self.recurrent_initializer,
                                                regularizer=rr)
        self.bias = (self.add_weight("bias", self._bias_shape(), initializer=self._bias_init(),
                                     regularizer=br) if self.use_bias else None)
        if self.stateful:
            from .keras_rnn_state import make_state_variables
            make_state_variables(self, input_shape.dim(1 if self.time_major else 0))
        self.built = True

    def _bias_parts(self) -> tuple:
        """(the bias added to the input projection, the one added to h @ U)."""
        return self.bias, None

    def _dropout_mask(self, like: Tensor, rate: float, training: Any) -> Optional[Tensor]:
        from .nn import dropout
        if rate <= 0.0 or training is False:
            return None
        ones = ones_like(like)
        mask = dropout(ones, rate=rate)
        if training is True:
            return mask
        on = M.cast(training, like.dtype)      # a bool tensor: 1 + on * (mask - 1)
        return M.add(ones, M.multiply(on, M.subtract(mask, ones)))

    def call(self, inputs: Tensor, training: Any = None, initial_state: Any = None,
             mask: Any = None) -> Any:
        x = inputs if not self.time_major else transpose(inputs, [1, 0, 2])  # batch-major
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is not None:
            mask = convert_to_tensor(mask)
            if self.time_major:
                mask = transpose(mask, [1, 0])
        if self.stateful and initial_state is None:
            from .keras_rnn_state import initial_from_states
            initial_state = initial_from_states(self)
        training = _training_value(training)
        drop = self._dropout_mask(x[:, 0, :], self.dropout, training)
        if drop is not None:
            from .array_ops import expand_dims
            x = M.multiply(x, expand_dims(drop, 1))
        if self.go_backwards:
            x = reverse(x, [1])
            mask = None if mask is None else reverse(mask, [1])
        b_x, b_h = self._bias_parts()
        self._prep = {"kernel": self.kernel, "w_h": self.recurrent_kernel, "b_x": b_x,
                      "b_h": b_h, "rec_mask": None}
        cell = _KerasCell(self)
        if initial_state is not None:
            st = list(initial_state) if isinstance(initial_state, (list, tuple)) \
                else [initial_state]
            init = LSTMStateTuple(st[1], st[0]) if isinstance(self, LSTM) else st[0]
            init_h = st[0]
        else:
            init = None
            init_h = None
        if self.recurrent_dropout > 0.0 and training is not False:
            from .array_ops import zeros
            from .array_ops import shape as _shape
            like = init_h if init_h is not None else zeros(
                [_shape(x)[0], self.units], dtype=x.dtype)
            self._prep["rec_mask"] = self._dropout_mask(convert_to_tensor(like),
                                                        self.recurrent_dropout, training)
        if mask is None:
            outs, final = dynamic_rnn(cell, x, initial_state=init, dtype=x.dtype, scope="rnn")
            last = final.h if isinstance(final, LSTMStateTuple) else final
        else:
            from .keras_rnn_state import masked_rnn
            from .rnn import _initial_state
            from .array_ops import shape as _shape
            state = _initial_state(cell, init, x.dtype, _shape(x)[0] if x.shape.dim(0) is None
                                   else int(x.shape.dim(0)), type(self).__name__)
            outs, last, final = masked_rnn(cell, x, state, mask, self.zero_output_for_mask)
        out = outs if self.return_sequences else last
        if self.return_sequences and self.time_major:
            out = transpose(out, [1, 0, 2])
        if self.return_state:
            out = [out, final.h, final.c] if isinstance(final, LSTMStateTuple) else [out, final]
        if self.stateful:
            from .keras_rnn_state import carry_states
            out = carry_states(self, final, out)
        return out

    def _rec(self, h: Tensor, prep: dict) -> Tensor:
        m = prep["rec_mask"]
        return h if m is None else M.multiply(h, m)


class SimpleRNN(_KerasRNN):
    """``h' = activation(x @ kernel + h @ recurrent_kernel + bias)``."""

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def _step(self, pre: Tensor, h: Tensor, prep: dict) -> tuple:
        out = self.activation(M.add(pre, M.matmul(self._rec(h, prep), prep["w_h"])))
        return out, out


class LSTM(_KerasRNN):
    """Keras's LSTM (TF 1.15 defaults: ``recurrent_activation='hard_sigmoid'``,
    ``unit_forget_bias=True``): ``z = x W + h U + b`` split i, f, c, o;
    ``c' = f c + i act(z_c)``, ``h' = o act(c')`` with i, f, o = rec_act(z_i, z_f, z_o)."""
    _gates = 4

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "hard_sigmoid", unit_forget_bias: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        import numpy as np
        u, base = self.units, self.bias_initializer

        class _ForgetOnes(Constant):
            def __call__(self, shape, dtype=None, partition_info=None):
                from .extra_ops import concat
                from .array_ops import ones
                return concat([base([u], dtype), ones([u], dtype), base([2 * u], dtype)], 0)
        return _ForgetOnes(np.zeros(4 * u))

    def _step(self, pre: Tensor, state: Any, prep: dict) -> tuple:
        c, h = state
        z = M.add(pre, M.matmul(self._rec(h, prep), prep["w_h"]))
        zi, zf, zc, zo = split(z, 4, axis=1)
        ra = self.recurrent_activation
        new_c = M.add(M.multiply(ra(zf), c), M.multiply(ra(zi), self.activation(zc)))
        new_h = M.multiply(ra(zo), self.activation(new_c))
        return new_h, LSTMStateTuple(new_c, new_h)


class GRU(_KerasRNN):
    """Keras's GRU (TF 1.15 defaults: ``recurrent_activation='hard_sigmoid'``,
    ``reset_after=False``): gates z, r, h; ``h' = z h + (1 - z) act(x W_h + (r h) U_h + b_h)``
    (with ``reset_after``: ``act(x W_h + b_h + r (h U_h + b'_h))``, bias [2, 3 units])."""
    _gates = 3

    def __init__(self, units: int, activation: Any = "tanh",
                 recurrent_activation: Any = "hard_sigmoid", reset_after: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> list:
        return [2, 3 * self.units] if self.reset_after else [3 * self.units]

    def _bias_parts(self) -> tuple:
        if self.bias is None or not self.reset_after:
            return self.bias, None
        return self.bias[0], self.bias[1]

    def _step(self, pre: Tensor, h: Tensor, prep: dict) -> tuple:
        u = self.units
        hd = self._rec(h, prep)
        w_h = prep["w_h"]
        xz, xr, xh = split(pre, 3, axis=1)
        ra = self.recurrent_activation
        if self.reset_after:
            inner = M.matmul(hd, w_h)
            if prep["b_h"] is not None:
                inner = M.add(inner, prep["b_h"])
            iz, ir, ih = split(inner, 3, axis=1)
            z, r = ra(M.add(xz, iz)), ra(M.add(xr, ir))
            hh = self.activation(M.add(xh, M.multiply(r, ih)))
        else:
            zr = M.matmul(hd, w_h[:, :2 * u])
            iz, ir = split(zr, 2, axis=1)
            z, r = ra(M.add(xz, iz)), ra(M.add(xr, ir))
            hh = self.activation(M.add(xh, M.matmul(M.multiply(r, hd), w_h[:, 2 * u:])))
        new_h = M.add(M.multiply(z, h), M.multiply(M.subtract(1.0, z), hh))
        return new_h, new_h


def _clone(layer: _KerasRNN, name: str, go_backwards: bool) -> _KerasRNN:
    """A fresh, unbuilt copy of ``layer``'s configuration under another name."""
    import copy
    if layer.built:
        raise ValueError(f"Bidirectional: the wrapped layer {layer.name!r} was already "
                         f"called; wrap a new layer")
    c = copy.copy(layer)
    c._trainable_weights, c._non_trainable_weights, c._updates, c._losses = [], [], [], []
    c.built, c._scope = False, None
    c._given_name = c._base_name = c.name = name
    c.go_backwards = go_backwards
    return c


class Bidirectional(Layer):
    """Keras's Bidirectional wrapper: ``forward_<name>`` and ``backward_<name>`` copies of the
    layer (the backward one with ``go_backwards`` flipped; its sequence output is reversed
    back before merging); ``merge_mode`` 'concat' (default), 'sum', 'mul', 'ave' or None (a
    list [forward, backward]). With ``return_state`` the states follow: forward's, then
    backward's; ``initial_state`` is split the same way."""

    _MODES = ("concat", "sum", "mul", "ave", None)

    def __init__(self, layer: _KerasRNN, merge_mode: Optional[str] = "concat",
                 weights: Any = None, backward_layer: Optional[_KerasRNN] = None,
                 **kwargs: Any) -> None:
        from .keras_layers import _drop_shape_kwargs
        if not isinstance(layer, _KerasRNN):
            raise TypeError(f"Bidirectional: expected a keras recurrent layer (LSTM, GRU, "
                            f"SimpleRNN), got {type(layer).__name__}")
        if merge_mode not in self._MODES:
            raise ValueError(f"Invalid merge mode. Merge mode should be one of "
                             f"{self._MODES}, got {merge_mode!r}")
        if weights is not None:
            raise NotImplementedError("Bidirectional(weights=...): assign the variables instead")
        super().__init__(**_drop_shape_kwargs(kwargs))
        self.merge_mode = merge_mode
        self.forward_layer = _clone(layer, f"forward_{layer.name}", layer.go_backwards)
        self.backward_layer = (backward_layer if backward_layer is not None else
                               _clone(layer, f"backward_{layer.name}", not layer.go_backwards))
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.stateful = layer.stateful
        for part in (self.forward_layer, self.backward_layer):   # as Keras: masked steps of
            part.zero_output_for_mask = part.return_sequences     # a sequence output are 0

    supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, list):
            mask = mask[0]
        out = mask if self.return_sequences else None
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            n = 2 * (2 if isinstance(self.forward_layer, LSTM) else 1)
            return outs + [None] * n
        return outs if self.merge_mode is None else out

    def reset_states(self) -> None:
        self.forward_layer.reset_states()
        self.backward_layer.reset_states()

    @property
    def trainable_weights(self) -> list:
        return self.forward_layer.trainable_weights + self.backward_layer.trainable_weights

    trainable_variables = trainable_weights

    @property
    def weights(self) -> list:
        return self.forward_layer.weights + self.backward_layer.weights

    variables = weights

    def call(self, inputs: Tensor, training: Any = None, initial_state: Any = None,
             mask: Any = None) -> Any:
        from .extra_ops import concat
        f_init = b_init = None
        if initial_state is not None:
            st = list(initial_state)
            f_init, b_init = st[:len(st) // 2], st[len(st) // 2:]
        fw = self.forward_layer(inputs, training=training, initial_state=f_init, mask=mask)
        bw = self.backward_layer(inputs, training=training, initial_state=b_init, mask=mask)
        f_states = b_states = []
        if self.return_state:
            fw, f_states, bw, b_states = fw[0], fw[1:], bw[0], bw[1:]
        if self.return_sequences:
            bw = reverse(bw, [0 if self.backward_layer.time_major else 1])
        if self.merge_mode == "concat":
            out: Any = concat([fw, bw], -1)
        elif self.merge_mode == "sum":
            out = M.add(fw, bw)
        elif self.merge_mode == "mul":
            out = M.multiply(fw, bw)
        elif self.merge_mode == "ave":
            out = M.multiply(M.add(fw, bw), 0.5)
        else:
            out = [fw, bw]
        if not self.return_state:
            return out
        return (out if isinstance(out, list) else [out]) + list(f_states) + list(b_states)
