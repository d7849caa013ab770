"""``tf.gradients``: records a ``gradients`` op; the autodiff pass expands it in the IR.

Connectivity is decided here, at graph build, so a disconnected x gives None as in TF1
(``compute_gradients`` then pairs it with None and ``minimize`` can complain early).
"""
from __future__ import annotations

from typing import Any, Optional

from ..ir.opdef import OPS
from .custom_gradient import NOT_DIFFERENTIABLE
from .graph import Tensor, get_default_graph
from .op_builder import convert_to_tensor, make_op

#: frontend op types through which gradients flow although they have no IR op
_PASS_THROUGH = {"PlaceholderWithDefault"}


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _x_tensor(x: Any) -> Tensor:
    """Variables are differentiated through their VariableV2 tensor (all reads alias it)."""
    elem = getattr(x, "_as_graph_element", None)
    if elem is not None and not isinstance(x, Tensor):
        return elem()
    return convert_to_tensor(x)


def _connected(ys: list[Tensor], xs: list[Tensor]) -> list[bool]:
    """Which xs some y depends on through differentiable ops."""
    reach: set[int] = set()
    stack = [y for y in ys if y.dtype.is_floating]
    while stack:
        t = stack.pop()
        if id(t) in reach:
            continue
        reach.add(id(t))
        op = t.op
        if op.type in NOT_DIFFERENTIABLE:        # tf.no_gradient
            continue
        if op.ir_op is not None:
            if not OPS[op.ir_op].differentiable and getattr(op, "grad_override", None) is None:
                continue
        elif op.type not in _PASS_THROUGH:
            continue
        stack.extend(i for i in op.inputs if i.dtype.is_floating)
    return [id(x) in reach and x.dtype.is_floating for x in xs]


def gradients(ys: Any, xs: Any, grad_ys: Any = None, name: str = "gradients",
              colocate_gradients_with_ops: bool = False, gate_gradients: bool = False,
              aggregation_method=None, stop_gradients=None,
              unconnected_gradients: str = "none") -> list[Optional[Tensor]]:
    """d(sum of ys)/d(x) for each x; None where x does not reach any y."""
    if stop_gradients is not None:
        raise NotImplementedError("gradients(stop_gradients=...) is not supported; wrap the "
                                  "tensors in tf.stop_gradient instead")
    ys = [convert_to_tensor(y) for y in _as_list(ys)]
    xs_list = [_x_tensor(x) for x in _as_list(xs)]
    gys = None if grad_ys is None else [
        convert_to_tensor(g, dtype=y.dtype) if g is not None else None
        for g, y in zip(_as_list(grad_ys), ys)]
    if gys is not None and any(g is None for g in gys):
        from .array_ops import ones_like
        gys = [g if g is not None else ones_like(y) for g, y in zip(gys, ys)]
    conn = _connected(ys, xs_list)
    live = [x for x, c in zip(xs_list, conn) if c]
    if live:
        g = get_default_graph()
        inputs = ys + live + (gys or [])
        attrs = {"num_ys": len(ys), "num_xs": len(live), "has_grad_ys": gys is not None}
        # under the current name scope, as TF1 does ("train/gradients/...")
        op = make_op("Gradients", "gradients", inputs, attrs, name or "gradients", graph=g)
        outs = iter(op.outputs)
        result = [next(outs) if c else None for c in conn]
    else:
        result = [None] * len(xs_list)
    if unconnected_gradients == "zero":
        from .array_ops import zeros_like
        result = [r if r is not None else zeros_like(x) for r, x in zip(result, xs_list)]
    return result
