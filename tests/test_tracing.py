"""jitflow.function / make_ir / grad / value_and_grad: tracing plain Python functions of NumPy
arrays into compiled graphs (structure, caching per signature, retrace logging, side effects,
IR text, gradients against hand-derived values and finite differences, backends agree)."""
import collections
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitflow
import jitflow.compat.v1 as tf
from jitflow import ir

BACKENDS = ["llvm", "reference"]
RNG = np.random.default_rng(1234)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def np_mlp(x, w, b):
    return np.maximum(x @ w + b, 0.0)


# ---------------------------------------------------------------- calling and structure ---

@pytest.mark.parametrize("backend", BACKENDS)
def test_tf1_ops_inside_and_nested_output_structure(backend):
    Pair = collections.namedtuple("Pair", "a b")

    @jitflow.function(backend=backend)
    def f(x, params):
        h = tf.nn.relu(tf.matmul(x, params["w"]) + params["b"])
        total = tf.reduce_sum(h)
        return {"h": h, "stats": (total, [tf.reduce_mean(h, axis=1), None]),
                "pair": Pair(h * 2.0, 7)}

    x, p = randn(5, 3), {"w": randn(3, 4), "b": randn(4)}
    r = f(x, p)
    want = np_mlp(x, p["w"], p["b"])
    assert isinstance(r, dict) and list(r) == ["h", "stats", "pair"]
    np.testing.assert_allclose(r["h"], want, rtol=1e-5, atol=1e-6)
    total, (means, nothing) = r["stats"]
    assert isinstance(r["stats"], tuple) and isinstance(r["stats"][1], list)
    # a rank-0 result is a NumPy scalar (as Session.run returns it)
    assert type(total) is np.float32
    np.testing.assert_allclose(total, want.sum(), rtol=1e-5)
    np.testing.assert_allclose(means, want.mean(axis=1), rtol=1e-5, atol=1e-6)
    assert nothing is None
    assert type(r["pair"]) is Pair and r["pair"].b == 7
    np.testing.assert_allclose(r["pair"].a, 2 * want, rtol=1e-5, atol=1e-6)


def test_decorator_forms_and_backend_option():
    def double(x):
        return x * 2.0

    plain = jitflow.function(double)
    ref = jitflow.function(double, backend="reference")
    deco = jitflow.function(backend="reference")(double)
    x = randn(4, 2)
    for f in (plain, ref, deco):
        np.testing.assert_array_equal(f(x), 2 * x)
    assert ref.concrete_functions[0].backend == "reference"
    assert plain.__name__ == "double" and plain.python_function is double
    with pytest.raises(ValueError, match="unknown backend"):
        jitflow.function(double, backend="nope")


def test_scalar_results_and_dtypes():
    f = jitflow.function(lambda a, i, m: (tf.reduce_sum(a), i + 1, tf.logical_not(m),
                                          tf.reduce_sum(tf.cast(i, tf.float64))))
    s, i, m, d = f(randn(3, 2), np.arange(5, dtype=np.int64), np.array([True, False]))
    assert type(s) is np.float32 and type(d) is np.float64 and d == 10.0
    assert i.dtype == np.int64 and list(i) == [1, 2, 3, 4, 5]
    assert m.dtype == np.bool_ and list(m) == [False, True]


def test_results_never_alias_arguments():
    f = jitflow.function(lambda a: (a, a, tf.reshape(a, [-1]), tf.identity(a)))
    x = randn(3, 2)
    r = f(x)
    for out in r:
        assert not np.shares_memory(out, x)
    assert r[0] is not r[1]
    r[0][0, 0] = 99.0
    assert x[0, 0] != 99.0


def test_constant_and_none_results():
    f = jitflow.function(lambda a: (None, np.arange(3), 2.5))
    none, arr, scalar = f(randn(2))
    assert none is None and list(arr) == [0, 1, 2] and scalar == 2.5
    arr[0] = 5                                     # each call returns its own copy
    assert f(randn(2))[1][0] == 0
    assert jitflow.function(lambda a: None)(randn(2)) is None


def test_keyword_arguments_defaults_and_methods():
    @jitflow.function
    def scaled(x, scale=2.0, *, shift=0.0):
        return x * scale + shift

    x = randn(3)
    np.testing.assert_allclose(scaled(x), 2 * x, rtol=1e-6)
    np.testing.assert_allclose(scaled(x, shift=1.0), 2 * x + 1, rtol=1e-6)
    # the same call spelled differently binds to the same signature
    scaled(x, 2.0)
    scaled(x, scale=2.0)
    assert scaled.trace_count == 2

    class Model:
        def __init__(self, k):
            self.k = k

        @jitflow.function
        def apply(self, x):
            return x * self.k

    np.testing.assert_allclose(Model(3.0).apply(x), 3 * x, rtol=1e-6)
    assert Model.apply.trace_count == 1


def test_traced_function_called_inside_a_trace_is_inlined():
    inner = jitflow.function(lambda a: a * 3.0)
    outer = jitflow.function(lambda a: inner(a) + 1.0)
    x = randn(4)
    np.testing.assert_allclose(outer(x), 3 * x + 1, rtol=1e-6)
    assert inner.trace_count == 0 and outer.trace_count == 1


# ---------------------------------------------------------------- errors ------------------

@pytest.mark.parametrize("dtype", [np.longdouble, np.dtype("U2"), object])
def test_unsupported_dtype_is_a_clear_error(dtype):
    f = jitflow.function(lambda x: x + 1)
    with pytest.raises(TypeError, match=r"argument 'x' has dtype .* not support.*float32"):
        f(np.zeros(3, dtype=dtype))
    assert f.trace_count == 0


def test_unhashable_static_argument_and_bad_results():
    class Box:
        __hash__ = None
    f = jitflow.function(lambda x, cfg: x)
    with pytest.raises(TypeError, match="neither an array nor a hashable"):
        f(randn(2), Box())
    with pytest.raises(TypeError, match="returned the Operation"):
        jitflow.function(lambda x: tf.no_op())(randn(2))
    with pytest.raises(ValueError, match="uses variables.*pure"):
        jitflow.function(lambda x: tf.Variable(1.0) * x)(randn(2))


def test_shape_errors_name_the_op_and_line():
    f = jitflow.function(lambda a: tf.matmul(a, a), symbolic_batch=False)
    with pytest.raises(ValueError, match=r"Dimensions must be equal.*test_tracing.py"):
        f(randn(3, 2))
    # with a symbolic batch dim the inner dims are checked when the compiled code runs
    g = jitflow.function(lambda a: tf.matmul(a, a))
    with pytest.raises(jitflow.errors.InvalidArgumentError,
                       match="Dimensions must be equal|size-incompatible"):
        g(randn(3, 2))


# ---------------------------------------------------------------- caching -----------------

def test_cache_per_signature_batch_dim_is_symbolic():
    @jitflow.function
    def f(x, w):
        return tf.nn.relu(tf.matmul(x, w))

    w = randn(3, 4)
    for n in (5, 8, 17, 2):                         # new batch sizes: one trace
        x = randn(n, 3)
        np.testing.assert_allclose(f(x, w), np_mlp(x, w, 0), rtol=1e-5, atol=1e-6)
    assert f.trace_count == 1 and len(f.concrete_functions) == 1
    cf = f.concrete_functions[0]
    assert cf.signature == [("x", "f32[s0,3]"), ("w", "f32[s1,4]")]
    assert cf.calls == 4
    assert str(cf.input_types[0]) == "f32[s0,3]"
    assert "matmul" in str(cf.function)

    f(randn(6, 3, dtype=np.float64), w.astype(np.float64))             # new dtype
    assert f.trace_count == 2
    f(randn(4, 3), randn(3, 5))                                          # new static dim
    assert f.trace_count == 3
    f(randn(7, 3), randn(3, 5))
    assert f.trace_count == 3
    f(randn(1, 3), w)                               # a size-1 leading dim is specialized
    assert f.trace_count == 4
    assert f.concrete_functions[-1].signature[0] == ("x", "f32[1,3]")


def test_retrace_on_new_rank():
    f = jitflow.function(lambda x: tf.reduce_sum(x * x, axis=-1))
    f(randn(4, 3))
    f(randn(9, 3))
    assert f.trace_count == 1
    r = f(randn(4, 3, 2))
    assert f.trace_count == 2 and r.shape == (4, 3)
    f(randn(11, 3, 2))
    assert f.trace_count == 2


def test_equal_batch_dims_share_a_symbol():
    f = jitflow.function(lambda x, y: (x * 2.0, tf.reduce_sum(y)))
    f(randn(4, 2), randn(4, 2))
    f(randn(6, 2), randn(6, 2))
    assert f.trace_count == 1
    assert f.concrete_functions[0].signature == [("x", "f32[s0,2]"), ("y", "f32[s0,2]")]
    f(randn(6, 2), randn(5, 2))          # the sizes no longer match: another trace
    f(randn(3, 2), randn(8, 2))
    assert f.trace_count == 2
    assert f.concrete_functions[1].signature == [("x", "f32[s0,2]"), ("y", "f32[s1,2]")]


def test_python_scalars_are_part_of_the_signature_by_value():
    f = jitflow.function(lambda x, k: x * k)
    x = randn(3)
    np.testing.assert_allclose(f(x, 2.0), 2 * x, rtol=1e-6)
    np.testing.assert_allclose(f(x, 2.0), 2 * x, rtol=1e-6)
    assert f.trace_count == 1
    np.testing.assert_allclose(f(x, 3.0), 3 * x, rtol=1e-6)
    assert f.trace_count == 2
    f(x, 3)                                      # int 3 is not float 3.0
    assert f.trace_count == 3
    # a NumPy scalar is a run-time input: new values do not retrace
    for k in (1.0, 5.0, -2.0):
        np.testing.assert_allclose(f(x, np.float32(k)), k * x, rtol=1e-6)
    assert f.trace_count == 4
    assert f.concrete_functions[-1].signature == [("x", "f32[s0]"), ("k", "f32[]")]


def test_symbolic_batch_options():
    every = jitflow.function(lambda x: x + 1.0, symbolic_batch=False)
    every(randn(3, 2))
    every(randn(4, 2))
    assert every.trace_count == 2
    assert every.concrete_functions[0].signature == [("x", "f32[3,2]")]
    only_x = jitflow.function(lambda x, w: tf.matmul(x, w), symbolic_batch=("x",))
    only_x(randn(3, 2), randn(2, 2))
    only_x(randn(5, 2), randn(2, 2))
    assert only_x.trace_count == 1
    assert only_x.concrete_functions[0].signature == [("x", "f32[s0,2]"), ("w", "f32[2,2]")]
    by_pos = jitflow.function(lambda x, w: tf.matmul(x, w), symbolic_batch=(0,))
    by_pos(randn(3, 2), randn(2, 2))
    assert by_pos.concrete_functions[0].signature[1] == ("w", "f32[2,2]")


def test_get_concrete_function_and_clear_cache():
    f = jitflow.function(lambda x: x * 2.0)
    cf = f.get_concrete_function(randn(3))
    assert f.trace_count == 1 and cf.calls == 0
    assert f.get_concrete_function(randn(5)) is cf
    ir.verify(cf.ir)
    f.clear_cache()
    assert f.concrete_functions == []
    f(randn(3))
    assert f.trace_count == 2


# ---------------------------------------------------------------- logging -----------------

def test_compile_log_names_function_signature_and_time(monkeypatch, capsys):
    monkeypatch.setenv("JITFLOW_LOG", "compile")

    @jitflow.function(backend="reference")
    def affine(x, b):
        return x * 2.0 + b

    b = randn(3)
    affine(randn(4, 3), b)
    affine(randn(8, 3), b)               # new batch size: no log line
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("[jitflow] compiled function")]
    assert len(lines) == 1
    assert "affine" in lines[0] and "signature (x: f32[s0,3], b: f32[s1])" in lines[0]
    assert "on reference" in lines[0] and " ms" in lines[0] and "retrace" not in lines[0]
    affine(randn(2, 2, 3), b)            # new rank: one retrace, logged with what changed
    err = capsys.readouterr().err
    assert err.count("[jitflow] compiled function affine") == 1
    assert "retrace #1: x: f32[s0,3] -> f32[s0,2,3]" in err
    monkeypatch.delenv("JITFLOW_LOG")
    affine(randn(2, 2, 2, 3), b)
    assert "[jitflow]" not in capsys.readouterr().err


def test_compile_log_in_a_fresh_process():
    script = textwrap.dedent("""
        import numpy as np, jitflow
        import jitflow.compat.v1 as tf

        @jitflow.function
        def net(x):
            return tf.nn.relu(x) * 2.0

        for n in (3, 7, 20):
            net(np.ones((n, 4), np.float32))
        net(np.ones((5, 4, 2), np.float32))
        print(net.trace_count)
    """)
    env = dict(os.environ, JITFLOW_LOG="compile")
    env.pop("JITFLOW_BACKEND", None)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "2"
    lines = [ln for ln in p.stderr.splitlines() if "compiled function net" in ln]
    assert len(lines) == 2, p.stderr
    assert "x: f32[s0,4]" in lines[0] and "on llvm" in lines[0]
    assert "retrace #1: x: f32[s0,4] -> f32[s0,4,2]" in lines[1]


# ---------------------------------------------------------------- side effects ------------

def test_python_side_effects_run_only_at_trace_time(capsys):
    log = []

    @jitflow.function
    def f(x):
        log.append(x.shape.as_list())
        print("tracing f")
        return x + 1.0

    for n in (3, 4, 5):
        f(randn(n))
    assert log == [[None]] and f.trace_count == 1
    assert capsys.readouterr().out.count("tracing f") == 1
    f(randn(2, 2))                            # a new signature runs the body again
    assert log == [[None], [None, 2]]
    assert capsys.readouterr().out.count("tracing f") == 1


def test_globals_are_frozen_at_trace_time():
    state = {"k": 2.0}
    f = jitflow.function(lambda x: x * state["k"])
    x = randn(3)
    np.testing.assert_allclose(f(x), 2 * x, rtol=1e-6)
    state["k"] = 10.0
    np.testing.assert_allclose(f(x), 2 * x, rtol=1e-6)     # cached trace keeps the old value


# ---------------------------------------------------------------- make_ir -----------------

def test_make_ir_prints_the_ops_and_parses_back():
    def mlp(x, w, b):
        return tf.reduce_mean(tf.nn.relu(tf.matmul(x, w) + b))

    f = jitflow.make_ir(mlp)(randn(4, 3), randn(3, 5), randn(5))
    assert isinstance(f, ir.Function)
    text = str(f)
    assert text.startswith("func @mlp(%0: f32[s0,3] \"x:0\", %1: f32[s1,5] \"w:0\", "
                           "%2: f32[s2] \"b:0\") -> (f32[] ")
    for op in ("matmul(", "add(", "relu(", "reduce_mean(", "test_tracing.py"):
        assert op in text
    ir.verify(f)
    back = ir.parse(text)
    assert ir.print_function(back) == text


def test_make_ir_stages_and_grad_functions():
    def loss(w, x):
        return tf.reduce_sum(tf.square(tf.matmul(x, w)))

    args = (randn(3, 2), randn(4, 3))
    g = jitflow.grad(loss)
    frontend = str(jitflow.make_ir(g)(*args))
    assert "gradients(" in frontend and frontend.startswith("func @grad_loss(")
    after = str(jitflow.make_ir(g, stage="autodiff")(*args))
    assert "gradients(" not in after and "matmul(" in after
    final = str(jitflow.make_ir(g, stage="final", backend="llvm")(*args))
    assert "group(" in final
    ref_final = jitflow.make_ir(g, stage="final", backend="reference")(*args)
    ir.verify(ref_final)
    with pytest.raises(ValueError, match="unknown stage"):
        jitflow.make_ir(g, stage="nope")(*args)
    assert g.trace_count == 0            # make_ir neither compiles nor caches


def test_make_ir_of_a_decorated_function_keeps_its_options():
    f = jitflow.function(lambda x, w: tf.matmul(x, w), symbolic_batch=False)
    text = str(jitflow.make_ir(f)(randn(4, 3), randn(3, 2)))
    assert "f32[4,3]" in text and f.trace_count == 0


# ---------------------------------------------------------------- grad ---------------------

def numeric_grad(fn, x, eps=1e-6):
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (fn(xp) - fn(xm)) / (2 * eps)
    return g


def test_grad_matches_hand_derived_gradients():
    def loss(w, b, x, y):
        err = tf.matmul(x, w) + b - y
        return tf.reduce_mean(tf.square(err))

    x, y, w, b = randn(6, 3), randn(6, 2), randn(3, 2), randn(2)
    gw, gb = jitflow.grad(loss, argnums=(0, 1))(w, b, x, y)
    err = x @ w + b - y
    np.testing.assert_allclose(gw, 2 * x.T @ err / err.size, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gb, 2 * err.sum(0) / err.size, rtol=1e-4, atol=1e-6)
    gx = jitflow.grad(loss, argnums=2)(w, b, x, y)
    np.testing.assert_allclose(gx, 2 * err @ w.T / err.size, rtol=1e-4, atol=1e-6)
    val, gw2 = jitflow.value_and_grad(loss)(w, b, x, y)
    assert type(val) is np.float32
    np.testing.assert_allclose(val, (err ** 2).mean(), rtol=1e-5)
    np.testing.assert_allclose(gw2, gw, rtol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_grad_matches_finite_differences_float64(backend):
    def f(x, w):
        h = tf.tanh(tf.matmul(x, w))
        return tf.reduce_sum(tf.exp(-h * h) * tf.sigmoid(x[:, :2])) + tf.reduce_sum(w * w * w)

    x, w = randn(5, 3, dtype=np.float64), randn(3, 2, dtype=np.float64)

    def np_f(x, w):
        h = np.tanh(x @ w)
        return (np.exp(-h * h) / (1 + np.exp(-x[:, :2]))).sum() + (w ** 3).sum()

    gx, gw = jitflow.grad(f, argnums=(0, 1), backend=backend)(x, w)
    assert gx.dtype == np.float64 and gx.shape == x.shape and gw.shape == w.shape
    np.testing.assert_allclose(gx, numeric_grad(lambda v: np_f(v, w), x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, numeric_grad(lambda v: np_f(x, v), w), rtol=1e-6, atol=1e-8)


def test_grad_of_structured_params_python_floats_and_unused_args():
    def loss(params, x, unused):
        return tf.reduce_sum(tf.matmul(x, params["w"]) * params["s"])

    params = {"w": randn(3, 2), "s": np.float32(1.5)}
    x, unused = randn(4, 3), randn(2)
    g, gu = jitflow.grad(loss, argnums=(0, 2))(params, x, unused)
    assert set(g) == {"w", "s"}
    np.testing.assert_allclose(g["w"], 1.5 * np.repeat(x.sum(0)[:, None], 2, 1), rtol=1e-5)
    np.testing.assert_allclose(g["s"], (x @ params["w"]).sum(), rtol=1e-5)
    np.testing.assert_array_equal(gu, np.zeros(2, np.float32))    # disconnected: zeros
    # a Python float at a differentiated position is a float32 input, not a constant
    cube = jitflow.grad(lambda a: a * a * a)
    assert cube(2.0) == pytest.approx(12.0) and cube(3.0) == pytest.approx(27.0)
    assert cube.trace_count == 1


def test_grad_has_aux_and_caching():
    def f(w, x):
        y = tf.matmul(x, w)
        return tf.reduce_sum(y * y), {"y": y}

    vg = jitflow.value_and_grad(f, has_aux=True)
    w = randn(3, 2)
    for n in (4, 9):
        x = randn(n, 3)
        (val, aux), gw = vg(w, x)
        np.testing.assert_allclose(aux["y"], x @ w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(val, ((x @ w) ** 2).sum(), rtol=1e-4)
        np.testing.assert_allclose(gw, 2 * x.T @ (x @ w), rtol=1e-4, atol=1e-5)
    assert vg.trace_count == 1
    g, aux = jitflow.grad(f, has_aux=True)(w, randn(2, 3))
    assert g.shape == w.shape and aux["y"].shape == (2, 2)


def test_higher_order_and_rewrapped_grads():
    d2 = jitflow.grad(jitflow.grad(lambda a: a * a * a))
    assert d2(2.0) == pytest.approx(12.0) and d2.name == "grad_grad_lambda"
    x = np.array([1.0, -2.0, 0.5])

    def inner(y):
        return tf.reduce_sum(y * y * y)

    h = jitflow.grad(lambda v: tf.reduce_sum(tf.square(jitflow.grad(inner)(v))))
    np.testing.assert_allclose(h(x), 2 * (3 * x ** 2) * 6 * x, rtol=1e-12)
    on_ref = jitflow.function(jitflow.grad(inner), backend="reference")
    np.testing.assert_allclose(on_ref(x), 3 * x ** 2, rtol=1e-12)
    assert on_ref.concrete_functions[0].backend == "reference"


def test_grad_errors():
    with pytest.raises(TypeError, match="scalar .*float"):
        jitflow.grad(lambda a: a * 2.0)(randn(3))
    with pytest.raises(TypeError, match="float inputs.*int64"):
        jitflow.grad(lambda a: tf.reduce_sum(a))(np.arange(3))
    with pytest.raises(TypeError, match="compile-time constant"):
        jitflow.grad(lambda a, n: tf.reduce_sum(a) * n, argnums=1)(randn(2), 3)
    with pytest.raises(TypeError, match="positionally"):
        jitflow.grad(lambda a: tf.reduce_sum(a))(a=randn(2))
    with pytest.raises(TypeError, match="argnums"):
        jitflow.grad(lambda a: a, argnums=())


# ---------------------------------------------------------------- backends agree ----------

def test_llvm_and_reference_agree():
    def model(x, w1, b1, w2):
        h = tf.nn.relu(tf.matmul(x, w1) + b1)
        logits = tf.matmul(h, w2)
        p = tf.nn.softmax(logits)
        return {"p": p, "lse": tf.reduce_logsumexp(logits, axis=1),
                "max": tf.reduce_max(h, axis=0), "n": tf.reduce_sum(tf.cast(h > 0.0, tf.int32))}

    def loss(w1, b1, w2, x):
        return tf.reduce_mean(tf.square(tf.matmul(tf.tanh(tf.matmul(x, w1) + b1), w2)))

    args = (randn(7, 4), randn(4, 8), randn(8), randn(8, 3))
    outs = {be: jitflow.function(model, backend=be)(*args) for be in BACKENDS}
    for k in outs["reference"]:
        np.testing.assert_allclose(outs["llvm"][k], outs["reference"][k], rtol=1e-5, atol=1e-6)
    w1, b1, x, w2 = args[1], args[2], args[0], args[3]
    grads = {be: jitflow.value_and_grad(loss, argnums=(0, 1, 2), backend=be)(w1, b1, w2, x)
             for be in BACKENDS}
    np.testing.assert_allclose(grads["llvm"][0], grads["reference"][0], rtol=1e-5)
    for a, b in zip(grads["llvm"][1], grads["reference"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_random_ops_advance_per_call_and_match_across_backends():
    fs = {be: jitflow.function(lambda x: tf.random_uniform([4], seed=3) + x, backend=be)
          for be in BACKENDS}
    zero = np.float32(0)
    seq = {be: [f(zero) for _ in range(2)] for be, f in fs.items()}
    assert not np.array_equal(seq["llvm"][0], seq["llvm"][1])
    for a, b in zip(seq["llvm"], seq["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
