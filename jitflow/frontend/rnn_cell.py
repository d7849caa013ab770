"""TF1 ``tf.nn.rnn_cell``: RNN cells with TensorFlow's variable names, kernel layouts and
initializers (``rnn/lstm_cell/kernel`` is [input + hidden, 4 * units], gates i, j, f, o).

A gated cell computes ``[x, h] @ kernel + bias`` as ``x @ kernel[:D] + bias`` (the *input
projection*, which ``dynamic_rnn`` does once for all steps as one GEMM) plus ``h @ kernel[D:]``
per step; the values are TF's up to float rounding order.
"""
from __future__ import annotations

import collections
from typing import Any, Callable, Optional

from ..ir.dtypes import as_dtype, float32
from . import math_ops as M
from .array_ops import zeros
from .extra_ops import clip_by_value, concat, split
from .graph import Tensor, name_scope
from .initializers import Constant, Zeros
from .layer_base import Layer
from .op_builder import convert_to_tensor
from .variables import variable_scope

_ACTIVATIONS = {"tanh": M.tanh, "sigmoid": M.sigmoid, "relu": M.relu}


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """The (c, h) state of an LSTM cell; ``h`` is also the cell's output."""
    __slots__ = ()

    @property
    def dtype(self):
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype} vs {h.dtype}")
        return c.dtype


# ------------------------------------------------------------------ nested structures -----

def is_sequence(x: Any) -> bool:
    return isinstance(x, (tuple, list))


def flatten(x: Any) -> list:
    """The leaves of a nest of tuples/lists/namedtuples, depth first."""
    if is_sequence(x):
        return [leaf for part in x for leaf in flatten(part)]
    return [x]


def pack_as(structure: Any, leaves: list) -> Any:
    """``leaves`` (a flat list) rearranged into the nest ``structure``."""
    it = iter(leaves)

    def build(s):
        if is_sequence(s):
            parts = [build(p) for p in s]
            if isinstance(s, tuple) and hasattr(s, "_fields"):
                return type(s)(*parts)
            return type(s)(parts)
        return next(it)
    out = build(structure)
    rest = list(it)
    if rest:
        raise ValueError(f"pack_as: {len(rest)} values left over for structure {structure!r}")
    return out


def map_structure(fn: Callable, *structures: Any) -> Any:
    flats = [flatten(s) for s in structures]
    if len({len(f) for f in flats}) > 1:
        raise ValueError(f"The structures {structures!r} do not have the same number of elements")
    return pack_as(structures[0], [fn(*leaves) for leaves in zip(*flats)])


def _activation(act: Any) -> Callable:
    if act is None:
        return M.tanh
    if isinstance(act, str):
        if act not in _ACTIVATIONS:
            raise ValueError(f"activation must be a callable or one of {sorted(_ACTIVATIONS)}, "
                             f"got {act!r}")
        return _ACTIVATIONS[act]
    return act


def _depth(inputs_shape, cell: "RNNCell") -> int:
    d = inputs_shape.dim(-1) if inputs_shape.ndims else None
    if d is None:
        raise ValueError(f"{type(cell).__name__}: expected inputs.shape[-1] to be known, saw "
                         f"shape: {inputs_shape}")
    return int(d)


# ------------------------------------------------------------------ base ------------------

class RNNCell(Layer):
    """Abstract cell: ``output, new_state = cell(inputs, state)``; variables are made at the
    first call, in the cell's own variable scope (``basic_lstm_cell``, uniqued) inside the
    caller's (``rnn`` for ``dynamic_rnn``), and reused at every later call."""

    def __init__(self, trainable: bool = True, name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kwargs)

    @property
    def state_size(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    def __call__(self, inputs: Any, state: Any, scope: Any = None, *args: Any, **kwargs: Any):
        inputs = convert_to_tensor(inputs)
        if self.dtype is None:
            self.dtype = inputs.dtype
        if scope is not None:
            with variable_scope(scope, reuse=True if self.built else None):
                return self._build_and_call(inputs, state, *args, **kwargs)
        with self._call_scope():
            return self._build_and_call(inputs, state, *args, **kwargs)

    def _build_and_call(self, inputs: Tensor, state: Any, *args: Any, **kwargs: Any):
        if not self.built:
            self.build(inputs.shape)
            self.built = True
        return self.call(inputs, state, *args, **kwargs)

    def call(self, inputs: Tensor, state: Any) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs, state)")

    def zero_state(self, batch_size: Any, dtype: Any = float32) -> Any:
        """Zeros of shape [batch_size, s] for every s in ``state_size``."""
        dt = as_dtype(dtype)
        with name_scope(f"{type(self).__name__}ZeroState"):
            return map_structure(lambda s: zeros([batch_size, s], dtype=dt), self.state_size)

    def get_initial_state(self, inputs: Any = None, batch_size: Any = None, dtype: Any = None):
        if inputs is not None:
            x = convert_to_tensor(inputs)
            batch_size = x.shape.dim(0)
            dtype = dtype or x.dtype
        return self.zero_state(batch_size, dtype or float32)

    # Cells with a kernel over [inputs, h] also offer the split form dynamic_rnn uses:
    # ``prep = _prepare(depth)``, ``pre = _project(x, prep)`` for all steps at once,
    # ``_step(pre_t, state, prep)`` per step. ``call`` is those three for one step.
    hoistable = False


class _GatedCell(RNNCell):
    """A cell whose gates are ``[x, h] @ kernel + bias`` (split as described above)."""
    hoistable = True

    def call(self, inputs: Tensor, state: Any) -> tuple:
        prep = self._prepare(int(inputs.shape.dim(-1)))
        return self._step(self._project(inputs, prep), state, prep)

    def _project(self, x: Tensor, prep: dict) -> Tensor:
        return M.add(M.matmul(x, prep["w_x"]), prep["b"])

    def _split_kernel(self, kernel: Any, depth: int) -> tuple:
        with name_scope("kernel_split"):
            return kernel[:depth], kernel[depth:]


class BasicRNNCell(_GatedCell):
    """``h' = activation([x, h] @ kernel + bias)``; kernel [input + units, units]."""

    def __init__(self, num_units: int, activation: Any = None, reuse: Any = None,
                 name: Optional[str] = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    @property
    def state_size(self) -> int:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units

    def build(self, inputs_shape) -> None:
        d = _depth(inputs_shape, self)
        self._kernel = self.add_weight("kernel", shape=[d + self._num_units, self._num_units])
        self._bias = self.add_weight("bias", shape=[self._num_units], initializer=Zeros())
        self.built = True

    def _prepare(self, depth: int) -> dict:
        w_x, w_h = self._split_kernel(self._kernel, depth)
        return {"w_x": w_x, "w_h": w_h, "b": self._bias}

    def _step(self, pre: Tensor, state: Tensor, prep: dict) -> tuple:
        out = self._activation(M.add(pre, M.matmul(state, prep["w_h"])))
        return out, out


class BasicLSTMCell(_GatedCell):
    """TF's BasicLSTMCell: gates i, j, f, o from [x, h] @ kernel + bias;
    ``c' = c * sigmoid(f + forget_bias) + sigmoid(i) * act(j)``, ``h' = act(c') * sigmoid(o)``."""

    def __init__(self, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True,
                 activation: Any = None, reuse: Any = None, name: Optional[str] = None,
                 dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self) -> Any:
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self) -> int:
        return self._num_units

    def build(self, inputs_shape) -> None:
        d = _depth(inputs_shape, self)
        n = self._num_units
        self._kernel = self.add_weight("kernel", shape=[d + n, 4 * n])
        self._bias = self.add_weight("bias", shape=[4 * n], initializer=Zeros())
        self.built = True

    def _prepare(self, depth: int) -> dict:
        w_x, w_h = self._split_kernel(self._kernel, depth)
        return {"w_x": w_x, "w_h": w_h, "b": self._bias}

    def _step(self, pre: Tensor, state: Any, prep: dict) -> tuple:
        if self._state_is_tuple:
            c, h = state
        else:
            c, h = split(state, 2, axis=1)
        gates = M.add(pre, M.matmul(h, prep["w_h"]))
        i, j, f, o = split(gates, 4, axis=1)
        fb = convert_to_tensor(self._forget_bias, dtype=f.dtype)
        new_c = M.add(M.multiply(c, M.sigmoid(M.add(f, fb))),
                      M.multiply(M.sigmoid(i), self._activation(j)))
        new_h = M.multiply(self._activation(new_c), M.sigmoid(o))
        new_state = (LSTMStateTuple(new_c, new_h) if self._state_is_tuple
                     else concat([new_c, new_h], 1))
        return new_h, new_state


class LSTMCell(_GatedCell):
    """TF's LSTMCell: BasicLSTMCell plus peepholes (``w_f_diag``, ``w_i_diag``, ``w_o_diag``),
    ``cell_clip``, a projection ``projection/kernel`` [units, num_proj] and ``proj_clip``."""

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip: Any = None,
                 initializer: Any = None, num_proj: Optional[int] = None, proj_clip: Any = None,
                 num_unit_shards: Any = None, num_proj_shards: Any = None,
                 forget_bias: float = 1.0, state_is_tuple: bool = True, activation: Any = None,
                 reuse: Any = None, name: Optional[str] = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        if num_unit_shards not in (None, 1) or num_proj_shards not in (None, 1):
            raise NotImplementedError("LSTMCell: num_unit_shards/num_proj_shards (deprecated "
                                      "in TF1) are not supported")
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = float(forget_bias)
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self) -> Any:
        n, p = self._num_units, self._num_proj or self._num_units
        return LSTMStateTuple(n, p) if self._state_is_tuple else n + p

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def build(self, inputs_shape) -> None:
        d = _depth(inputs_shape, self)
        n, h = self._num_units, self._num_proj or self._num_units
        init = self._initializer
        self._kernel = self.add_weight("kernel", shape=[d + h, 4 * n], initializer=init)
        self._bias = self.add_weight("bias", shape=[4 * n], initializer=Zeros())
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", shape=[n], initializer=init)
            self._w_i_diag = self.add_weight("w_i_diag", shape=[n], initializer=init)
            self._w_o_diag = self.add_weight("w_o_diag", shape=[n], initializer=init)
        if self._num_proj is not None:
            with variable_scope("projection"):
                self._proj_kernel = self.add_weight("kernel", shape=[n, self._num_proj],
                                                    initializer=init)
        self.built = True

    def _prepare(self, depth: int) -> dict:
        w_x, w_h = self._split_kernel(self._kernel, depth)
        return {"w_x": w_x, "w_h": w_h, "b": self._bias}

    def _clip(self, t: Tensor, bound: Any) -> Tensor:
        return clip_by_value(t, -bound, bound)

    def _step(self, pre: Tensor, state: Any, prep: dict) -> tuple:
        n = self._num_units
        if self._state_is_tuple:
            c_prev, m_prev = state
        else:
            c_prev, m_prev = split(state, [n, self._num_proj or n], axis=1)
        gates = M.add(pre, M.matmul(m_prev, prep["w_h"]))
        i, j, f, o = split(gates, 4, axis=1)
        fb = convert_to_tensor(self._forget_bias, dtype=f.dtype)
        if self._use_peepholes:
            f = M.add(f, M.multiply(self._w_f_diag, c_prev))
            i = M.add(i, M.multiply(self._w_i_diag, c_prev))
        c = M.add(M.multiply(M.sigmoid(M.add(f, fb)), c_prev),
                  M.multiply(M.sigmoid(i), self._activation(j)))
        if self._cell_clip is not None:
            c = self._clip(c, self._cell_clip)
        if self._use_peepholes:
            o = M.add(o, M.multiply(self._w_o_diag, c))
        m = M.multiply(M.sigmoid(o), self._activation(c))
        if self._num_proj is not None:
            m = M.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = self._clip(m, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else concat([c, m], 1)
        return m, new_state


class GRUCell(_GatedCell):
    """TF's GRUCell: ``r, u = sigmoid([x, h] @ gates/kernel + gates/bias)`` (bias starts at 1),
    ``c = act([x, r * h] @ candidate/kernel + candidate/bias)``, ``h' = u * h + (1 - u) * c``."""

    def __init__(self, num_units: int, activation: Any = None, reuse: Any = None,
                 kernel_initializer: Any = None, bias_initializer: Any = None,
                 name: Optional[str] = None, dtype: Any = None, **kwargs: Any) -> None:
        super().__init__(name=name, dtype=dtype, _reuse=reuse, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self) -> int:
        return self._num_units

    @property
    def output_size(self) -> int:
        return self._num_units

    def build(self, inputs_shape) -> None:
        d = _depth(inputs_shape, self)
        n = self._num_units
        k_init, b_init = self._kernel_initializer, self._bias_initializer
        with variable_scope("gates"):
            self._gate_kernel = self.add_weight("kernel", shape=[d + n, 2 * n],
                                                initializer=k_init)
            self._gate_bias = self.add_weight("bias", shape=[2 * n],
                                              initializer=b_init or Constant(1.0))
        with variable_scope("candidate"):
            self._candidate_kernel = self.add_weight("kernel", shape=[d + n, n],
                                                     initializer=k_init)
            self._candidate_bias = self.add_weight("bias", shape=[n],
                                                   initializer=b_init or Zeros())
        self.built = True

    def _prepare(self, depth: int) -> dict:
        gx, gh = self._split_kernel(self._gate_kernel, depth)
        cx, ch = self._split_kernel(self._candidate_kernel, depth)
        # one GEMM for both input projections: [D, 3n] = [gates_x | candidate_x]
        return {"w_x": concat([gx, cx], 1), "b": concat([self._gate_bias, self._candidate_bias], 0),
                "w_h": gh, "c_h": ch}

    def _step(self, pre: Tensor, state: Tensor, prep: dict) -> tuple:
        n = self._num_units
        pre_g, pre_c = split(pre, [2 * n, n], axis=1)
        value = M.sigmoid(M.add(pre_g, M.matmul(state, prep["w_h"])))
        r, u = split(value, 2, axis=1)
        cand = M.add(pre_c, M.matmul(M.multiply(r, state), prep["c_h"]))
        c = self._activation(cand)
        one = convert_to_tensor(1, dtype=u.dtype)
        new_h = M.add(M.multiply(u, state), M.multiply(M.subtract(one, u), c))
        return new_h, new_h


class MultiRNNCell(RNNCell):
    """Cells stacked: cell i's output is cell i+1's input; state is the tuple of their states;
    cell i's variables live under ``multi_rnn_cell/cell_i/``."""

    def __init__(self, cells: list, state_is_tuple: bool = True) -> None:
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not is_sequence(cells):
            raise TypeError(f"cells must be a list or tuple, but saw: {cells}.")
        if len({id(c) for c in cells}) < len(cells):
            import warnings
            warnings.warn("At least two cells provided to MultiRNNCell are the same object "
                          "and will share weights.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple and any(is_sequence(c.state_size) for c in self._cells):
            raise ValueError("Some cells return tuples of states, but the flag "
                             f"state_is_tuple is not set. State sizes are: "
                             f"{[c.state_size for c in self._cells]}")

    @property
    def state_size(self) -> Any:
        if self._state_is_tuple:
            return tuple(c.state_size for c in self._cells)
        return sum(c.state_size for c in self._cells)

    @property
    def output_size(self) -> Any:
        return self._cells[-1].output_size

    def zero_state(self, batch_size: Any, dtype: Any = float32) -> Any:
        if not self._state_is_tuple:
            return super().zero_state(batch_size, dtype)
        with name_scope(f"{type(self).__name__}ZeroState"):
            return tuple(c.zero_state(batch_size, dtype) for c in self._cells)

    def build(self, inputs_shape) -> None:
        self.built = True

    @property
    def weights(self) -> list:
        return [w for c in self._cells for w in c.weights]

    variables = weights
    trainable_weights = property(lambda self: [w for c in self._cells
                                               for w in c.trainable_weights])
    trainable_variables = trainable_weights

    def call(self, inputs: Tensor, state: Any) -> tuple:
        cur = inputs
        new_states = []
        offset = 0
        for i, cell in enumerate(self._cells):
            with variable_scope(f"cell_{i}"):
                if self._state_is_tuple:
                    if not is_sequence(state):
                        raise ValueError(f"Expected state to be a tuple of length "
                                         f"{len(self.state_size)}, but received: {state}")
                    cur_state = state[i]
                else:
                    size = cell.state_size
                    cur_state = state[:, offset:offset + size]
                    offset += size
                cur, new_state = cell(cur, cur_state)
                new_states.append(new_state)
        return cur, (tuple(new_states) if self._state_is_tuple else concat(new_states, 1))


__all__ = ["RNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell",
           "LSTMStateTuple", "flatten", "pack_as", "map_structure", "is_sequence"]
