"""TF1 ``tf.TensorArray``: a list of same-typed tensors indexed by position, the way TF1
loops collect per-step values.

Outside a loop a TensorArray holds a dense buffer ``[size, *element]`` (an ordinary tensor:
``unstack`` sets it, ``write``/``scatter`` return a TensorArray with rows replaced, ``read`` /
``gather`` / ``stack`` / ``concat`` read it), so its values and gradients are the IR's.

As a ``tf.while_loop`` variable a TensorArray the body only writes is not carried through
the trips: the body sees a ``_LoopTensorArray`` that *records* every ``write(index, value)``
of a trip. Each write becomes two values the loop stacks per trip (``num_stacked``: the value
and its index), and after the loop one scatter puts the stacked rows into the array (O(trips)
work, and the gradient of a stacked value is a row of the array's cotangent).

Once the body *reads* the array (``read``/``gather``/``stack``/``size``), it becomes dense in
the loop: a loop parameter ``[size, *element]`` (the array as it entered, or zeros: then the
element shape must be known), the trip's writes so far and later ones scattered into it one
row each. An array the body reads and writes is carried (so ``ta.read(i - 1)`` sees the
previous trip's write; the gradient is the IR loop's, which keeps each trip's array: O(trips
x size) memory); one it only reads enters as a captured value. Not supported, with an error
saying so: a dynamic_size array read and written in one loop with back_prop (its size changes
per trip), a ragged (``split`` into varying lengths) array as a loop variable. A ``tf.cond``
in the body may write and read the array (tensor_array_cond.py merges the branches' writes,
masking the rows a branch did not write). A nested ``tf.while_loop`` may take the array as
its own loop variable: the enclosing loop then carries it densely and the nested loop treats
its value as a plain array (its rows scattered after the nested loop).

``split(value, lengths)`` with lengths known at graph build: equal lengths give a dense array
of ``[length, ...]`` elements; varying ones a ``_RaggedTensorArray`` (a list of pieces).
A ``dynamic_size`` array written past its end grows with zero rows.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..ir.dtypes import int32
from .graph import Tensor, TensorShape, user_location
from .op_builder import convert_to_tensor, make_op


def _dtype(d: Any):
    from ..ir.dtypes import as_dtype
    return as_dtype(getattr(d, "base_dtype", d))


def _where() -> str:
    f, line = user_location()
    return f"{f}:{line}"


def _zero_rows(like: Tensor, rows: Any) -> Tensor:
    """Zeros ``[rows, *element]`` of ``like``'s element shape and dtype (``like``: [m,
    *element], m may be 0; ``rows`` an int or an int32 scalar tensor); the element dims
    stay as static as ``like``'s."""
    from . import math_ops as M
    from .array_ops import reshape, zeros, zeros_like
    from .op_builder import static_value
    rank = like.shape.ndims
    if rank is None:
        raise ValueError(f"a TensorArray's elements need a known rank, at {_where()}")
    row = M.reduce_sum(zeros_like(like), axis=0, keepdims=True)        # [1, *element]
    n = static_value(rows)
    if n is not None:
        return M.add(row, zeros([int(n)] + [1] * (rank - 1), dtype=like.dtype))
    # a run-time row count: a range of that length gives the leading dim (jitflow's shapes
    # follow tensors, not arithmetic on dims)
    from .control_flow import range as range_
    lead = zeros_like(M.cast(range_(M.cast(rows, int32)), like.dtype))
    return M.add(row, reshape(lead, [-1] + [1] * (rank - 1)))


def grow_rows(base: Tensor, size: Any) -> Tensor:
    """``base`` ([m, *element]) padded with zero rows to ``max(m, size)`` rows (a
    dynamic_size array written past its end)."""
    from . import math_ops as M
    from .array_ops import shape
    from .op_builder import static_value
    n, m = static_value(size), (base.shape.dims or [None])[0]
    if n is not None and m is not None and int(n) <= m:
        return base
    from .control_flow import range as range_
    rows = shape(base)[0]
    grown = _zero_rows(base, M.maximum(M.cast(size, int32), rows))
    # base's rows scattered into the zeros (not a concat: its gradient needs at most one
    # operand of run-time length)
    return make_op("TensorArrayScatter", "gather_grad", [base, range_(rows), grown],
                   {"axis": 0}).outputs[0]


def scatter_rows(base: Optional[Tensor], values: Tensor, indices: Tensor,
                 size: Any = None, grow: bool = False, mask: Optional[Tensor] = None) -> Tensor:
    """``base`` ([size, *element]) with rows ``indices`` replaced by ``values`` ([n,
    *element]). Without a base the rows go into zeros of ``size`` rows (an int or a run-time
    scalar), else of ``n`` rows; with ``grow`` (a dynamic_size array) a base shorter than
    ``size`` is padded with zero rows first. A row index past the rows is an out-of-range
    error, as writing past a fixed-size TensorArray is in TF. ``mask`` ([n], the values'
    dtype, 1 or 0): rows with mask 0 write nothing (a tf.cond branch's padding rows)."""
    from . import math_ops as M
    from .array_ops import ones_like, reshape, select as where, zeros_like
    idx = reshape(M.cast(indices, int32), [-1])
    if base is None:
        base = zeros_like(values) if size is None else _zero_rows(values, size)
    elif grow and size is not None:
        base = grow_rows(base, size)
    ones = ones_like(values)
    if mask is not None:
        m = reshape(mask, [-1] + [1] * (values.shape.ndims - 1))
        values, ones = M.multiply(values, m), M.multiply(ones, m)
    rows = make_op("TensorArrayScatter", "gather_grad", [values, idx, base],
                   {"axis": 0}).outputs[0]
    hit = make_op("TensorArrayScatter", "gather_grad", [ones, idx, base],
                  {"axis": 0}).outputs[0]
    return where(M.greater(hit, M.cast(0, hit.dtype)), rows, base)


class TensorArray:
    """``tf.TensorArray(dtype, size=None, dynamic_size=None, clear_after_read=None,
    tensor_array_name=None, handle=None, flow=None, infer_shape=True, element_shape=None,
    colocate_with_first_write_call=True, name=None)``."""

    def __init__(self, dtype: Any, size: Any = None, dynamic_size: Any = None,
                 clear_after_read: Any = None, tensor_array_name: Any = None,
                 handle: Any = None, flow: Any = None, infer_shape: bool = True,
                 element_shape: Any = None, colocate_with_first_write_call: bool = True,
                 name: Optional[str] = None, _buffer: Optional[Tensor] = None) -> None:
        self._dtype = _dtype(dtype)
        if size is None and not dynamic_size and _buffer is None:
            raise ValueError("Size must be provided if dynamic_size is False")
        self._size = size
        self._dynamic = bool(dynamic_size)
        self._element_shape = TensorShape(element_shape) if element_shape is not None \
            else TensorShape(None)
        self._buffer = _buffer
        self._name = name or tensor_array_name or "TensorArray"
        if _buffer is not None:
            self._element_shape = TensorShape(_buffer.shape.dims[1:]
                                              if _buffer.shape.dims is not None else None)

    # -------------------------------------------------------------- properties --------
    @property
    def dtype(self):
        return self._dtype

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic

    @property
    def flow(self) -> Tensor:
        """The array's contents as one tensor (TF's flow tensor orders the array's ops)."""
        return self.stack()

    def _with(self, buffer: Tensor) -> "TensorArray":
        return TensorArray(self._dtype, self._size, self._dynamic, _buffer=buffer,
                           name=self._name)

    def _check(self, value: Tensor, what: str) -> Tensor:
        v = convert_to_tensor(value, dtype=self._dtype)
        if v.dtype is not self._dtype:
            raise TypeError(f"TensorArray dtype is {self._dtype.name} but {what} has dtype "
                            f"{v.dtype.name}, at {_where()}")
        return v

    # -------------------------------------------------------------- writes ------------
    def write(self, index: Any, value: Any, name: Optional[str] = None) -> "TensorArray":
        from .array_ops import expand_dims
        v = self._check(value, "the value written")
        if not self._element_shape.is_compatible_with(v.shape):
            raise ValueError(f"Could not write to TensorArray: element shape "
                             f"{self._element_shape} and the value's {v.shape} differ, at "
                             f"{_where()}")
        return self._with(scatter_rows(self._buffer, expand_dims(v, 0),
                                       convert_to_tensor(index), self._size_for_write(index),
                                       grow=self._dynamic))

    def scatter(self, indices: Any, value: Any, name: Optional[str] = None) -> "TensorArray":
        v = self._check(value, "the values scattered")
        return self._with(scatter_rows(self._buffer, v, convert_to_tensor(indices),
                                       self._size_for_write(indices), grow=self._dynamic))

    def unstack(self, value: Any, name: Optional[str] = None) -> "TensorArray":
        v = self._check(value, "the value unstacked")
        if v.shape.dims is not None and not v.shape.dims:
            raise ValueError(f"TensorArray.unstack needs a tensor of rank >= 1, at {_where()}")
        return self._with(v)

    def split(self, value: Any, lengths: Any, name: Optional[str] = None) -> "TensorArray":
        """Element i is ``value[sum(lengths[:i]) : sum(lengths[:i+1])]`` (lengths known at
        graph build). Equal lengths give a dense array of ``[length, ...]`` elements; varying
        ones a ``_RaggedTensorArray`` (read at a static index, concat, size)."""
        from .extra_ops import split as split_
        from .op_builder import static_value
        v = self._check(value, "the value split")
        if v.shape.dims is not None and not v.shape.dims:
            raise ValueError(f"TensorArray.split needs a tensor of rank >= 1, got a scalar, "
                             f"at {_where()}")
        lv = static_value(lengths)
        if lv is None:
            raise NotImplementedError(f"TensorArray.split needs lengths known at graph build "
                                      f"(a list or a constant), got {lengths}, at {_where()}")
        lens = [int(n) for n in np.asarray(lv).reshape(-1)]
        if np.asarray(lv).ndim != 1 or any(n < 0 for n in lens):
            raise ValueError(f"TensorArray.split lengths must be a vector of non-negative "
                             f"ints, got {np.asarray(lv).tolist()}, at {_where()}")
        if not lens:
            raise ValueError(f"TensorArray.split needs at least one length, at {_where()}")
        rows = v.shape.dims[0] if v.shape.dims is not None else None
        if rows is not None and rows != sum(lens):
            raise ValueError(f"TensorArray.split: lengths {lens} sum to {sum(lens)} but the "
                             f"value has {rows} rows (shape {v.shape}), at {_where()}")
        size = static_value(self._size) if self._size is not None else None
        if size is not None and not self._dynamic and len(lens) > int(size):
            raise ValueError(f"TensorArray.split: {len(lens)} lengths for an array of size "
                             f"{int(size)} (not dynamic_size), at {_where()}")
        pieces = split_(v, lens, axis=0) if len(lens) > 1 else [v]
        if len(set(lens)) <= 1:
            from .array_ops import stack as stack_
            stacked = stack_(pieces, axis=0)                 # [n, length, ...]
            if size is not None and int(size) > len(lens):   # the rest stay unwritten (zeros)
                return TensorArray(self._dtype, self._size, self._dynamic, name=self._name
                                   ).scatter(list(range(len(lens))), stacked)
            return self._with(stacked)
        if size is not None and int(size) != len(lens):
            raise NotImplementedError(f"TensorArray.split with lengths of varying sizes {lens} "
                                      f"needs an array of size {len(lens)}, got {int(size)}, "
                                      f"at {_where()}")
        return _RaggedTensorArray(self, pieces)

    def _size_for_write(self, index: Any) -> Any:
        from . import math_ops as M
        if self._size is not None and not self._dynamic:
            return self._size
        from .array_ops import reshape
        from .extra_ops import concat
        idx = reshape(M.cast(convert_to_tensor(index), int32), [-1])
        top = M.add(M.reduce_max(concat([idx, [-1]], 0)), 1)     # 0 for no writes
        if self._buffer is not None:
            from .array_ops import shape
            top = M.maximum(top, shape(self._buffer)[0])
        return top if self._size is None else M.maximum(M.cast(self._size, int32), top)

    # -------------------------------------------------------------- reads -------------
    def _contents(self, what: str) -> Tensor:
        if self._buffer is not None:
            return self._buffer
        dims = self._element_shape.dims
        if dims is not None and all(d is not None for d in dims) and self._size is not None:
            from .array_ops import fill, reshape
            from .extra_ops import concat
            from . import math_ops as M
            shape = concat([reshape(M.cast(convert_to_tensor(self._size), int32), [1]),
                            convert_to_tensor(list(dims), dtype=int32)], 0)
            return fill(shape, M.cast(0, self._dtype))
        raise ValueError(f"TensorArray.{what}: the array has no element written yet and no "
                         f"fully defined element_shape, at {_where()}")

    def read(self, index: Any, name: Optional[str] = None) -> Tensor:
        from .extra_ops import gather
        return gather(self._contents("read"), convert_to_tensor(index), name=name)

    def gather(self, indices: Any, element_shape: Any = None,
               name: Optional[str] = None) -> Tensor:
        from .extra_ops import gather
        return gather(self._contents("gather"), convert_to_tensor(indices), name=name)

    def stack(self, name: Optional[str] = None) -> Tensor:
        from .array_ops import identity
        return identity(self._contents("stack"), name=name)

    def concat(self, name: Optional[str] = None) -> Tensor:
        from .array_ops import reshape
        b = self._contents("concat")
        rest = b.shape.dims[2:] if b.shape.dims is not None else None
        if rest is None or any(d is None for d in rest):
            raise NotImplementedError(f"TensorArray.concat needs static element dims after the "
                                      f"first, got {b.shape}, at {_where()}")
        return reshape(b, [-1] + list(rest), name=name)

    def size(self, name: Optional[str] = None) -> Tensor:
        from .array_ops import shape
        if self._buffer is not None:
            return shape(self._buffer)[0]
        return convert_to_tensor(self._size, dtype=int32)

    def identity(self) -> "TensorArray":
        return self

    def close(self, name: Optional[str] = None) -> Any:
        from .variables import no_op
        return no_op(name=name)

    def mark_used(self) -> None:
        pass


class _RaggedTensorArray(TensorArray):
    """A TensorArray whose elements differ in their first dim (``split`` with varying
    lengths): a list of pieces. ``read`` at a static index, ``write`` at a static index,
    ``concat``, ``size``; ``stack``/``gather`` and run-time indices say they need equal
    element shapes."""

    def __init__(self, base: TensorArray, pieces: list) -> None:
        super().__init__(base._dtype, len(pieces), base._dynamic, name=base._name)
        self._pieces = list(pieces)
        dims = pieces[0].shape.dims
        self._element_shape = TensorShape(None if dims is None else [None] + list(dims[1:]))

    def _index(self, index: Any, what: str) -> int:
        from .op_builder import static_value
        i = static_value(index)
        if i is None or np.asarray(i).ndim != 0:
            raise NotImplementedError(
                f"TensorArray.{what} of an array split into elements of different lengths "
                f"{self._lengths()} needs a static scalar index, got {index}, at {_where()}")
        i = int(i)
        if not 0 <= i < len(self._pieces):
            raise IndexError(f"TensorArray.{what}: index {i} is outside the array's "
                             f"{len(self._pieces)} elements, at {_where()}")
        return i

    def _lengths(self) -> list:
        return [p.shape.dims[0] if p.shape.dims is not None else None for p in self._pieces]

    def read(self, index: Any, name: Optional[str] = None) -> Tensor:
        from .array_ops import identity
        return identity(self._pieces[self._index(index, "read")], name=name)

    def write(self, index: Any, value: Any, name: Optional[str] = None) -> "TensorArray":
        v = self._check(value, "the value written")
        i = self._index(index, "write")
        new = _RaggedTensorArray(self, self._pieces)
        new._pieces[i] = v
        return new

    def scatter(self, indices: Any, value: Any, name: Optional[str] = None) -> "TensorArray":
        raise NotImplementedError(f"TensorArray.scatter into an array of elements of "
                                  f"different lengths {self._lengths()}, at {_where()}")

    def _contents(self, what: str) -> Tensor:
        raise ValueError(f"TensorArray.{what} needs elements of one shape, but the array holds "
                         f"elements of lengths {self._lengths()} (use concat), at {_where()}")

    def concat(self, name: Optional[str] = None) -> Tensor:
        from .extra_ops import concat
        return concat(self._pieces, 0, name=name or "concat")

    def size(self, name: Optional[str] = None) -> Tensor:
        return convert_to_tensor(len(self._pieces), dtype=int32)


class _LoopTensorArray(TensorArray):
    """A TensorArray loop variable inside a while body (module docstring): reads see the
    array as it entered the loop; writes are recorded for the loop to stack."""

    def __init__(self, base: TensorArray, writes: list) -> None:
        super().__init__(base._dtype, base._size, base._dynamic, _buffer=base._buffer,
                         element_shape=None if base._element_shape.dims is None
                         else base._element_shape, name=base._name)
        self._base = base
        self._writes = writes          # shared by every version inside the trip
        self._param: Optional[Tensor] = None    # dense mode (after a read): the loop's
        self._init: Optional[Tensor] = None     # parameter, its entry value and the
        self._dense: Optional[Tensor] = None    # current value in the trip
        self._dense_written = False
        self._early = self._early_param()

    def _with(self, buffer: Tensor) -> "TensorArray":
        raise AssertionError("a loop's TensorArray records writes, it has no buffer")

    def write(self, index: Any, value: Any, name: Optional[str] = None) -> "TensorArray":
        from .array_ops import expand_dims, reshape
        v = self._check(value, "the value written")
        if v.shape.dims is None:
            raise ValueError(f"a value written to a TensorArray inside a loop needs a known "
                             f"rank, at {_where()}")
        row = (expand_dims(v, 0), reshape(convert_to_tensor(index, dtype=int32), [1]))
        if self._dense is not None:
            self._dense_write(*row)
        else:
            self._writes.append(row)
        return self

    def scatter(self, indices: Any, value: Any, name: Optional[str] = None) -> "TensorArray":
        raise NotImplementedError(f"TensorArray.scatter inside a tf.while_loop is not "
                                  f"implemented in jitflow yet (at {_where()})")

    def split(self, value: Any, lengths: Any, name: Optional[str] = None) -> "TensorArray":
        raise NotImplementedError(f"TensorArray.split inside a tf.while_loop body is not "
                                  f"implemented in jitflow yet (split before the loop, at "
                                  f"{_where()})")

    def unstack(self, value: Any, name: Optional[str] = None) -> "TensorArray":
        raise NotImplementedError(f"TensorArray.unstack inside a tf.while_loop body is not "
                                  f"implemented in jitflow yet (unstack before the loop, at "
                                  f"{_where()})")

    def _early_param(self) -> Optional[Tensor]:
        """The dense parameter, made as the loop starts where its type is known (the array
        has a buffer or a fully defined element_shape): a first read inside a nested cond
        then captures it like any tensor from before the cond."""
        b = self._base._buffer
        dims = b.shape.dims if b is not None else None
        if b is None and self._element_shape.is_fully_defined() and self._size is not None:
            from .op_builder import static_value
            n = static_value(self._size)
            dims = [None if n is None else int(n)] + list(self._element_shape.dims)
        if dims is None:
            return None
        from ..ir.types import TensorType
        from .control_flow import _param
        from .graph import get_default_graph
        lead = None if self._dynamic else dims[0]
        return _param(get_default_graph(), TensorType(self._dtype, (lead,) + tuple(dims[1:])),
                      "TensorArrayLoop")

    def _go_dense(self, what: str) -> None:
        """The first read in the body: from here on the array is a dense ``[size, *element]``
        loop parameter; the trip's writes so far are scattered into it, later ones too
        (one row each), and the loop carries it if the body writes it (else it enters as a
        captured value)."""
        if self._param is not None:
            return
        from ..ir.types import TensorType
        from .control_flow import _param
        from .graph import get_default_graph
        init = self._base._buffer
        if init is None:
            dims = self._element_shape.dims
            if self._writes:
                dims = self._writes[0][0].shape.dims[1:]
            if dims is None or any(d is None for d in dims):
                raise ValueError(f"TensorArray.{what} inside a tf.while_loop of an array with no "
                                 f"element written before the loop needs a fully defined "
                                 f"element_shape, got {self._element_shape}, at {_where()}")
            from .array_ops import zeros
            rows = 0 if self._size is None else self._size
            init = _zero_rows(zeros([0] + list(dims), dtype=self._dtype), rows)
        lead = None if self._dynamic else init.shape.dims[0]
        self._init = init
        self._param = self._early if self._early is not None else _param(
            get_default_graph(), TensorType(self._dtype, (lead,) + tuple(init.shape.dims[1:])),
            "TensorArrayLoop")
        self._dense = self._param
        for w in self._writes:
            self._dense_write(*w)
        self._writes.clear()

    def _dense_write(self, v: Tensor, i: Tensor, mask: Optional[Tensor] = None) -> None:
        """One recorded write (``mask``: a tf.cond's padding row has mask 0, write_index)
        scattered into the dense value."""
        cur = TensorArray(self._dtype, self._size, self._dynamic, _buffer=self._dense)
        self._dense = scatter_rows(self._dense, v, i, cur._size_for_write(write_index(i, mask)),
                                   grow=self._dynamic, mask=mask)
        self._dense_written = True

    def _contents(self, what: str) -> Tensor:
        self._go_dense(what)
        return self._dense

    def size(self, name: Optional[str] = None) -> Tensor:
        if self._dense is not None:
            from .array_ops import shape
            return shape(self._dense)[0]
        return super().size(name)

    def dense_state(self) -> Optional[tuple]:
        """(parameter, value entering the loop, value after the trip, written?) once the
        body read the array, else None."""
        if self._param is None:
            return None
        return self._param, self._init, self._dense, self._dense_written


def enter_loop(loop_vars: Any) -> tuple[Any, list]:
    """``loop_vars`` with each TensorArray replaced by a recording ``_LoopTensorArray``;
    returns (the new structure, [(position path, the loop's TensorArray, its writes)])."""
    found: list = []

    def walk(x: Any) -> Any:
        if isinstance(x, TensorArray):
            if isinstance(x, _RaggedTensorArray):
                raise NotImplementedError(f"a TensorArray of elements of different lengths "
                                          f"{x._lengths()} (split) as a tf.while_loop "
                                          f"variable is not implemented in jitflow yet (at "
                                          f"{_where()})")
            if isinstance(x, _LoopTensorArray):
                # an enclosing loop's array: dense in that loop from here (carried if the
                # nested loop writes it), the nested loop sees its value as a plain array
                x._go_dense("use as a nested tf.while_loop's variable")
                outer = x
                x = TensorArray(x._dtype, x._size, x._dynamic, _buffer=x._dense, name=x._name)
                x._outer = outer
            writes: list = []
            proxy = _LoopTensorArray(x, writes)
            found.append((x, proxy, writes))
            return proxy
        if isinstance(x, (list, tuple)) and not isinstance(x, Tensor):
            vals = [walk(e) for e in x]
            return type(x)(*vals) if hasattr(x, "_fields") else type(x)(vals)
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        return x
    return walk(loop_vars), found


def leave_loop(base: TensorArray, final: TensorArray) -> TensorArray:
    """The array a loop gives back for its variable ``base``: ``final``, or, where ``base``
    stood for an enclosing loop's array, that array with ``final``'s contents."""
    outer = getattr(base, "_outer", None)
    if outer is None:
        return final
    if final._buffer is not base._buffer:
        outer._dense = final._buffer
        outer._dense_written = True
    return outer


def write_index(index: Tensor, mask: Optional[Tensor]) -> Tensor:
    """The indices that size an array: a masked-out row's (mask 0) index counts as -1."""
    if mask is None:
        return index
    from . import math_ops as M
    from .array_ops import select
    return select(M.greater(mask, M.cast(0, mask.dtype)), index,
                  M.subtract(M.multiply(index, 0), 1))


def has_tensor_arrays(x: Any) -> bool:
    if isinstance(x, TensorArray):
        return True
    if isinstance(x, (list, tuple)) and not isinstance(x, Tensor):
        return any(has_tensor_arrays(e) for e in x)
    if isinstance(x, dict):
        return any(has_tensor_arrays(v) for v in x.values())
    return False


__all__ = ["TensorArray", "enter_loop", "has_tensor_arrays", "leave_loop", "scatter_rows"]
