"""Gradients: the autodiff pass against central finite differences in float64.

For an op ``y = op(x1, ..., xn)`` the test builds ``loss = sum_k reduce_sum(y_k * w_k)`` with
random weights ``w_k`` (parameters typed like ``y_k``), a ``gradients`` op for d loss / d x_i,
runs the reference pipeline (``PassManager(pipeline_for("reference"))``) and compares with
``(loss(x + eps) - loss(x - eps)) / 2 eps`` per element. Parameters are declared with static,
symbolic or unknown dims so the shape-polymorphic gradient helpers are exercised too. Values are
kept away from non-differentiable points (ties, 0 for abs/sign/relu, x <= 0 for log/sqrt/pow).

Every differentiable op of the families this file owns has a case in ``CASES``; every other
differentiable op is probed generically (float64 inputs shaped (2, 3), default attributes).
Then the TF rules at the non-differentiable points, fan-in, disconnected inputs, ties of
reduce_max, zeros in reduce_prod and a second-order gradient.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow  # noqa: F401  (registers the ops)
from _op_coverage import assert_tested_by_family
from jitflow.backends import get_backend
from jitflow.errors import OpError
from jitflow.ir import (OPS, Builder, Function, TensorType, as_dtype, float32, float64, int32,
                        print_function)
from jitflow.passes import PassManager, pipeline_for

BACKEND = get_backend("reference")
EPS = 1e-6
OWNED_MODULES = {f"jitflow.ops.{m}" for m in ("array", "common", "elementwise", "gradients",
                                              "indexing", "linalg", "random", "reduce")}
MODES = ("static", "symbolic", "unknown")


def family(name):
    d = OPS[name]
    return (d.reference or d.infer).__module__



# ----------------------------------------------------------------------------- harness ------

def declared(shape, mode):
    if mode == "static":
        return tuple(shape)
    if mode == "symbolic":
        return tuple(f"d{n}" for n in shape)
    return tuple(None for _ in shape)


def compile_ir(f):
    return BACKEND.compile(PassManager(pipeline_for("reference")).run(f))


def _loss_function(opname, args, attrs, mode, with_grads):
    """params: args..., weights...; results: [loss] (+ d loss / d float args)."""
    f = Function(opname)
    params = [f.add_param(TensorType(as_dtype(a.dtype), declared(a.shape, mode)), f"x{i}")
              for i, a in enumerate(args)]
    b = Builder(f.ops)
    out = b.op(opname, *params, **attrs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.type.dtype.is_floating]
    assert outs, f"{opname} has no floating result to differentiate"
    loss = None
    for k, o in enumerate(outs):
        w = f.add_param(o.type, f"w{k}")
        term = b.reduce_sum(b.mul(o, w))
        loss = term if loss is None else b.add(loss, term)
    results = [loss]
    wrt = [i for i, a in enumerate(args) if a.dtype == np.float64]
    if with_grads and wrt:
        g = b.gradients(loss, *[params[i] for i in wrt], num_ys=1, num_xs=len(wrt))
        results += list(g) if isinstance(g, tuple) else [g]
    f.set_results(results)
    return f, wrt, len(outs)


def check_gradient(opname, args, attrs=None, mode="static", seed=0, rtol=1e-5, atol=1e-6):
    """Compare the autodiff pass's gradient with central differences; returns the gradients."""
    attrs = attrs or {}
    args = [np.asarray(a) for a in args]
    # forward once for the output shapes, to draw the weights
    fwd = Function("fwd")
    ps = [fwd.add_param(TensorType(as_dtype(a.dtype), declared(a.shape, mode))) for a in args]
    out = Builder(fwd.ops).op(opname, *ps, **attrs)
    outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.type.dtype.is_floating]
    fwd.set_results(outs)
    ys = BACKEND.compile(fwd).run(args)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, np.shape(y)) for y in ys]

    f_loss, wrt, _ = _loss_function(opname, args, attrs, mode, with_grads=False)
    f_grad, _, _ = _loss_function(opname, args, attrs, mode, with_grads=True)
    text = print_function(f_grad)
    assert "gradients(" in text
    exe_grad = compile_ir(f_grad)
    assert "gradients(" not in print_function(exe_grad.function)   # expanded by the pass
    res = exe_grad.run(args + weights)
    grads = res[1:]
    exe_loss = compile_ir(f_loss)

    def loss(xs):
        return float(exe_loss.run(xs + weights)[0])

    for gi, i in enumerate(wrt):
        g = np.asarray(grads[gi])
        assert g.dtype == np.float64 and g.shape == args[i].shape, \
            f"{opname}: gradient of operand {i} has shape {g.shape}, operand {args[i].shape}"
        num = np.zeros(args[i].shape)
        for idx in np.ndindex(*args[i].shape):
            xp = [a.copy() for a in args]
            xm = [a.copy() for a in args]
            xp[i][idx] += EPS
            xm[i][idx] -= EPS
            num[idx] = (loss(xp) - loss(xm)) / (2 * EPS)
        np.testing.assert_allclose(g, num, rtol=rtol, atol=atol,
                                   err_msg=f"{opname} d/d operand {i} (mode {mode})")
    return grads


# ----------------------------------------------------------------------------- value draws ---

def draw_values(data, shape, kind="smooth"):
    """float64 values for ``shape`` away from the op's non-differentiable points."""
    seed = data.draw(st.integers(0, 2**32 - 1), label="values seed")
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if kind == "smooth":
        v = rng.uniform(-2, 2, n)
    elif kind == "positive":
        v = rng.uniform(0.5, 2, n)
    elif kind == "away_from_zero":
        v = rng.uniform(0.2, 2, n) * rng.choice([-1, 1], n)
    elif kind == "odd_tenths":          # never equal to an even_tenths value
        v = (2 * rng.integers(-10, 10, n) + 1) * 0.1
    elif kind == "even_tenths":
        v = 2 * rng.integers(-10, 10, n) * 0.1
    elif kind == "distinct":            # no ties anywhere (reduce_max/min)
        v = rng.permutation(n) * 0.1 - n * 0.05
    else:
        raise AssertionError(kind)
    return np.asarray(v, np.float64).reshape(shape)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
two_shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def unary(kind="smooth"):
    @st.composite
    def case(draw):
        data = draw(st.data())
        return [draw_values(data, draw(shapes), kind)], {}
    return case()


def binary(kx="smooth", ky="smooth"):
    @st.composite
    def case(draw):
        data = draw(st.data())
        bs = draw(two_shapes)
        sx, sy = bs.input_shapes
        return [draw_values(data, sx, kx), draw_values(data, sy, ky)], {}
    return case()


@st.composite
def select_case(draw):
    data = draw(st.data())
    bs = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3))
    sc, sx, sy = bs.input_shapes
    c = draw(hnp.arrays(np.bool_, sc))
    return [c, draw_values(data, sx), draw_values(data, sy)], {}


@st.composite
def add_n_case(draw):
    data = draw(st.data())
    n = draw(st.integers(1, 3))
    bs = draw(hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=3, max_side=3))
    return [draw_values(data, s) for s in bs.input_shapes], {}


@st.composite
def reduce_case(draw, kind="smooth"):
    data = draw(st.data())
    shape = draw(shapes)
    r = len(shape)
    axes = None
    if r and draw(st.booleans()):     # a list of distinct axes, some spelled negative
        axes = [a - r if draw(st.booleans()) else a
                for a in draw(st.lists(st.integers(0, r - 1), max_size=r, unique=True))]
    return [draw_values(data, shape, kind)], {"axes": axes, "keepdims": draw(st.booleans())}


@st.composite
def reshape_case(draw):
    data = draw(st.data())
    shape = draw(shapes)
    n = int(np.prod(shape))
    a = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    target = [a, n // a]
    if draw(st.booleans()):
        target[draw(st.integers(0, 1))] = -1
    return [draw_values(data, shape)], {"shape": target}


@st.composite
def transpose_case(draw):
    data = draw(st.data())
    shape = draw(shapes)
    attrs = {} if draw(st.booleans()) else {
        "perm": list(draw(st.permutations(list(range(len(shape))))))}
    return [draw_values(data, shape)], attrs


@st.composite
def expand_dims_case(draw):
    data = draw(st.data())
    shape = draw(shapes)
    return [draw_values(data, shape)], {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def squeeze_case(draw):
    data = draw(st.data())
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=2))
    ones = [i for i, d in enumerate(shape) if d == 1]
    # explicit axes: with none, squeeze drops only statically-1 dims (see test_ops_values)
    axes = draw(st.lists(st.sampled_from(ones), min_size=1, unique=True)) if ones else []
    return [draw_values(data, shape)], {"axes": axes}


@st.composite
def like_case(draw, direction):
    """(x, like) for broadcast_like (x broadcasts up to like) or sum_to (x sums down)."""
    data = draw(st.data())
    bs = draw(two_shapes)
    small, other = bs.input_shapes
    big = bs.result_shape
    if direction == "up":
        return [draw_values(data, small), draw_values(data, other)], {}
    return [draw_values(data, big), draw_values(data, small)], {}


@st.composite
def reshape_like_case(draw):
    data = draw(st.data())
    shape = draw(shapes)
    n = int(np.prod(shape))
    return [draw_values(data, (n,)), draw_values(data, shape)], {}


@st.composite
def fill_case(draw):
    data = draw(st.data())
    return [draw_values(data, ())], {"shape": list(draw(hnp.array_shapes(min_dims=0, max_dims=3,
                                                                          max_side=3)))}


@st.composite
def matmul_case(draw):
    data = draw(st.data())
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (1,), (2, 3)]))
    bx, by = [], []
    for d in batch:
        px, py = draw(st.sampled_from([(d, d), (1, d), (d, 1)]))
        bx.append(px)
        by.append(py)
    ta, tb = draw(st.booleans()), draw(st.booleans())
    sx = tuple(bx) + ((k, m) if ta else (m, k))
    sy = tuple(by) + ((n, k) if tb else (k, n))
    return [draw_values(data, sx), draw_values(data, sy)], {"transpose_a": ta, "transpose_b": tb}


@st.composite
def strided_slice_case(draw, grad=False):
    data = draw(st.data())
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    kinds, begin, end, strides = [], [], [], []
    bm = em = 0
    axis = 0
    while axis < len(shape) and len(kinds) < 4 and draw(st.integers(0, 4)):
        i = len(kinds)
        kind = draw(st.sampled_from([0, 0, 1, 2]))
        kinds.append(kind)
        if kind == 2:                        # newaxis: consumes no axis
            begin.append(0), end.append(0), strides.append(1)
            continue
        d = shape[axis]
        axis += 1
        if kind == 0:
            begin.append(draw(st.integers(-d, d))), end.append(draw(st.integers(-d, d)))
            strides.append(draw(st.sampled_from([1, 2, -1])))
            bm |= draw(st.booleans()) << i
            em |= draw(st.booleans()) << i
        else:
            begin.append(draw(st.integers(-d, d - 1))), end.append(0), strides.append(1)
    attrs = dict(kinds=kinds, begin=begin, end=end, strides=strides, begin_mask=bm, end_mask=em)
    x = draw_values(data, shape)
    if not grad:
        return [x], attrs
    from jitflow.ops.indexing import slice_key
    g_shape = np.zeros(shape)[slice_key({k: tuple(v) if isinstance(v, list) else v
                                         for k, v in attrs.items()})].shape
    return [draw_values(data, g_shape), x], attrs


@st.composite
def concat_case(draw):
    data = draw(st.data())
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    xs = []
    for _ in range(draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = draw(st.integers(1, 3))
        xs.append(draw_values(data, tuple(s)))
    return xs, {"axis": axis}


@st.composite
def cast_case(draw):
    data = draw(st.data())
    return [draw_values(data, draw(shapes))], {"dtype": float64}


#: op -> (strategy of (args, attrs), modes it supports)
CASES = {
    "neg": (unary(), MODES), "square": (unary(), MODES), "exp": (unary(), MODES),
    "tanh": (unary(), MODES), "sigmoid": (unary(), MODES), "identity": (unary(), MODES),
    "abs": (unary("away_from_zero"), MODES), "sign": (unary("away_from_zero"), MODES),
    "relu": (unary("away_from_zero"), MODES),
    "sqrt": (unary("positive"), MODES), "rsqrt": (unary("positive"), MODES),
    "log": (unary("positive"), MODES),
    "add": (binary(), MODES), "sub": (binary(), MODES), "mul": (binary(), MODES),
    "div": (binary("smooth", "away_from_zero"), MODES),
    "pow": (binary("positive", "smooth"), MODES),
    "maximum": (binary("odd_tenths", "even_tenths"), MODES),
    "minimum": (binary("even_tenths", "odd_tenths"), MODES),
    "select": (select_case(), MODES),
    "cast": (cast_case(), MODES),
    "fill": (fill_case(), MODES),
    "add_n": (add_n_case(), MODES),
    "reshape": (reshape_case(), ("static", "symbolic")),
    "reshape_like": (reshape_like_case(), MODES),
    "broadcast_like": (like_case("up"), MODES),
    "sum_to": (like_case("down"), MODES),
    "transpose": (transpose_case(), MODES),
    "expand_dims": (expand_dims_case(), MODES),
    "squeeze": (squeeze_case(), MODES),
    "reduce_sum": (reduce_case(), MODES),
    "reduce_mean": (reduce_case(), MODES),
    "reduce_max": (reduce_case("distinct"), MODES),
    "reduce_min": (reduce_case("distinct"), MODES),
    "reduce_prod": (reduce_case("away_from_zero"), MODES),
    "matmul": (matmul_case(), MODES),
    "strided_slice": (strided_slice_case(), ("static",)),
    "strided_slice_grad": (strided_slice_case(grad=True), ("static",)),
    "concat": (concat_case(), ("static",)),   # symbolic concat axes have no gradient rule yet
}

DIFFERENTIABLE = sorted(n for n, d in OPS.items() if d.differentiable and not d.pseudo)


def _distribution(rng, shape):
    p = rng.uniform(0.1, 1, shape)
    return p / p.sum(axis=-1, keepdims=True)


#: generic-probe inputs for ops of other families whose math assumes a domain (as TF's does)
PROBE_ARGS = {
    # TF's gradient (softmax - labels) is the derivative only when labels sum to 1
    "softmax_cross_entropy": lambda rng: [rng.uniform(-1, 1, (2, 3)), _distribution(rng, (2, 3))],
    # inverse trigonometric and hyperbolic functions: inside their domains
    "asin": lambda rng: [rng.uniform(-0.8, 0.8, (2, 3))],
    "acos": lambda rng: [rng.uniform(-0.8, 0.8, (2, 3))],
    "atanh": lambda rng: [rng.uniform(-0.8, 0.8, (2, 3))],
    "acosh": lambda rng: [rng.uniform(1.5, 3.0, (2, 3))],
}


@pytest.mark.parametrize("opname", sorted(CASES))
def test_gradient_matches_finite_differences(opname):
    strategy, modes = CASES[opname]

    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(strategy, st.sampled_from(modes), st.integers(0, 1000))
    def check(case, mode, seed):
        args, attrs = case
        check_gradient(opname, args, attrs, mode=mode, seed=seed)

    check()


@pytest.mark.parametrize("opname", DIFFERENTIABLE)
def test_every_differentiable_op_is_checked(opname):
    """Ops of the families this file owns need a CASES entry; others are probed generically
    (float64 (2, 3) inputs in [0.5, 1.5], default attributes) and skipped if nothing fits."""
    if opname in CASES:
        return
    if family(opname) in OWNED_MODULES:
        pytest.fail(f"{opname}: add a finite-difference case to CASES in {__file__}")
    d = OPS[opname]
    rng = np.random.default_rng(1)
    arities = [d.num_inputs] if d.num_inputs >= 0 else [1, 2, 3]
    for n in arities:
        args = [rng.uniform(0.5, 1.5, (2, 3)) for _ in range(n)]
        if opname in PROBE_ARGS:
            args = PROBE_ARGS[opname](rng)
        try:
            check_gradient(opname, args, {})
        except (TypeError, ValueError, OpError):
            continue      # the type rule or the reference does not take this signature
        except NotImplementedError:
            break         # its gradient rule says it is missing: its family's tests check that
        return
    assert_tested_by_family(opname, family(opname))


# ----------------------------------------------------------------------------- helpers ------

def grads_of(build, args, n_x):
    """``build(b, params) -> (loss, xs)``; returns d loss / d xs after the reference pipeline."""
    f = Function("t")
    params = [f.add_param(TensorType(as_dtype(np.asarray(a).dtype), np.shape(a))) for a in args]
    b = Builder(f.ops)
    loss, xs = build(b, params)
    assert len(xs) == n_x
    g = b.gradients(loss, *xs, num_ys=1, num_xs=n_x)
    f.set_results(list(g) if isinstance(g, tuple) else [g])
    return compile_ir(f).run([np.asarray(a) for a in args])


# ----------------------------------------------------------------------------- TF rules -----

@pytest.mark.parametrize("opname, to_x", [("maximum", True), ("minimum", True)])
def test_max_min_ties_send_the_whole_gradient_to_x(opname, to_x):
    x = np.array([1.0, 2.0, 3.0, -1.0])
    y = np.array([1.0, 5.0, 0.0, -1.0])      # ties at 0 and 3
    w = np.array([0.5, 2.0, 3.0, 4.0])
    gx, gy = grads_of(lambda b, p: (b.reduce_sum(b.mul(b.op(opname, p[0], p[1]), p[2])),
                                    [p[0], p[1]]), [x, y, w], 2)
    x_wins = (x >= y) if opname == "maximum" else (x <= y)
    np.testing.assert_array_equal(gx, np.where(x_wins, w, 0))
    np.testing.assert_array_equal(gy, np.where(x_wins, 0, w))
    assert gx[0] == 0.5 and gy[0] == 0 and gx[3] == 4.0 and gy[3] == 0


def test_relu_abs_sign_gradients_at_zero():
    x = np.array([-1.0, -0.0, 0.0, 2.0])
    for opname, want in [("relu", [0, 0, 0, 1]), ("abs", [-1, 0, 0, 1]), ("sign", [0, 0, 0, 0])]:
        g, = grads_of(lambda b, p: (b.reduce_sum(b.op(opname, p[0])), [p[0]]), [x], 1)
        np.testing.assert_array_equal(g, want, err_msg=opname)


def test_pow_gradients_at_a_zero_base_follow_tf():
    x = np.array([0.0, 4.0])
    y = np.array([2.0, 0.5])
    gx, gy = grads_of(lambda b, p: (b.reduce_sum(b.pow(p[0], p[1])), [p[0], p[1]]), [x, y], 2)
    np.testing.assert_allclose(gx, [0.0, 0.25])
    np.testing.assert_allclose(gy, [0.0, 2 * np.log(4.0)])   # log(x) taken as 0 where x <= 0


def test_fan_in_is_summed():
    x = np.array([[1.0, -2.0, 3.0]])
    g, = grads_of(lambda b, p: (b.reduce_sum(b.mul(p[0], p[0])), [p[0]]), [x], 1)
    np.testing.assert_allclose(g, 2 * x)
    g, = grads_of(lambda b, p: (b.reduce_sum(b.add(p[0], p[0])), [p[0]]), [x], 1)
    np.testing.assert_allclose(g, [[2.0, 2.0, 2.0]])
    # x feeds two different ops and the loss twice
    g, = grads_of(lambda b, p: (b.add(b.reduce_sum(b.tanh(p[0])),
                                      b.reduce_mean(b.square(p[0]))), [p[0]]), [x], 1)
    np.testing.assert_allclose(g, 1 - np.tanh(x) ** 2 + 2 * x / 3)
    g, = grads_of(lambda b, p: (b.reduce_sum(b.add_n(p[0], p[0], b.neg(p[0]))), [p[0]]), [x], 1)
    np.testing.assert_allclose(g, np.ones_like(x))


def test_disconnected_inputs_get_zeros_from_the_pass():
    x = np.array([1.0, 2.0])
    z = np.array([[3.0], [4.0], [5.0]])
    gx, gz = grads_of(lambda b, p: (b.reduce_sum(b.exp(p[0])), [p[0], p[1]]), [x, z], 2)
    np.testing.assert_allclose(gx, np.exp(x))
    assert gz.shape == z.shape and gz.dtype == np.float64
    np.testing.assert_array_equal(gz, 0)
    # blocked by stop_gradient, by an integer cast and by a non-differentiable op
    # loss = sum(block(x) * x): d/dx = block(x) when nothing flows through the block
    x = np.array([1.5, -2.5])
    for block, want in [(lambda b, v: b.stop_gradient(v), x),
                        (lambda b, v: b.cast(b.cast(v, dtype=int32), dtype=float64), [1, -2]),
                        (lambda b, v: b.floordiv(v, v), [1, 1]),
                        (lambda b, v: b.cast(b.greater(v, 0.0), dtype=float64), [1, 0])]:
        g, = grads_of(lambda b, p: (b.reduce_sum(b.mul(block(b, p[0]), p[0])), [p[0]]), [x], 1)
        np.testing.assert_array_equal(g, want)


def test_gradient_of_y_with_respect_to_itself_and_grad_ys():
    x = np.array([1.0, 2.0, 3.0])
    gy = np.array([0.5, -1.0, 2.0])
    f = Function()
    px = f.add_param(TensorType(float64, (3,)))
    pg = f.add_param(TensorType(float64, (3,)))
    b = Builder(f.ops)
    y = b.square(px)
    d1 = b.gradients(y, px, pg, num_ys=1, num_xs=1, has_grad_ys=True)
    d2 = b.gradients(px, px, num_ys=1, num_xs=1)
    d3 = b.gradients(y, b.reduce_sum(y), px, num_ys=2, num_xs=1)
    f.set_results([d1, d2, d3])
    r1, r2, r3 = compile_ir(f).run([x, gy])
    np.testing.assert_allclose(r1, 2 * x * gy)
    np.testing.assert_allclose(r2, np.ones(3))
    np.testing.assert_allclose(r3, 4 * x)          # sum of the ys' gradients


def test_integer_ys_and_xs_get_no_gradient():
    f = Function()
    x = f.add_param(TensorType(float64, (2,)))
    i = f.add_param(TensorType(int32, (2,)))
    b = Builder(f.ops)
    y = b.add(b.cast(i, dtype=float64), x)
    gi, gx = b.gradients(b.reduce_sum(y), i, x, num_ys=1, num_xs=2)
    f.set_results([gi, gx])
    ri, rx = compile_ir(f).run([np.array([1.0, 2.0]), np.array([3, 4], np.int32)])
    assert ri.dtype == np.int32 and (ri == 0).all()
    np.testing.assert_array_equal(rx, [1.0, 1.0])


def test_cast_gradient_between_float_widths():
    x = np.array([0.1, -2.5, 3.0])
    g, = grads_of(lambda b, p: (b.cast(b.reduce_sum(b.mul(b.cast(p[0], dtype=float32),
                                                          b.const(np.float32(3)))),
                                       dtype=float64), [p[0]]), [x], 1)
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [3.0, 3.0, 3.0])


def test_reduce_max_ties_split_the_gradient_equally():
    x = np.array([[1.0, 3.0, 3.0, 2.0],
                  [5.0, 5.0, 5.0, 5.0],
                  [0.0, -1.0, 0.0, -2.0]])
    g, = grads_of(lambda b, p: (b.reduce_sum(b.reduce_max(p[0], axes=[1])), [p[0]]), [x], 1)
    np.testing.assert_allclose(g, [[0, .5, .5, 0], [.25, .25, .25, .25], [.5, 0, .5, 0]])
    g, = grads_of(lambda b, p: (b.reduce_sum(b.reduce_min(p[0], axes=[0], keepdims=True)),
                                [p[0]]), [x], 1)
    np.testing.assert_allclose(g, [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    g, = grads_of(lambda b, p: (b.reduce_max(p[0]), [p[0]]), [x], 1)
    np.testing.assert_allclose(g, np.where(x == 5.0, 0.25, 0))


def test_reduce_prod_gradient_is_exact_with_zeros():
    x = np.array([[2.0, 0.0, 3.0],
                  [0.0, 0.0, 3.0],
                  [2.0, 4.0, 3.0],
                  [-0.0, 5.0, -1.0]])
    g, = grads_of(lambda b, p: (b.reduce_sum(b.reduce_prod(p[0], axes=[-1])), [p[0]]), [x], 1)
    np.testing.assert_array_equal(g, [[0, 6, 0], [0, 0, 0], [12, 6, 8], [-5, 0, 0]])
    g, = grads_of(lambda b, p: (b.reduce_prod(p[0]), [p[0]]), [x[2:3]], 1)
    np.testing.assert_array_equal(g, [[12, 6, 8]])


def test_second_order_gradient_of_tanh():
    x = np.array([-1.5, -0.2, 0.0, 0.7, 2.0])
    w = np.array([1.0, -0.5, 2.0, 0.3, -1.0])
    v = np.array([0.2, 1.0, -1.0, 2.0, 0.5])
    f = Function()
    px, pw, pv = (f.add_param(TensorType(float64, (5,))) for _ in range(3))
    b = Builder(f.ops)
    loss = b.reduce_sum(b.mul(b.tanh(px), pw))
    g1 = b.gradients(loss, px, num_ys=1, num_xs=1)
    loss2 = b.reduce_sum(b.mul(g1, pv))
    g2 = b.gradients(loss2, px, num_ys=1, num_xs=1)
    f.set_results([g1, g2])
    r1, r2 = compile_ir(f).run([x, w, v])
    t = np.tanh(x)
    np.testing.assert_allclose(r1, w * (1 - t ** 2), rtol=1e-12)
    np.testing.assert_allclose(r2, v * w * (-2 * t * (1 - t ** 2)), rtol=1e-12, atol=1e-15)
    # and against finite differences of the first-order gradient
    f1 = Function()
    qx, qw, qv = (f1.add_param(TensorType(float64, (5,))) for _ in range(3))
    b1 = Builder(f1.ops)
    d = b1.gradients(b1.reduce_sum(b1.mul(b1.tanh(qx), qw)), qx, num_ys=1, num_xs=1)
    f1.set_results([b1.reduce_sum(b1.mul(d, qv))])
    exe = compile_ir(f1)
    num = np.zeros(5)
    for i in range(5):
        e = np.zeros(5)
        e[i] = EPS
        num[i] = (exe.run([x + e, w, v])[0] - exe.run([x - e, w, v])[0]) / (2 * EPS)
    np.testing.assert_allclose(r2, num, rtol=1e-5, atol=1e-7)


def test_third_order_through_repeated_expansion():
    x = np.array([0.3, -1.1])
    f = Function()
    px = f.add_param(TensorType(float64, (2,)))
    b = Builder(f.ops)
    g = b.reduce_sum(b.exp(b.mul(px, 2.0)))
    for _ in range(3):
        g = b.reduce_sum(b.gradients(g, px, num_ys=1, num_xs=1))
    f.set_results([g])
    r, = compile_ir(f).run([x])
    np.testing.assert_allclose(r, 8 * np.exp(2 * x).sum(), rtol=1e-12)


# ----------------------------------------------------------------------------- shapes -------

def _unknown_dims_broadcast_grad():
    f = Function()
    x = f.add_param(TensorType(float64, (None,)))
    y = f.add_param(TensorType(float64, (None,)))
    b = Builder(f.ops)
    gx, gy = b.gradients(b.reduce_sum(b.mul(x, y)), x, y, num_ys=1, num_xs=2)
    f.set_results([gx, gy])
    return f


def test_broadcast_gradients_with_unknown_dims_reduce_at_run_time():
    """Two unknown (None) dims may differ at run time: the gradient must still sum back, in
    the autodiff rules (unbroadcast) and through the pipeline (canonicalize keeps sum_to)."""
    from jitflow.passes import expand_gradients
    _check_unknown_dims_broadcast_grad(
        BACKEND.compile(expand_gradients(_unknown_dims_broadcast_grad())))
    _check_unknown_dims_broadcast_grad(compile_ir(_unknown_dims_broadcast_grad()))


def _check_unknown_dims_broadcast_grad(exe):
    rx, ry = exe.run([np.array([2.0]), np.arange(5.0)])
    np.testing.assert_allclose(rx, [10.0])
    np.testing.assert_allclose(ry, [2.0] * 5)
    rx, ry = exe.run([np.arange(3.0), np.array([4.0])])      # the same executable, other way
    np.testing.assert_allclose(rx, [4.0] * 3)
    np.testing.assert_allclose(ry, [3.0])


def test_matmul_gradient_sums_broadcast_batch_dims():
    x = np.random.default_rng(0).uniform(-1, 1, (1, 2, 3))
    y = np.random.default_rng(1).uniform(-1, 1, (4, 3, 5))
    gx, gy = grads_of(lambda b, p: (b.reduce_sum(b.matmul(p[0], p[1])), [p[0], p[1]]), [x, y], 2)
    assert gx.shape == x.shape and gy.shape == y.shape
    np.testing.assert_allclose(gx, (np.ones((4, 2, 5)) @ np.swapaxes(y, 1, 2)).sum(0, keepdims=True))
    np.testing.assert_allclose(gy, np.broadcast_to(x[0].T @ np.ones((2, 5)), (4, 3, 5)))


def test_gradient_expansion_is_printed_parsed_and_located():
    f = Function()
    x = f.add_param(TensorType(float64, ("s0", 3)), "x")
    from jitflow.ir import Location, parse
    b = Builder(f.ops, Location("loss", "train.py", 9))
    g = b.gradients(b.reduce_mean(b.square(x)), x, num_ys=1, num_xs=1)
    f.set_results([g])
    out = PassManager(pipeline_for("reference")).run(f)
    text = print_function(out)
    assert [op for op in out.ops if op.opname == "gradients"] == []
    assert print_function(parse(text)) == text
    assert any("_grad" in op.loc.tf_name for op in out.ops)
    r, = BACKEND.compile(parse(text)).run([np.ones((4, 3))])
    np.testing.assert_allclose(r, np.full((4, 3), 2 / 12))


def test_a_differentiable_op_without_a_rule_is_reported():
    from jitflow.ir import defop
    name = "_test_no_grad_rule"
    defop(name, kind="library", infer=lambda t, a: t[0], reference=lambda x: x, num_inputs=1)
    try:
        f = Function()
        x = f.add_param(TensorType(float64, (2,)))
        b = Builder(f.ops)
        f.set_results([b.gradients(b.reduce_sum(b.op(name, x)), x, num_ys=1, num_xs=1)])
        with pytest.raises(NotImplementedError, match="no gradient rule"):
            compile_ir(f)
    finally:
        del OPS[name]


def test_select_condition_is_not_differentiated():
    c = np.array([True, False])
    x = np.array([1.0, 2.0])
    y = np.array([3.0, 4.0])
    gx, gy = grads_of(lambda b, p: (b.reduce_sum(b.select(p[0], p[1], p[2])), [p[1], p[2]]),
                      [c, x, y], 2)
    np.testing.assert_array_equal(gx, [1, 0])
    np.testing.assert_array_equal(gy, [0, 1])
