"""TF1 control flow: ``tf.cond``, ``tf.case``, ``tf.while_loop``, ``tf.foldl``/``foldr``.

As in TF1, branch and body functions are traced into the same Graph, under the op's name
scope ("cond/", "while/"). The traced ops form a region: the loop variables enter as
placeholder tensors (``while/Identity``), tensors from outside (variables' reads included)
are captured and become explicit operands of the ``cond``/``while`` op. ``graph_to_ir``
lowers each region to a closed nested ``ir.Function`` (``Region`` below records what it
needs). Gradients flow through the IR ops' own rules (jitflow/ops/control_grad.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..errors import GraphShapeError, GraphTypeError
from ..ir.dtypes import bool_, int32
from ..ir.types import TensorType
from .graph import Operation, Tensor, TensorShape, get_default_graph, user_location
from .op_builder import convert_to_tensor, make_op, static_value


@dataclass
class Region:
    """A traced region: ``params`` (placeholder tensors standing for the op's operands, in
    order), the ``outputs`` it gives, and the op ids [start, end) traced for it."""
    params: list
    outputs: list
    start: int
    end: int


def is_nested(x: Any) -> bool:
    return isinstance(x, (list, tuple, dict))


def flatten(x: Any) -> list:
    """tf.nest order: lists, tuples (namedtuples) and dicts (keys sorted) nest."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for e in x for leaf in flatten(e)]
    return [x]


def pack_as(structure: Any, leaves: Sequence) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return type(s)((k, built[k]) for k in s)
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*[build(e) for e in s])
        if isinstance(s, (list, tuple)):
            return type(s)(build(e) for e in s)
        return next(it)
    return build(structure)


def _where() -> str:
    f, line = user_location()
    return f"{f}:{line}"


def _param(g, t_type: TensorType, name: str) -> Tensor:
    op = g._add_op("RegionParam", [], [t_type], None, {}, name, user_location())
    return op.outputs[0]


def _check_region_ops(g, start: int, end: int, what: str) -> None:
    for op in g._ops[start:end]:
        if op.type in ("Assign", "AssignAdd", "AssignSub"):
            raise NotImplementedError(
                f"assigning a variable inside {what} is not supported yet ({op.name}, defined "
                f"at {op.file}:{op.line}); assign after the loop/cond instead")


def _captures(outputs: Sequence[Tensor], params: Sequence[Tensor], start: int) -> list[Tensor]:
    """Tensors from outside the region [start, ...) that the region's outputs reach."""
    inside = {id(p) for p in params}
    seen: set[int] = set()
    caps: list[Tensor] = []
    stack = list(outputs)
    while stack:
        t = stack.pop()
        if id(t) in seen or id(t) in inside:
            continue
        seen.add(id(t))
        if t.op._id < start:
            caps.append(t)
            continue
        stack.extend(t.op.inputs)
    caps.sort(key=lambda t: (t.op._id, t.value_index))
    return caps


def _make_region_op(g, op_type: str, ir_op: str, inputs: list, out_types: list, attrs: dict,
                    regions: list, name: str) -> Operation:
    op = g._add_op(op_type, inputs, out_types, ir_op, attrs, name, user_location())
    op.regions = regions
    return op


def _tensors(structure: Any, what: str) -> list[Tensor]:
    out = []
    for leaf in flatten(structure):
        if leaf is None:
            raise TypeError(f"{what} returned None ({_where()}); it must return tensors")
        out.append(convert_to_tensor(leaf))
    return out


# ------------------------------------------------------------------------------ cond -------

def cond(pred: Any, true_fn: Optional[Callable] = None, false_fn: Optional[Callable] = None,
         strict: bool = False, name: Optional[str] = None, fn1=None, fn2=None):
    """TF1 ``tf.cond``: the result of ``true_fn()`` if ``pred`` else ``false_fn()``."""
    true_fn = true_fn or fn1
    false_fn = false_fn or fn2
    if not callable(true_fn) or not callable(false_fn):
        raise TypeError("true_fn and false_fn must be callable")
    if isinstance(pred, (bool, np.bool_)):
        raise TypeError("pred must not be a Python bool")
    pred = convert_to_tensor(pred)
    if pred.dtype is not bool_ or (pred.shape.dims is not None and pred.shape.dims != ()):
        raise GraphTypeError(f"cond predicate must be a bool scalar, got {pred.name} of dtype "
                             f"{pred.dtype.name} and shape {pred.shape}, at {_where()}")
    g = pred.graph
    from .tensor_array_cond import BranchArrays, ReturnedArrays
    with g.name_scope(name or "cond"):
        loops, returned = BranchArrays(g), ReturnedArrays()
        s0 = len(g._ops)
        t_out = true_fn()
        t_flat = _tensors(returned.tensors(flatten(t_out)), "true_fn")
        loops.branch_done()
        s1 = len(g._ops)
        f_out = false_fn()
        f_flat = _tensors(returned.tensors(flatten(f_out)), "false_fn")
        loops.branch_done()
        s2 = len(g._ops)
        if not strict:
            t_out, f_out = _unpack_singleton(t_out), _unpack_singleton(f_out)
        if is_nested(t_out) != is_nested(f_out) or len(returned.kinds[0]) != len(
                returned.kinds[1]):
            raise ValueError(f"true_fn and false_fn must return the same structure: "
                             f"{_struct(t_out)} and {_struct(f_out)}, at {_where()}")
        returned.check()
        n_user = len(t_flat)
        xt, xf, plans = loops.merge_outputs()
        t_flat, f_flat = t_flat + xt, f_flat + xf
        out_types = []
        for i, (a, b) in enumerate(zip(t_flat, f_flat)):
            if a.dtype is not b.dtype:
                raise GraphTypeError(f"Outputs of true_fn and false_fn must have the same "
                                     f"type: {a.dtype.name}, {b.dtype.name} (output {i}, at "
                                     f"{_where()})")
            da, db = a.shape.dims, b.shape.dims
            if da is None or db is None or len(da) != len(db):
                raise GraphShapeError(f"Outputs of true_fn and false_fn must have the same "
                                      f"rank: {a.shape} and {b.shape} (output {i}, at "
                                      f"{_where()})")
            out_types.append(TensorType(a.dtype, tuple(x if x == y else None
                                                       for x, y in zip(da, db))))
        _check_region_ops(g, s0, s2, "tf.cond")
        caps = _captures(t_flat, [], s0)
        caps += [c for c in _captures(f_flat, [], s0) if all(c is not d for d in caps)]
        caps = [c for c in caps if c.op._id < s0]
        regions = [Region(caps, t_flat, s0, s1), Region(caps, f_flat, s1, s2)]
        op = _make_region_op(g, "If", "cond", [pred] + caps, out_types, {}, regions, "cond")
        merged = [make_op("Identity", "identity", [t], name="Merge").outputs[0]
                  for t in op.outputs]
        loops.finish(plans, merged[n_user:])
        leaves = returned.rebuild(merged[:n_user])
    return pack_as(t_out, leaves) if is_nested(t_out) else leaves[0]


def _unpack_singleton(x: Any) -> Any:
    if isinstance(x, (list, tuple)) and len(x) == 1:
        return x[0]
    return x


def _struct(x: Any) -> str:
    return type(x).__name__ + (f" of {len(flatten(x))}" if is_nested(x) else "")


def case(pred_fn_pairs, default: Optional[Callable] = None, exclusive: bool = False,
         strict: bool = False, name: str = "case"):
    """TF1 ``tf.case``: the fn of the first true predicate (a chain of conds)."""
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    if not pairs:
        if default is None:
            raise ValueError("tf.case needs at least one (pred, fn) pair or a default")
        return default()
    if default is None:
        pairs, default = pairs[:-1], pairs[-1][1]
    with get_default_graph().name_scope(name):
        def chain(i: int):
            if i == len(pairs):
                return default()
            p, fn = pairs[i]
            return cond(p, fn, lambda: chain(i + 1), strict=strict, name=f"If_{i}")
        return chain(0)


# ------------------------------------------------------------------------------ while ------

def while_loop(cond: Callable, body: Callable, loop_vars: Any, shape_invariants: Any = None,
               parallel_iterations: int = 10, back_prop: bool = True, swap_memory: bool = False,
               name: Optional[str] = None, maximum_iterations: Any = None,
               return_same_structure: bool = False):
    """TF1 ``tf.while_loop``: repeat ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``."""
    if not callable(cond) or not callable(body):
        raise TypeError("cond and body must be callable")
    from .tensor_array import TensorArray, enter_loop, leave_loop, scatter_rows, write_index
    from .tensor_array_cond import loop_arrays
    single = not isinstance(loop_vars, (list, tuple)) or not loop_vars
    structure = [loop_vars] if single else list(loop_vars)
    structure, arrays = enter_loop(structure)      # TensorArrays: recorded, not carried
    leaves = flatten(structure)
    is_ta = [isinstance(x, TensorArray) for x in leaves]
    flat = [convert_to_tensor(v) for v, t in zip(leaves, is_ta) if not t]
    if not flat and not arrays:
        raise ValueError("No loop variables provided")
    invariants = [None] * len(flat)
    if shape_invariants is not None:
        inv_s = [shape_invariants] if single else list(shape_invariants)
        inv_flat = flatten(inv_s)
        if len(inv_flat) != len(flat):
            raise ValueError(f"shape_invariants has {len(inv_flat)} entries for {len(flat)} "
                             f"loop variables")
        invariants = [TensorShape(s) for s in inv_flat]
    max_iter = -1
    if maximum_iterations is not None:
        v = static_value(maximum_iterations)
        if v is None:       # a run-time limit: count the trips in one more loop variable
            if arrays:
                raise NotImplementedError(f"tf.while_loop with TensorArray loop variables and "
                                          f"a run-time maximum_iterations is not implemented "
                                          f"in jitflow yet, at {_where()}")
            from .math_ops import add, logical_and
            m = convert_to_tensor(maximum_iterations)
            invs = None if shape_invariants is None else [TensorShape([]), shape_invariants]
            out = while_loop(
                lambda k, lv: logical_and(k < m, cond(*([lv] if single else lv))),
                lambda k, lv: [add(k, 1), body(*([lv] if single else lv))],
                [convert_to_tensor(0, dtype=m.dtype), loop_vars],
                shape_invariants=invs, back_prop=back_prop, name=name,
                return_same_structure=True)[1]
            return out
        max_iter = int(v)
    g = flat[0].graph if flat else get_default_graph()

    def packed_with(tensors: list) -> Any:
        it = iter(tensors)
        return pack_as(structure, [x if t else next(it) for x, t in zip(leaves, is_ta)])

    with g.name_scope(name or "while"):
        params = []
        for i, (t, inv) in enumerate(zip(flat, invariants)):
            dims = t.shape.dims if inv is None else inv.dims
            if inv is not None and not inv.is_compatible_with(t.shape):
                raise ValueError(f"The shape invariant specified for {t.name} is not compatible "
                                 f"with the initial shape of the loop variable. It enters the "
                                 f"loop with shape {t.shape}, but the specified shape invariant "
                                 f"is {inv}.")
            params.append(_param(g, TensorType(t.dtype, dims), "Identity"))
        packed = packed_with(params)
        s0 = len(g._ops)
        active = loop_arrays(g)     # a tf.cond in the body merges these arrays' writes
        active += [proxy for _, proxy, _ in arrays]
        try:
            c = convert_to_tensor(cond(*packed))
            if c.dtype is not bool_ or c.shape.dims not in (None, ()):
                raise GraphTypeError(f"while_loop cond must return a bool scalar, got dtype "
                                     f"{c.dtype.name} and shape {c.shape}, at {_where()}")
            s1 = len(g._ops)
            out = body(*packed)
        finally:
            del active[len(active) - len(arrays):]
        if single and not (isinstance(out, (list, tuple)) and len(out) == 1
                           and not is_nested(loop_vars)):
            out = [out]
        out_leaves = flatten(list(out) if isinstance(out, (list, tuple)) else [out])
        if len(out_leaves) == len(leaves):
            for x, t in zip(out_leaves, is_ta):
                if t != isinstance(x, TensorArray) or (t and not any(x is p for _, p, _ in
                                                                     arrays)):
                    raise ValueError(f"body must return each TensorArray loop variable "
                                     f"(the result of its write) in its place, at {_where()}")
            out_leaves = [x for x, t in zip(out_leaves, is_ta) if not t]
        new = _tensors(out_leaves, "body")
        ys = []
        carried, kept = [], []      # arrays the body read (dense): written, or only read
        for _, proxy, _ in arrays:
            st = proxy.dense_state()
            if st is not None:
                (carried if st[3] else kept).append(st)
        c_params = [st[0] for st in carried]
        c_init = [st[1] for st in carried]
        c_new = [st[2] for st in carried]
        k_params, k_init = [st[0] for st in kept], [st[1] for st in kept]
        masked = []                 # per array: whether its rows carry masks (a tf.cond's)
        for base, _, writes in arrays:  # a trip's writes to one array: [k, ...] values, indices
            masked.append(any(len(w) == 3 for w in writes))
            if writes:
                from .extra_ops import concat
                cols = [[w[0] for w in writes], [w[1] for w in writes]]
                if masked[-1]:
                    from .array_ops import ones
                    cols.append([w[2] if len(w) == 3 else ones([1], dtype=base.dtype)
                                 for w in writes])
                ys += [concat(c, 0) if len(c) > 1 else c[0] for c in cols]
        if len(new) != len(flat):
            raise ValueError(f"body returned {len(new)} values for {len(flat)} loop variables, "
                             f"at {_where()}")
        s2 = len(g._ops)
        for t, p, n in zip(flat, params, new):
            if n.dtype is not t.dtype:
                raise GraphTypeError(f"Loop variable {t.name} enters the loop with dtype "
                                     f"{t.dtype.name}, but has dtype {n.dtype.name} after one "
                                     f"iteration (body at {n.op.file}:{n.op.line})")
            if not p.shape.is_compatible_with(n.shape) or (
                    p.shape.dims is not None and n.shape.dims is not None and any(
                        a is not None and b is None for a, b in zip(p.shape.dims, n.shape.dims))):
                raise GraphShapeError(
                    f"Input tensor '{t.name}' enters the loop with shape {p.shape}, but has "
                    f"shape {n.shape} after one iteration. To allow the shape to vary across "
                    f"iterations, use the `shape_invariants` argument of tf.while_loop to "
                    f"specify a less-specific shape. (body at {n.op.file}:{n.op.line})")
        _check_region_ops(g, s0, s2, "tf.while_loop")
        for base, proxy, _ in arrays:
            st = proxy.dense_state()
            if st is not None and st[3] and base.dynamic_size and back_prop:
                raise NotImplementedError(
                    f"a dynamic_size TensorArray read and written in one tf.while_loop has no "
                    f"gradient in jitflow yet (the loop's gradient keeps each trip's array, "
                    f"which changes size): give it a size, or pass back_prop=False, at "
                    f"{_where()}")
        for p, n in zip(c_params, c_new):
            if not p.shape.is_compatible_with(n.shape):
                raise GraphShapeError(f"a TensorArray read and written in the loop enters with "
                                      f"shape {p.shape} but has shape {n.shape} after one "
                                      f"iteration, at {_where()}")
        inner = params + c_params + k_params
        caps = _captures([c], inner, s0)
        caps += [x for x in _captures(new + c_new + ys, inner, s0)
                 if all(x is not d for d in caps)]
        caps = [x for x in caps if x.op._id < s0 and all(x is not p for p in params)]
        rparams = params + c_params + caps + k_params
        regions = [Region(rparams, [c], s0, s1), Region(rparams, new + c_new + ys, s1, s2)]
        attrs = {"num_carried": len(flat) + len(carried), "maximum_iterations": max_iter}
        out_types = [p._type for p in params + c_params]
        if ys:
            attrs["num_stacked"] = len(ys)
            out_types += [TensorType(y.dtype, (None,) + tuple(y.shape.dims)) for y in ys]
        op = _make_region_op(g, "While", "while", flat + c_init + caps + k_init, out_types, attrs,
                             regions, "While")
        kind, ir = ("StopGradient", "stop_gradient") if not back_prop else ("Identity", "identity")
        exits = [make_op(kind, ir, [t], name="Exit").outputs[0] for t in op.outputs]
        dense_exits = iter(exits[len(flat):len(flat) + len(carried)])
        stacked = iter(exits[len(flat) + len(carried):])
        finals = []
        for (base, proxy, writes), has_mask in zip(arrays, masked):  # scattered once
            st = proxy.dense_state()
            if st is not None and st[3]:
                finals.append(base._with(next(dense_exits)))
                continue
            if not writes:
                finals.append(base)
                continue
            from .array_ops import reshape, squeeze
            v, i = next(stacked), next(stacked)       # [trips, k, ...], [trips, k]
            m = next(stacked) if has_mask else None
            if len(writes) == 1:
                vals_all, idx_all = squeeze(v, [1]), squeeze(i, [1])
            else:
                elem = v.shape.dims[2:]
                if any(d is None for d in elem):
                    raise NotImplementedError(
                        f"several writes a trip to one TensorArray need static element dims, "
                        f"got {v.shape.dims[2:]}, at {_where()}")
                vals_all, idx_all = reshape(v, [-1] + list(elem)), reshape(i, [-1])
            m = None if m is None else reshape(m, [-1])
            finals.append(base._with(scatter_rows(base._buffer, vals_all, idx_all,
                                                  base._size_for_write(write_index(idx_all, m)),
                                                  grow=base._dynamic, mask=m)))
        exits = exits[:len(flat)]
    finals = [leave_loop(base, f) for (base, _, _), f in zip(arrays, finals)]
    it_t, it_a = iter(exits), iter(finals)
    result = pack_as(structure, [next(it_a) if t else next(it_t) for t in is_ta])
    if single and not return_same_structure:
        return result[0]
    if len(structure) == 1 and not return_same_structure and not is_nested(structure[0]):
        return result[0]
    return result


def _leading(elems: Tensor) -> Tensor:
    from .array_ops import shape
    from .extra_ops import gather
    return gather(shape(elems), 0)


def foldl(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int = 10,
          back_prop: bool = True, swap_memory: bool = False, name: Optional[str] = None):
    """TF1 ``tf.foldl``: ``acc = fn(acc, elems[i])`` for i = 0 .. n-1."""
    return _fold(fn, elems, initializer, back_prop, name or "foldl", reverse=False)


def foldr(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int = 10,
          back_prop: bool = True, swap_memory: bool = False, name: Optional[str] = None):
    """TF1 ``tf.foldr``: ``acc = fn(acc, elems[i])`` for i = n-1 .. 0."""
    return _fold(fn, elems, initializer, back_prop, name or "foldr", reverse=True)


def _fold(fn, elems, initializer, back_prop, name, reverse):
    from .extra_ops import gather
    from .math_ops import add, subtract
    elems_flat = [convert_to_tensor(e) for e in flatten(elems)]
    g = elems_flat[0].graph
    with g.name_scope(name):
        n = _leading(elems_flat[0])
        start = 0
        if initializer is None:
            initializer = pack_as(elems, [gather(e, subtract(n, 1) if reverse else 0)
                                          for e in elems_flat])
            start = 1
        i0 = subtract(n, 1 + start) if reverse else convert_to_tensor(start, dtype=int32)

        def step(i, acc):
            x = pack_as(elems, [gather(e, i) for e in elems_flat])
            nxt = subtract(i, 1) if reverse else add(i, 1)
            return [nxt, fn(acc, x)]

        keep = (lambda i, acc: i >= 0) if reverse else (lambda i, acc: i < n)
        _, acc = while_loop(keep, step, [i0, initializer], back_prop=back_prop)
    return acc


def _stacked_loop(step: Callable, elems: Any, init: Any, back_prop: bool, name: str,
                  reverse: bool = False):
    """Run ``(carry, y) = step(carry, elems[i])`` for i = 0 .. n-1 (n-1 .. 0 with
    ``reverse``), the ys stacked by the loop itself (``scan_loop``: ``num_stacked``, no
    accumulator carried through the trips, O(n) work in all); returns (carry, ys)."""
    from .array_extra import reverse as flip
    from .array_ops import stop_gradient
    from .extra_ops import gather
    from .math_ops import subtract
    elems_flat = [convert_to_tensor(e) for e in flatten(elems)]
    init_flat = [convert_to_tensor(c) for c in flatten(init)]
    g = elems_flat[0].graph
    with g.name_scope(name):
        n = _leading(elems_flat[0])
        like: list = []

        def st(t: Tensor, carry: list) -> tuple:
            i = subtract(subtract(n, 1), t) if reverse else t
            c2, y = step(pack_as(init, carry), pack_as(elems, [gather(e, i) for e in elems_flat]))
            like.append(y)
            return [convert_to_tensor(c) for c in flatten(c2)], \
                [convert_to_tensor(v) for v in flatten(y)]
        carry, ys = scan_loop(n, st, init_flat, name="while")
        if reverse:                 # the loop ran from the end: its rows come last-first
            ys = [flip(y, [0]) for y in ys]
        if not back_prop:
            carry, ys = [stop_gradient(c) for c in carry], [stop_gradient(y) for y in ys]
    return pack_as(init, carry), pack_as(like[0], ys)


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None,
          name: str = "range") -> Tensor:
    """TF1 ``tf.range``: a constant when the bounds are known at graph build, else the host op
    ``range_of`` (its length is known when it runs)."""
    from ..ir.dtypes import as_dtype
    from .math_ops import cast
    if limit is None:
        start, limit = 0, start
    vals = [static_value(v) for v in (start, limit, delta)]
    if all(v is not None for v in vals):           # a constant, with TF's dtype rules
        from .composite_ops import static_range
        return static_range(start, limit, delta, dtype=dtype, name=name)
    tensors = [v for v in (start, limit, delta) if isinstance(v, Tensor)]
    dt = as_dtype(dtype) if dtype is not None else tensors[0].dtype
    for t in tensors:               # TF: the dtype of the tensor bounds (or the one given)
        if dtype is None and t.dtype is not dt:
            raise TypeError(f"tf.range: bounds of dtypes {[x.dtype.name for x in tensors]} "
                            f"differ; cast them or pass dtype=")
    start, limit, delta = (cast(convert_to_tensor(v), dt) if isinstance(v, Tensor) else
                           convert_to_tensor(v, dtype=dt) for v in (start, limit, delta))
    step = static_value(delta)
    if step is not None and float(step) == 0:
        raise ValueError("Requires delta != 0")
    from .op_builder import make_op
    return make_op("Range", "range_of", [start, limit, delta], name=name).outputs[0]



def map_fn(fn: Callable, elems: Any, dtype: Any = None, parallel_iterations: int = 10,
           back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True,
           name: Optional[str] = None):
    """TF1 ``tf.map_fn``: ``stack([fn(elems[i]) for i])`` as one while loop stacking the
    results per trip (any dtype; ``dtype`` is accepted: the results' own types are used)."""
    _, out = _stacked_loop(lambda c, x: (c, fn(x)), elems, convert_to_tensor(0.0), back_prop,
                           name or "map")
    return out


def scan(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int = 10,
         back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True,
         reverse: bool = False, name: Optional[str] = None):
    """TF1 ``tf.scan``: ``acc = fn(acc, elems[i])`` for every i, stacking each acc."""
    def step(acc, x):
        nxt = fn(acc, x)
        return nxt, nxt
    if initializer is not None:
        _, out = _stacked_loop(step, elems, initializer, back_prop, name or "scan", reverse)
        return out
    # TF: the first element (the last with reverse) is the initial value and its own output
    from .array_ops import expand_dims
    from .extra_ops import concat
    flat = [convert_to_tensor(e) for e in flatten(elems)]
    first = pack_as(elems, [e[-1] if reverse else e[0] for e in flat])
    rest = pack_as(elems, [e[:-1] if reverse else e[1:] for e in flat])
    _, out = _stacked_loop(step, rest, first, back_prop, name or "scan", reverse)
    head = [expand_dims(convert_to_tensor(x), 0) for x in flatten(first)]
    outs = [concat([o, h] if reverse else [h, o], 0) for o, h in zip(flatten(out), head)]
    return pack_as(out, outs)


# ------------------------------------------------------------------------------ scan loop --

def scan_loop(num_steps: Any, step: Callable, init: Sequence[Tensor], name: str = "while"
              ) -> tuple[list, list]:
    """``carry, ys = step(t, carry)`` for t = 0 .. num_steps-1 as one ``while`` op whose
    per-step values ``ys`` are stacked by the loop itself (``num_stacked``: no accumulator
    carried through the trips). ``init`` and ``carry`` are flat lists of tensors with fixed
    dtypes and shapes. Returns (final carry, stacked ys, each ``[num_steps, ...]``)."""
    from .math_ops import add, less
    flat = [convert_to_tensor(v) for v in init]
    g = flat[0].graph
    with g.name_scope(name):
        n_t = convert_to_tensor(num_steps, dtype=int32)
        t0 = convert_to_tensor(0, dtype=int32)
        params = [_param(g, TensorType(x.dtype, x.shape.dims), "Identity") for x in [t0] + flat]
        s0 = len(g._ops)
        c = less(params[0], n_t)
        s1 = len(g._ops)
        new, ys = step(params[0], list(params[1:]))
        new = [add(params[0], 1)] + [convert_to_tensor(v) for v in new]
        ys = [convert_to_tensor(y) for y in ys]
        s2 = len(g._ops)
        if len(new) != len(params):
            raise ValueError(f"{name}: the step gave {len(new) - 1} carried values for "
                             f"{len(params) - 1}, at {_where()}")
        for p, v in zip(params, new):
            if v.dtype is not p.dtype or not p.shape.is_compatible_with(v.shape):
                raise GraphShapeError(f"{name}: a carried value enters the loop as "
                                      f"{p.dtype.name}{p.shape} but the step gives "
                                      f"{v.dtype.name}{v.shape}, at {_where()}")
        for y in ys:
            if y.shape.dims is None:
                raise GraphShapeError(f"{name}: a per-step value of unknown rank cannot be "
                                      f"stacked, at {_where()}")
        _check_region_ops(g, s0, s2, name)
        caps = _captures([c], params, s0)
        caps += [x for x in _captures(new + ys, params, s0) if all(x is not d for d in caps)]
        caps = [x for x in caps if x.op._id < s0 and all(x is not p for p in params)]
        regions = [Region(params + caps, [c], s0, s1), Region(params + caps, new + ys, s1, s2)]
        steps = static_value(n_t)
        lead = int(steps) if steps is not None else None
        out_types = [p._type for p in params] + [TensorType(y.dtype, (lead,) + tuple(y.shape.dims))
                                                 for y in ys]
        attrs = {"num_carried": len(params), "maximum_iterations": -1, "num_stacked": len(ys)}
        op = _make_region_op(g, "While", "while", [t0] + flat + caps, out_types, attrs,
                             regions, "While")
        exits = [make_op("Identity", "identity", [t], name="Exit").outputs[0]
                 for t in op.outputs[1:]]
        stacked = exits[len(flat):]
        if lead is not None:         # the IR types the stacks [?, ...]: give them the count
            from .array_ops import reshape   # (a -1 beside a count of 0 would be ambiguous)
            stacked = [reshape(y, [lead] + [-1 if d is None else d for d in y.shape.dims[1:]])
                       if sum(d is None for d in y.shape.dims[1:]) <= (1 if lead else 0)
                       else y for y in stacked]
    return exits[:len(flat)], stacked
