"""Ops the Session runs on the host between the compiled parts of a run (jitflow/ops/host.py):
calling Python from a graph (``tf.py_func``, ``tf.numpy_function``, ``tf.Print``,
``tf.print``, all on the ``py_call`` op), and the ops whose result shape depends on the values
(``tf.where(cond)``, ``tf.boolean_mask``, ``tf.unique``, ``tf.dynamic_partition``).

As in TF, a py_func's results have an unknown shape until ``set_shape`` gives one; jitflow
needs at least their rank when the run is compiled (a clear error says so), because the ops
after it are compiled for it. py_func has no gradient (TF1: NotDifferentiable); ``tf.Print``
passes the gradient of its output to its input.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..ir.dtypes import as_dtype
from ..ir.types import TensorType
from ..ops.host import format_results, register
from .array_ops import identity
from .graph import Operation, Tensor, TensorShape, control_dependencies
from .op_builder import convert_to_tensor, make_op

__all__ = ["py_func", "numpy_function", "Print", "print_", "where_indices", "boolean_mask",
           "unique", "unique_with_counts", "dynamic_partition", "dynamic_stitch", "setdiff1d"]


def _py_call(fn: Callable, inputs: Sequence[Any], results: Sequence[TensorType], single: bool,
             op_type: str, name: Optional[str]) -> Operation:
    xs = [convert_to_tensor(x) for x in inputs]
    attrs = {"fn": register(fn), "results": format_results(results), "single": single}
    op = make_op(op_type, "py_call", xs, attrs, name or op_type)
    op.attrs["name"] = op.name
    op.lower_attrs = lambda: _lowered_attrs(op)
    return op


def _lowered_attrs(op: Operation) -> dict:
    """The attributes the run's IR gets: the result types as the graph knows them now (after
    any ``set_shape``). A result of unknown rank can be fetched, but an op compiled after it
    needs its rank (graph_to_ir's error then says to call set_shape)."""
    return {**op.attrs, "results": format_results([t._type for t in op.outputs])}


def py_func(func: Callable, inp: Sequence[Any], Tout: Any, stateful: bool = True,
            name: Optional[str] = None) -> Any:
    """``func`` (NumPy arrays in, NumPy arrays out) as an op; a tensor for one ``Tout`` dtype,
    a list for a list of dtypes (an empty list: the op, run for its effect)."""
    single = not isinstance(Tout, (list, tuple))
    touts = [as_dtype(Tout)] if single else [as_dtype(t) for t in Tout]
    op = _py_call(func, list(inp), [TensorType(d, None) for d in touts], single, "PyFunc", name)
    if single:
        return op.outputs[0]
    return list(op.outputs) if op.outputs else op


def numpy_function(func: Callable, inp: Sequence[Any], Tout: Any,
                   name: Optional[str] = None) -> Any:
    return py_func(func, inp, Tout, True, name)


def _summarize(a: np.ndarray, n: Optional[int]) -> str:
    """TF1 Print's form: the first ``n`` elements, flattened, in brackets (``[1 2 3...]``)."""
    flat = np.asarray(a).reshape(-1)
    n = 3 if n is None else int(n)
    shown = flat if n < 0 else flat[:n]
    text = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in shown.tolist())
    more = "..." if 0 <= n < flat.size else ""
    return f"[{text}{more}]" if a.ndim else str(a.item())


def Print(input_: Any, data: Sequence[Any], message: Optional[str] = None,
          first_n: Optional[int] = None, summarize: Optional[int] = None,
          name: Optional[str] = None) -> Tensor:
    """``input_``, printing ``message`` and the values of ``data`` to stderr each time it is
    evaluated (the first ``first_n`` times when given). The gradient passes to ``input_``."""
    x = convert_to_tensor(input_)
    count = [0]

    def show(*values):
        if first_n is None or first_n < 0 or count[0] < first_n:
            print((message or "") + "".join(_summarize(v, summarize) for v in values),
                  file=sys.stderr, flush=True)
        count[0] += 1

    printer = _py_call(show, list(data), [], False, "PrintHost", (name or "Print") + "_host")
    with control_dependencies([printer]):
        return identity(x, name=name or "Print")      # TF's name: "Print:0"


def _stream(output_stream: Any) -> Callable[[str], None]:
    """TF's tf.print streams: sys.stdout / sys.stderr (looked up when printing, so a redirected
    stream is honoured), or ``"file://path"`` (appended to)."""
    if output_stream is sys.stdout or output_stream is sys.__stdout__:
        return lambda s: (sys.stdout.write(s), sys.stdout.flush())
    if output_stream is sys.stderr or output_stream is sys.__stderr__:
        return lambda s: (sys.stderr.write(s), sys.stderr.flush())
    if isinstance(output_stream, str) and output_stream.startswith("file://"):
        path = output_stream[len("file://"):]

        def write(s: str) -> None:
            with open(path, "a") as f:
                f.write(s)
        return write
    if hasattr(output_stream, "write"):
        return lambda s: output_stream.write(s)
    raise ValueError(f"tf.print: output_stream must be sys.stdout, sys.stderr or a "
                     f"'file://' path, got {output_stream!r}")


def print_(*inputs: Any, output_stream: Any = sys.stderr, summarize: int = 3, sep: str = " ",
           end: str = "\n", name: Optional[str] = None) -> Operation:
    """TF2-style ``tf.print``: an op that prints its inputs (tensors as NumPy-style arrays,
    ``summarize`` items per dimension at each end; other values with ``str``) when run."""
    write = _stream(output_stream)
    tensors = [convert_to_tensor(v) for v in inputs if _is_tensor(v)]
    k = int(summarize) if summarize is not None and summarize >= 0 else None

    def show(*values):
        it = iter(values)
        text = []
        for v in inputs:
            if not _is_tensor(v):
                text.append(str(v))
                continue
            a = next(it)
            if a.ndim == 0:
                text.append(np.array2string(a))
            else:
                text.append(np.array2string(
                    a, separator=" ", max_line_width=sys.maxsize,
                    threshold=sys.maxsize if k is None else 2 * k,
                    edgeitems=3 if k is None else k))
        write(sep.join(text) + end)

    return _py_call(show, tensors, [], False, "PrintV2", name)


def _is_tensor(v: Any) -> bool:
    return isinstance(v, Tensor) or hasattr(v, "_as_tensor")


# ------------------------------------------- data-dependent shapes (run on the host) ---------

def where_indices(condition: Any, name: Optional[str] = None) -> Tensor:
    """``tf.where(condition)``: the int64 [n, rank] indices of its true (nonzero) elements."""
    c = convert_to_tensor(condition)
    if c.shape.ndims is None:
        raise ValueError(f"tf.where({c.name}): the condition's rank must be known")
    return make_op("Where", "where_indices", [c], name=name or "Where").outputs[0]


def boolean_mask(tensor: Any, mask: Any, name: str = "boolean_mask", axis: Any = None) -> Tensor:
    """The elements (slices) of ``tensor`` where ``mask`` is true, the K mask dims (starting
    at ``axis``) flattened into one of run-time length, as TF: a gather of the true positions
    (so the gradient reaches ``tensor`` as a scatter)."""
    from .array_ops import reshape
    from .extra_ops import gather
    from .graph import name_scope
    from .math_ops import cast
    t, m = convert_to_tensor(tensor, name="tensor"), convert_to_tensor(mask, name="mask")
    if m.dtype.name != "bool":
        raise TypeError(f"boolean_mask: mask must be a bool tensor, got {m.dtype.name}")
    k, ax = m.shape.ndims, 0 if axis is None else int(axis)
    if k is None or t.shape.ndims is None:
        raise ValueError("boolean_mask needs the ranks of tensor and mask")
    if k == 0:
        raise ValueError("mask cannot be scalar.")
    ax = ax + t.shape.ndims if ax < 0 else ax
    dims = t.shape.dims
    masked = dims[ax:ax + k]
    if len(masked) != k or not TensorShape(masked).is_compatible_with(m.shape):
        raise ValueError(f"Shapes {TensorShape(masked)} and {m.shape} are incompatible")
    lead, rest = dims[:ax], dims[ax + k:]
    if any(d is None for d in lead + rest) and k > 1:
        raise ValueError("boolean_mask with a multi-dimensional mask needs the other dims of "
                         "the tensor known at graph build")
    with name_scope(name):
        flat = t if k == 1 else reshape(t, list(lead) + [-1] + list(rest))
        rows = where_indices(reshape(m, [-1]))
        idx = cast(reshape(rows, [-1]), "int32")
        return gather(flat, idx, axis=ax)


class _Unique(tuple):
    """``tf.unique``'s result: ``y, idx = tf.unique(x)`` or ``.y`` / ``.idx``."""
    @property
    def y(self) -> Tensor:
        return self[0]

    @property
    def idx(self) -> Tensor:
        return self[1]

    @property
    def count(self) -> Tensor:
        return self[2]


def unique(x: Any, out_idx: Any = "int32", name: Optional[str] = None) -> tuple:
    """The distinct values of the vector ``x`` in order of first occurrence, and each
    element's index into them."""
    xt = convert_to_tensor(x)
    op = make_op("Unique", "unique", [xt], {"out_idx": as_dtype(out_idx)}, name or "Unique")
    return _Unique(op.outputs)


def unique_with_counts(x: Any, out_idx: Any = "int32", name: Optional[str] = None) -> tuple:
    xt = convert_to_tensor(x)
    op = make_op("UniqueWithCounts", "unique", [xt], {"out_idx": as_dtype(out_idx),
                                                      "counts": True},
                 name or "UniqueWithCounts")
    return _Unique(op.outputs)


def dynamic_partition(data: Any, partitions: Any, num_partitions: int,
                      name: Optional[str] = None) -> list:
    """``num_partitions`` tensors: the slices of ``data`` whose partition index is 0, 1, ..."""
    d, p = convert_to_tensor(data), convert_to_tensor(partitions)
    op = make_op("DynamicPartition", "dynamic_partition", [d, p],
                 {"num_partitions": int(num_partitions)}, name or "DynamicPartition")
    return list(op.outputs)


def dynamic_stitch(indices: Sequence[Any], data: Sequence[Any],
                   name: Optional[str] = None) -> Tensor:
    """One tensor whose row ``indices[i][j]`` is ``data[i][j]`` (rows named twice take the
    later value; the size is the largest index + 1)."""
    idx = [convert_to_tensor(i) for i in indices]
    dat = [convert_to_tensor(d) for d in data]
    return make_op("DynamicStitch", "dynamic_stitch", idx + dat, {"n": len(idx)},
                   name or "DynamicStitch").outputs[0]


def setdiff1d(x: Any, y: Any, index_dtype: Any = "int32", name: Optional[str] = None) -> tuple:
    """(the values of ``x`` not in ``y``, in ``x``'s order, and their positions in ``x``)."""
    from .array_ops import reshape
    from .extra_ops import gather, reduce_any
    from .math_ops import cast, equal, logical_not
    xt, yt = convert_to_tensor(x), convert_to_tensor(y)
    if xt.shape.ndims != 1 or yt.shape.ndims != 1:
        raise ValueError("setdiff1d: x and y must be vectors")
    keep = logical_not(reduce_any(equal(reshape(xt, [-1, 1]), reshape(yt, [1, -1])), axis=1))
    pos = cast(reshape(where_indices(keep), [-1]), as_dtype(index_dtype))
    return _Unique((gather(xt, pos), pos))
