"""Python source for the kernel of one fusion group (elementwise or reduction), compiled with
``numba.cuda.jit`` at run time.

A group iterates over its *space* (the root's shape; a reduction's input shape). Every value
read from memory (a *leaf*) has an index map ``base + sum(ix[a] * stride[a])`` over the space's
axes, computed per input-shape signature from concrete shapes (broadcasting gives stride 0,
transposes and strided slices permute or scale strides, bias_add reads along its axis): the
generated code is independent of the batch size, so a new batch size never recompiles. Leaves
whose type equals the space's are read at the flat index ``i``; single-element leaves are
hoisted out of the loop; scalar constants are inlined; fed scalars (a learning rate, the run
step) are passed as kernel arguments instead of being copied to the device.

``EW[opname](ctx, op, args) -> expression`` holds the per-op code (one place per op).
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from ...ir.core import Op, Value
from ...ir.dtypes import DType, float32, float64
from ...ir.opdef import OPS
from ...kernels.errors import ErrorTable, UnsupportedOp, op_where  # noqa: F401  (re-exported)
from ...kernels.groups import same_static  # noqa: F401  (re-exported)
from ...kernels.indexmap import contig, embed, operand_map as operand_local_map  # noqa: F401
from ...ops.random import LN2_HI, LN2_LO, PHI_MINUS_2, _A, _B, _C, _D, _E, _F, fold_seed
from ...ops.reduce import reduced_axes

CTOR = {"f32": "f32", "f64": "f64", "i32": "i32", "i64": "i64"}
INT_MAX_CODE = 2 ** 31 - 1


def lit(v, dt: DType) -> str:
    """A typed literal of ``v``."""
    if dt.is_bool:
        return "True" if bool(v) else "False"
    if dt.is_floating:
        x = float(v)
        if x != x:
            body = "NAN"
        elif x in (float("inf"), float("-inf")):
            body = "INF" if x > 0 else "-INF"
        else:
            body = repr(x)
        return f"{CTOR[dt.short]}({body})"
    return f"{CTOR[dt.short]}({int(v)})"


def wrap(dt: DType, expr: str) -> str:
    return f"({expr})" if dt.is_bool else f"{CTOR[dt.short]}({expr})"


# ================================================================ index maps ================

def slice_map(in_shape, attrs) -> tuple[int, list[int]]:
    """(base, strides over the result's axes) of a strided slice of a contiguous tensor."""
    return OPS["strided_slice"].index_map(in_shape, attrs)


def remaps(name: str) -> bool:
    """A transpose or strided slice: read through its own index map, from memory."""
    return OPS[name].kind == "remap"


def reduces(name: str) -> bool:
    return OPS[name].kind == "reduction"


def is_special_read(op: Op, idx: int) -> bool:
    return remaps(op.opname) or (op.opname == "bias_add" and idx == 1)


# ================================================================ source builder ============

class Src:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 1

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def text(self) -> str:
        return "\n".join(self.lines)


# ================================================================ per-op expressions =========

class Ctx:
    """What a lowering may ask of the kernel being generated."""

    def __init__(self, gen: "GroupGen") -> None:
        self.gen = gen
        self.op: Optional[Op] = None

    @property
    def lin(self) -> str:
        self.gen.need_lin = True
        return self.gen.lin_name

    def emit(self, line: str) -> None:
        self.gen.body(line)

    def tmp(self, expr: str) -> str:
        name = self.gen.fresh("t")
        self.gen.body(f"{name} = {expr}")
        return name

    def flag(self, cond: str, message: str, exact: bool = False) -> None:
        code = self.gen.errors.code(message + op_where(self.op), exact)
        self.gen.uses_err = True
        self.gen.body(f"if {cond}:")
        self.gen.body(f"    cuda.atomic.min(err, 0, {code})")

    def runtime_int(self, key, fn: Callable) -> str:
        return self.gen.int_arg(key, fn)


EW: dict[str, Callable] = {}


def lowering(*names):
    def deco(fn):
        for n in names:
            EW[n] = fn
        return fn
    return deco


def _dt(op, i=0) -> DType:
    return op.operands[i].type.dtype


def _out(op) -> DType:
    return op.results[0].type.dtype


def _mul(dt: DType, a: str, b: str) -> str:
    if dt.is_floating:
        return f"_mul_{dt.short}({a}, {b})"
    return wrap(dt, f"{a} * {b}")


def _fn(dt: DType, name: str, *a: str) -> str:
    return f"{CTOR[dt.short]}(_{name}_{dt.short}({', '.join(a)}))"


def _fmax(a: str, b: str) -> str:
    """NaN-propagating maximum (NumPy's)."""
    return f"({a} if ({a} >= {b} or {a} != {a}) else {b})"


def _fmin(a: str, b: str) -> str:
    return f"({a} if ({a} <= {b} or {a} != {a}) else {b})"


@lowering("add", "sub")
def _addsub(c, op, a):
    dt = _dt(op)
    sym = "+" if op.opname == "add" else "-"
    e = f"{a[0]} {sym} {a[1]}"
    return f"({e})" if dt.is_floating else wrap(dt, e)


@lowering("mul")
def _mul_op(c, op, a):
    return _mul(_dt(op), a[0], a[1])


@lowering("div")
def _div(c, op, a):
    return f"({a[0]} / {a[1]})"


def _int_guard(c, op, a) -> str:
    c.flag(f"{a[1]} == 0", "Integer division by zero")
    return c.tmp(f"{a[1]} if {a[1]} != 0 else {lit(1, _dt(op))}")


@lowering("floordiv")
def _floordiv(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return _fn(dt, "floor", f"{a[0]} / {a[1]}")
    y = _int_guard(c, op, a)
    return wrap(dt, f"{a[0]} // {y}")


@lowering("mod")
def _mod(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return wrap(dt, f"{a[0]} % {a[1]}")
    y = _int_guard(c, op, a)
    return wrap(dt, f"{a[0]} % {y}")


@lowering("pow")
def _pow(c, op, a):
    dt = _dt(op)
    if dt.is_floating:
        return _fn(dt, "pow", a[0], a[1])
    c.flag(f"{a[1]} < 0", "Integers to negative integer powers are not allowed.")
    r, x, e = c.tmp("i64(1)"), c.tmp(f"i64({a[0]})"), c.tmp(f"i64({a[1]})")
    c.emit(f"while {e} > 0:")       # square-and-multiply, wrapping like NumPy
    c.emit(f"    if {e} & 1:")
    c.emit(f"        {r} = {r} * {x}")
    c.emit(f"    {x} = {x} * {x}")
    c.emit(f"    {e} = {e} >> 1")
    return wrap(dt, r)


@lowering("maximum", "minimum")
def _minmax(c, op, a):
    dt = _dt(op)
    is_max = op.opname == "maximum"
    if dt.is_floating:
        return _fmax(a[0], a[1]) if is_max else _fmin(a[0], a[1])
    return f"({a[0]} if {a[0]} {'>=' if is_max else '<='} {a[1]} else {a[1]})"


_CMP = {"equal": "==", "not_equal": "!=", "less": "<", "less_equal": "<=", "greater": ">",
        "greater_equal": ">="}


@lowering(*_CMP)
def _cmp(c, op, a):
    return f"({a[0]} {_CMP[op.opname]} {a[1]})"


EW["logical_and"] = lambda c, op, a: f"({a[0]} and {a[1]})"
EW["logical_or"] = lambda c, op, a: f"({a[0]} or {a[1]})"
EW["logical_not"] = lambda c, op, a: f"(not {a[0]})"
EW["select"] = lambda c, op, a: f"({a[1]} if {a[0]} else {a[2]})"


@lowering("cast")
def _cast(c, op, a):
    src, dst = _dt(op), _out(op)
    x = a[0]
    if src is dst:
        return x
    if dst.is_bool:
        return f"({x} != {lit(0, src)})" if not src.is_bool else x
    if src.is_bool:
        return f"({lit(1, dst)} if {x} else {lit(0, dst)})"
    if src.is_floating and dst.is_integer:
        lim = float(2 ** (dst.np.itemsize * 8 - 1))
        return (f"({wrap(dst, x)} if ({x} >= {-lim!r} and {x} < {lim!r}) "
                f"else {lit(-int(lim), dst)})")
    return wrap(dst, x)


@lowering("neg")
def _neg(c, op, a):
    dt = _dt(op)
    return f"(-{a[0]})" if dt.is_floating else wrap(dt, f"-{a[0]}")


@lowering("abs")
def _abs(c, op, a):
    dt = _dt(op)
    return f"abs({a[0]})" if dt.is_floating else wrap(dt, f"abs({a[0]})")


@lowering("sign")
def _sign(c, op, a):
    dt = _dt(op)
    x = a[0]
    e = (f"({lit(1, dt)} if {x} > {lit(0, dt)} else ({lit(-1, dt)} if {x} < {lit(0, dt)} "
         f"else {lit(0, dt)}))")
    return f"({x} if {x} != {x} else {e})" if dt.is_floating else e


@lowering("square")
def _square(c, op, a):
    return _mul(_dt(op), a[0], a[0])


EW["sqrt"] = lambda c, op, a: _fn(_dt(op), "sqrt", a[0])
EW["rsqrt"] = lambda c, op, a: f"({lit(1, _dt(op))} / {_fn(_dt(op), 'sqrt', a[0])})"
EW["exp"] = lambda c, op, a: _fn(_dt(op), "exp", a[0])
EW["log"] = lambda c, op, a: _fn(_dt(op), "log", a[0])
EW["tanh"] = lambda c, op, a: _fn(_dt(op), "tanh", a[0])


@lowering("sigmoid")
def _sigmoid(c, op, a):
    dt = _dt(op)
    one = lit(1, dt)
    e = c.tmp(_fn(dt, "exp", f"-abs({a[0]})"))
    return f"(({one} / ({one} + {e})) if {a[0]} >= {lit(0, dt)} else ({e} / ({one} + {e})))"


@lowering("relu")
def _relu(c, op, a):
    dt = _dt(op)
    z = lit(0, dt)
    if dt.is_floating:
        return _fmax(a[0], z)
    return f"({a[0]} if {a[0]} > {z} else {z})"


EW["identity"] = EW["stop_gradient"] = EW["broadcast_like"] = EW["fill"] = \
    EW["copy_to_device"] = EW["copy_to_host"] = lambda c, op, a: a[0]
EW["zeros_like"] = lambda c, op, a: lit(0, _out(op))
EW["ones_like"] = lambda c, op, a: lit(1, _out(op))


@lowering("add_n")
def _add_n(c, op, a):
    dt = _out(op)
    acc = a[0]
    for x in a[1:]:
        acc = c.tmp(f"{acc} + {x}" if dt.is_floating else wrap(dt, f"{acc} + {x}"))
    return acc


@lowering("size")
def _size(c, op, a):
    x = op.operands[0]
    axes = op.attrs["axes"]
    ax = tuple(range(len(x.type.shape))) if axes is None else tuple(axes)
    p = c.runtime_int(("size", id(op)), lambda s, vid=id(x), ax=ax:
                      int(np.prod([s[vid][k] for k in ax], dtype=np.int64)))
    return wrap(_out(op), p)


@lowering("check_numerics")
def _check_numerics(c, op, a):
    x = a[0]
    c.flag(f"({x} != {x}) or ({x} == INF) or ({x} == -INF)",
           op.attrs["message"] + " : Tensor had NaN or Inf values")
    return x


@lowering("elu")
def _elu(c, op, a):
    dt = _dt(op)
    z = lit(0, dt)
    m = c.tmp(_fmin(a[0], z))
    return f"({a[0]} if {a[0]} > {z} else {_fn(dt, 'expm1', m)})"


@lowering("leaky_relu")
def _leaky(c, op, a):
    dt = _dt(op)
    return f"({a[0]} if {a[0]} > {lit(0, dt)} else {_mul(dt, a[0], lit(op.attrs['alpha'], dt))})"


@lowering("softplus")
def _softplus(c, op, a):
    dt = _dt(op)
    z = lit(0, dt)
    m = c.tmp(f"({a[0]} if {a[0]} > {z} else {z})")
    return f"({m} + {_fn(dt, 'log1p', _fn(dt, 'exp', f'-abs({a[0]})'))})"


@lowering("relu6")
def _relu6(c, op, a):
    dt = _dt(op)
    z, six = lit(0, dt), lit(6, dt)
    if dt.is_floating:
        m = c.tmp(_fmax(a[0], z))
        return _fmin(m, six)
    m = c.tmp(f"({a[0]} if {a[0]} > {z} else {z})")
    return f"({m} if {m} < {six} else {six})"


@lowering("sigmoid_cross_entropy")
def _sig_xent(c, op, a):
    dt = _dt(op)
    x, z = a
    m = c.tmp(_fmax(x, lit(0, dt)))
    t = c.tmp(f"{m} - {_mul(dt, x, z)}")
    return f"({t} + {_fn(dt, 'log1p', _fn(dt, 'exp', f'-abs({x})'))})"


@lowering("bias_add")
def _bias_add(c, op, a):
    dt = _dt(op)
    e = f"{a[0]} + {a[1]}"
    return f"({e})" if dt.is_floating else wrap(dt, e)


# ---------------------------------------------------------------- random (bit-exact) ------

_M0, _M1, _W0, _W1 = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85


def _poly(c, coeffs, r: str) -> str:
    acc = repr(float(coeffs[-1]))
    for cf in coeffs[-2::-1]:
        acc = c.tmp(f"_mul_f64({acc}, {r}) + {float(cf)!r}")
    return acc


def _series_log(c, x: str) -> str:
    """Same operations, in the same order, as ops.random.series_log."""
    fr = c.tmp(f"math.frexp({x})")
    m0 = c.tmp(f"{fr}[0]")
    e0 = c.tmp(f"{fr}[1]")
    small = c.tmp(f"{m0} < 0.7071067811865476")
    m = c.tmp(f"(_mul_f64({m0}, 2.0) if {small} else {m0})")
    e = c.tmp(f"f64({e0} - 1 if {small} else {e0})")
    s = c.tmp(f"({m} - 1.0) / ({m} + 1.0)")
    s2 = c.tmp(f"_mul_f64({s}, {s})")
    p = c.tmp(repr(1.0 / 25.0))
    for k in (23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3):
        c.emit(f"{p} = _mul_f64({p}, {s2}) + {1.0 / k!r}")
    c.emit(f"{p} = _mul_f64({p}, {s2}) + 1.0")
    return c.tmp(f"_mul_f64({e}, {LN2_HI!r}) + (_mul_f64({e}, {LN2_LO!r}) + "
                 f"_mul_f64(_mul_f64(2.0, {s}), {p}))")


def _inverse_normal_cdf(c, p: str) -> str:
    q = c.tmp(f"{p} - 0.5")
    out = c.tmp("0.0")
    c.emit(f"if abs({q}) <= 0.425:")
    c.gen.ind(1)
    rc = c.tmp(f"0.180625 - _mul_f64({q}, {q})")
    c.emit(f"{out} = _mul_f64({q}, {_poly(c, _A, rc)}) / {_poly(c, _B, rc)}")
    c.gen.ind(-1)
    c.emit("else:")
    c.gen.ind(1)
    tp = c.tmp(f"({p} if {q} < 0.0 else 1.0 - {p})")
    lg = _series_log(c, tp)
    r = c.tmp(f"_sqrt_f64(-{lg})")
    c.emit(f"if {r} <= 5.0:")
    c.gen.ind(1)
    near = c.tmp(f"{r} - 1.6")
    c.emit(f"{out} = {_poly(c, _C, near)} / {_poly(c, _D, near)}")
    c.gen.ind(-1)
    c.emit("else:")
    c.gen.ind(1)
    far = c.tmp(f"{r} - 5.0")
    c.emit(f"{out} = {_poly(c, _E, far)} / {_poly(c, _F, far)}")
    c.gen.ind(-1)
    c.emit(f"if {q} < 0.0:")
    c.emit(f"    {out} = -{out}")
    c.gen.ind(-1)
    return out


@lowering("random_uniform", "random_normal", "random_truncated_normal")
def _random(c, op, a):
    step = a[0]
    lin = c.lin
    k0, k1 = fold_seed(op.attrs["seed"]), fold_seed(op.attrs["seed2"])
    l64 = c.tmp(f"u64({lin})")
    blk = c.tmp(f"{l64} >> u64(1)")
    odd = c.tmp(f"({l64} & u64(1)) == u64(1)")
    s64 = c.tmp(f"u64({step})")
    M = "u64(4294967295)"
    w = [c.tmp(f"{blk} & {M}"), c.tmp(f"{blk} >> u64(32)"), c.tmp(f"{s64} & {M}"),
         c.tmp(f"{s64} >> u64(32)")]
    for r in range(10):
        key0 = (k0 + r * _W0) & 0xFFFFFFFF
        key1 = (k1 + r * _W1) & 0xFFFFFFFF
        p0 = c.tmp(f"u64({_M0}) * {w[0]}")
        p1 = c.tmp(f"u64({_M1}) * {w[2]}")
        n0 = c.tmp(f"({p1} >> u64(32)) ^ {w[1]} ^ u64({key0})")
        n2 = c.tmp(f"({p0} >> u64(32)) ^ {w[3]} ^ u64({key1})")
        w = [n0, c.tmp(f"{p1} & {M}"), n2, c.tmp(f"{p0} & {M}")]
    hi = c.tmp(f"({w[2]} if {odd} else {w[0]})")
    lo = c.tmp(f"({w[3]} if {odd} else {w[1]})")
    dt = _out(op)
    if op.opname == "random_uniform" and dt is float32:
        return f"_mul_f32(f32({hi} >> u64(8)), f32({2.0 ** -24!r}))"
    u = c.tmp(f"f64((({hi} << u64(32)) | {lo}) >> u64(11))")
    if op.opname == "random_uniform":
        return f"_mul_f64({u}, {2.0 ** -53!r})"
    u = c.tmp(f"_mul_f64({u} + 0.5, {2.0 ** -53!r})")
    if op.opname == "random_truncated_normal":
        u = c.tmp(f"{PHI_MINUS_2!r} + _mul_f64({u}, {1.0 - 2.0 * PHI_MINUS_2!r})")
    z = _inverse_normal_cdf(c, u)
    return z if dt is float64 else f"f32({z})"


# ================================================================ group generator ===========


class GroupGen:
    """Generates the kernel of one group.

    ``leaf_buf(v)`` gives the buffer index holding a leaf value (None: inlined constant);
    ``host_param(v)`` the parameter index of a value passed as a host scalar (or None);
    ``outs``: (value, buffer index) pairs to store.
    Argument specs (``self.specs``): ("buf", idx) | ("host", param index) | ("int", fn) | ("err",)
    where ``fn(shapes)`` gives an int or a tuple for the input-shape signature.
    """

    def __init__(self, ops: list[Op], outs: list[tuple[Value, int]], leaf_buf, host_param,
                 errors: ErrorTable, block: int, reduce_block: int) -> None:
        self.ops = ops
        self.outs = outs
        self.leaf_buf = leaf_buf
        self.host_param = host_param
        self.errors = errors
        self.block = block
        self.reduce_block = reduce_block
        self.root = ops[-1]
        self.reduce = OPS[self.root.opname].combiner     # None: an elementwise kernel
        self.space = self.root.operands[0] if self.reduce else self.root.results[0]
        self.rank = len(self.space.type.shape)
        self.specs: list[tuple] = []
        self.params: list[str] = []
        self._int_keys: dict = {}
        self._buf_names: dict[int, str] = {}
        self._load_names: dict = {}
        self.hoisted: list[str] = []
        self.lines: list[str] = []
        self._indent = 0
        self._n = 0
        self.need_ix = False
        self.need_lin = False
        self.uses_err = False
        self.lin_name = "i"
        self.members = {id(op) for op in ops}

    # -------------------------------------------------------------- helpers -------------
    def fresh(self, p: str = "v") -> str:
        self._n += 1
        return f"{p}{self._n}"

    def ind(self, d: int) -> None:
        self._indent += d

    def body(self, line: str) -> None:
        self.lines.append("    " * self._indent + line)

    def _arg(self, name: str, spec: tuple) -> str:
        self.params.append(name)
        self.specs.append(spec)
        return name

    def buf_arg(self, idx: int) -> str:
        if idx not in self._buf_names:
            self._buf_names[idx] = self._arg(f"b{len(self._buf_names)}", ("buf", idx))
        return self._buf_names[idx]

    def int_arg(self, key, fn) -> str:
        if key not in self._int_keys:
            self._int_keys[key] = self._arg(f"p{len(self._int_keys)}", ("int", fn))
        return self._int_keys[key]

    def map_arg(self, key, fn) -> str:
        return self.int_arg(("map",) + key, fn)

    # -------------------------------------------------------------- leaves --------------
    def load(self, op: Op, idx: int) -> str:
        v = op.operands[idx]
        p = v.producer
        if p is not None and id(p) in self.members:
            return self.values[id(v)]
        if p is not None and p.opname == "constant" and p.attrs["value"].size == 1:
            return lit(p.attrs["value"].reshape(-1)[0], v.type.dtype)
        hp = self.host_param(v)
        if hp is not None:
            key = ("host", hp)
            if key not in self._load_names:
                name = self._arg(f"h{len(self._load_names)}", ("host", hp))
                loaded = self.fresh("s")
                self.hoisted.append(f"{loaded} = {wrap(v.type.dtype, name)}")
                self._load_names[key] = loaded
            return self._load_names[key]
        bidx = self.leaf_buf(v)
        special = is_special_read(op, idx)
        mkey = ("leaf", id(v), id(op), idx) if special else ("leaf", id(v))
        if mkey in self._load_names and not special:
            return self._load_names[mkey]
        b = self.buf_arg(bidx)
        if not special and v.type.num_elements() == 1:
            name = self.fresh("s")
            self.hoisted.append(f"{name} = {b}[0]")
            self._load_names[mkey] = name
            return name
        if not special and same_static(v, self.space):
            name = self.fresh("l")
            self.need_lin = True
            self.body(f"{name} = {b}[{self.lin_name}]")
            self._load_names[mkey] = name
            return name
        # general map over the space
        space_id, rank = id(self.space), self.rank
        if self.reduce and op is self.root:
            # a reduction reads its input over the space itself (its result has fewer axes)
            def fn(s, vid=id(v), space_id=space_id):
                return embed(0, contig(s[vid]), s[vid], s[space_id])
        else:
            def fn(s, op=op, idx=idx, space_id=space_id):
                base, local = operand_local_map(op, idx, s)
                return embed(base, local, s[id(op.results[0])], s[space_id])
        m = self.map_arg((id(v), id(op), idx) if special else (id(v),), fn)
        self.need_ix = True
        terms = [f"{m}[0]"] + [f"ix{a} * {m}[{a + 1}]" for a in range(rank)]
        name = self.fresh("l")
        self.body(f"{name} = {b}[{' + '.join(terms)}]")
        if not special:
            self._load_names[mkey] = name
        return name

    def store_index(self, v: Value) -> str:
        if same_static(v, self.space):
            self.need_lin = True
            return self.lin_name
        space_id = id(self.space)

        def fn(s, vid=id(v), space_id=space_id):
            vs = s[vid]
            return embed(0, contig(vs), vs, s[space_id])
        m = self.map_arg(("out", id(v)), fn)
        self.need_ix = True
        return " + ".join([f"{m}[0]"] + [f"ix{a} * {m}[{a + 1}]" for a in range(self.rank)])

    # -------------------------------------------------------------- body ----------------
    def emit_ops(self, ops: list[Op]) -> None:
        ctx = Ctx(self)
        self.values: dict[int, str] = getattr(self, "values", {})
        for op in ops:
            fn = EW.get(op.opname)
            if fn is None and not remaps(op.opname):
                raise UnsupportedOp("cuda", {op.opname})
            ctx.op = op
            if remaps(op.opname):
                expr = self.load(op, 0)
            else:
                skip = OPS[op.opname].shape_only
                args = [self.load(op, i) if i not in skip else None
                        for i in range(len(op.operands))]
                expr = fn(ctx, op, args)
            name = self.fresh("v")
            self.body(f"{name} = {expr}")
            self.values[id(op.results[0])] = name

    def unravel(self, src: Src, var: str, dims: str, prefix: str) -> None:
        src(f"_t = {var}")
        for a in range(self.rank - 1, 0, -1):
            src(f"{prefix}{a} = _t % {dims}[{a}]")
            src(f"_t = _t // {dims}[{a}]")
        if self.rank:
            src(f"{prefix}0 = _t")

    # -------------------------------------------------------------- ew kernel -----------
    def generate_ew(self) -> str:
        self.values = {}
        self._indent = 2
        self.emit_ops(self.ops)
        for v, bidx in self.outs:
            b = self.buf_arg(bidx)
            self.body(f"{b}[{self.store_index(v)}] = {self.values[id(v)]}")
        body = list(self.lines)
        src = Src()
        head = ["n"] + (["dims"] if self.rank and self.need_ix else []) + ["err"] + self.params
        src.ind = 0
        src(f"def kernel({', '.join(head)}):")
        src.ind = 1
        src("i = cuda.grid(1)")
        src("_st = cuda.gridsize(1)")
        for h in self.hoisted:
            src(h)
        src("while i < n:")
        src.ind = 2
        if self.need_ix and self.rank:
            self.unravel(src, "i", "dims", "ix")
        src.lines.extend(body)
        src("i += _st")
        self.kind = "ew"
        return src.text() + "\n"

    # -------------------------------------------------------------- reduce kernel -------
    def _acc(self):
        dt = self.space.type.dtype
        k = self.reduce
        if k in ("all", "any"):
            return "i32", "i32(1)" if k == "all" else "i32(0)"
        acc_t = "i64" if dt.is_integer else dt.short
        if k in ("sum", "mean"):
            init = f"{acc_t}(0)"
        elif k == "prod":
            init = f"{acc_t}(1)"
        elif k == "max":
            init = lit(-np.inf, dt) if dt.is_floating else f"i64({np.iinfo(dt.np).min})"
        else:
            init = lit(np.inf, dt) if dt.is_floating else f"i64({np.iinfo(dt.np).max})"
        return acc_t, init

    def _combine(self, a: str, b: str) -> str:
        k = self.reduce
        if k in ("sum", "mean"):
            return f"{a} + {b}"
        if k == "prod":
            return f"{a} * {b}"
        if k == "max":
            return f"({b} if ({b} > {a} or {b} != {b}) else {a})"
        if k == "min":
            return f"({b} if ({b} < {a} or {b} != {b}) else {a})"
        if k == "all":
            return f"{a} & {b}"
        return f"{a} | {b}"

    def _value(self, v: str) -> str:
        k = self.reduce
        dt = self.space.type.dtype
        if k in ("all", "any"):
            return f"(i32(1) if {v} else i32(0))"
        return f"i64({v})" if dt.is_integer else v

    def _final(self, src: Src, acc: str, out: str) -> None:
        dt = self.root.results[0].type.dtype
        k = self.reduce
        if k in ("all", "any"):
            src(f"{out}[o] = {acc} != 0")
        elif k == "mean":
            if dt.is_floating:
                src(f"{out}[o] = {wrap(dt, f'{acc} / {dt.short}(nred)')}")
            else:
                src("if nred == 0:")
                src(f"    {out}[o] = {lit(0, dt)}")
                src("else:")
                src(f"    _q = abs({acc}) // nred")
                src(f"    {out}[o] = {wrap(dt, f'-_q if {acc} < 0 else _q')}")
        else:
            src(f"{out}[o] = {wrap(dt, acc)}")

    def generate_reduce(self) -> str:
        self.values = {}
        self._indent = 3
        self.lin_name = "lin"
        # prologue: every member but the root; the reduced value is the root's operand 0
        self.emit_ops(self.ops[:-1])
        val = self.load(self.root, 0)
        body = list(self.lines)
        rank = self.rank
        out_idx = self.outs[0][1] if self.outs else None
        out = self.buf_arg(out_idx)
        acc_t, init = self._acc()
        head = ["nout", "nred", "odims", "rdims", "sst", "err"] + self.params

        def loop_body(src: Src) -> None:
            if rank:
                self.unravel(src, "r", "rdims", "ri")
                for a in range(rank):
                    src(f"ix{a} = oi{a} + ri{a}")
            if self.need_lin:
                src("lin = " + (" + ".join(f"ix{a} * sst[{a}]" for a in range(rank)) or "0"))
            src.lines.extend(body)
            src(f"acc = {self._combine('acc', self._value(val))}")

        src = Src()
        src.ind = 0
        src(f"def kernel_serial({', '.join(head)}):")
        src.ind = 1
        src("o = cuda.grid(1)")
        src("_st = cuda.gridsize(1)")
        for h in self.hoisted:
            src(h)
        src("while o < nout:")
        src.ind = 2
        self.unravel(src, "o", "odims", "oi")
        src(f"acc = {init}")
        src("r = 0")
        src("while r < nred:")
        src.ind = 3
        loop_body(src)
        src("r += 1")
        src.ind = 2
        self._final(src, "acc", out)
        src("o += _st")
        src.ind = 0
        src("")
        bs = self.reduce_block
        src(f"def kernel_block({', '.join(head)}):")
        src.ind = 1
        src(f"sm = cuda.shared.array({bs}, {acc_t})")
        src("tid = cuda.threadIdx.x")
        src("o = cuda.blockIdx.x")
        for h in self.hoisted:
            src(h)
        src("while o < nout:")
        src.ind = 2
        self.unravel(src, "o", "odims", "oi")
        src(f"acc = {init}")
        src("r = tid")
        src("while r < nred:")
        src.ind = 3
        loop_body(src)
        src(f"r += {bs}")
        src.ind = 2
        src("sm[tid] = acc")
        src("cuda.syncthreads()")
        src(f"s = {bs // 2}")
        src("while s > 0:")
        src("    if tid < s:")
        src("        _a = sm[tid]")
        src("        _b = sm[tid + s]")
        src(f"        sm[tid] = {self._combine('_a', '_b')}")
        src("    cuda.syncthreads()")
        src("    s = s // 2")
        src("if tid == 0:")
        src.ind = 3
        src("acc = sm[0]")
        self._final(src, "acc", out)
        src.ind = 2
        src("cuda.syncthreads()")
        src("o += cuda.gridDim.x")
        self.kind = "reduce"
        return src.text() + "\n"

    def reduce_axes(self, shapes) -> tuple:
        """(odims, rdims) as rank-length tuples for concrete shapes."""
        xs = shapes[id(self.space)]
        root = self.root
        if root.opname == "sum_to":
            like = shapes[id(root.operands[1])]
            lead = len(xs) - len(like)
            red = set(range(lead)) | {lead + i for i, d in enumerate(like)
                                       if d == 1 and xs[lead + i] != 1}
        else:
            red = set(reduced_axes(len(xs), root.attrs["axes"]))
        odims = tuple(1 if a in red else int(xs[a]) for a in range(len(xs)))
        rdims = tuple(int(xs[a]) if a in red else 1 for a in range(len(xs)))
        return odims, rdims

    def generate(self) -> str:
        return self.generate_reduce() if self.reduce else self.generate_ew()
