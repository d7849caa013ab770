"""TF1 ``tf.nn.raw_rnn``: an RNN whose inputs, stopping and emitted values are decided by a
user ``loop_fn``, as one ``tf.while_loop`` (frontend/control_flow.py).

TF 1.15's semantics: ``loop_fn(time, cell_output, cell_state, loop_state)`` returns
``(finished, next_input, next_cell_state, emit_output, next_loop_state)``; its first call
(time 0, all else None) gives the initial finished flags, input, state, the *emit
structure* (per-example shapes and dtypes of what is emitted; None: ``cell.output_size`` in
the state's dtype) and the initial loop state. Each trip runs the cell, then ``loop_fn`` at
``time + 1``; rows already finished before the trip emit zeros and keep their state
(TensorArrays and scalars pass through), the emit is written to a dynamic-size TensorArray at
``time``, and the loop ends once every row is finished. Returns ``(emit_ta, final_state,
final_loop_state)``, the last None when the initial loop state was None.

Variables are made by one step (the cell, then ``loop_fn`` at time 1) traced before the loop,
as ``dynamic_rnn`` probes its cell, under ``scope`` ("rnn"): ``rnn/lstm_cell/kernel``, and
a layer ``loop_fn`` calls (``tf.layers.dense(..., name="proj")``, a ``Dense`` object); the
loop's step reuses them (it runs with ``reuse=AUTO_REUSE``). A variable the step would make
anew (an unnamed functional layer, uniqued to a new name) is refused by the loop.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import math_ops as M
from .array_ops import select, shape, zeros
from .graph import Tensor, TensorShape, name_scope
from .op_builder import convert_to_tensor
from .rnn_cell import flatten, is_sequence, map_structure, pack_as
from .variables import AUTO_REUSE, variable_scope

_WHAT = "tf.nn.raw_rnn"


def _check_cell(cell: Any) -> None:
    """TF's ``assert_like_rnncell``: output_size, state_size, zero_state, callable."""
    missing = [m for m, ok in (
        ("'output_size' property is missing", hasattr(cell, "output_size")),
        ("'state_size' property is missing", hasattr(cell, "state_size")),
        ("either 'zero_state' or 'get_initial_state' method is required",
         hasattr(cell, "zero_state") or hasattr(cell, "get_initial_state")),
        ("is not callable", callable(cell))) if not ok]
    if missing:
        raise TypeError(f"The argument 'cell' ({cell!r}) is not an RNNCell: "
                        f"{', '.join(missing)}.")


def _structure(x: Any) -> Any:
    """The nest of ``x`` with every leaf replaced by None (its shape for comparisons)."""
    if is_sequence(x):
        return (type(x).__name__ if hasattr(x, "_fields") else "sequence",
                tuple(_structure(e) for e in x))
    return None


def _same_structure(a: Any, b: Any, what: str) -> None:
    if _structure(a) != _structure(b):
        raise ValueError(f"{_WHAT}: {what}: the two structures don't have the same nested "
                         f"structure. First structure: {a!r}, second structure: {b!r}")


def _size_dims(size: Any) -> list:
    """``output_size`` leaf (an int or a TensorShape) as a list of dims."""
    if isinstance(size, TensorShape):
        return list(size.dims or [])
    if isinstance(size, (list, tuple)):
        return [int(s) for s in size]
    return [int(size)]


def _batch_of(flat_input: list) -> tuple:
    """(static batch size or None, batch size as an int or an int32 scalar tensor)."""
    static = None
    for x in flat_input:
        if x.shape.ndims == 0:
            raise ValueError(f"{_WHAT}: the inputs loop_fn gives must be at least [batch, ...],"
                             f" got the scalar {x.name}")
        d = x.shape.dims[0] if x.shape.dims else None
        if d is not None:
            if static is not None and static != d:
                raise ValueError(f"{_WHAT}: the inputs loop_fn gives disagree on the batch "
                                 f"size: {static} vs {d} ({x.name})")
            static = d
    if static is not None:
        return int(static), int(static)
    return None, shape(flat_input[0])[0]


def _emit_spec(cell: Any, emit_structure: Any, flat_state: list) -> tuple:
    """(structure, flat per-example sizes [static dims list, or an int32 shape tensor],
    flat element dims, flat dtypes) of what the loop emits."""
    if emit_structure is not None:
        flat = [convert_to_tensor(e) for e in flatten(emit_structure)]
        sizes, dims = [], []
        for e in flat:
            if e.shape.dims is None:
                raise ValueError(f"{_WHAT}: an emit structure leaf needs a known rank, got "
                                 f"{e.name} of unknown shape")
            known = all(d is not None for d in e.shape.dims)
            sizes.append([int(d) for d in e.shape.dims] if known else shape(e))
            dims.append(list(e.shape.dims))
        return emit_structure, sizes, dims, [e.dtype for e in flat]
    structure = cell.output_size
    sizes = [_size_dims(s) for s in flatten(structure)]
    return structure, sizes, sizes, [flat_state[0].dtype] * len(sizes)


def _zeros_emit(batch: Any, size: Any, dtype: Any) -> Tensor:
    """Zeros ``[batch, *size]``; ``size`` a list of dims or a run-time int32 shape."""
    if isinstance(size, list):
        return zeros([batch] + size, dtype=dtype)
    from .array_ops import reshape
    from .extra_ops import concat
    lead = reshape(M.cast(convert_to_tensor(batch), "int32"), [1])
    return zeros(concat([lead, M.cast(size, "int32")], 0), dtype=dtype)


def _copy_some_through(finished: Tensor, current: Any, candidate: Any) -> Any:
    """``where(finished, current, candidate)`` leaf by leaf; TensorArrays and scalars take
    the candidate (TF's ``_copy_some_through``)."""
    from .tensor_array import TensorArray

    def copy(cur: Any, cand: Any) -> Any:
        if isinstance(cur, TensorArray):
            return cand
        cur = convert_to_tensor(cur)
        if cur.shape.ndims == 0:
            return cand
        return select(finished, cur, convert_to_tensor(cand))
    return map_structure(copy, current, candidate)


def raw_rnn(cell: Any, loop_fn: Callable, parallel_iterations: Optional[int] = None,
            swap_memory: bool = False, scope: Any = None) -> tuple:
    """``(emit_ta, final_state, final_loop_state)`` of ``cell`` driven by ``loop_fn``; see
    the module docstring. ``emit_ta`` is a TensorArray (or a nest of them, the emit
    structure's) of ``[batch, ...]`` elements, one per step; ``emit_ta.stack()`` is
    ``[time, batch, ...]``."""
    from .control_flow import while_loop
    from .extra_ops import reduce_all
    from .tensor_array import TensorArray
    _check_cell(cell)
    if not callable(loop_fn):
        raise TypeError(f"loop_fn must be a callable, got {type(loop_fn).__name__}")
    parallel_iterations = parallel_iterations or 32
    with variable_scope(scope or "rnn") as varscope:
        time = convert_to_tensor(0, dtype="int32")
        (finished, next_input, initial_state, emit_structure,
         init_loop_state) = loop_fn(time, None, None, None)
        if initial_state is None:
            raise ValueError(f"{_WHAT}: loop_fn(time=0, None, None, None) must return the "
                             f"initial cell state as next_cell_state, got None")
        finished = convert_to_tensor(finished)
        if finished.dtype.name != "bool":
            raise TypeError(f"{_WHAT}: loop_fn's finished must be a bool vector [batch], got "
                            f"dtype {finished.dtype.name}")
        next_input = map_structure(convert_to_tensor, next_input)
        flat_input = flatten(next_input)
        loop_state = init_loop_state if init_loop_state is not None else \
            convert_to_tensor(0, dtype="int32")
        const_batch, batch = _batch_of(flat_input)
        _same_structure(initial_state, cell.state_size,
                        "the initial state loop_fn gives vs cell.state_size")
        state = map_structure(convert_to_tensor, initial_state)
        flat_state = flatten(state)
        structure, sizes, dims, dtypes = _emit_spec(cell, emit_structure, flat_state)
        emit_ta = pack_as(structure, [
            TensorArray(dt, size=0, dynamic_size=True, element_shape=[const_batch] + d,
                        name=f"rnn_output_{i}")
            for i, (dt, d) in enumerate(zip(dtypes, dims))])
        zero_emit = pack_as(structure, [_zeros_emit(batch, s, dt)
                                        for s, dt in zip(sizes, dtypes)])
        with name_scope("probe"):   # one traced step makes the variables, outside the loop
            probe_out, probe_state = cell(next_input, state)
            loop_fn(M.add(time, 1), probe_out, probe_state, loop_state)

        def condition(unused_time, elements_finished, *_):
            return M.logical_not(reduce_all(elements_finished))

        def body(time, elements_finished, current_input, emit_ta, state, loop_state):
            with variable_scope(varscope, reuse=AUTO_REUSE):     # the probe's variables
                return step(time, elements_finished, current_input, emit_ta, state,
                            loop_state)

        def step(time, elements_finished, current_input, emit_ta, state, loop_state):
            next_output, cell_state = cell(current_input, state)
            _same_structure(state, cell_state, "the cell's new state vs its state")
            _same_structure(cell.output_size, next_output, "the cell's output vs output_size")
            next_time = M.add(time, 1)
            (next_finished, next_input, next_state, emit_output,
             next_loop_state) = loop_fn(next_time, next_output, cell_state, loop_state)
            _same_structure(state, next_state, "loop_fn's next_cell_state vs the state")
            _same_structure(current_input, next_input, "loop_fn's next_input vs the input")
            _same_structure(emit_ta, emit_output, "loop_fn's emit_output vs the emit "
                                                  "structure")
            loop_state = loop_state if next_loop_state is None else next_loop_state
            emit_output = _copy_some_through(elements_finished, zero_emit, emit_output)
            next_state = _copy_some_through(elements_finished, state, next_state)
            emit_ta = map_structure(lambda ta, e: ta.write(time, e), emit_ta, emit_output)
            elements_finished = M.logical_or(elements_finished, next_finished)
            return (next_time, elements_finished, next_input, emit_ta, next_state,
                    loop_state)

        returned = while_loop(condition, body,
                              [time, finished, next_input, emit_ta, state, loop_state],
                              parallel_iterations=parallel_iterations,
                              swap_memory=swap_memory)
        emit_ta, final_state, final_loop_state = returned[-3:]
        if init_loop_state is None:
            final_loop_state = None
        return emit_ta, final_state, final_loop_state


__all__ = ["raw_rnn"]
