"""Random-graph differential test: hypothesis builds well-typed DAGs of elementwise,
reduction, matmul and shape ops (and gradients of a loss over them), the llvm pipeline
(canonicalize, fold, CSE, DCE, fusion) and backend compile them, and the result must equal
the reference backend running the plain graph (only autodiff expanded).

On a mismatch the message says whether the reference backend agrees with itself on the
llvm-pipeline graph, i.e. whether a pass or the code generator is to blame.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from jitflow.ir import Builder, Function, TensorType, print_function, verify
from jitflow.passes import PassManager, pipeline_for
from jitflow.passes.manager import AUTODIFF

from _llvm_util import F32, F64, I32, I64, build, examples, llvm, llvm_cache_dir, reference

pytestmark = [pytest.mark.usefixtures("llvm_cache_dir"),
              pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")]
_ = llvm_cache_dir

GRAPH_SETTINGS = settings(max_examples=examples(60), deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])


def _fits(shape, space) -> bool:
    """``shape`` broadcasts to ``space`` without run-time checks: right-aligned, each dim
    equal to space's (same int or same symbol) or 1."""
    if len(shape) > len(space):
        return False
    lead = len(space) - len(shape)
    return all(d == 1 or d == space[lead + i] for i, d in enumerate(shape))


def _concrete(shape, batch):
    return tuple(batch if d == "batch" else d for d in shape)


class GraphGen:
    """Draws one random graph. ``smooth`` (for gradients) leaves out ops whose derivative
    jumps (max/min/relu/abs/select), where backends that round differently may pick
    different sides of a tie."""

    def __init__(self, draw, smooth: bool):
        self.draw, self.smooth = draw, smooth
        self.dtype = draw(st.sampled_from([F32, F64]))
        rank = draw(st.integers(1, 3))
        dims = [draw(st.sampled_from([1, 2, 3, 4, 5, 0])) for _ in range(rank)]
        # a symbolic leading (batch) dim, sometimes
        self.symbolic = draw(st.booleans())
        self.space = tuple(["batch" if (self.symbolic and i == 0) else d
                            for i, d in enumerate(dims)])
        self.batch = dims[0]
        self.f = Function("g")
        self.b = Builder(self.f.ops)
        self.pool = []         # float values whose shapes fit the space
        self.extra = []        # other values worth returning
        self.float_params = []
        self.int_param = None
        self.step = None
        n_params = draw(st.integers(1, 3))
        for i in range(n_params):
            shape = self.space if i == 0 else self._subshape()
            self.float_params.append(self._param(self.dtype, shape, f"x{i}"))
        self.pool.extend(self.float_params)

    def _param(self, dtype, shape, name):
        return self.f.add_param(TensorType(dtype, tuple(shape)), name)

    def _subshape(self):
        r = self.draw(st.integers(0, len(self.space)))
        tail = self.space[len(self.space) - r:]
        return tuple(d if self.draw(st.booleans()) else 1 for d in tail)

    def pick(self):
        return self.pool[self.draw(st.integers(0, len(self.pool) - 1))]

    def add(self, v):
        if _fits(v.type.shape, self.space):
            self.pool.append(v)
        else:
            self.extra.append(v)
        return v

    # ---------------------------------------------------------------- op templates ------
    def step_op(self):
        b, d = self.b, self.draw
        kinds = ["unary", "unary", "binary", "binary", "reduce", "shape", "misc"]
        if len(self.space) >= 2 and isinstance(self.space[-1], int):
            kinds.append("matmul")
        kind = d(st.sampled_from(kinds))
        x = self.pick()
        if kind == "unary":
            names = ["neg", "tanh", "sigmoid", "exp_tanh", "square_tanh", "sqrt_1p", "log_1p",
                     "rsqrt_1p", "cast_roundtrip"]
            if not self.smooth:
                names += ["abs", "relu", "sign"]
            n = d(st.sampled_from(names))
            if n == "exp_tanh":
                return self.add(b.exp(b.tanh(x)))
            if n == "square_tanh":
                return self.add(b.square(b.tanh(x)))
            if n == "sqrt_1p":
                return self.add(b.sqrt(b.add(b.square(x), 1.0)))
            if n == "log_1p":
                return self.add(b.log(b.add(b.square(x), 1.0)))
            if n == "rsqrt_1p":
                return self.add(b.rsqrt(b.add(b.square(x), 1.0)))
            if n == "cast_roundtrip":
                other = F64 if self.dtype is F32 else F32
                return self.add(b.cast(b.mul(b.cast(x, dtype=other), 0.5), dtype=self.dtype))
            return self.add(b.op(n, x))
        if kind == "binary":
            y = self.pick()
            names = ["add", "sub", "mul_tanh", "div_1p", "add_n", "pow_sq"]
            if not self.smooth:
                names += ["maximum", "minimum", "select"]
            n = d(st.sampled_from(names))
            if n == "mul_tanh":
                return self.add(b.mul(x, b.tanh(y)))
            if n == "div_1p":
                return self.add(b.div(x, b.add(b.square(y), 1.0)))
            if n == "add_n":
                return self.add(b.add_n(x, y, self.pick()))
            if n == "pow_sq":
                return self.add(b.pow(b.add(b.square(x), 0.5), b.sigmoid(y)))
            if n == "select":
                return self.add(b.select(b.greater(x, y), x, b.neg(y)))
            return self.add(b.op(n, x, y))
        if kind == "reduce":
            ops = ["reduce_sum", "reduce_mean"] + ([] if self.smooth else ["reduce_max",
                                                                           "reduce_min"])
            op = d(st.sampled_from(ops))
            r = len(x.type.shape)
            mode = d(st.sampled_from(["keep", "all", "lead"]))
            if mode == "all" or r == 0:
                return self.add(b.op(op, x, axes=None, keepdims=d(st.booleans())))
            if mode == "keep":
                axes = tuple(d(st.lists(st.integers(-r, r - 1), min_size=1, max_size=r,
                                        unique_by=lambda a: a % r)))
                return self.add(b.op(op, x, axes=axes, keepdims=True))
            k = d(st.integers(1, r))
            return self.add(b.op(op, x, axes=tuple(range(k)), keepdims=False))
        if kind == "matmul":
            if len(x.type.shape) != 2 or not isinstance(x.type.shape[-1], int):
                return self.add(b.tanh(x))
            k, n = x.type.shape[-1], self.space[-1]
            tb = d(st.booleans())
            w = self._param(self.dtype, (n, k) if tb else (k, n), f"w{len(self.f.params)}")
            self.float_params.append(w)
            y = b.matmul(x, w, transpose_b=tb)
            if d(st.booleans()):   # GEMM epilogue: bias and activation
                bias = self._param(self.dtype, (n,), f"bias{len(self.f.params)}")
                self.float_params.append(bias)
                y = b.tanh(b.add(y, bias))
            return self.add(y)
        if kind == "shape":
            n = d(st.sampled_from(["reverse", "last1", "transpose", "flatten", "views",
                                   "concat", "broadcast_like"]))
            r = len(x.type.shape)
            if n == "reverse" and r:
                return self.add(b.strided_slice(x, kinds=(0,), begin=(0,), end=(0,),
                                                strides=(-1,), begin_mask=1, end_mask=1))
            if n == "last1" and r:
                kinds = (0,) * r
                return self.add(b.strided_slice(x, kinds=kinds, begin=(0,) * r,
                                                end=(0,) * (r - 1) + (1,), strides=(1,) * r,
                                                begin_mask=(1 << r) - 1,
                                                end_mask=(1 << (r - 1)) - 1))
            if n == "transpose" and r >= 2:
                t = b.transpose(x)
                self.extra.append(b.sigmoid(t))
                return self.add(b.transpose(b.tanh(t)))
            if n == "flatten":
                flat = b.reshape(x, shape=(-1,))
                self.extra.append(b.mul(flat, flat))
                return self.add(b.reshape_like(b.neg(flat), x))
            if n == "views":
                return self.add(b.squeeze(b.expand_dims(b.tanh(x), axis=0), axes=(0,)))
            if n == "concat" and r and isinstance(x.type.shape[-1], int):
                # (static axis: concat along a symbolic one has no gradient rule yet)
                last = x.type.shape[-1]
                c = b.concat(x, b.neg(x), axis=-1)
                self.extra.append(b.tanh(c))
                # the first half again: a slice of the concatenation
                return self.add(b.strided_slice(c, kinds=(0,) * r, begin=(0,) * r,
                                                end=(0,) * (r - 1) + (last,), strides=(1,) * r,
                                                begin_mask=(1 << r) - 1,
                                                end_mask=(1 << (r - 1)) - 1))
            if n == "broadcast_like":
                return self.add(b.mul(b.broadcast_like(x, self.float_params[0]), 0.5))
            return self.add(b.tanh(x))
        # misc: random draws, int subgraphs, sizes, constants
        n = d(st.sampled_from(["random", "int", "size", "const"]))
        if n == "random":
            if self.step is None:
                self.step = self._param(I64, (), "step")
            op = d(st.sampled_from(["random_uniform", "random_normal",
                                    "random_truncated_normal"]))
            r = b.op(op, self.step, x, dtype=self.dtype, seed=d(st.integers(0, 99)), seed2=7)
            return self.add(b.add(x, b.mul(r, 0.1)))
        if n == "int":
            if self.int_param is None:
                self.int_param = self._param(d(st.sampled_from([I32, I64])), self._subshape(), "k")
            k = self.int_param
            e = b.add(b.mul(k, k), b.floordiv(k, 3))
            e = b.maximum(b.mod(e, 7), b.neg(k)) if not self.smooth else b.mod(e, 7)
            return self.add(b.mul(x, b.cast(e, dtype=self.dtype)))
        if n == "size":
            return self.add(b.div(x, b.add(b.size(x, dtype=self.dtype), 1.0)))
        c = np.asarray(d(st.floats(-2, 2, width=32)), self.dtype.np)
        shape = self._subshape()
        if all(isinstance(s, int) for s in shape) and d(st.booleans()):
            c = np.full(shape, c, self.dtype.np) + np.arange(int(np.prod(shape)),
                                                          dtype=self.dtype.np).reshape(shape)
        return self.add(b.mul(x, b.constant(value=np.asarray(c, self.dtype.np))))

    def args(self, batch, seed):
        rng = np.random.default_rng(seed)
        out = []
        for p in self.f.params:
            shape = _concrete(p.type.shape, batch)
            if p.type.dtype is I64 and p.type.shape == ():
                out.append(np.asarray(seed % 1000, np.int64))
            elif p.type.dtype.is_integer:
                out.append(rng.integers(-20, 20, shape).astype(p.type.dtype.np))
            else:
                out.append(rng.uniform(-2, 2, shape).astype(p.type.dtype.np))
        return out


@st.composite
def random_graph(draw, with_gradients: bool):
    g = GraphGen(draw, smooth=with_gradients)
    n_ops = draw(st.integers(1, 10))
    for _ in range(n_ops):
        g.step_op()
    b = g.b
    outs = [g.pool[-1]] + [g.pick() for _ in range(draw(st.integers(0, 2)))]
    outs += g.extra[:2]
    xs = g.float_params
    if with_gradients:
        floats = [v for v in outs if v.type.dtype is g.dtype]
        loss = b.add_n(*[b.reduce_sum(b.mul(v, v) if i % 2 else v, axes=None)
                         for i, v in enumerate(floats)])
        grads = b.op("gradients", loss, *xs, num_ys=1, num_xs=len(xs))
        grads = list(grads) if isinstance(grads, tuple) else [grads]
        outs = [loss] + grads + outs[:1]
        updates = [b.sub(x, b.mul(gx, 0.1)) for x, gx in zip(xs, grads)]   # an SGD step
    else:
        m = b.reduce_mean(outs[0], axes=None)
        updates = [b.sub(x, b.mul(b.tanh(x), b.cast(m, dtype=x.type.dtype))) for x in xs]
    # variable updates, donated (written in place) as a Session does for training steps
    g.donations = {}
    if draw(st.booleans()):
        for x, u in zip(xs, updates):
            if draw(st.booleans()):
                g.donations[len(outs)] = x.index
                outs.append(u)
    g.f.set_results(outs)
    verify(g.f)
    return g


def _tol(dtype, ref):
    ref = np.asarray(ref)
    if ref.dtype.kind != "f":
        return 0, 0
    finite = ref[np.isfinite(ref)]
    scale = float(np.max(np.abs(finite))) if finite.size else 1.0
    if dtype is F32:
        return 2e-4, 2e-4 * (1 + scale)
    return 1e-9, 1e-9 * (1 + scale)


def _differential(g: GraphGen, batches, seed):
    text = print_function(g.f)
    note(f"graph:\n{text}")
    oracle_f = PassManager([AUTODIFF]).run(g.f.clone())
    fused = PassManager(pipeline_for("llvm")).run(g.f.clone())
    note(f"after the llvm pipeline:\n{print_function(fused)}")
    exe = llvm(fused, donations=g.donations)             # compiled once ...
    for batch in batches:                                # ... run at several batch sizes
        args = g.args(batch, seed)
        want = reference(oracle_f, [a.copy() for a in args])
        got = exe.run(args)
        assert len(got) == len(want)
        for i, (w, o) in enumerate(zip(want, got)):
            w, o = np.asarray(w), np.asarray(o)
            rtol, atol = _tol(g.dtype, w)
            ok = (o.shape == w.shape and o.dtype == w.dtype and
                  (np.array_equal(o, w) if w.dtype.kind != "f" else
                   np.allclose(o, w, rtol=rtol, atol=atol, equal_nan=True)))
            if not ok:
                ref_on_fused = reference(fused, args)[i]
                blame = ("the passes (the reference backend disagrees on the llvm-pipeline graph)"
                         if not np.allclose(np.asarray(ref_on_fused), w, rtol=rtol, atol=atol,
                                            equal_nan=True)
                         else "the llvm code generator")
                raise AssertionError(
                    f"result {i} differs at batch {batch} (suspect {blame}):\n"
                    f"llvm {o.shape} {o.dtype}\n{o}\nreference {w.shape} {w.dtype}\n{w}\n"
                    f"graph:\n{text}\nafter the llvm pipeline:\n{print_function(fused)}")


@GRAPH_SETTINGS
@given(g=random_graph(with_gradients=False), seed=st.integers(0, 2 ** 16))
def test_random_graphs_llvm_equals_reference(g, seed):
    batches = [g.batch, (g.batch + 3) % 7] if g.symbolic else [g.batch]
    _differential(g, batches, seed)


@settings(GRAPH_SETTINGS, max_examples=examples(40))
@given(g=random_graph(with_gradients=True), seed=st.integers(0, 2 ** 16))
def test_random_graph_gradients_llvm_equals_reference(g, seed):
    """A loss over the graph's values, its gradient with respect to every float parameter
    (expanded by autodiff, then fused), on llvm and on the reference."""
    batches = [g.batch, g.batch + 2] if g.symbolic else [g.batch]
    _differential(g, batches, seed)


def test_fused_mlp_training_step_matches_reference():
    """A fixed two-layer network: GEMM epilogues, softmax-like reductions, the gradient of the
    loss and an SGD update, fused, at two batch sizes."""
    def fn(b, x, y, w1, b1, w2, b2):
        h = b.relu(b.add(b.matmul(x, w1), b1))
        logits = b.add(b.matmul(h, w2), b2)
        m = b.reduce_max(logits, axes=(1,), keepdims=True)
        z = b.sub(logits, m)
        lse = b.log(b.reduce_sum(b.exp(z), axes=(1,), keepdims=True))
        loss = b.reduce_mean(b.reduce_sum(b.mul(y, b.sub(lse, z)), axes=(1,)), axes=None)
        gw1, gb1, gw2, gb2 = b.op("gradients", loss, w1, b1, w2, b2, num_ys=1, num_xs=4)
        lr = 0.1
        return [loss, b.sub(w1, b.mul(gw1, lr)), b.sub(b1, b.mul(gb1, lr)),
                b.sub(w2, b.mul(gw2, lr)), b.sub(b2, b.mul(gb2, lr))]
    f = build([(F32, ("batch", 20)), (F32, ("batch", 5)), (F32, (20, 64)), (F32, (64,)),
               (F32, (64, 5)), (F32, (5,))], fn)
    oracle = PassManager([AUTODIFF]).run(f.clone())
    fused = PassManager(pipeline_for("llvm")).run(f.clone())
    assert any(op.group is not None for op in fused.ops)
    exe = llvm(fused)
    rng = np.random.default_rng(3)
    params = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in [(20, 64), (64,), (64, 5),
                                                                       (5,)]]
    for batch in (33, 1, 200):
        x = rng.standard_normal((batch, 20)).astype(np.float32)
        y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, batch)]
        want = reference(oracle, [x, y] + params)
        got = exe.run([x, y] + params)
        for i, (w, o) in enumerate(zip(want, got)):
            np.testing.assert_allclose(o, w, rtol=1e-4, atol=1e-5, err_msg=f"result {i} b={batch}")


# ------------------------------------------------------------------ hand-made fusion groups --
# The compiler must run any convex grouping correctly, whatever the fusion pass decides.

def _run_text(text: str, args, donations=None):
    from jitflow.ir import parse_function
    f = parse_function(text)
    want = reference(PassManager([AUTODIFF]).run(parse_function(text)), [a.copy() for a in args])
    exe = llvm(f, donations=donations)
    got = exe.run(args)
    for i, (w, o) in enumerate(zip(want, got)):
        np.testing.assert_allclose(o, w, rtol=1e-5, atol=1e-6, err_msg=f"result {i}")
    return exe, got


@pytest.mark.parametrize("k", [2, 40])    # inline matmul (small K) and GEMM
def test_matmul_operand_computed_in_its_own_group(k):
    text = f"""func @g(%0: f32[3,{k}], %1: f32[{k},{k}], %2: f32[{k}]) -> (f32[3,{k}]) {{
      %3 = neg(%0) : f32[3,{k}]  group(0)
      %4 = tanh(%3) : f32[3,{k}]  group(0)
      %5 = add(%2, %2) : f32[{k}]  group(0)
      %6 = matmul(%4, %1) {{transpose_a = false, transpose_b = false}} : f32[3,{k}]  group(0)
      %7 = add(%6, %5) : f32[3,{k}]  group(0)
      return %7
    }}"""
    rng = np.random.default_rng(0)
    _run_text(text, [rng.standard_normal(s).astype(np.float32) for s in [(3, k), (k, k), (k,)]])


def test_reduction_prologue_value_also_returned():
    text = """func @g(%0: f32[4,5]) -> (f32[4], f32[4,5]) {
      %1 = neg(%0) : f32[4,5]  group(0)
      %2 = exp(%1) : f32[4,5]  group(0)
      %3 = reduce_sum(%2) {axes = [1], keepdims = false} : f32[4]  group(0)
      return %3, %1
    }"""
    _run_text(text, [np.linspace(-1, 1, 20, dtype=np.float32).reshape(4, 5)])


@pytest.mark.parametrize("n", [0, 3])
def test_broadcast_member_that_is_stored_gets_written(n):
    """A fused value smaller than its kernel's space (broadcast into it) that is also returned
    or read elsewhere is stored exactly once, even when the space is empty."""
    text = f"""func @g(%0: f32[{n},4], %1: f32[], %2: f32[4]) -> (f32[{n},4], f32[], f32[4], f32[{n}], f32[4]) {{
      %3 = neg(%1) : f32[]  group(0)
      %4 = tanh(%2) : f32[4]  group(0)
      %5 = mul(%4, %3) : f32[4]  group(0)
      %6 = add(%0, %5) : f32[{n},4]  group(0)
      %7 = exp(%4) : f32[4]  group(1)
      %8 = add(%0, %7) : f32[{n},4]  group(1)
      %9 = reduce_sum(%8) {{axes = [1], keepdims = false}} : f32[{n}]  group(1)
      return %6, %3, %5, %9, %7
    }}"""
    rng = np.random.default_rng(0)
    _run_text(text, [rng.standard_normal((n, 4)).astype(np.float32),
                     np.asarray(0.7, np.float32), rng.standard_normal(4).astype(np.float32)])


def test_random_draw_in_a_reduction_prologue_is_bit_exact():
    text = """func @g(%0: i64[], %1: f32[6,7]) -> (f32[6], f32[6,7]) {
      %2 = random_normal(%0, %1) {dtype = f32, seed = 3, seed2 = 4, shape = []} : f32[6,7]  group(0)
      %3 = reduce_max(%2) {axes = [1], keepdims = false} : f32[6]  group(0)
      %4 = random_uniform(%0, %1) {dtype = f32, seed = 5, seed2 = 6, shape = []} : f32[6,7]
      return %3, %4
    }"""
    from jitflow.ir import parse_function
    args = [np.asarray(9, np.int64), np.zeros((6, 7), np.float32)]
    f = parse_function(text)
    want = reference(f, args)
    got = llvm(parse_function(text)).run(args)
    for w, o in zip(want, got):
        assert w.tobytes() == o.tobytes()


def test_size_one_and_empty_constants_as_kernel_operands():
    """A one-element constant is an immediate for elementwise code but must be in memory for
    transposes, slices, GEMMs, concat and strided_slice_grad; an empty one too."""
    text = """func @g(%0: f32[3,1], %1: f32[0,2]) -> (f32[3,1], f32[3,1], f32[3,2], f32[1,1], f32[0,2], f32[3,1]) {
      %2 = constant() {value = array<f32[1,1]: [3.0]>} : f32[1,1]
      %3 = transpose(%2) {perm = []} : f32[1,1]
      %4 = add(%0, %3) : f32[3,1]
      %5 = matmul(%0, %2) {transpose_a = false, transpose_b = false} : f32[3,1]
      %6 = broadcast_like(%2, %0) : f32[3,1]
      %7 = concat(%0, %6) {axis = 1} : f32[3,2]
      %8 = strided_slice_grad(%2, %2) {begin = [0], begin_mask = 1, end = [0], end_mask = 1, kinds = [0], strides = [-1]} : f32[1,1]
      %9 = constant() {value = array<f32[0,2]: []>} : f32[0,2]
      %10 = add(%1, %9) : f32[0,2]
      %11 = strided_slice(%2) {begin = [0], begin_mask = 1, end = [0], end_mask = 1, kinds = [0], strides = [-1]} : f32[1,1]
      %12 = mul(%0, %11) : f32[3,1]
      return %4, %5, %7, %8, %10, %12
    }"""
    _run_text(text, [np.arange(3, dtype=np.float32).reshape(3, 1), np.zeros((0, 2), np.float32)])


# ------------------------------------------------------------------ donated updates ---------

@pytest.mark.parametrize("case", [
    # (update expression over u, whether the donation may be applied)
    ("sub(u, transpose(u))", False),          # reads other elements of u: must not write in place
    ("add(neg(u), matmul(u, u))", False),      # inline matmul reads rows/columns of u
    ("sub(u, reduce_sum_keep(u))", True),      # the reduction runs in an earlier kernel
    ("mul(u, u)", True),
])
def test_donated_update_never_corrupts_its_inputs(case):
    expr, may_donate = case
    def fn(b, u):
        if expr == "sub(u, transpose(u))":
            return b.sub(u, b.transpose(u))
        if expr == "add(neg(u), matmul(u, u))":
            return b.add(b.neg(u), b.matmul(u, u))
        if expr == "sub(u, reduce_sum_keep(u))":
            return b.sub(u, b.reduce_sum(u, axes=(0,), keepdims=True))
        return b.mul(u, u)
    f = build([(F32, (4, 4))], fn)
    fused = PassManager(pipeline_for("llvm")).run(f.clone())
    u = np.arange(16, dtype=np.float32).reshape(4, 4) / 7
    want = reference(f, [u.copy()])[0]
    exe = llvm(fused, donations={0: 0})
    arg = u.copy()
    got = exe.run([arg])[0]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    if exe.donated:
        assert got is arg                  # written in place
    elif may_donate:
        pytest.fail("a safe in-place update was not donated")
