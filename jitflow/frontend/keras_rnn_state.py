"""What the Keras recurrent layers (keras_rnn.py) add to ``dynamic_rnn``'s loop: Keras masks
and ``stateful`` layers.

**Masks** (TF 1.15's ``K.rnn``): the loop carries the cell's state and the previous output;
at a step whose mask is false both stay as they were (a per-step select inside the loop, so
any mask pattern works, not only trailing padding): the output there is the last unmasked
output (zeros before the first one), or zeros with ``zero_output_for_mask`` (Bidirectional
with ``return_sequences``); the final states are those of the last unmasked step.

**Stateful** layers keep their states in non-trainable variables (``<layer>/states_<i>``,
not in ``layer.weights``), one row per sample of the fixed batch: a call starts from them
and its output is ordered after assigning its final states to them, so each run that
computes the output (predict, a fit step) carries the states to the next.
``reset_states`` sets them to zeros or to given values.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .array_ops import select, transpose, zeros_like
from .extra_ops import gather
from .graph import Tensor, control_dependencies
from .rnn import _hoisted
from .rnn_cell import LSTMStateTuple, flatten, pack_as

__all__ = ["masked_rnn", "make_state_variables", "carry_states", "reset_states"]


def masked_rnn(cell: Any, x: Tensor, state: Any, mask: Tensor, zero_output: bool) -> tuple:
    """``(outputs [batch, time, units], last output, final state)`` of ``cell`` (a
    keras_rnn._KerasCell) over batch-major ``x`` with the bool ``mask`` [batch, time]."""
    from .control_flow import scan_loop
    from .array_ops import shape
    from .math_ops import cast
    steps = x.shape.dim(1)
    x_tm = transpose(x, [1, 0, 2])
    m_tm = transpose(cast(mask, "bool"), [1, 0])
    layer = cell._layer
    if steps is not None or x.shape.dim(0) is not None:   # x_t @ W of every step: one GEMM
        pre, prep = _hoisted(cell, x_tm, steps)
        step_in = lambda t: gather(pre, t)  # noqa: E731
    else:                                             # a reshape would need both dims
        prep = layer._prep
        step_in = lambda t: cell._project(gather(x_tm, t), prep)  # noqa: E731
    flat_state = flatten(state)
    zero_out = zeros_like(flat_state[0])            # every state is [batch, units]

    def step(t: Tensor, carry: list) -> tuple:
        old, prev = carry[:-1], carry[-1]
        keep = gather(m_tm, t)
        with cell._call_scope():
            out, new = layer._step(step_in(t), pack_as(state, old), prep)
        new = [select(keep, n, o) for n, o in zip(flatten(new), old)]
        out = select(keep, out, zeros_like(out) if zero_output else prev)
        return new + [out], [out]
    n_t = steps if steps is not None else shape(x_tm)[0]
    final, outs = scan_loop(n_t, step, flat_state + [zero_out], name="while")
    return transpose(outs[0], [1, 0, 2]), final[-1], pack_as(state, final[:-1])


# ------------------------------------------------------------------ stateful -------------

def _batch_error(layer: Any) -> ValueError:
    return ValueError(
        f"If a RNN is stateful, it needs to know its batch size. Specify the batch size of "
        f"your input tensors (layer {layer.name}): \n- If using a Sequential model, specify "
        f"the batch size by passing a `batch_input_shape` argument to your first layer.\n- If "
        f"using the functional API, specify the batch size by passing a `batch_shape` argument "
        f"to your Input layer.")


def _state_sizes(layer: Any) -> list:
    """Keras's order of the states: [h] or, for LSTM, [h, c]."""
    return [layer.units, layer.units] if layer._gates == 4 else [layer.units]


def make_state_variables(layer: Any, batch: Optional[int]) -> None:
    """The layer's state variables (zeros), made in its scope at build."""
    from .initializers import Zeros
    from .variables import get_variable
    if batch is None:
        raise _batch_error(layer)
    layer._state_batch = int(batch)
    layer.states = [get_variable(f"states_{i}", shape=[int(batch), u],
                                 dtype=layer.dtype or "float32", initializer=Zeros(),
                                 trainable=False)
                    for i, u in enumerate(_state_sizes(layer))]


def initial_from_states(layer: Any) -> list:
    """The state variables' values, as an ``initial_state`` list ([h] or [h, c])."""
    from .array_ops import identity
    return [identity(v) for v in layer.states]


def carry_states(layer: Any, final: Any, out: Any) -> Any:
    """``out`` (a tensor or list) ordered after assigning ``final`` to the state variables."""
    from .array_ops import identity
    from .variables import assign
    vals = [final.h, final.c] if isinstance(final, LSTMStateTuple) else [final]
    ops = [assign(v, s) for v, s in zip(layer.states, vals)]
    with control_dependencies(ops):
        if isinstance(out, list):
            return [identity(o) for o in out]
        return identity(out)


def reset_states(layer: Any, states: Any = None) -> None:
    """Keras's ``reset_states``: the states to zeros, or to ``states`` (one array per state:
    [h] or [h, c], each [batch, units]), in Keras's session."""
    from .keras_backend import get_session
    if not getattr(layer, "stateful", False):
        raise AttributeError("Layer must be stateful.")
    if getattr(layer, "states", None) is None:
        raise _batch_error(layer) if not layer.built else AttributeError(
            f"Layer {layer.name} has no states")
    batch, sizes = layer._state_batch, _state_sizes(layer)
    if states is None:
        values = [np.zeros((batch, u), np.float32) for u in sizes]
    else:
        values = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(values) != len(sizes):
            raise ValueError(f"Layer {layer.name} expects {len(sizes)} states, but it received "
                             f"{len(values)} state values. Input received: {states}")
        values = [np.asarray(v, np.float32) for v in values]
        for i, (v, u) in enumerate(zip(values, sizes)):
            if v.shape != (batch, u):
                raise ValueError(f"State {i} is incompatible with layer {layer.name}: expected "
                                 f"shape={(batch, u)}, found shape={v.shape}")
    sess = get_session(layer.states[0].graph)
    for var, v in zip(layer.states, values):
        var.load(v, sess)
