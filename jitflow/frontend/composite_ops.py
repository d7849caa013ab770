"""TF1 ops that are compositions of jitflow's existing ops (no new IR op): crelu, norms (l2_normalize, norm, clip_by_average_norm),
constants built at graph build (eye, linspace, range with static bounds), broadcasting
(broadcast_to, meshgrid), sequence_mask, tensordot, einsum, and the graph helpers tuple,
identity_n and make_template (softsign, selu, log_sigmoid, floor and ceil are IR ops now:
frontend/math_unary.py). Gradients come from the composed ops."""
from __future__ import annotations

import string
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..ir.dtypes import as_dtype, bool_, float32, int32
from . import math_ops as M
from .array_ops import expand_dims, identity, reshape, transpose, zeros
from .graph import Tensor, get_default_graph, name_scope
from .op_builder import constant, convert_to_tensor, static_ints, static_value

__all__ = [
    "crelu", "l2_normalize", "norm", "clip_by_average_norm",
    "eye", "linspace", "lin_space", "broadcast_to", "meshgrid", "sequence_mask",
    "tensordot", "einsum", "tuple", "identity_n", "make_template",
    "weighted_cross_entropy_with_logits",
]

_py_range = range
_py_tuple = tuple


def _f(x: Any, name: str = "x") -> Tensor:
    t = convert_to_tensor(x, name=name)
    if not t.dtype.is_floating:
        raise TypeError(f"expected a float32/float64 tensor, got {t.dtype.name} {t}")
    return t


# ---------------------------------------------------------------------- activations --------

def crelu(features: Any, name: Optional[str] = None, axis: int = -1) -> Tensor:
    """``concat([relu(x), relu(-x)], axis)``: the channel count doubles."""
    from .extra_ops import concat
    with name_scope(name, "CRelu") as scope:
        x = _f(features, "features")
        return concat([M.relu(x), M.relu(M.negative(x))], axis, name=scope)


def weighted_cross_entropy_with_logits(labels: Any = None, logits: Any = None,
                                       pos_weight: Any = None, name: Optional[str] = None,
                                       targets: Any = None) -> Tensor:
    """Sigmoid cross-entropy with the positive term weighted by ``pos_weight``:
    ``(1 - z) * x + (1 + (q - 1) * z) * (log(1 + exp(-|x|)) + max(-x, 0))``."""
    from .nn import softplus
    if labels is None:
        labels = targets
    if labels is None or logits is None or pos_weight is None:
        raise ValueError("weighted_cross_entropy_with_logits needs labels (or targets), logits "
                         "and pos_weight")
    with name_scope(name, "logistic_loss") as scope:
        x = _f(logits, "logits")
        z = convert_to_tensor(labels, dtype=x.dtype, name="labels")
        q = convert_to_tensor(pos_weight, dtype=x.dtype, name="pos_weight")
        if not x.shape.is_compatible_with(z.shape):
            raise ValueError(f"logits and labels must have the same shape ({x.shape} vs "
                             f"{z.shape})")
        log_weight = M.add(M.multiply(M.subtract(q, 1.0), z), 1.0)
        tail = M.add(softplus(M.negative(M.abs(x))), M.relu(M.negative(x)))
        return M.add(M.multiply(M.subtract(1.0, z), x), M.multiply(log_weight, tail), name=scope)


# ---------------------------------------------------------------------- norms --------------

def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, name: Optional[str] = None,
                 dim: Any = None) -> Tensor:
    """``x / sqrt(max(sum(x**2, axis), epsilon))``."""
    with name_scope(name, "l2_normalize") as scope:
        t = _f(x)
        ax = axis if axis is not None else dim
        sq = M.reduce_sum(M.square(t), ax, keepdims=True)
        inv = M.rsqrt(M.maximum(sq, convert_to_tensor(epsilon, dtype=t.dtype)))
        return M.multiply(t, inv, name=scope)


def norm(tensor: Any, ord: Any = "euclidean", axis: Any = None, keepdims: Optional[bool] = None,
         name: Optional[str] = None, keep_dims: Optional[bool] = None) -> Tensor:
    """Vector norms (``ord`` 1, 2/'euclidean', ``np.inf``, any p > 0) over ``axis`` (all
    elements when None) and the Frobenius norm ('fro', or 'euclidean' over two axes)."""
    keep = bool(keepdims if keepdims is not None else (keep_dims or False))
    with name_scope(name, "norm") as scope:
        x = _f(tensor, "tensor")
        axes = None if axis is None else static_ints(axis, "axis")
        if axes is not None and len(axes) not in (1, 2):
            raise ValueError(f"'axis' must be None, an integer, or a pair of integers, got {axis}")
        if ord in ("fro", "euclidean", 2, 2.0) and (ord != "fro" or axes is None
                                                     or len(axes) == 2):
            if ord in (2, 2.0) and axes is not None and len(axes) == 2:
                return _spectral_norm(x, axes, keep, scope)
            return M.sqrt(M.reduce_sum(M.square(x), axes, keepdims=keep), name=scope)
        if axes is not None and len(axes) == 2:
            raise NotImplementedError(f"matrix norm ord={ord!r} is not supported; use 'fro' "
                                      "or 'euclidean'")
        if ord in (1, 1.0):
            return M.reduce_sum(M.abs(x), axes, keepdims=keep, name=scope)
        if ord == np.inf:
            return M.reduce_max(M.abs(x), axes, keepdims=keep, name=scope)
        if isinstance(ord, (int, float)) and ord > 0:
            p = float(ord)
            s = M.reduce_sum(M.pow(M.abs(x), p), axes, keepdims=keep)
            return M.pow(s, 1.0 / p, name=scope)
        raise ValueError(f"'ord' must be a supported vector norm, got {ord!r}")


def _spectral_norm(x: Tensor, axes: list, keep: bool, name: str) -> Tensor:
    """The largest singular value of the matrices over the two ``axes`` (as TF: an SVD)."""
    from .linalg_decomp import svd
    r = x.shape.ndims
    if r is None:
        raise NotImplementedError("norm(ord=2) over two axes needs a tensor of known rank")
    a0, a1 = (a % r for a in axes)
    if a0 == a1:
        raise ValueError(f"norm: the two axes must differ, got {axes}")
    perm = [i for i in range(r) if i not in (a0, a1)] + [a0, a1]
    out = M.reduce_max(svd(transpose(x, perm), compute_uv=False), [-1])
    if keep:
        for a in sorted((a0, a1)):
            out = expand_dims(out, a)
    return identity(out, name=name)


def clip_by_average_norm(t: Any, clip_norm: Any, name: Optional[str] = None) -> Tensor:
    """``t * clip_norm / max(l2norm(t) / n, clip_norm)`` with n the element count."""
    with name_scope(name, "clip_by_average_norm") as scope:
        x = _f(t, "t")
        dims = x.shape.dims
        if dims is None or any(d is None for d in dims):
            raise NotImplementedError("clip_by_average_norm needs a fully known static shape")
        n = float(np.prod(dims)) if dims else 1.0
        cn = convert_to_tensor(clip_norm, dtype=x.dtype, name="clip_norm")
        l2norm_inv = M.rsqrt(M.reduce_sum(M.square(x)))
        scale = M.minimum(M.multiply(l2norm_inv, n), M.truediv(1.0, cn))
        return identity(M.multiply(M.multiply(x, cn), scale), name=scope)


# ---------------------------------------------------------------------- constants ----------

def eye(num_rows: int, num_columns: Optional[int] = None, batch_shape: Any = None,
        dtype: Any = float32, name: Optional[str] = None) -> Tensor:
    """An identity matrix (``[*batch_shape, num_rows, num_columns]``), built at graph build."""
    rows = int(np.asarray(static_value(num_rows)).reshape(()))
    cols = rows if num_columns is None else int(np.asarray(static_value(num_columns)).reshape(()))
    m = np.eye(rows, cols, dtype=as_dtype(dtype).np)
    if batch_shape is not None:
        m = np.broadcast_to(m, _py_tuple(static_ints(batch_shape, "batch_shape")) + m.shape).copy()
    return constant(m, name=name or "eye")


def linspace(start: Any, stop: Any, num: Any, name: Optional[str] = None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive (``num`` static;
    start/stop may be computed scalars)."""
    n = int(np.asarray(static_value(num)).reshape(()))
    if n < 1:
        raise ValueError(f"linspace: num must be positive, got {n}")
    with name_scope(name, "LinSpace") as scope:
        a = convert_to_tensor(start, name="start")
        if not a.dtype.is_floating:
            raise TypeError(f"linspace: start must be float32/float64, got {a.dtype.name}")
        b = convert_to_tensor(stop, dtype=a.dtype, name="stop")
        if n == 1:
            return reshape(a, [1], name=scope)
        frac = constant(np.arange(n, dtype=a.dtype.np) / (n - 1), name="fraction")
        return M.add(a, M.multiply(M.subtract(b, a), frac), name=scope)


lin_space = linspace


def static_range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None,
                 name: str = "range") -> Tensor:
    """``tf.range`` with bounds known at graph build: a constant (TF's dtype rules). With a
    computed bound ``tf.range`` is a loop (frontend/control_flow.py)."""
    vals = []
    for v, what in ((start, "start"), (limit, "limit"), (delta, "delta")):
        sv = None if v is None else static_value(v)
        if v is not None and sv is None:
            raise NotImplementedError(f"tf.range: {what} is the computed tensor {v.name}; "
                                      "jitflow needs range bounds known at graph build")
        vals.append(None if v is None else np.asarray(sv).reshape(()))
    lo, hi, step = vals
    if hi is None:
        lo, hi = np.asarray(0, dtype=lo.dtype), lo
    if dtype is not None:
        dt = as_dtype(dtype)
    elif any(v.dtype.kind == "f" for v in (lo, hi, step)):
        # TF: Python floats give float32; a float64 tensor or NumPy float64 gives float64
        wide = any(getattr(getattr(v, "dtype", None), "name", "") == "float64"
                   or isinstance(v, np.floating) and v.dtype == np.float64
                   for v in (start, limit, delta))
        dt = as_dtype("float64") if wide else float32
    else:
        dt = int32
    if step == 0:
        raise ValueError("tf.range: delta must not be 0")
    return constant(np.arange(lo, hi, step).astype(dt.np), name=name)


# ---------------------------------------------------------------------- broadcasting -------

def broadcast_to(input: Any, shape: Any, name: Optional[str] = None) -> Tensor:
    """``input`` broadcast to the static ``shape`` (NumPy rules)."""
    x = convert_to_tensor(input, name="input")
    dims = static_ints(shape, "shape")
    if x.shape.dims is not None:
        try:
            np.broadcast_shapes(_py_tuple(1 if d is None else d for d in x.shape.dims), dims)
        except ValueError:
            raise ValueError(f"broadcast_to: shape {x.shape} cannot be broadcast to "
                             f"{list(dims)}") from None
    with name_scope(name, "BroadcastTo") as scope:
        return M.add(x, zeros(list(dims), x.dtype), name=scope)


def meshgrid(*args: Any, **kwargs: Any) -> list:
    """Coordinate grids of 1-D inputs; ``indexing='xy'`` (default, the first two outputs'
    axes swapped, as NumPy) or ``'ij'``."""
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"meshgrid got unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing parameter must be either 'xy' or 'ij', got {indexing!r}")
    with name_scope(name):
        xs = [reshape(convert_to_tensor(a), [-1]) for a in args]
        n = len(xs)
        outs = []
        sizes = [x.shape.dims[0] for x in xs]
        if any(s is None for s in sizes):
            raise NotImplementedError("meshgrid needs inputs of static length")
        for i, x in enumerate(xs):
            shape = [1] * n
            shape[i] = -1
            outs.append(M.add(reshape(x, shape), zeros(sizes, x.dtype)))
        if indexing == "xy" and n >= 2:
            outs = [transpose(o, [1, 0] + list(_py_range(2, n))) for o in outs]
        return outs


def sequence_mask(lengths: Any, maxlen: Any = None, dtype: Any = bool_,
                  name: Optional[str] = None) -> Tensor:
    """``mask[..., j] = j < lengths[...]`` with ``maxlen`` columns (a tensor known only at
    run time too, e.g. ``tf.shape(x)[1]``: the columns are then ``tf.range(maxlen)``; when
    None, ``lengths`` must be a constant and maxlen is its maximum)."""
    with name_scope(name, "SequenceMask") as scope:
        lens = convert_to_tensor(lengths, name="lengths")
        if not lens.dtype.is_integer:
            raise TypeError(f"sequence_mask: lengths must be integers, got {lens.dtype.name}")
        if maxlen is None:
            sv = static_value(lens)
            if sv is None:
                raise NotImplementedError("sequence_mask(maxlen=None) of computed lengths has a "
                                          "data-dependent shape; pass maxlen")
            m = int(np.max(sv)) if np.size(sv) else 0
        else:
            mv = static_value(maxlen)
            m = None if mv is None else int(np.asarray(mv).reshape(()))
        if m is None:
            from .control_flow import range as tf_range
            cols = tf_range(M.cast(convert_to_tensor(maxlen), lens.dtype), name="Range")
        else:
            cols = constant(np.arange(m, dtype=lens.dtype.np), name="Range")
        mask = M.less(cols, expand_dims(lens, -1))
        dt = as_dtype(dtype)
        return identity(mask, name=scope) if dt is bool_ else M.cast(mask, dt, name=scope)


# ---------------------------------------------------------------------- contractions -------

def _axes_pair(axes: Any, ra: int, rb: int) -> tuple[list[int], list[int]]:
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        return list(_py_range(ra - n, ra)), list(_py_range(n))
    a, b = axes
    a = [a] if isinstance(a, (int, np.integer)) else list(a)
    b = [b] if isinstance(b, (int, np.integer)) else list(b)
    if len(a) != len(b):
        raise ValueError(f"tensordot: axes lists differ in length: {a} vs {b}")
    return [int(i) % ra for i in a], [int(i) % rb for i in b]


def tensordot(a: Any, b: Any, axes: Any, name: Optional[str] = None) -> Tensor:
    """Contract ``a``'s ``axes[0]`` with ``b``'s ``axes[1]`` (an int n: a's last n with b's
    first n) as one matmul between transposed, reshaped operands."""
    with name_scope(name, "Tensordot") as scope:
        x, y = convert_to_tensor(a, name="a"), convert_to_tensor(b, name="b")
        da, db = x.shape.dims, y.shape.dims
        if da is None or db is None or None in da or None in db:
            raise NotImplementedError("tensordot needs operands of static shape")
        ax_a, ax_b = _axes_pair(axes, len(da), len(db))
        for i, j in zip(ax_a, ax_b):
            if da[i] != db[j]:
                raise ValueError(f"tensordot: dimension {i} of a ({da[i]}) does not match "
                                 f"dimension {j} of b ({db[j]})")
        free_a = [i for i in _py_range(len(da)) if i not in ax_a]
        free_b = [j for j in _py_range(len(db)) if j not in ax_b]
        k = int(np.prod([da[i] for i in ax_a], dtype=np.int64))
        xa = reshape(transpose(x, free_a + ax_a), [-1, k])
        yb = reshape(transpose(y, ax_b + free_b), [k, -1])
        out_shape = [da[i] for i in free_a] + [db[j] for j in free_b]
        return reshape(M.matmul(xa, yb), out_shape, name=scope)


def einsum(equation: str, *inputs: Any, **kwargs: Any) -> Tensor:
    """Einstein summation over explicit subscripts (``'ij,jk->ik'``, ``'bij,bjk->bik'``,
    ``'i,i->'``, ``'ij->ji'``, implicit output too): each operand is transposed to a common
    index order and broadcast, multiplied, and summed over the indices not in the output.
    Ellipses and repeated indices within one operand (traces, diagonals) are not supported."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum got unexpected keyword arguments {sorted(kwargs)}")
    eq = equation.replace(" ", "")
    if "." in eq:
        raise NotImplementedError(f"einsum: ellipsis ('...') is not supported: {equation!r}")
    lhs, arrow, out = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != len(inputs):
        raise ValueError(f"einsum: {equation!r} names {len(subs)} operands, got {len(inputs)}")
    for s in subs:
        if len(set(s)) != len(s) or not set(s) <= set(string.ascii_letters):
            raise NotImplementedError(f"einsum: operand subscripts {s!r} repeat an index or use "
                                      "a non-letter; not supported")
    if not arrow:
        counts = {c: sum(s.count(c) for s in subs) for c in set("".join(subs))}
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
    order = list(out) + sorted(set("".join(subs)) - set(out))
    with name_scope(name, "einsum") as scope:
        terms, sizes = [], {}
        for s, t in zip(subs, inputs):
            x = convert_to_tensor(t)
            dims = x.shape.dims
            if dims is None or len(dims) != len(s):
                raise ValueError(f"einsum: operand {s!r} needs rank {len(s)}, got {x.shape}")
            for c, d in zip(s, dims):
                if d is not None and sizes.get(c, d) != d:
                    raise ValueError(f"einsum: index {c!r} has sizes {sizes[c]} and {d}")
                if d is not None:
                    sizes[c] = d
            present = [c for c in order if c in s]
            x = transpose(x, [s.index(c) for c in present]) if present != list(s) else x
            full = [(x.shape.dims[present.index(c)] if c in present else 1) for c in order]
            terms.append(reshape(x, [-1 if d is None else d for d in full]))
        prod = terms[0]
        for t in terms[1:]:
            prod = M.multiply(prod, t)
        red = list(_py_range(len(out), len(order)))
        res = M.reduce_sum(prod, red) if red else prod
        return identity(res, name=scope)


# ---------------------------------------------------------------------- graph helpers ------

def tuple(tensors: Sequence[Any], name: Optional[str] = None,  # noqa: A001
          control_inputs: Optional[Sequence[Any]] = None) -> list:
    """The tensors again, each available only after all of them (and ``control_inputs``)
    are computed: identities under a control dependency on every input."""
    from .variables import group
    g = get_default_graph()
    with name_scope(name, "tuple"):
        ts = [None if t is None else convert_to_tensor(t) for t in tensors]
        deps = [t for t in ts if t is not None] + list(control_inputs or [])
        gate = group(*deps, name="control_dependency")
        with g.control_dependencies([gate]):
            return [None if t is None else identity(t) for t in ts]


def identity_n(input: Sequence[Any], name: Optional[str] = None) -> list:
    """``[identity(t) for t in input]``."""
    with name_scope(name, "IdentityN"):
        return [identity(convert_to_tensor(t)) for t in input]


class Template:
    """``tf.make_template``'s callable: the first call creates the variables in its variable
    scope, later calls reuse them."""

    def __init__(self, name: str, func: Callable, create_scope_now: bool = False,
                 unique_name: Optional[str] = None, **kwargs: Any) -> None:
        from .variables import variable_scope
        self._func, self._kwargs, self._name = func, kwargs, name
        self._scope = None
        self._calls = 0
        if create_scope_now:
            with variable_scope(unique_name, default_name=name) as vs:
                self._scope = vs

    @property
    def variable_scope(self):
        return self._scope

    @property
    def variable_scope_name(self) -> Optional[str]:
        return None if self._scope is None else self._scope.name

    @property
    def trainable_variables(self) -> list:
        from .variables import trainable_variables
        return [] if self._scope is None else trainable_variables(self._scope.name + "/")

    @property
    def variables(self) -> list:
        from .variables import global_variables
        return [] if self._scope is None else global_variables(self._scope.name + "/")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from .variables import variable_scope
        kw = dict(self._kwargs, **kwargs)
        if self._scope is None:
            with variable_scope(None, default_name=self._name) as vs:
                self._scope = vs
                out = self._func(*args, **kw)
        else:
            reuse = True if self._calls else None
            with variable_scope(self._scope, reuse=reuse):
                out = self._func(*args, **kw)
        self._calls += 1
        return out


def make_template(name_: str, func_: Callable, create_scope_now_: bool = False,
                  unique_name_: Optional[str] = None, custom_getter_: Any = None,
                  **kwargs: Any) -> Template:
    """Wrap ``func_`` so that all calls share the variables made by the first."""
    if custom_getter_ is not None:
        raise NotImplementedError("make_template(custom_getter_=...) is not supported")
    return Template(name_, func_, create_scope_now_, unique_name_, **kwargs)
