"""Python-defined gradients: ``tf.custom_gradient``, ``tf.RegisterGradient`` and
``Graph.gradient_override_map``.

How a Python gradient enters the symbolic IR autodiff: the gradient function is called ONCE,
at graph build time, on placeholder tensors standing for the output cotangents (``dy``); the
ops it creates are traced as a region (like a ``tf.cond`` branch: tensors from outside it,
the forward inputs and outputs included, are captured). The forward values are wrapped in a
``custom_gradient`` pseudo op (``ops/custom_grad.py``) holding that region; the autodiff pass
differentiates through it by inlining the region with the real cotangents (the inputs get what
it gives, the ops computing the outputs are not differentiated through), then drops the op.

* ``@tf.custom_gradient``: ``f(*xs)`` returns ``(y, grad_fn)``; ``grad_fn(*dys)`` gives one
  cotangent per x (None: zero). When ``f`` reads variables (not passed as xs), ``grad_fn`` must
  take ``variables=`` and return ``(dxs, dvariables)``, as TF1.
* ``tf.no_gradient("OpType")``: no gradient through ops of that type (their results are
  wrapped in ``stop_gradient`` when the run's IR is built).
* ``tf.RegisterGradient("Name")`` registers ``fn(op, *grads) -> grads of op.inputs``;
  ``with g.gradient_override_map({"Identity": "Name"}):`` makes the ops of that type created
  in the block use it (the straight-through / gradient-reversal tricks). Only ops with an IR
  op can be overridden; "Identity" is registered (the identity gradient).
Random ops, ``tf.gradients`` and variable assignments inside a gradient function are refused.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
from typing import Any, Callable, Iterator, Sequence

from .control_flow import (Region, _captures, _check_region_ops, _make_region_op, _param,
                           flatten, pack_as)
from .graph import Operation, Tensor, get_default_graph
from .op_builder import convert_to_tensor

__all__ = ["custom_gradient", "RegisterGradient", "gradient_override_map", "no_gradient"]

#: op-type names -> gradient functions fn(op, *grads) (``tf.RegisterGradient``)
_REGISTRY: dict[str, Callable] = {"Identity": lambda op, grad: grad}

#: op types declared not differentiable (``tf.no_gradient``): no gradient flows through them
NOT_DIFFERENTIABLE: set[str] = set()


def no_gradient(op_type: str) -> None:
    """``tf.no_gradient("OpType")`` (``tf.NotDifferentiable``, ``tf.NoGradient``): ops of that
    type, existing or future, pass no gradient (``tf.gradients`` gives None through them)."""
    if not isinstance(op_type, str):
        raise TypeError(f"no_gradient expects an op type name (str), got "
                        f"{type(op_type).__name__}")
    NOT_DIFFERENTIABLE.add(op_type)


class RegisterGradient:
    """Decorator: ``@tf.RegisterGradient("Name") def _g(op, grad): return [...]``."""

    def __init__(self, op_type: str) -> None:
        if not isinstance(op_type, str):
            raise TypeError(f"RegisterGradient expects the gradient's name as a str, got "
                            f"{type(op_type).__name__}")
        self._op_type = op_type

    def __call__(self, fn: Callable) -> Callable:
        if self._op_type in _REGISTRY:
            raise KeyError(f"Registering two gradient with name '{self._op_type}'!")
        _REGISTRY[self._op_type] = fn
        return fn


@contextlib.contextmanager
def gradient_override_map(graph: Any, op_type_map: dict) -> Iterator[None]:
    """``graph.gradient_override_map({"OpType": "RegisteredName"})``: ops of those types
    created inside use the registered gradient."""
    if not isinstance(op_type_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in op_type_map.items()):
        raise TypeError(f"gradient_override_map expects a dict of op type -> gradient name "
                        f"(str -> str), got {op_type_map!r}")
    saved = dict(getattr(graph, "_gradient_override", None) or {})
    graph._gradient_override = {**saved, **op_type_map}
    try:
        yield
    finally:
        graph._gradient_override = saved


def _trace_grad(g: Any, ys: Sequence[Tensor], xs: Sequence[Tensor],
                fn: Callable[[list], Sequence[Any]], what: str) -> tuple[Region, list[Tensor]]:
    """Call ``fn(dys)`` on cotangent placeholders; its ops as a Region (params: the dys, then
    the captures) giving one cotangent per x, and the captured tensors."""
    from .array_ops import zeros_like
    override, g._gradient_override = getattr(g, "_gradient_override", None), None
    try:
        with g.name_scope(f"{what}_grad"):
            start = len(g._ops)
            dys = [_param(g, y._type, "dy") for y in ys]
            raw = list(fn(dys))
            if len(raw) != len(xs):
                raise ValueError(f"{what}: the gradient function must return {len(xs)} "
                                 f"gradient(s), one per input, got {len(raw)}")
            dxs = [zeros_like(x) if d is None else convert_to_tensor(d, dtype=x.dtype)
                   for d, x in zip(raw, xs)]
            end = len(g._ops)
    finally:
        g._gradient_override = override
    _check_region_ops(g, start, end, f"the gradient function of {what}")
    for op in g._ops[start:end]:
        if op.type == "Gradients":
            raise NotImplementedError(f"{what}: tf.gradients inside a gradient function is not "
                                      f"supported ({op.name}); write the cotangents out")
        if op.rng:
            raise NotImplementedError(f"{what}: random ops inside a gradient function are not "
                                      f"supported ({op.name})")
    caps = [c for c in _captures(dxs, dys, start) if c.op._id < start]
    return Region(dys + caps, dxs, start, end), caps


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def attach_override(op: Operation, grad_name: str) -> None:
    """Give ``op`` the registered gradient ``grad_name`` (graph_to_ir wraps its results)."""
    fn = _REGISTRY.get(grad_name)
    if fn is None:
        raise LookupError(f"gradient_override_map: no gradient registered as {grad_name!r} "
                          f"(for op {op.name}); registered: {sorted(_REGISTRY)}")
    if op.ir_op is None or not op.outputs:
        raise NotImplementedError(f"gradient_override_map: op {op.name} ({op.type}) has no IR "
                                  f"op to wrap; only compiled ops can take an override")
    region, caps = _trace_grad(op.graph, op.outputs, op.inputs,
                               lambda dys: _as_list(fn(op, *dys)), op.name)
    op.grad_override = (region, caps)


def _variables_read(ys: Sequence[Tensor], xs: Sequence[Tensor]) -> list:
    """The Variables whose ops the ys reach without passing through the xs."""
    stop = {id(x) for x in xs}
    seen: set[int] = set()
    found: dict[int, Operation] = {}
    stack = [y for y in ys]
    while stack:
        t = stack.pop()
        if id(t) in seen or id(t) in stop:
            continue
        seen.add(id(t))
        if t.op.type == "VariableV2":
            found[id(t.op)] = t.op
        stack.extend(t.op.inputs)
    g = ys[0].graph if ys else get_default_graph()
    by_op = getattr(g, "_variables_by_op", {})
    return [by_op[op] for op in sorted(found.values(), key=lambda o: o._id) if op in by_op]


def custom_gradient(f: Callable) -> Callable:
    """Decorator: ``f(*xs) -> (y, grad_fn)``; the gradient of ``y`` w.r.t. the xs is
    ``grad_fn(*dys)`` (one cotangent per x) instead of the derivative of ``f``'s ops."""
    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g = get_default_graph()
        xs = [convert_to_tensor(a) for a in args]
        out, grad_fn = f(*xs, **kwargs)
        ys = [convert_to_tensor(y) for y in flatten(out)]
        variables = _variables_read(ys, xs)
        takes_vars = "variables" in inspect.signature(grad_fn).parameters or any(
            p.kind is p.VAR_KEYWORD for p in inspect.signature(grad_fn).parameters.values())
        if variables and not takes_vars:
            raise TypeError(f"@custom_gradient function {f.__name__} reads variables "
                            f"{[v.name for v in variables]}: its grad_fn must accept a "
                            f"keyword argument 'variables'")
        var_ts = [v._variable for v in variables]

        def call(dys: list) -> list:
            if not variables:
                return _as_list(grad_fn(*dys))
            dxs, dvars = grad_fn(*dys, variables=variables)
            dvars = _as_list(dvars)
            if len(dvars) != len(variables):
                raise ValueError(f"{f.__name__}: grad_fn must return {len(variables)} variable "
                                 f"gradient(s), got {len(dvars)}")
            return _as_list(dxs) + dvars

        every_x = xs + var_ts
        region, caps = _trace_grad(g, ys, every_x, call, f.__name__)
        op = _make_region_op(g, "CustomGradient", "custom_gradient", ys + every_x + caps,
                             [y._type for y in ys], {"num_ys": len(ys), "num_xs": len(every_x)},
                             [region], f"{f.__name__}_CustomGradient")
        return pack_as(out, list(op.outputs))
    return wrapped
