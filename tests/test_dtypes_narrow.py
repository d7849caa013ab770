"""The narrow dtypes (float16, bfloat16, int8, int16, uint8, uint16) and complex64, with TF1's
CPU semantics: integers wrap around, float16/bfloat16 are computed in float32 and rounded to
nearest even after every op. The reference against a NumPy oracle of those rules, llvm and the
cuda simulator against the reference, casts between all pairs, rounding of every float32 bit
pattern class, gradients, a float16 training step, checkpoints and GraphDefs."""
from __future__ import annotations

import _cuda_util  # noqa: F401  (selects Numba's CUDA simulator before numba.cuda loads)

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow.compat.v1 as tf
from jitflow.frontend import graph_def as GD
from jitflow.ir import dtypes as D
from jitflow.kernels.errors import UnsupportedOp

try:
    import ml_dtypes
except ImportError:     # bfloat16 needs it (a dependency of jitflow: pip install -e .)
    ml_dtypes = None
needs_bf16 = pytest.mark.skipif(ml_dtypes is None, reason="bfloat16 needs the ml_dtypes "
                                "package, a dependency of jitflow (pip install -e .)")

INTS = [D.int8, D.int16, D.uint8, D.uint16]
FLOATS = [D.float16] + ([D.bfloat16] if D.bfloat16 is not None else [])
NARROW = INTS + FLOATS
CUDA_OK = INTS + [D.float16]          # bfloat16 has no cuda lowering (UnsupportedOp)
SETTINGS = settings(max_examples=int(os.environ.get("JF_NARROW_EXAMPLES", 12)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _f32(x):
    return np.asarray(x).astype(np.float32)


def _ordered(x: np.ndarray, dt) -> np.ndarray:
    """16-bit float bits as integers in the order of the values (-0 == +0)."""
    i = np.asarray(x).astype(dt.np).view(np.int16).astype(np.int32)
    return np.where(i < 0, -32768 - i, i)


def assert_same(got, want, dt, ulps: int = 0, what: str = "") -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == np.dtype(dt.np), f"{what}: dtype {got.dtype}, expected {dt.np}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    if dt.is_floating and dt.bits > 16:
        np.testing.assert_array_equal(got, want, err_msg=what)
    elif dt.is_floating:
        gn, wn = np.isnan(_f32(got)), np.isnan(_f32(want))
        assert np.array_equal(gn, wn), f"{what}: NaNs differ: {got} vs {want}"
        d = np.abs(_ordered(got, dt) - _ordered(want, dt))[~gn]
        assert d.size == 0 or d.max() <= ulps, f"{what}: {got} vs {want} ({d.max()} ulps)"
    else:
        assert np.array_equal(got, want), f"{what}: {got} vs {want}"


# ------------------------------------------------------------------ elementwise + reductions --

def _graph(dt, shape):
    a = tf.placeholder(dt, shape, name="a")
    b = tf.placeholder(dt, shape, name="b")
    out = {"add": a + b, "sub": a - b, "mul": a * b, "max": tf.maximum(a, b),
           "min": tf.minimum(a, b), "chain": (a * b + a) * b - a, "greater": tf.greater(a, b),
           "equal": tf.equal(a, b), "sum": tf.reduce_sum(a, axis=-1),
           "rmax": tf.reduce_max(a, axis=-1), "f32": tf.cast(a * b, tf.float32),
           "sq": tf.square(a)}
    if not dt.is_unsigned:
        out["neg"] = -a
        out["abs"] = tf.abs(a)
    if dt.is_floating:
        out["div"] = a / b
        out["sqrt"] = tf.sqrt(tf.abs(a))
        out["tanh"] = tf.tanh(a)
        out["mean"] = tf.reduce_mean(a, axis=-1)
    else:
        out["floordiv"] = tf.floordiv(a, b)
        out["mod"] = tf.mod(a, b)
    return a, b, out


def _oracle(dt, a, b) -> dict:
    """TF's rules in NumPy: integers in int64 wrapped back; floats in float32 rounded back."""
    if dt.is_integer:
        x, y = a.astype(np.int64), b.astype(np.int64)
        w = lambda v: np.asarray(v).astype(dt.np)  # noqa: E731  (C casts wrap around)
        out = {"add": w(x + y), "sub": w(x - y), "mul": w(x * y), "max": w(np.maximum(x, y)),
               "min": w(np.minimum(x, y)), "sum": w(x.sum(-1)), "rmax": w(x.max(-1)),
               "sq": w(x * x), "floordiv": w(np.floor_divide(x, y)), "mod": w(np.mod(x, y))}
        ab = w(x * y)
        out["chain"] = w(w(w(ab.astype(np.int64) + x) * y) - x)
        out["f32"] = ab.astype(np.float32)
        if not dt.is_unsigned:
            out["neg"], out["abs"] = w(-x), w(np.abs(x))
    else:
        x, y = _f32(a), _f32(b)
        r = lambda v: np.asarray(v, np.float32).astype(dt.np)  # noqa: E731
        ab = r(x * y)
        out = {"add": r(x + y), "sub": r(x - y), "mul": ab, "max": r(np.maximum(x, y)),
               "min": r(np.minimum(x, y)), "sum": r(x.sum(-1, dtype=np.float64)),
               "rmax": r(x.max(-1)), "sq": r(x * x), "neg": r(-x), "abs": r(np.abs(x)),
               "div": r(x / y), "sqrt": r(np.sqrt(np.abs(x))), "tanh": r(np.tanh(x)),
               "mean": r(x.mean(-1, dtype=np.float64)), "f32": _f32(ab)}
        out["chain"] = r(_f32(r(_f32(r(_f32(ab) + x)) * y)) - x)
    out["greater"], out["equal"] = a > b, a == b
    return out


#: ops whose float result may differ by one rounding (a sum's order, libm's last bit)
_LOOSE = {"sum": 1, "mean": 1, "tanh": 1}


@st.composite
def operands(draw, dt):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    if dt.is_integer:
        info = np.iinfo(dt.np)
        el = st.integers(int(info.min), int(info.max))
        a = draw(hnp.arrays(dt.np, shape, elements=el))
        b = draw(hnp.arrays(dt.np, shape, elements=el))
        b[b == 0] = 1                     # integer division by zero is an error (tested apart)
    else:
        el = st.floats(-300, 300, width=32)
        a = draw(hnp.arrays(np.float32, shape, elements=el)).astype(dt.np)
        b = draw(hnp.arrays(np.float32, shape, elements=el)).astype(dt.np)
        b[_f32(b) == 0] = 1
    return a, b


def _run(backend, fetches, feed):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


def _check_backend(dt, backend, data, oracle_too: bool):
    a, b = data.draw(operands(dt))
    tf.reset_default_graph()
    pa, pb, out = _graph(dt, a.shape)
    feed = {pa: a, pb: b}
    ref = _run("reference", out, feed)
    if oracle_too:
        want = _oracle(dt, a, b)
        for k, v in ref.items():
            vd = D.as_dtype(np.asarray(v).dtype)
            assert_same(v, want[k], vd, _LOOSE.get(k, 0), f"reference {dt.name} {k}")
    got = _run(backend, out, feed)
    for k, v in got.items():
        vd = D.as_dtype(np.asarray(v).dtype)
        assert_same(v, ref[k], vd, _LOOSE.get(k, 0), f"{backend} {dt.name} {k}")


@pytest.mark.parametrize("dt", NARROW, ids=lambda d: d.name)
@SETTINGS
@given(data=st.data())
def test_reference_follows_tf_rules_and_llvm_matches_it(dt, data):
    _check_backend(dt, "llvm", data, oracle_too=True)


@pytest.mark.parametrize("dt", CUDA_OK, ids=lambda d: d.name)
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cuda_simulator_matches_the_reference(dt, data):
    _check_backend(dt, "cuda", data, oracle_too=False)


def test_integer_wrap_around_and_division_by_zero():
    tf.reset_default_graph()
    a = tf.placeholder(tf.uint8, [3])
    i8 = tf.placeholder(tf.int8, [2])
    outs = [a + tf.constant(10, tf.uint8), a - tf.constant(10, tf.uint8), -i8,
            tf.reduce_sum(a), i8 // tf.constant(-1, tf.int8)]
    feed = {a: np.array([250, 5, 128], np.uint8), i8: np.array([-128, 7], np.int8)}
    for backend in ("reference", "llvm", "cuda"):
        got = _run(backend, outs, feed)
        assert got[0].tolist() == [4, 15, 138] and got[1].tolist() == [240, 251, 118]
        assert got[2].tolist() == [-128, -7] and int(got[3]) == (250 + 5 + 128) % 256
        assert got[4].tolist() == [-128, -7] and got[3].dtype == np.uint8
        with pytest.raises(tf.errors.InvalidArgumentError, match="division by zero"):
            _run(backend, tf.floordiv(a, tf.constant(0, tf.uint8)), feed)


def test_float16_rounds_after_every_op_not_once():
    """(a + b) - a in float16: the sum is rounded first, so a small b is lost, as in TF."""
    tf.reset_default_graph()
    a = tf.placeholder(tf.float16, [2])
    b = tf.placeholder(tf.float16, [2])
    out = (a + b) - a
    feed = {a: np.array([2048, 1], np.float16), b: np.array([1, 2 ** -12], np.float16)}
    for backend in ("reference", "llvm", "cuda"):
        got = _run(backend, out, feed)
        assert got.dtype == np.float16 and got.tolist() == [0.0, 0.0], backend  # f32: [1, 2**-12]


# ------------------------------------------------------------------ rounding of casts --------

_SPECIAL_BITS = np.array([0x3F808000, 0x3F818000, 0x3F808001, 0x7F7FFFFF, 0xFF7FFFFF,
                          0x7F800000, 0x00000001, 0x80000000, 0x477FF000, 0x477FEFFF,
                          0x33000000, 0x33000001, 0x7FC00000, 0x387FC000], np.uint32)


@needs_bf16
@settings(max_examples=6, deadline=None)
@given(bits=hnp.arrays(np.uint32, st.integers(1, 64)))
def test_float32_to_half_and_bfloat16_round_to_nearest_even_on_llvm(bits):
    """Every kind of float32 (halfway cases, subnormals, overflow, NaN) cast on llvm gives
    the bits NumPy (float16) and ml_dtypes (bfloat16) give."""
    x = np.concatenate([_SPECIAL_BITS, bits]).view(np.float32)
    tf.reset_default_graph()
    p = tf.placeholder(tf.float32, [x.size])
    outs = [tf.cast(p, tf.float16), tf.cast(p, tf.bfloat16),
            tf.cast(tf.cast(p, tf.float64), tf.float16)]
    with np.errstate(over="ignore"):
        want = [x.astype(np.float16), x.astype(ml_dtypes.bfloat16),
                x.astype(np.float64).astype(np.float32).astype(np.float16)]
    for backend in ("reference", "llvm"):
        got = _run(backend, outs, {p: x})
        for g, w, dt in zip(got, want, (D.float16, D.bfloat16, D.float16)):
            assert_same(g, w, dt, 0, f"{backend} cast to {dt.name}")
    assert _run("cuda", outs[0], {p: x}).view(np.uint16).tolist() == \
        want[0].view(np.uint16).tolist() or np.isnan(x).any()


ALL_CAST = [D.float32, D.float64, D.int32, D.int64, D.bool_] + NARROW


def _cast_oracle(x: np.ndarray, dst) -> np.ndarray:
    if dst.is_narrow and dst.is_floating:
        return x.astype(np.float32).astype(dst.np)       # through float, as Eigen does
    if dst.is_integer and x.dtype.kind in "fV":
        return np.trunc(x.astype(np.float64)).astype(dst.np)
    return x.astype(dst.np)


@pytest.mark.parametrize("src", ALL_CAST, ids=lambda d: d.name)
def test_casts_between_every_pair(src):
    vals = [0, 1, 2, 7, 100, 127]
    if src.is_floating:
        vals += [0.5, 2.75, 99.9]
    if src.is_integer and not src.is_unsigned:
        vals += [-1, -3, -128]          # a negative integer wraps into an unsigned type
    if src.is_integer and src.bits >= 16:
        vals += [300, 40000 if src.is_unsigned or src.bits > 16 else 30000]
    if src.is_bool:
        vals = [0, 1, 1, 0]
    x = np.array(vals, np.float64).astype(src.np)
    tf.reset_default_graph()
    p = tf.placeholder(src, [len(vals)])
    dsts = [d for d in ALL_CAST if not (src.is_floating and d.is_integer and d.bits <= 16
                                        and max(vals) > np.iinfo(d.np).max)]
    outs = [tf.cast(p, d) for d in dsts]
    want = [_cast_oracle(x, d) for d in dsts]
    for backend in ("reference", "llvm", "cuda"):
        if backend == "cuda" and src.short == "bf16":
            continue
        use = [(o, w, d) for o, w, d in zip(outs, want, dsts)
               if backend != "cuda" or d.short != "bf16"]
        got = _run(backend, [o for o, _, _ in use], {p: x})
        for g, (_, w, d) in zip(got, use):
            assert_same(g, w, d, 0, f"{backend} cast {src.name} -> {d.name}")


# ------------------------------------------------------------------ gradients, training ------

def test_integer_dtypes_are_not_differentiable_and_half_gradients_flow():
    tf.reset_default_graph()
    i = tf.placeholder(tf.int8, [3])
    f = tf.placeholder(tf.float32, [3])
    assert tf.gradients(tf.reduce_sum(tf.cast(i, tf.float32) * f), [i, f])[0] is None
    for dt in FLOATS:
        x = tf.placeholder(dt, [4])
        g, = tf.gradients(tf.reduce_sum(tf.tanh(x) * x), x)
        assert g.dtype is dt
        xv = np.array([0.5, -1, 2, 0.25], np.float32)
        want = np.tanh(xv) + xv * (1 - np.tanh(xv) ** 2)
        for backend in ("reference", "llvm"):
            got = _run(backend, g, {x: xv.astype(dt.np)})
            assert got.dtype == dt.np
            np.testing.assert_allclose(_f32(got), want, rtol=2e-2, atol=2e-2)


def _train(dt, backend, steps=40):
    tf.reset_default_graph()
    rng = np.random.RandomState(0)
    X = rng.randn(64, 4).astype(np.float32)
    Y = (X @ np.array([1.0, -2.0, 0.5, 3.0])[:, None] > 0).astype(np.float32)
    x, y = tf.placeholder(dt, [None, 4]), tf.placeholder(dt, [None, 1])
    h = tf.layers.dense(x, 8, activation=tf.nn.relu,
                        kernel_initializer=tf.random_normal_initializer(0, 0.5, seed=1, dtype=dt))
    logits = tf.layers.dense(h, 1, kernel_initializer=tf.random_normal_initializer(
        0, 0.5, seed=2, dtype=dt))
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits))
    step = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    feed = {x: X.astype(dt.np), y: Y.astype(dt.np)}
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        losses = [s.run(loss, feed)]
        for _ in range(steps):
            s.run(step, feed)
        losses.append(s.run(loss, feed))
        kernels = s.run(tf.trainable_variables())
    return losses, kernels


@pytest.mark.parametrize("dt", FLOATS, ids=lambda d: d.name)
def test_a_small_dense_net_trains_in_half_precision(dt):
    ref, _ = _train(dt, "reference")
    got, kernels = _train(dt, "llvm")
    assert all(k.dtype == dt.np for k in kernels)
    assert type(got[0]) is dt.np.type                       # a NumPy scalar of the dtype
    assert float(got[1]) < 0.5 * float(got[0]), got
    np.testing.assert_allclose([float(v) for v in got], [float(v) for v in ref], rtol=2e-2)


def test_float16_trains_on_the_cuda_simulator():
    got, _ = _train(D.float16, "cuda", steps=15)
    ref, _ = _train(D.float16, "reference", steps=15)
    assert float(got[1]) < float(got[0])
    np.testing.assert_allclose([float(v) for v in got], [float(v) for v in ref], rtol=2e-2)


# ------------------------------------------------------------------ checkpoints, GraphDefs ---

def _values(dt):
    if dt.is_complex:
        return (np.arange(6).reshape(2, 3) + 1j * np.arange(6).reshape(2, 3)[::-1]).astype(dt.np)
    return (np.arange(6).reshape(2, 3) * 1.25 - 2).astype(dt.np) if dt.is_floating else \
        (np.arange(6).reshape(2, 3) * 37 % 120).astype(dt.np)


@pytest.mark.parametrize("dt", NARROW + [D.complex64], ids=lambda d: d.name)
def test_save_restore_and_graph_def_round_trip(dt, tmp_path):
    tf.reset_default_graph()
    init = _values(dt)
    v = tf.Variable(init, name="v")
    x = tf.placeholder(dt, [2, 3], name="x")
    out = tf.identity(x + tf.constant(init), name="out")
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(s, str(tmp_path / "ckpt"))
        s.run(tf.assign(v, tf.zeros_like(v)))
        assert not np.array_equal(s.run(v), init)
        tf.train.Saver().restore(s, path)
        restored = s.run(v)
        want = s.run(out, {x: init})
        gd = s.graph_def
    assert restored.dtype == init.dtype and np.array_equal(restored, init)
    assert tf.train.load_variable(path, "v").dtype == init.dtype
    for as_text in (False, True):
        f = tf.train.write_graph(gd, str(tmp_path), f"g{int(as_text)}.pb", as_text=as_text)
        with tf.Graph().as_default():
            o, = tf.import_graph_def(GD.parse_graph_def(open(f, "rb").read(), f),
                                     return_elements=["out:0"], name="")
            with tf.Session(backend="reference") as s:
                got = s.run(o, {"x:0": init})
        assert got.dtype == want.dtype and np.array_equal(got, want)


# ------------------------------------------------------------------ complex64, refusals ------

def test_complex64_construction_cast_add_mul(capfd):
    tf.reset_default_graph()
    re = tf.placeholder(tf.float32, [3])
    z = tf.complex(re, re * 2.0)
    w = tf.cast(re, tf.complex64)
    outs = [z + w, z * w, tf.real(z * z), tf.imag(z), tf.conj(z), tf.cast(z, tf.float32)]
    rv = np.array([1.0, -2.0, 0.5], np.float32)
    zn = rv + 2j * rv
    want = [zn + rv, zn * rv, (zn * zn).real, zn.imag, np.conj(zn), rv]
    for backend in ("reference", "llvm"):
        got = _run(backend, outs, {re: rv})
        for g, wv in zip(got, want):
            assert g.dtype == (np.complex64 if np.iscomplexobj(wv) else np.float32)
            np.testing.assert_allclose(g, wv, rtol=1e-6)
    assert "complex64" in capfd.readouterr().err      # llvm said it ran on the reference
    with pytest.raises(UnsupportedOp, match="complex64"):
        _run("cuda", outs[0], {re: rv})


@needs_bf16
def test_cuda_refuses_bfloat16_naming_the_ops():
    tf.reset_default_graph()
    x = tf.placeholder(tf.bfloat16, [2])
    with pytest.raises(UnsupportedOp, match=r"on bfloat16 \(node the_sum\)"):
        _run("cuda", tf.add(x, x, name="the_sum"), {x: np.ones(2, ml_dtypes.bfloat16)})


@needs_bf16
def test_dtype_objects_and_fetch_types():
    assert tf.half is tf.float16 and tf.dtypes.uint8 is tf.uint8
    assert tf.uint8.max == 255 and tf.int8.min == -128 and tf.float16.max == 65504
    assert tf.as_dtype(np.uint16) is tf.uint16 and tf.as_dtype("bfloat16") is tf.bfloat16
    assert tf.float16.as_datatype_enum == 19 and tf.bfloat16.as_datatype_enum == 14
    tf.reset_default_graph()
    h = tf.placeholder(tf.float16, [])
    b = tf.placeholder(tf.bfloat16, [2])
    u = tf.placeholder(tf.uint8, [2])
    got = _run("llvm", [h * 2, b + b, u + 1], {h: 1.5, b: [1.5, 2.25], u: [255, 3]})
    assert type(got[0]) is np.float16 and float(got[0]) == 3.0
    assert got[1].dtype == ml_dtypes.bfloat16 and got[1].tolist() == [3.0, 4.5]
    assert got[2].dtype == np.uint8 and got[2].tolist() == [0, 4]


def test_convert_image_dtype_follows_tf1():
    tf.reset_default_graph()
    img = tf.placeholder(tf.uint8, [4])
    f = tf.image.convert_image_dtype(img, tf.float32)
    u16 = tf.image.convert_image_dtype(img, tf.uint16)
    outs = [f, tf.image.convert_image_dtype(f, tf.uint8), u16,
            tf.image.convert_image_dtype(u16, tf.uint8),
            tf.image.convert_image_dtype(tf.constant([-0.5, 0.2, 1.5]), tf.uint8, saturate=True),
            tf.image.convert_image_dtype(img, tf.float16)]
    v = np.array([0, 1, 128, 255], np.uint8)
    for backend in ("reference", "llvm"):
        got = _run(backend, outs, {img: v})
        np.testing.assert_allclose(got[0], v / np.float32(255), rtol=1e-6)
        assert got[1].tolist() == v.tolist() and got[1].dtype == np.uint8
        assert got[2].tolist() == (v.astype(np.int64) * 256).tolist()
        assert got[3].tolist() == v.tolist()
        assert got[4].tolist() == [0, 51, 255]
        assert got[5].dtype == np.float16


def test_variables_of_narrow_types_update_in_place():
    tf.reset_default_graph()
    v = tf.Variable(np.array([250, 5], np.uint8))
    h = tf.Variable(np.array([1.0, 2.0], np.float16))
    ops = [tf.assign_add(v, np.array([10, 1], np.uint8)), tf.assign(h, h * 1.5)]
    for backend in ("reference", "llvm"):
        with tf.Session(backend=backend) as s:
            s.run(tf.global_variables_initializer())
            for _ in range(2):
                s.run(ops)
            got = s.run([v, h])
        assert got[0].tolist() == [14, 7] and got[1].tolist() == [2.25, 4.5]
        assert got[1].dtype == np.float16


def test_promote_narrow_pass_leaves_only_casts_on_narrow_types():
    """After the llvm pipeline the ops that compute see float32/int32 only; casts, constants
    and element movement keep the narrow types."""
    from jitflow.frontend.graph_to_ir import graph_to_ir
    from jitflow.ir.opdef import OPS
    from jitflow.ir.types import TensorType
    from jitflow.passes.manager import PassManager, pipeline_for
    from jitflow.passes.narrow import KEEP_KINDS
    tf.reset_default_graph()
    x = tf.placeholder(tf.float16, [3, 4])
    y = tf.nn.softmax(tf.matmul(x, tf.transpose(x))) + tf.reduce_mean(x)
    fn = graph_to_ir("f", [y], [], [x], [TensorType(D.float16, (3, 4))]).function
    out = PassManager(pipeline_for("llvm")).run(fn)
    computing = [op for op in out.ops
                 if op.opname != "cast" and OPS[op.opname].kind not in KEEP_KINDS]
    assert {op.opname for op in computing} >= {"matmul", "softmax", "reduce_mean", "add"}
    for op in computing:
        assert all(not v.type.dtype.is_narrow for v in (*op.operands, *op.results)), op
    assert out.results[0].type.dtype is D.float16


@pytest.mark.parametrize("n", [2, 3, 4, 8, 17])
def test_floordiv_beside_a_narrow_floormod_is_not_miscompiled(n):
    """LLVM 22.1's SLP vectorizer (AVX-512 masks) miscompiled floordiv's rounding, written
    with sign(x xor y), when a floormod stored as int8 sat beside it: element 1 of
    [-1, -1] // [2, 2] came out 0 (backends/llvm/elementwise.py now tests the remainder's
    sign)."""
    tf.reset_default_graph()
    a = tf.placeholder(tf.int32, [n])
    b = tf.placeholder(tf.int32, [n])
    x, y = tf.cast(tf.cast(a, tf.int64), tf.int32), tf.cast(tf.cast(b, tf.int64), tf.int32)
    outs = [x + y, -x, tf.cast(tf.floordiv(x, y), tf.float32), tf.cast(tf.mod(x, y), tf.int8)]
    av = np.resize(np.array([-1, 7, -7, 5, -128], np.int32), n)
    bv = np.resize(np.array([2, -2, 3, -3, 5], np.int32), n)
    got = _run("llvm", outs, {a: av, b: bv})
    np.testing.assert_array_equal(got[2], np.floor_divide(av, bv).astype(np.float32))
    np.testing.assert_array_equal(got[3], np.mod(av, bv).astype(np.int8))
