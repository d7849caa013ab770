"""TensorArrays through ``tf.cond``: arrays the branches return, and the arrays of the
enclosing ``tf.while_loop`` bodies that a branch writes or reads.

Outside loops an array is a dense buffer, so a branch returning one returns its buffer as a
cond output and the result is the array with the merged buffer.

A loop's array (``_LoopTensorArray``, tensor_array.py) is state of the body being traced:
recorded writes, or a dense value once the body read it. ``cond`` snapshots that state for
every array of the loops being traced (``loop_arrays``), traces each branch from the
snapshot and merges the two end states into cond outputs:

* both branches only record writes: their new writes are paired in order and each pair
  (value, index) becomes two cond outputs, recorded after the cond as one write. Where one
  branch writes fewer rows it is padded with zero rows at index 0 and a per-row mask (the
  array's dtype: 1 written, 0 not) goes with the write, so the loop's scatter after the trips
  ignores the padding (``scatter_rows(mask=...)``). Padding needs the other branch's element
  shape to be static.
* the array is dense before the cond, or a branch read it (made it dense): both branches end
  dense (a branch that only recorded writes scatters them into the array's dense loop
  parameter) and the two dense values are merged. A first read inside a branch needs the
  parameter made when the loop started (``_LoopTensorArray._early``: a buffer, or a fully
  defined element_shape and size), as a read in a cond always did.

Ops made here after both branches were traced belong to the branch whose values they use:
a region is what its outputs reach, stopping at its parameters (graph_to_ir.py), and these
ops use only that branch's values and values from before the cond.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .graph import Tensor, user_location
from .tensor_array import TensorArray, _LoopTensorArray

_LOOP_ARRAYS = "_jitflow_loop_arrays"


def _where() -> str:
    f, line = user_location()
    return f"{f}:{line}"


def loop_arrays(g) -> list:
    """The ``_LoopTensorArray`` proxies of the while bodies being traced in ``g`` (outer
    first); ``tf.while_loop`` pushes its arrays while it traces its body."""
    return g.__dict__.setdefault(_LOOP_ARRAYS, [])


@dataclass
class _State:
    writes: list
    param: Optional[Tensor]
    init: Optional[Tensor]
    dense: Optional[Tensor]
    written: bool


def _snapshot(p: _LoopTensorArray) -> _State:
    return _State(list(p._writes), p._param, p._init, p._dense, p._dense_written)


def _restore(p: _LoopTensorArray, s: _State) -> None:
    p._writes[:] = s.writes         # the list is shared with the loop's record of the array
    p._param, p._init, p._dense, p._dense_written = s.param, s.init, s.dense, s.written


def _changed(a: _State, b: _State) -> bool:
    return (len(a.writes) != len(b.writes) or any(x is not y for x, y in zip(a.writes, b.writes))
            or a.dense is not b.dense or a.param is not b.param)


class BranchArrays:
    """Tracks the loop arrays across the two branches of one ``cond``."""

    def __init__(self, g) -> None:
        self.proxies = list(loop_arrays(g))
        self.pre = [_snapshot(p) for p in self.proxies]
        self.post: list[list[_State]] = []

    def branch_done(self) -> None:
        """After a branch was traced: keep its end state, return to the state before."""
        self.post.append([_snapshot(p) for p in self.proxies])
        for p, s in zip(self.proxies, self.pre):
            _restore(p, s)

    def merge_outputs(self) -> tuple[list, list, list]:
        """(extra true outputs, extra false outputs, per changed array its plan) for the
        arrays a branch changed; ``finish`` applies the merged outputs."""
        xt, xf, plans = [], [], []
        for k, p in enumerate(self.proxies):
            pre, t, f = self.pre[k], self.post[0][k], self.post[1][k]
            if not (_changed(pre, t) or _changed(pre, f)):
                continue
            for s in (t, f):
                if s.param is not None and pre.param is None and s.param is not p._early:
                    raise NotImplementedError(
                        f"a TensorArray of a tf.while_loop read first inside a tf.cond needs "
                        f"its type before the loop (a write before the loop, or element_shape "
                        f"and size): read it before the tf.cond, at {_where()}")
            if pre.dense is None and t.dense is None and f.dense is None:
                pt, pf, rows = _paired_writes(p, pre, t, f)
                xt += pt
                xf += pf
                plans.append(("rows", p, pre, rows))
            else:
                dt, df = _dense_end(p, t), _dense_end(p, f)
                _restore(p, pre)
                xt.append(dt.dense)
                xf.append(df.dense)
                init = pre.init if pre.init is not None else (t.init if t.init is not None
                                                              else f.init)
                plans.append(("dense", p, _State([], dt.param, init, None,
                                                 dt.written or df.written), 1))
        return xt, xf, plans

    @staticmethod
    def finish(plans: list, merged: list) -> None:
        it = iter(merged)
        for kind, p, s, n in plans:
            if kind == "dense":
                _restore(p, s)
                p._dense = next(it)
                continue
            _restore(p, s)
            for width in n:
                p._writes.append(tuple(next(it) for _ in range(width)))


def _dense_end(p: _LoopTensorArray, s: _State) -> _State:
    """The branch's end state made dense: its recorded writes scattered into the array's
    parameter (``_go_dense``) where the branch did not read the array."""
    if s.dense is not None:
        return s
    _restore(p, s)
    p._go_dense("read")
    return _snapshot(p)


def _paired_writes(p: _LoopTensorArray, pre: _State, t: _State, f: _State):
    """Each branch's new writes paired in order, the shorter padded with masked zero rows:
    (true outputs, false outputs, the width of each merged write)."""
    n0 = len(pre.writes)
    for s in (t, f):
        if any(a is not b for a, b in zip(s.writes[:n0], pre.writes)) or len(s.writes) < n0:
            raise AssertionError("a branch replaced the writes recorded before the cond")
    wt, wf = t.writes[n0:], f.writes[n0:]
    masked = len(wt) != len(wf) or any(len(w) == 3 for w in wt + wf)
    out_t, out_f, widths = [], [], []
    for k in range(max(len(wt), len(wf))):
        a = wt[k] if k < len(wt) else None
        b = wf[k] if k < len(wf) else None
        a = _full(p, a, b)
        b = _full(p, b, a)
        out_t += list(a) if masked else list(a[:2])
        out_f += list(b) if masked else list(b[:2])
        widths.append(3 if masked else 2)
    return out_t, out_f, widths


def _full(p: _LoopTensorArray, w: Optional[tuple], other: Optional[tuple]) -> tuple:
    """A write as (value [1, *element], index [1], mask [1]): a missing one (its branch
    wrote fewer rows) is a zero row at index 0 with mask 0."""
    from .array_ops import ones, zeros
    from .op_builder import convert_to_tensor
    from ..ir.dtypes import int32
    if w is not None:
        return w if len(w) == 3 else (w[0], w[1], ones([1], dtype=p._dtype))
    dims = other[0].shape.dims
    if dims is None or any(d is None for d in dims):
        raise NotImplementedError(
            f"a tf.cond whose branches write a different number of rows to a TensorArray of a "
            f"tf.while_loop needs the written values' static element shape, got "
            f"{other[0].shape} (write in both branches, or give the value a static shape), at "
            f"{_where()}")
    if not (p._dtype.is_floating or p._dtype.is_integer):
        raise NotImplementedError(f"a tf.cond writing a {p._dtype.name} TensorArray in one "
                                  f"branch only is not implemented, at {_where()}")
    return (zeros(list(dims), dtype=p._dtype), convert_to_tensor([0], dtype=int32),
            zeros([1], dtype=p._dtype))


# ------------------------------------------------------------------- returned arrays -------

class ReturnedArrays:
    """The TensorArray leaves of a branch's outputs, as tensors the cond can merge."""

    def __init__(self) -> None:
        self.kinds: list[list] = []      # per branch: per leaf None (a tensor) or the array

    def tensors(self, leaves: list) -> list:
        """``leaves`` with each array replaced: a loop's array drops out (its state is merged
        by ``BranchArrays``), a dense one gives its buffer (made in the branch)."""
        kinds, out = [], []
        for x in leaves:
            if isinstance(x, _LoopTensorArray):
                kinds.append(x)
            elif isinstance(x, TensorArray):
                kinds.append(x)
                out.append(x._contents("cond"))
            else:
                kinds.append(None)
                out.append(x)
        self.kinds.append(kinds)
        return out

    def check(self) -> None:
        for i, (a, b) in enumerate(zip(*self.kinds)):
            if (a is None) != (b is None) or (isinstance(a, _LoopTensorArray) or
                                              isinstance(b, _LoopTensorArray)) and a is not b:
                raise ValueError(f"true_fn and false_fn must return the same TensorArray of "
                                 f"the loop (or tensors) in the same place: output {i} is "
                                 f"{_what(a)} and {_what(b)}, at {_where()}")

    def rebuild(self, merged: list) -> list:
        """The cond's result leaves: merged tensors, arrays around merged buffers, the loop's
        arrays themselves."""
        it, out = iter(merged), []
        for a in self.kinds[0]:
            if a is None:
                out.append(next(it))
            elif isinstance(a, _LoopTensorArray):
                out.append(a)
            else:
                out.append(a._with(next(it)))
        return out


def _what(x: Any) -> str:
    if x is None:
        return "a tensor"
    return "a TensorArray of the loop" if isinstance(x, _LoopTensorArray) else "a TensorArray"


__all__ = ["BranchArrays", "ReturnedArrays", "loop_arrays"]
