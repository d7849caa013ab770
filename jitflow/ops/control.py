"""Structured control flow: ``cond`` and ``while``, ops with regions (closed nested Functions).

``cond(pred, *args)`` with regions ``then``/``else``: each region takes ``args`` as its
parameters; the one ``pred`` selects runs, its results are the op's. Both regions give the
same number of results, of the same dtypes and ranks; a dim on which they differ is ``?``.

``while(*carried, *invariants)`` with regions ``cond``/``body`` and attribute ``num_carried``:
both regions take (carried..., invariants...); ``cond`` gives a bool scalar, ``body`` the next
carried values. The loop stops when ``cond`` is false or after ``maximum_iterations`` trips
(-1: no limit). The results are the final carried values, typed by the body's carried
parameters (a parameter dim may be ``?`` where a value changes shape across iterations).
With ``record = true`` (built only by autodiff) the results also hold, per carried value, the
stack of its values at the start of every trip (``[?, ...]``: the trip count is known only at
run time) and then the trip count (i32 scalar): what the gradient loop reads in reverse.

The reference implementations run a region through a callable (arrays -> arrays) that the
backend passes as ``regions=``; nothing here knows how regions are executed.

Both ops are marked ``stateful`` so that constant folding and CSE (which compare operands and
attributes, not regions) leave them alone; DCE still drops an unused one.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..ir.dtypes import bool_, int32
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType

Runner = Callable[[list], list]


_NATIVE_LOOPS_NEXT = ("native loops and branches inside the llvm entry function (and a host loop "
                      "over cuda kernels) are not built yet")


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


def _cond_ref(pred, *args, regions: Sequence[Runner] = ()):
    run = regions[0] if bool(pred) else regions[1]
    out = run(list(args))
    return out[0] if len(out) == 1 else tuple(out)


def _cond_grad(b, op, gs, vjp):
    from .control_grad import cond_grad       # (it imports this module)
    return cond_grad(b, op, gs, vjp)


defop("cond", infer=_needs_regions("cond"), region_infer=_cond_infer, reference=_cond_ref,
      grad=_cond_grad, region_names=("then", "else"), stateful=True, kind="control",
      reference_only=_NATIVE_LOOPS_NEXT,
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
    if len(body_f.results) != n:
        raise ShapeMismatch(f"while 'body' region gives {len(body_f.results)} values for "
                            f"{n} loop-carried ones")
    carried = [p.type for p in body_f.params[:n]]
    for i, (p, r) in enumerate(zip(carried, body_f.results)):
        if not accepts(p, r.type):
            raise ShapeMismatch(f"while loop-carried value {i} enters the body as {p} but the "
                                f"body gives {r.type}")
        if not accepts(cond_f.params[i].type, p):
            raise ShapeMismatch(f"while 'cond' parameter {i} has type {cond_f.params[i].type}, "
                                f"which cannot take the carried type {p}")
    out = list(carried)
    if attrs.get("record"):
        out += [TensorType(t.dtype, (None,) + tuple(t.shape)) for t in carried]
        out.append(TensorType(int32, ()))
    return out


def _while_ref(*args, num_carried, maximum_iterations, record, regions: Sequence[Runner] = ()):
    cond, body = regions
    carried, inv = list(args[:num_carried]), list(args[num_carried:])
    stacks: list[list] = [[] for _ in carried]
    trips = 0
    while (maximum_iterations < 0 or trips < maximum_iterations) and bool(cond(carried + inv)[0]):
        if record:
            for s, c in zip(stacks, carried):
                s.append(c)
        carried = list(body(carried + inv))
        trips += 1
    out = list(carried)
    if record:
        for i, (s, init) in enumerate(zip(stacks, args[:num_carried])):
            shapes = {np.shape(x) for x in s}
            if len(shapes) > 1:
                raise ValueError(f"loop-carried value {i} changes shape across iterations "
                                 f"({sorted(shapes)}); its gradient needs one shape")
            out.append(np.stack(s) if s else np.empty((0,) + np.shape(init), np.asarray(init).dtype))
        out.append(np.array(trips, np.int32))
    return out[0] if len(out) == 1 else tuple(out)


def _while_grad(b, op, gs, vjp):
    from .control_grad import while_grad      # (it imports this module)
    return while_grad(b, op, gs, vjp)


defop("while", infer=_needs_regions("while"), region_infer=_while_infer, reference=_while_ref,
      grad=_while_grad, region_names=("cond", "body"), stateful=True, kind="control",
      reference_only=_NATIVE_LOOPS_NEXT,
      attrs={"num_carried": Attr("int"), "maximum_iterations": Attr("int", -1),
             "record": Attr("bool", False)},
      doc="operands (*carried, *invariants); regions cond/body; loops while cond holds")
