"""TF1 recurrences: ``tf.nn.dynamic_rnn``, ``static_rnn``, ``bidirectional_dynamic_rnn``,
``static_bidirectional_rnn`` and contrib's ``sequence_loss`` (the reversal of the backward
direction is ``tf.reverse_sequence``, frontend/array_extra.py).

``dynamic_rnn`` is one ``while`` op (``_loop``, on control_flow.scan_loop): time is the loop
counter, the per-step outputs are stacked by the loop, a gated cell's input projection
``x_t @ W_x`` of all steps is one GEMM before it (``_hoisted``), so the time dimension may be
unknown until run time and the graph does not grow with it. ``static_rnn`` (a Python list of
steps) and a cell that cannot be traced into a loop region are unrolled by
:func:`_time_loop`. ``sequence_length`` follows TF: outputs past an example's length are zero
and its state is copied through, so the final state is the state at its last valid step.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from . import math_ops as M
from .array_ops import reshape, shape, stack, transpose, unstack, select as where, zeros_like
from .extra_ops import one_hot
from .graph import Tensor, name_scope, user_location
from .op_builder import constant, convert_to_tensor
from .rnn_cell import RNNCell, _GatedCell, flatten, is_sequence, map_structure, pack_as
from .variables import variable_scope
from .array_extra import reverse_sequence


# ------------------------------------------------------------------ the time loop ---------

def _time_loop(num_steps: Optional[int], body: Callable, carry: Any, what: str) -> tuple:
    """Runs ``carry, out = body(t, carry)`` for t in 0..num_steps-1, unrolled; returns (outs,
    carry). For ``static_rnn`` and cells that cannot run inside a loop region."""
    if num_steps is None:
        file, line = user_location()
        raise NotImplementedError(
            f"{file}:{line}: {what}: the time dimension of the inputs is unknown at graph "
            f"build, and this cell cannot run inside a tf.while_loop region (it is unrolled "
            f"instead, which needs a static number of steps). Give the inputs a static time "
            f"dimension, e.g. tf.placeholder(tf.float32, [None, 50, n_inputs]).")
    if num_steps < 1:
        raise ValueError(f"{what}: the inputs have {num_steps} time steps; at least 1 is needed")
    outs = []
    for t in range(num_steps):
        carry, out = body(t, carry)
        outs.append(out)
    return outs, carry


# ------------------------------------------------------------------ helpers ---------------

def _batch_size(x: Tensor, axis: int) -> Any:
    b = x.shape.dim(axis)
    return int(b) if b is not None else shape(x)[axis]


def _initial_state(cell: RNNCell, initial_state: Any, dtype: Any, batch: Any, what: str) -> Any:
    if initial_state is not None:
        return map_structure(convert_to_tensor, initial_state)
    if dtype is None:
        raise ValueError(f"{what}: if there is no initial_state, you must give a dtype.")
    return cell.zero_state(batch, dtype)


def _sequence_length(sequence_length: Any, what: str) -> Optional[Tensor]:
    if sequence_length is None:
        return None
    seq = M.cast(convert_to_tensor(sequence_length), "int32")
    if seq.shape.ndims not in (None, 1):
        raise ValueError(f"{what}: sequence_length must be a vector of length batch_size, but "
                         f"saw shape: {seq.shape}")
    return seq


def _masked(t: Tensor, seq: Optional[Tensor], output: Any, new_state: Any, state: Any) -> tuple:
    """TF's rule past each example's length: zero output, state copied through."""
    if seq is None:
        return output, new_state
    with name_scope("sequence_mask"):
        live = M.less(t, seq)
        output = map_structure(lambda o: where(live, o, zeros_like(o)), output)
        new_state = map_structure(lambda n, s: where(live, n, s), new_state, state)
    return output, new_state


def _check_state(cell: RNNCell, state: Any, what: str) -> None:
    want = len(flatten(cell.state_size))
    got = len(flatten(state))
    if want != got:
        raise ValueError(f"{what}: initial_state has {got} tensors but the cell's state_size "
                         f"{cell.state_size!r} has {want}")


# ------------------------------------------------------------------ dynamic_rnn -----------

def dynamic_rnn(cell: RNNCell, inputs: Any, sequence_length: Any = None,
                initial_state: Any = None, dtype: Any = None, parallel_iterations: Any = None,
                swap_memory: bool = False, time_major: bool = False,
                scope: Any = None) -> tuple:
    """``(outputs, final_state)`` of ``cell`` over the time axis of ``inputs`` ([batch, time,
    ...], or [time, batch, ...] with ``time_major``); variables under ``scope`` ("rnn").

    As in TF the recurrence is one while loop (``_loop``: time is the loop counter, the
    outputs are stacked per step by the loop), so the time dimension may be unknown until
    run time. Random ops in a cell (DropoutWrapper) draw new numbers every step inside the
    loop (graph_to_ir.lower_region_op); a cell that cannot be traced into a loop region (one
    that assigns a variable) is unrolled over a static time dimension instead. ``parallel_iterations`` and ``swap_memory`` are accepted."""
    what = "tf.nn.dynamic_rnn"
    if not isinstance(cell, RNNCell):
        raise TypeError(f"{what}: cell must be an instance of RNNCell, got {type(cell).__name__}")
    with variable_scope(scope or "rnn"):
        flat_in = [convert_to_tensor(x) for x in flatten(inputs)]
        for x in flat_in:
            if x.shape.ndims is None or x.shape.ndims < 3:
                raise ValueError(f"{what}: inputs must have rank >= 3 ([batch, time, depth]"
                                 f"{' time-major' if time_major else ''}), got shape {x.shape}")
        t_axis, b_axis = (0, 1) if time_major else (1, 0)
        steps = flat_in[0].shape.dim(t_axis)
        batch = _batch_size(flat_in[0], b_axis)
        state = _initial_state(cell, initial_state, dtype, batch, what)
        _check_state(cell, state, what)
        seq = _sequence_length(sequence_length, what)
        if cell.dtype is None:
            cell.dtype = flat_in[0].dtype
        with name_scope("transpose"):     # time-major inside, as TF
            x_tm = [x if time_major else transpose(x, [1, 0] + list(range(2, x.shape.ndims)))
                    for x in flat_in]
        try:
            like, outs, final = _loop(cell, inputs, x_tm, state, seq, steps, what)
        except NotImplementedError:
            if steps is None:
                raise
            like, outs, final = _unrolled(cell, inputs, x_tm, state, seq, steps, what)
        with name_scope("transpose_1"):
            outs = [o if time_major else transpose(o, [1, 0] + list(range(2, o.shape.ndims)))
                    for o in outs]
        return pack_as(like, outs), final


def _loop(cell: RNNCell, inputs: Any, x_tm: list, state: Any, seq: Optional[Tensor],
          steps: Optional[int], what: str) -> tuple:
    """The recurrence as one ``while`` op (frontend/control_flow.scan_loop)."""
    from .control_flow import scan_loop
    from .extra_ops import gather
    batch = x_tm[0].shape.dim(1)
    hoist = (cell.hoistable and type(cell).call is _GatedCell.call and len(x_tm) == 1
             and (steps is not None or batch is not None) and steps != 0)
    if hoist:       # x_t @ W_x of every step: one GEMM before the loop
        pre, prep = _hoisted(cell, x_tm[0], steps)

        def step_out(t: Tensor, st: Any) -> tuple:
            with cell._call_scope():
                return cell._step(gather(pre, t), st, prep)
    else:
        with name_scope("probe"):       # the first call makes the variables, outside the loop
            # (a gather where the time dim is a static 0: no step to slice, nothing runs it)
            cell(pack_as(inputs, [x[0] if steps != 0 else gather(x, 0) for x in x_tm]), state)

        def step_out(t: Tensor, st: Any) -> tuple:
            return cell(pack_as(inputs, [gather(x, t) for x in x_tm]), st)
    flat_state = flatten(state)
    like: list = []

    def step(t: Tensor, carry: list) -> tuple:
        st = pack_as(state, carry)
        out, new = step_out(t, st)
        out, new = _masked(t, seq, out, new, st)
        like.append(out)
        return flatten(new), flatten(out)
    n_t = steps if steps is not None else shape(x_tm[0])[0]
    final, outs = scan_loop(n_t, step, flat_state, name="while")
    return like[0], outs, pack_as(state, final)


def _unrolled(cell: RNNCell, inputs: Any, x_tm: list, state: Any, seq: Optional[Tensor],
              steps: int, what: str) -> tuple:
    def body(t, st):
        with name_scope(f"step_{t}"):
            out, new = cell(pack_as(inputs, [x[t] for x in x_tm]), st)
            out, new = _masked(constant(t, dtype="int32"), seq, out, new, st)
        return new, out

    outs, final = _time_loop(steps, body, state, what)
    with name_scope("outputs"):
        leaves = [stack(list(level), axis=0) for level in zip(*[flatten(o) for o in outs])]
    return outs[0], leaves, final


def _hoisted(cell: RNNCell, x: Tensor, steps: Optional[int]) -> tuple:
    """The cell's input projection for all steps as one GEMM: ``[time, batch, width]``."""
    depth = x.shape.dim(-1)
    if x.shape.ndims != 3 or depth is None:
        raise ValueError(f"{type(cell).__name__}: expected inputs of rank 3 with a known depth,"
                         f" got shape {x.shape}")
    with cell._call_scope():
        if not cell.built:
            cell.build(x.shape)
            cell.built = True
        prep = cell._prepare(int(depth))
        with name_scope("input_projection"):
            pre = cell._project(reshape(x, [-1, int(depth)]), prep)
            width = int(pre.shape.dim(-1))
            lead = [steps, -1] if steps is not None else [-1, int(x.shape.dim(1))]
            pre = reshape(pre, lead + [width])
    return pre, prep


# ------------------------------------------------------------------ static_rnn ------------

def static_rnn(cell: RNNCell, inputs: Any, initial_state: Any = None, dtype: Any = None,
               sequence_length: Any = None, scope: Any = None) -> tuple:
    """``(outputs, state)`` for a Python list of per-step inputs, each [batch, depth]."""
    what = "tf.nn.static_rnn"
    if not isinstance(cell, RNNCell):
        raise TypeError(f"{what}: cell must be an instance of RNNCell, got {type(cell).__name__}")
    if not is_sequence(inputs):
        raise TypeError(f"{what}: inputs must be a sequence, got {type(inputs).__name__}")
    if not inputs:
        raise ValueError(f"{what}: inputs must not be empty")
    with variable_scope(scope or "rnn") as varscope:
        first = convert_to_tensor(flatten(inputs[0])[0])
        if first.shape.ndims is not None and first.shape.ndims < 2:
            raise ValueError(f"{what}: each input must be at least [batch, depth], got shape "
                             f"{first.shape}")
        state = _initial_state(cell, initial_state, dtype, _batch_size(first, 0), what)
        _check_state(cell, state, what)
        seq = _sequence_length(sequence_length, what)

        def body(t, st):
            if t > 0:
                varscope.reuse_variables()
            out, new = cell(inputs[t], st)
            out, new = _masked(constant(t, dtype="int32"), seq, out, new, st)
            return new, out

        outs, final = _time_loop(len(inputs), body, state, what)
        return outs, final


# ------------------------------------------------------------------ reversal --------------

def _reverse_time(x: Tensor, axis: int) -> Tensor:
    return stack(list(reversed(unstack(x, axis=axis))), axis=axis)


# ------------------------------------------------------------------ bidirectional ---------

def bidirectional_dynamic_rnn(cell_fw: RNNCell, cell_bw: RNNCell, inputs: Any,
                              sequence_length: Any = None, initial_state_fw: Any = None,
                              initial_state_bw: Any = None, dtype: Any = None,
                              parallel_iterations: Any = None, swap_memory: bool = False,
                              time_major: bool = False, scope: Any = None) -> tuple:
    """``((out_fw, out_bw), (state_fw, state_bw))``; the backward cell runs on each example's
    first ``sequence_length`` steps reversed, and its outputs are reversed back."""
    for c, n in ((cell_fw, "cell_fw"), (cell_bw, "cell_bw")):
        if not isinstance(c, RNNCell):
            raise TypeError(f"bidirectional_dynamic_rnn: {n} must be an instance of RNNCell")
    t_axis, b_axis = (0, 1) if time_major else (1, 0)

    def rev(x):
        if sequence_length is None:
            return _reverse_time(x, t_axis)
        return reverse_sequence(x, sequence_length, seq_axis=t_axis, batch_axis=b_axis)

    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            out_fw, st_fw = dynamic_rnn(cell_fw, inputs, sequence_length, initial_state_fw,
                                        dtype, time_major=time_major, scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            inputs_rev = map_structure(lambda x: rev(convert_to_tensor(x)), inputs)
            tmp, st_bw = dynamic_rnn(cell_bw, inputs_rev, sequence_length, initial_state_bw,
                                     dtype, time_major=time_major, scope=bw_scope)
    out_bw = map_structure(rev, tmp)
    return (out_fw, out_bw), (st_fw, st_bw)


def static_bidirectional_rnn(cell_fw: RNNCell, cell_bw: RNNCell, inputs: Any,
                             initial_state_fw: Any = None, initial_state_bw: Any = None,
                             dtype: Any = None, sequence_length: Any = None,
                             scope: Any = None) -> tuple:
    """``(outputs, state_fw, state_bw)``; each output is [fw, bw] concatenated on depth."""
    from .extra_ops import concat
    if not is_sequence(inputs) or not inputs:
        raise TypeError("static_bidirectional_rnn: inputs must be a non-empty list")
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            out_fw, st_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype,
                                       sequence_length, scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            if sequence_length is None:
                rev_in = list(reversed(inputs))
            else:
                stacked = stack([convert_to_tensor(x) for x in inputs], axis=0)
                rev_in = unstack(reverse_sequence(stacked, sequence_length, 0, 1), axis=0)
            tmp, st_bw = static_rnn(cell_bw, rev_in, initial_state_bw, dtype,
                                    sequence_length, scope=bw_scope)
    if sequence_length is None:
        out_bw = list(reversed(tmp))
    else:
        out_bw = unstack(reverse_sequence(stack(tmp, axis=0), sequence_length, 0, 1), axis=0)
    outputs = [concat([f, b], 1) for f, b in zip(out_fw, out_bw)]
    return outputs, st_fw, st_bw


__all__ = ["dynamic_rnn", "static_rnn", "bidirectional_dynamic_rnn", "static_bidirectional_rnn"]
