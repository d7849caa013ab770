"""Structured control flow: ``cond`` and ``while``, ops with regions (closed nested Functions).

``cond(pred, *args)`` with regions ``then``/``else``: each region takes ``args`` as its
parameters; the one ``pred`` selects runs, its results are the op's. Both regions give the
same number of results, of the same dtypes and ranks; a dim on which they differ is ``?``.

``while(*carried, *invariants)`` with regions ``cond``/``body`` and attribute ``num_carried``:
both regions take (carried..., invariants...); ``cond`` gives a bool scalar, ``body`` the next
carried values. The loop stops when ``cond`` is false or after ``maximum_iterations`` trips
(-1: no limit). The results are the final carried values, typed by the body's carried
parameters (a parameter dim may be ``?`` where a value changes shape across iterations).
With ``num_stacked = m`` the body gives m more values after the carried ones, values of one
trip that are not carried: the op stacks them over the trips (results ``[?, ...]`` after the
carried ones; a scan's per-step outputs, with no O(trips) accumulator carried through).
With ``record = true`` (built only by autodiff) the results also hold, per carried value, the
stack of its values at the start of every trip (``[?, ...]``: the trip count is known only at
run time) and then the trip count (i32 scalar): what the gradient loop reads in reverse.

The reference implementations run a region through a callable (arrays -> arrays) that the
backend passes as ``regions=`` (and the op's result types as ``types=``); nothing here knows
how regions are executed: ``run_while`` is the loop for the reference interpreter and for
the host driver of the native backends alike.

Both ops are marked ``stateful`` so that constant folding and CSE (which compare operands and
attributes, not regions) leave them alone; DCE still drops an unused one.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

from ..ir.dtypes import bool_, int32
from ..ir.core import Function, Op
from ..ir.opdef import OPS, Attr, defop
from ..ir.types import ShapeMismatch, TensorType, split_dim

Runner = Callable[[list], list]


def accepts(param: TensorType, value: TensorType) -> bool:
    """Whether a region parameter of type ``param`` can take a value of type ``value``: same
    dtype and rank; each dim equal, or ``?`` in the parameter."""
    if param.dtype is not value.dtype or param.shape is None or value.shape is None:
        return False
    return len(param.shape) == len(value.shape) and all(
        p is None or p == v for p, v in zip(param.shape, value.shape))


def _check_params(what: str, region, types: Sequence[TensorType]) -> None:
    if len(region.params) != len(types):
        raise ShapeMismatch(f"{what} region takes {len(region.params)} parameters, but the op "
                            f"passes {len(types)} operands")
    for i, (p, t) in enumerate(zip(region.params, types)):
        if not accepts(p.type, t):
            raise ShapeMismatch(f"{what} region parameter {i} has type {p.type}, which cannot "
                                f"take operand type {t}")


def _needs_regions(name: str):
    def infer(types, attrs):
        raise ValueError(f"{name}: the result types come from the op's regions; build it "
                         f"with regions=[...]")
    return infer


def join_types(a: TensorType, b: TensorType, what: str) -> TensorType:
    """The type of a value that is ``a`` or ``b``: same dtype and rank, ``?`` where dims differ."""
    if a.dtype is not b.dtype:
        raise TypeError(f"{what}: dtypes differ: {a.dtype.name} and {b.dtype.name}")
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        raise ShapeMismatch(f"{what}: ranks differ: {a} and {b}")
    return TensorType(a.dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))


# ------------------------------------------------------------------------------ cond -------

def _cond_infer(types, attrs, regions):
    if not types:
        raise ShapeMismatch("cond needs a predicate operand")
    pred = types[0]
    if pred.dtype is not bool_ or pred.shape != ():
        raise TypeError(f"cond predicate must be a bool scalar, got {pred}")
    then_f, else_f = regions
    _check_params("cond 'then'", then_f, types[1:])
    _check_params("cond 'else'", else_f, types[1:])
    if len(then_f.results) != len(else_f.results):
        raise ShapeMismatch(f"cond branches give {len(then_f.results)} and "
                            f"{len(else_f.results)} results")
    return [join_types(a.type, b.type, f"cond result {i}")
            for i, (a, b) in enumerate(zip(then_f.results, else_f.results))]


def _cond_ref(pred, *args, regions: Sequence[Runner] = (), types: Sequence[TensorType] = (),
              operand_types: Sequence[TensorType] = ()):
    run = regions[0] if bool(pred) else regions[1]
    out = run(list(args))
    return out[0] if len(out) == 1 else tuple(out)


def _cond_grad(b, op, gs, vjp):
    from .control_grad import cond_grad       # (it imports this module)
    return cond_grad(b, op, gs, vjp)


defop("cond", infer=_needs_regions("cond"), region_infer=_cond_infer, reference=_cond_ref,
      grad=_cond_grad, region_names=("then", "else"), stateful=True, kind="control",
      doc="operands (pred, *args); regions then/else take args; results of the branch taken")


# ------------------------------------------------------------------------------ while ------

def _while_infer(types, attrs, regions):
    n = attrs["num_carried"]
    if not 1 <= n <= len(types):
        raise ShapeMismatch(f"while carries {n} values but has {len(types)} operands")
    cond_f, body_f = regions
    _check_params("while 'cond'", cond_f, types)
    _check_params("while 'body'", body_f, types)
    if len(cond_f.results) != 1 or cond_f.results[0].type != TensorType(bool_, ()):
        got = ", ".join(str(v.type) for v in cond_f.results)
        raise TypeError(f"while 'cond' region must give one bool scalar, got ({got})")
    m = attrs.get("num_stacked", 0)
    if len(body_f.results) != n + m:
        raise ShapeMismatch(f"while 'body' region gives {len(body_f.results)} values for "
                            f"{n} loop-carried and {m} stacked ones")
    carried = [p.type for p in body_f.params[:n]]
    for i, (p, r) in enumerate(zip(carried, body_f.results)):
        if not accepts(p, r.type):
            raise ShapeMismatch(f"while loop-carried value {i} enters the body as {p} but the "
                                f"body gives {r.type}")
        if not accepts(cond_f.params[i].type, p):
            raise ShapeMismatch(f"while 'cond' parameter {i} has type {cond_f.params[i].type}, "
                                f"which cannot take the carried type {p}")
    out = list(carried)
    for i, r in enumerate(body_f.results[n:]):
        if r.type.shape is None:
            raise ShapeMismatch(f"while stacked value {i} has no known rank")
        out.append(TensorType(r.type.dtype, (None,) + tuple(r.type.shape)))
    if attrs.get("record"):
        out += [TensorType(t.dtype, (None,) + tuple(t.shape)) for t in carried]
        out.append(TensorType(int32, ()))
    return out


def movable_out_of_loops(op: Op) -> bool:
    """Whether ``op`` may run once before a loop instead of on every trip when its operands
    are invariant: not random, stateful, effectful (assertions, host callbacks: their count
    and order are observable), control flow or a constant (free where it is)."""
    d = OPS[op.opname]
    return not (d.stateful or d.effectful or op.regions
                or d.kind in ("random", "host", "control", "pseudo", "constant"))


def loop_invariant_values(body: Function, num_carried: int) -> set[int]:
    """Ids of the values of a while body that are the same on every trip: the invariant
    parameters, constants, and the results of movable ops reading only such values."""
    inv = {id(p) for p in body.params[num_carried:]}
    for op in body.ops:
        if (OPS[op.opname].kind == "constant" and not op.operands) or (
                movable_out_of_loops(op) and op.operands
                and all(id(v) in inv for v in op.operands)):
            inv.update(id(r) for r in op.results)
    return inv


def bind_dims(types: Sequence[TensorType], arrays: Sequence) -> dict[str, int]:
    """The run-time size of each symbolic dim of ``types`` (named dims, products' names
    included) read from the shapes of ``arrays``, the values of those types."""
    sizes: dict[str, int] = {}
    for t, a in zip(types, arrays):
        s = getattr(a, "shape", None)           # (a device tensor has one too)
        shape = tuple(s) if s is not None else np.shape(a)
        if t.shape is None or len(t.shape) != len(shape):
            continue
        for d, n in zip(t.shape, shape):
            if isinstance(d, str):
                sizes.setdefault(d, int(n))
    return sizes


def concrete_shape(shape: Sequence, sizes: dict[str, int]) -> tuple:
    """``shape`` with its symbolic dims given by ``sizes`` (a product's name by its factors);
    a dim not bound there, or ``?``, is 0 (an empty stack has no element to size it by)."""
    out = []
    for d in shape:
        if isinstance(d, str) and d not in sizes:
            coef, syms = split_dim(d)
            d = coef * int(np.prod([sizes[s] for s in syms])) if all(
                s in sizes for s in syms) else None
        out.append(sizes[d] if isinstance(d, str) else (d or 0))
    return tuple(out)


def stack_trips(values: list, empty_type: TensorType, what: str,
                sizes: Optional[dict[str, int]] = None) -> np.ndarray:
    """The values of every trip stacked on a new leading dim; an empty stack (no trip) is
    shaped by ``empty_type``, its symbolic dims by ``sizes`` (``bind_dims`` of the loop's
    operands: a fed batch size), a dim unknown there 0."""
    if not values:
        return np.empty((0,) + concrete_shape(empty_type.shape, sizes or {}),
                        empty_type.dtype.np)
    shapes = {np.shape(x) for x in values}
    if len(shapes) > 1:
        raise ValueError(f"{what} changes shape across iterations ({sorted(shapes)}); "
                         f"stacking it needs one shape")
    return np.stack(values)


def run_while(cond: Runner, body: Optional[Runner], args: Sequence, num_carried: int,
              maximum_iterations: int, record: bool, num_stacked: int,
              types: Sequence[TensorType], step: Optional[Runner] = None,
              operand_types: Sequence[TensorType] = ()) -> list:
    """The while loop's semantics over region runners (arrays -> arrays): the reference
    implementation, and the host driver of a native backend with compiled regions.
    ``types``: the op's result types (empty stacks are shaped by them). ``step``, if given,
    replaces ``body``: it gives the body's results and then the condition on the new carried
    values (one call per trip). ``operand_types``: the op's operand types, whose symbolic
    dims (bound to ``args``' sizes) shape the stacks of a loop that ran no trip."""
    n, m = num_carried, num_stacked
    carried, inv = list(args[:n]), list(args[n:])
    stacks: list[list] = [[] for _ in carried] if record else []
    emitted: list[list] = [[] for _ in range(m)]
    trips = 0
    go = maximum_iterations != 0 and bool(cond(carried + inv)[0])
    while go:
        for s, c in zip(stacks, carried):
            s.append(c)
        out = step(carried + inv) if step is not None else body(carried + inv)
        carried = list(out[:n])
        for e, y in zip(emitted, out[n:n + m]):
            e.append(y)
        trips += 1
        if 0 <= maximum_iterations <= trips:
            break
        go = bool(out[n + m]) if step is not None else bool(cond(carried + inv)[0])
    res = list(carried)
    sizes = bind_dims(operand_types, args) if trips == 0 else {}
    res += [stack_trips(e, TensorType(t.dtype, t.shape[1:]), f"stacked value {i}", sizes)
            for i, (e, t) in enumerate(zip(emitted, types[n:n + m]))]
    if record:
        res += [stack_trips(s, types[i], f"loop-carried value {i}") if s else
                np.empty((0,) + np.shape(init), np.asarray(init).dtype)
                for i, (s, init) in enumerate(zip(stacks, args[:n]))]
        res.append(np.array(trips, np.int32))
    return res


def _while_ref(*args, num_carried, maximum_iterations, record, num_stacked=0,
               regions: Sequence[Runner] = (), types: Sequence[TensorType] = (),
               operand_types: Sequence[TensorType] = ()):
    cond, body = regions
    out = run_while(cond, body, args, num_carried, maximum_iterations, record, num_stacked,
                    types, operand_types=operand_types)
    return out[0] if len(out) == 1 else tuple(out)


def _while_grad(b, op, gs, vjp):
    from .control_grad import while_grad      # (it imports this module)
    return while_grad(b, op, gs, vjp)


defop("while", infer=_needs_regions("while"), region_infer=_while_infer, reference=_while_ref,
      grad=_while_grad, region_names=("cond", "body"), stateful=True, kind="control",
      attrs={"num_carried": Attr("int"), "maximum_iterations": Attr("int", -1),
             "record": Attr("bool", False), "num_stacked": Attr("int", 0)},
      doc="operands (*carried, *invariants); regions cond/body; loops while cond holds")
