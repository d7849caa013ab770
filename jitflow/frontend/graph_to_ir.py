"""Graph -> IR: a pruned TF1 subgraph becomes an ``ir.Function`` (``graph_to_ir``).

(IR -> native code is the backends' business; "lowering" there means that, never this.)

Parameters: the fed tensors (in feed order), then each variable the run reads (its value at
the start of the run), then the run step if a random op needs it. Results: the fetched
tensors, then the final value of each variable the run assigns.

Reads see the value from before the run's updates (TF1: a loss fetched beside ``train_op`` is
the pre-update loss), except where the reading op is ordered after assignments to that variable
(through its inputs or ``control_dependencies``): it then sees the latest of those (TF1's
``with tf.control_dependencies([assign]): v.read_value()`` or ``tf.identity(v)``; a ref
variable's ``v/read`` snapshot aliases the variable, so an op reading through it sees the
value at the time it runs). Assignments to one variable apply in graph order, each seeing the
previous one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..errors import InvalidArgumentError
from ..ir.builder import Builder
from ..ir.core import Function, Value
from ..ir.dtypes import int32, int64
from ..ir.types import ShapeMismatch, TensorType
from .graph import Operation, Tensor

#: frontend op types with no IR op, handled here
_STATEFUL_ASSIGN = {"Assign": None, "AssignAdd": "add", "AssignSub": "sub"}


@dataclass
class GraphFunction:
    function: Function
    feeds: list[Tensor]
    var_reads: list[Operation] = field(default_factory=list)   # VariableV2 ops, param order
    var_writes: list[Operation] = field(default_factory=list)  # VariableV2 ops, result order
    uses_rng: bool = False
    num_fetches: int = 0
    fetches: list[Tensor] = field(default_factory=list)        # the fetched tensors, in order
    graph_ops: list[Operation] = field(default_factory=list)   # needed_ops: what was lowered


def _variable_read(t: Tensor) -> Optional[Operation]:
    """The variable ``t`` reads: a VariableV2 output, or an Identity of one (``v/read``,
    ``read_value()``); None otherwise."""
    op = t.op
    if op.type == "VariableV2":
        return op
    if op.type == "Identity" and op.inputs and op.inputs[0].op.type == "VariableV2":
        return op.inputs[0].op
    return None


def _region_ops(outputs: Sequence[Tensor], params: Sequence[Tensor]) -> list[Operation]:
    """The ops a region's outputs reach, stopping at its parameters, in graph order."""
    stop = {id(p) for p in params}
    seen: dict[int, Operation] = {}
    stack = [t.op for t in outputs if id(t) not in stop]
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen[id(op)] = op
        stack.extend(t.op for t in op.inputs if id(t) not in stop)
    return sorted(seen.values(), key=lambda o: o._id)


#: a loop's trips get random streams of their own: the step a random op inside a loop sees
#: is ``outer step * STEP_MIX + trip + 1`` (int64, wrapping; odd, so distinct trips and runs
#: give distinct steps), as an unrolled loop's copies of the op would each get their own seed
STEP_MIX = -7046029254386353131       # 0x9E3779B97F4A7C15 as a signed int64


def uses_rng(op: Operation) -> bool:
    """Whether a control op's regions (nested ones too) hold a random op."""
    for r in getattr(op, "regions", None) or ():
        for o in _region_ops(r.outputs, r.params):
            if o.rng or uses_rng(o):
                return True
    return False


def _lower_region(name: str, region, types: Sequence[TensorType], lead: Sequence = (),
                  step_from: Optional[Callable] = None, extra_results: Optional[Callable] = None
                  ) -> Function:
    """A traced region (frontend/control_flow.py) as a closed Function with ``types`` params.
    With random ops inside (``step_from`` given): ``lead`` types come first (a loop's trip
    counter) and an int64 step parameter last; ``step_from(b, lead params, step param)``
    gives the step the random ops take, ``extra_results(b, lead params)`` the results put
    before the region's own."""
    f = Function(name)
    lead_ps = [f.add_param(t) for t in lead]
    env: dict[int, Value] = {id(t): f.add_param(ty) for t, ty in zip(region.params, types)}
    b = Builder(f.ops)
    step = None
    if step_from is not None:
        step = step_from(b, lead_ps, f.add_param(TensorType(int64, ())))
    for op in _region_ops(region.outputs, region.params):
        b.loc = op.location
        operands = [env[id(t)] for t in op.inputs]
        if getattr(op, "regions", None):
            res = lower_region_op(b, op, operands, step)
        elif op.ir_op is not None:
            if op.rng:
                operands = [step] + operands
            res = b.op(op.ir_op, *operands, **op.attrs)
            res = res if isinstance(res, tuple) else (res,)
            res = wrap_override(b, op, operands, res, lambda t: env[id(t)])
        else:
            raise NotImplementedError(f"op {op.name} ({op.type}, defined at {op.file}:{op.line}) "
                                      f"cannot be used inside a tf.cond/tf.while_loop")
        for t, v in zip(op.outputs, res):
            env[id(t)] = v
    head = extra_results(b, lead_ps) if extra_results is not None else []
    f.set_results(head + [env[id(t)] for t in region.outputs])
    return f


def wrap_override(b: Builder, op: Operation, operands: Sequence[Value], res: Sequence[Value],
                  value_of: Callable) -> Sequence[Value]:
    """``res`` (the results of ``op``) wrapped in a ``custom_gradient`` op when the op has a
    gradient from ``gradient_override_map``, in ``stop_gradient`` when its type is declared
    not differentiable (frontend/custom_gradient.py); else ``res``."""
    override = getattr(op, "grad_override", None)
    if override is None:
        from .custom_gradient import NOT_DIFFERENTIABLE
        if op.type in NOT_DIFFERENTIABLE:             # tf.no_gradient
            return tuple(b.stop_gradient(v) if v.type.dtype.is_floating else v for v in res)
        return res
    region, caps = override
    outs = list(res)
    mine = {id(t): v for t, v in zip(op.outputs, outs)}
    cap_vals = [mine[id(t)] if id(t) in mine else value_of(t) for t in caps]
    grad = _lower_region("grad", region, [v.type for v in outs] + [v.type for v in cap_vals])
    w = b.op("custom_gradient", *outs, *operands, *cap_vals, regions=[grad],
             num_ys=len(outs), num_xs=len(operands))
    return tuple(w) if isinstance(w, tuple) else (w,)


def _trip_step(b: Builder, lead: list, step: Value) -> Value:
    """The step of a loop trip's random ops (``STEP_MIX``): lead[0] is the trip counter."""
    trip = b.add(b.cast(lead[0], dtype=int64), b.const(1, int64))
    return b.add(b.mul(step, b.const(STEP_MIX, int64)), trip)


def lower_region_op(b: Builder, op: Operation, operands: Sequence[Value],
                    step: Optional[Value] = None) -> list[Value]:
    """Lower a frontend If/While op: its regions become nested Functions. A loop's carried
    parameter types start as its operands' and are widened (dim -> ?) where the body gives
    another dim, until the body's results fit. With random ops inside, ``step`` (the run
    step, or an enclosing trip's) goes in as a last operand, and a loop also carries a trip
    counter first (dropped from its results), so every trip draws new numbers (``STEP_MIX``)
    and a gradient's replay of a trip draws the same ones."""
    from ..ops.control import accepts
    types = [v.type for v in operands]
    rng = uses_rng(op)
    if rng and step is None:
        raise ValueError(f"{op.name}: random ops inside need the run step")
    i32 = TensorType(int32, ())
    if op.ir_op == "custom_gradient":
        ny, nx = op.attrs["num_ys"], op.attrs["num_xs"]
        grad = _lower_region("grad", op.regions[0], types[:ny] + types[ny + nx:])
        res = b.op("custom_gradient", *operands, regions=[grad], **op.attrs)
        return list(res) if isinstance(res, tuple) else [res]
    if op.ir_op == "cond":
        kw = dict(step_from=lambda b, lead, st: st) if rng else {}
        regions = [_lower_region(n, r, types[1:], **kw) for n, r in zip(("then", "else"),
                                                                      op.regions)]
        attrs = op.attrs
        operands = list(operands) + ([step] if rng else [])
    else:
        n = op.attrs["num_carried"]
        for k, dims in enumerate(getattr(op, "shape_invariants", [None] * n)):
            if types[k].shape is not None and dims is not None:   # shape_invariants: ? dims
                types[k] = TensorType(types[k].dtype, tuple(
                    None if d is None else t for d, t in zip(dims, types[k].shape)))
        kw: dict = {}
        if rng:
            kw = dict(lead=[i32], step_from=_trip_step)
            body_kw = dict(kw, extra_results=lambda b, lead: [b.add(lead[0], b.const(1, int32))])
        else:
            body_kw = {}
        for _ in range(4):
            body = _lower_region("body", op.regions[1], types, **body_kw)
            got = body.results[len(body_kw.get("lead", ())):]
            bad = [k for k in range(n) if not accepts(types[k], got[k].type)]
            if not bad:
                break
            for k in bad:
                types[k] = TensorType(types[k].dtype, tuple(
                    a if a == c else None for a, c in zip(types[k].shape, got[k].type.shape)))
        regions = [_lower_region("cond", op.regions[0], types, **kw), body]
        attrs = op.attrs
        if rng:
            attrs = dict(op.attrs, num_carried=n + 1)
            operands = [b.const(0, int32)] + list(operands) + [step]
    res = b.op(op.ir_op, *operands, regions=regions, **attrs)
    res = list(res) if isinstance(res, tuple) else [res]
    return res[1:] if rng and op.ir_op != "cond" else res


def needed_ops(fetches: Sequence[Tensor], targets: Sequence[Operation],
               fed: set[int]) -> list[Operation]:
    seen: dict[int, Operation] = {}
    stack = [t.op for t in fetches if id(t) not in fed] + list(targets)
    while stack:
        op = stack.pop()
        if id(op) in seen:
            continue
        seen[id(op)] = op
        stack.extend(t.op for t in op.inputs if id(t) not in fed)
        stack.extend(op.control_inputs)
        override = getattr(op, "grad_override", None)     # its gradient's captures
        if override is not None:
            stack.extend(t.op for t in override[1] if id(t) not in fed)
    return sorted(seen.values(), key=lambda o: o._id)


def _placeholder_error(op: Operation) -> InvalidArgumentError:
    t = op.outputs[0]
    dims = t.shape.dims
    shape = "<unknown>" if dims is None else "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"
    dt = {"float32": "float", "float64": "double"}.get(t.dtype.name, t.dtype.name)
    return InvalidArgumentError(
        f"You must feed a value for placeholder tensor '{op.name}' with dtype {dt} and shape "
        f"{shape}\n\t [[node {op.name} (defined at {op.file}:{op.line}) ]]")


def _unknown_rank_hint(op: Operation, env: dict) -> str:
    """For an op that rejects an operand of unknown rank (only a host callback's result has
    one in the IR): what to do about it."""
    for t in op.inputs:
        v = env.get(id(t))
        if v is not None and v.type.shape is None:
            return (f" (input {t.name} comes from {t.op.type} {t.op.name} with an unknown shape: "
                    f"give it one with {t.name.split(':')[0]}.set_shape(...), e.g. "
                    f"set_shape([None, 3]), so the ops after it can be compiled)")
    return ""


def graph_to_ir(name: str, fetches: Sequence[Tensor], targets: Sequence[Operation],
                feeds: Sequence[Tensor], feed_types: Sequence[TensorType]) -> GraphFunction:
    f = Function(name)
    fed = {id(t) for t in feeds}
    env: dict[int, Value] = {}
    for t, ty in zip(feeds, feed_types):
        env[id(t)] = f.add_param(ty, t.name)
    out = GraphFunction(f, list(feeds), num_fetches=len(fetches), fetches=list(fetches))
    var_param: dict[int, Value] = {}
    current: dict[int, Value] = {}
    rng: list[Value] = []
    b = Builder(f.ops)

    def read_var(var_op: Operation) -> Value:
        if id(var_op) not in var_param:
            var_param[id(var_op)] = f.add_param(var_op.outputs[0]._type, var_op.outputs[0].name)
            out.var_reads.append(var_op)
        return var_param[id(var_op)]

    # id(op) -> {id(variable op): (assign op _id, value)}: the assignments the op is ordered
    # after (through inputs and control inputs), the latest per variable; None for none
    after: dict[int, Optional[dict]] = {}

    def ordered_after(op: Operation) -> Optional[dict]:
        merged, shared = None, True
        for src in [t.op for t in op.inputs] + list(op.control_inputs):
            d = after.get(id(src))
            if not d or d is merged:
                continue
            if merged is None:
                merged = d
                continue
            if shared:
                merged, shared = dict(merged), False
            for k, (i, val) in d.items():
                cur = merged.get(k)
                if cur is None or cur[0] < i:
                    merged[k] = (i, val)
        return merged

    def value_of(t: Tensor, ctx: Optional[dict] = None) -> Value:
        if ctx and id(t) not in fed:
            var_op = _variable_read(t)
            if var_op is not None and id(var_op) in ctx:
                return ctx[id(var_op)][1]       # read after an assignment it is ordered after
        if t.op.type == "VariableV2" and id(t) not in fed:
            return read_var(t.op)       # read lazily: an initializer's target is not a read
        return env[id(t)]

    out.graph_ops = needed_ops(fetches, targets, fed)
    for op in out.graph_ops:
        if op.outputs and all(id(t) in fed for t in op.outputs):
            continue
        b.loc = op.location
        kind = op.type
        ctx = ordered_after(op)
        after[id(op)] = ctx
        try:
            if getattr(op, "regions", None):
                operands = [value_of(t, ctx) for t in op.inputs]
                if uses_rng(op) and not rng:
                    rng.append(f.add_param(TensorType(int64, ()), "rng_step"))
                    out.uses_rng = True
                res = lower_region_op(b, op, operands, rng[0] if rng else None)
                for t, v in zip(op.outputs, res):
                    env[id(t)] = v
            elif op.ir_op is not None:
                operands = [value_of(t, ctx) for t in op.inputs]
                if op.rng:
                    if not rng:
                        rng.append(f.add_param(TensorType(int64, ()), "rng_step"))
                        out.uses_rng = True
                    operands = [rng[0]] + operands
                # an op whose IR attributes depend on the graph at run time (a py_func's result
                # types after set_shape) says so with a `lower_attrs` callable
                lower_attrs = getattr(op, "lower_attrs", None)
                res = b.op(op.ir_op, *operands, **(lower_attrs() if lower_attrs else op.attrs))
                res = res if isinstance(res, tuple) else (res,)
                if lower_attrs is None and any(v.type.shape is None for v in res):
                    raise ValueError(f"{op.type} {op.name} cannot be compiled for an operand "
                                     "of unknown rank")
                res = wrap_override(b, op, operands[1:] if op.rng else operands, res,
                                    lambda t: value_of(t, ctx))
                for t, v in zip(op.outputs, res):
                    env[id(t)] = v
            elif kind == "Placeholder":
                raise _placeholder_error(op)
            elif kind == "PlaceholderWithDefault":
                env[id(op.outputs[0])] = value_of(op.inputs[0], ctx)
            elif kind == "VariableV2":
                pass
            elif kind in _STATEFUL_ASSIGN:
                var_op = op.inputs[0].op
                value = value_of(op.inputs[1], ctx)
                combine = _STATEFUL_ASSIGN[kind]
                if combine is not None:
                    prev = current.get(id(var_op)) or read_var(var_op)
                    value = b.op(combine, prev, value)
                want = var_op.outputs[0]._type
                if value.type.shape != want.shape:
                    value = b.reshape_like(value, read_var(var_op))
                if id(var_op) not in current:
                    out.var_writes.append(var_op)
                current[id(var_op)] = value
                env[id(op.outputs[0])] = value
                after[id(op)] = {**(ctx or {}), id(var_op): (op._id, value)}
            elif kind == "NoOp":
                pass
            else:
                raise NotImplementedError(f"op type {kind} ({op.name}) cannot be lowered")
        except (ShapeMismatch, TypeError, ValueError) as e:
            if isinstance(e, InvalidArgumentError):
                raise
            raise InvalidArgumentError(f"{e}{_unknown_rank_hint(op, env)}\n\t [[node {op.name} "
                                       f"(defined at {op.file}:{op.line}) ]]") from None
    results = [value_of(t) for t in fetches]
    names = [t.name for t in fetches]
    for var_op in out.var_writes:
        results.append(current[id(var_op)])
        names.append(var_op.outputs[0].name)
    f.set_results(results, names)
    # parameter order: feeds, variables read, run step
    f.params = f.params[:len(feeds)] + [var_param[id(o)] for o in out.var_reads] + rng
    for i, p in enumerate(f.params):
        p.index = i
    return out

