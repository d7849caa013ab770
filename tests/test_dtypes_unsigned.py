"""uint32, uint64 and complex128. The unsigned types against a NumPy oracle (wrapping
arithmetic, truncating division, unsigned comparisons) over random arrays that reach 2**31 and
2**63, where a signed instruction goes wrong; llvm and the cuda simulator against the
reference; casts between every pair (float -> unsigned as x86's static_cast: through int64);
feeds, traced functions, checkpoints, GraphDefs and the IR text; complex128 from float64 parts."""
from __future__ import annotations

import _cuda_util  # noqa: F401  (selects Numba's CUDA simulator before numba.cuda loads)

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jitflow
import jitflow.compat.v1 as tf
from jitflow.frontend import graph_def as GD
from jitflow.ir import dtypes as D
from jitflow.kernels.errors import UnsupportedOp

UNSIGNED = [D.uint32, D.uint64]
SETTINGS = settings(max_examples=int(os.environ.get("JF_UNSIGNED_EXAMPLES", 10)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _run(backend, fetches, feed):
    with tf.Session(backend=backend) as s:
        return s.run(fetches, feed)


def _same(got, want, what: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    assert np.array_equal(got, want, equal_nan=got.dtype.kind in "fc"), \
        f"{what}: {got.tolist()} vs {want.tolist()}"


# ------------------------------------------------------------------ elementwise + reductions --

def _graph(dt, shape):
    a = tf.placeholder(dt, shape, name="a")
    b = tf.placeholder(dt, shape, name="b")
    out = {"add": a + b, "sub": a - b, "mul": a * b, "floordiv": tf.floordiv(a, b),
           "div": tf.div(a, b), "mod": tf.mod(a, b), "max": tf.maximum(a, b),
           "min": tf.minimum(a, b), "less": tf.less(a, b), "less_equal": tf.less_equal(a, b),
           "greater": tf.greater(a, b), "greater_equal": tf.greater_equal(a, b),
           "equal": tf.equal(a, b), "sum": tf.reduce_sum(a, axis=-1),
           "rmax": tf.reduce_max(a, axis=-1), "rmin": tf.reduce_min(a, axis=0),
           "abs": tf.abs(a), "sign": tf.sign(a), "sq": tf.square(a), "relu": tf.nn.relu(a),
           "f32": tf.cast(a, tf.float32), "f64": tf.cast(a, tf.float64),
           "i64": tf.cast(a, tf.int64), "i32": tf.cast(b, tf.int32), "u8": tf.cast(a, tf.uint8),
           "chain": (a * b + a) // tf.maximum(b, tf.ones_like(b)) - a}
    return a, b, out


def _oracle(dt, a, b) -> dict:
    """TF's rules in NumPy: uint32/uint64 arithmetic wraps around, division truncates."""
    x = a.astype(dt.np)
    y = b.astype(dt.np)
    with np.errstate(over="ignore"):
        out = {"add": x + y, "sub": x - y, "mul": x * y, "floordiv": x // y, "div": x // y,
               "mod": x % y, "max": np.maximum(x, y), "min": np.minimum(x, y),
               "less": x < y, "less_equal": x <= y, "greater": x > y, "greater_equal": x >= y,
               "equal": x == y, "sum": x.sum(-1, dtype=dt.np), "rmax": x.max(-1),
               "rmin": x.min(0), "abs": x, "sign": (x != 0).astype(dt.np), "sq": x * x,
               "relu": x, "f32": x.astype(np.float32), "f64": x.astype(np.float64),
               "i64": x.astype(np.int64), "i32": y.astype(np.int32), "u8": x.astype(np.uint8)}
        out["chain"] = (x * y + x) // np.maximum(y, dt.np.type(1)) - x
    return out


@st.composite
def operands(draw, dt):
    """Arrays over the whole range, half of the elements at or above 2**(bits-1)."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    top = (1 << dt.bits) - 1
    el = st.one_of(st.integers(0, 1000), st.integers(1 << (dt.bits - 1), top),
                   st.integers(0, top))
    a = draw(hnp.arrays(dt.np, shape, elements=el))
    b = draw(hnp.arrays(dt.np, shape, elements=el))
    b[b == 0] = 3                     # integer division by zero is an error (tested apart)
    return a, b


def _check_backend(dt, backend, data, oracle_too: bool):
    a, b = data.draw(operands(dt))
    tf.reset_default_graph()
    pa, pb, out = _graph(dt, a.shape)
    feed = {pa: a, pb: b}
    ref = _run("reference", out, feed)
    if oracle_too:
        want = _oracle(dt, a, b)
        for k, v in ref.items():
            _same(v, want[k], f"reference {dt.name} {k}")
    got = _run(backend, out, feed)
    for k, v in got.items():
        _same(v, ref[k], f"{backend} {dt.name} {k}")


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.name)
@SETTINGS
@given(data=st.data())
def test_reference_follows_numpy_and_llvm_matches_it(dt, data):
    _check_backend(dt, "llvm", data, oracle_too=True)


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.name)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cuda_simulator_matches_the_reference(dt, data):
    _check_backend(dt, "cuda", data, oracle_too=False)


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.name)
def test_the_top_bit_is_a_value_not_a_sign(dt):
    """2**(bits-1) and the all-ones value compare, divide and reduce as large numbers."""
    tf.reset_default_graph()
    big, top = 1 << (dt.bits - 1), (1 << dt.bits) - 1
    a = tf.placeholder(dt, [4])
    b = tf.placeholder(dt, [4])
    e = tf.placeholder(dt, [2])
    outs = [a < b, a // b, a % b, tf.maximum(a, b), tf.reduce_min(a), tf.reduce_max(b),
            tf.reduce_mean(a), tf.pow(tf.constant([1, 3], dt), e), tf.reciprocal(a)]
    av = np.array([big, top, 1, 1], dt.np)
    bv = np.array([1, 2, big, top], dt.np)
    ev = np.array([big + 1, big + 2], dt.np)
    mean = dt.np.type(sum(int(v) for v in av) % (1 << dt.bits) // 4)
    with np.errstate(over="ignore"):
        want = [av < bv, av // bv, av % bv, np.maximum(av, bv), av.min(), bv.max(), mean,
                np.power(np.array([1, 3], dt.np), ev), (av == 1).astype(dt.np)]
    for backend in ("reference", "llvm", "cuda"):
        got = _run(backend, outs, {a: av, b: bv, e: ev})
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{backend} {dt.name} output {i}")


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.name)
def test_library_kernels_compare_unsigned(dt):
    """argmax/argmin, top_k and one_hot (llvm's library kernels) see 2**(bits-1) as large."""
    tf.reset_default_graph()
    big = 1 << (dt.bits - 1)
    x = tf.placeholder(dt, [3, 4])
    xv = np.array([[1, big, 3, 2], [big + 5, 0, big, 7], [4, 4, big - 1, 9]], dt.np)
    outs = [tf.argmax(x, 1), tf.argmin(x, 1), tf.argmax(x, 0), tf.nn.top_k(x, 2)[0],
            tf.one_hot(tf.constant([1, 0], dt), 3)]
    want = [np.argmax(xv, 1), np.argmin(xv, 1), np.argmax(xv, 0), np.sort(xv, 1)[:, ::-1][:, :2], np.eye(3, dtype=np.float32)[[1, 0]]]
    for backend in ("reference", "llvm", "cuda"):
        got = _run(backend, outs, {x: xv})
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{backend} {dt.name} output {i}")


@pytest.mark.parametrize("dt", UNSIGNED, ids=lambda d: d.name)
def test_division_by_zero_is_an_error(dt):
    tf.reset_default_graph()
    a = tf.placeholder(dt, [2])
    b = tf.placeholder(dt, [2])
    feed = {a: np.array([5, 1 << (dt.bits - 1)], dt.np), b: np.array([1, 0], dt.np)}
    for backend in ("reference", "llvm", "cuda"):
        for out in (tf.floordiv(a, b), tf.mod(a, b)):
            with pytest.raises(tf.errors.InvalidArgumentError, match="division by zero"):
                _run(backend, out, feed)


# ------------------------------------------------------------------ casts --------------------

CASTABLE = [d for d in D.ALL if not d.is_complex]


def _float_to_unsigned(v: float, bits: int) -> int:
    """x86's static_cast<uint32/uint64>(double), element by element: truncated; uint64 takes
    [2**63, 2**64) exactly; otherwise through int64 (NaN and out of range: INT64_MIN), wrapped."""
    if math.isnan(v):
        t = -(1 << 63)
    else:
        t = math.trunc(v) if math.isfinite(v) else -(1 << 63)
        if bits == 64 and (1 << 63) <= t < (1 << 64):
            return t
        if not -(1 << 63) <= t < (1 << 63):
            t = -(1 << 63)
    return t % (1 << bits)


def _cast_want(x: np.ndarray, src, dst) -> np.ndarray:
    if dst.is_unsigned and dst.bits >= 32 and src.is_floating:
        return np.array([_float_to_unsigned(float(v), dst.bits) for v in x.astype(np.float64)],
                        dst.np)
    if dst.is_narrow and dst.is_floating:
        return x.astype(np.float32).astype(dst.np)
    if dst.is_integer and src.is_floating:
        return np.trunc(x.astype(np.float64)).astype(dst.np)
    return x.astype(dst.np)


def _source_values(src) -> np.ndarray:
    if src.is_bool:
        return np.array([0, 1, 1, 0], bool)
    if src.is_floating:
        vals = [0, 1, 2.75, 100.5, 127, -1, -3.5]
        if src.bits >= 32:
            vals += [3e9, 5e9, -2e10, float("nan"), float("inf")]
        if src.bits == 64:
            vals += [1.5e19, 9.3e18, -9.5e18, 2e19]
        return np.array(vals, np.float64).astype(src.np)
    info = np.iinfo(src.np)
    vals = [0, 1, 7, 127, int(info.max), int(info.max) - 1, int(info.min)]
    if src.is_unsigned:
        vals.append(1 << (src.bits - 1))
    else:
        vals += [-1, -3]
    return np.array(vals, src.np)


@pytest.mark.parametrize("src", CASTABLE, ids=lambda d: d.name)
def test_casts_to_and_from_the_unsigned_types(src):
    """Every cast with uint32 or uint64 on one side; float sources include negatives, NaN,
    infinities and values beyond 2**32 and 2**63."""
    x = _source_values(src)
    tf.reset_default_graph()
    p = tf.placeholder(src, [x.size])
    dsts = CASTABLE if src in UNSIGNED else UNSIGNED
    pairs = [(d, tf.cast(p, d)) for d in dsts]
    with np.errstate(over="ignore", invalid="ignore"):
        want = [_cast_want(x, src, d) for d, _ in pairs]
    backends = ("reference", "llvm") + (() if src.short == "bf16" else ("cuda",))
    for backend in backends:
        use = [(o, w, d) for (d, o), w in zip(pairs, want) if backend != "cuda" or d.short != "bf16"]
        got = _run(backend, [o for o, _, _ in use], {p: x})
        for g, (_, w, d) in zip(got, use):
            _same(g, w, f"{backend} cast {src.name} -> {d.name}")


# ------------------------------------------------------------------ feeds, traces, storage ---

def test_feeds_fetches_variables_and_traced_functions():
    tf.reset_default_graph()
    u = tf.placeholder(tf.uint64, [2])
    w = tf.placeholder(tf.uint32, [])
    v = tf.Variable(np.array([2 ** 32 - 1, 7], np.uint32))
    step = tf.assign_add(v, np.array([1, 2 ** 31], np.uint32))
    outs = [u + 1, w * 2, tf.constant(2 ** 64 - 1, tf.uint64) - u]
    for backend in ("reference", "llvm"):
        with tf.Session(backend=backend) as s:
            s.run(tf.global_variables_initializer())
            got = s.run(outs, {u: [2 ** 64 - 1, 2 ** 63], w: 2 ** 31 + 3})
            s.run(step)
            vv = s.run(v)
        assert got[0].dtype == np.uint64 and got[0].tolist() == [0, 2 ** 63 + 1]
        assert type(got[1]) is np.uint32 and int(got[1]) == 6
        assert got[2].tolist() == [0, 2 ** 63 - 1]
        assert vv.dtype == np.uint32 and vv.tolist() == [0, 2 ** 31 + 7]

    @jitflow.function
    def f(x, y):
        return tf.maximum(x, y), tf.reduce_sum(x), x > y

    x = np.array([2 ** 63, 3, 2 ** 64 - 1], np.uint64)
    y = np.array([2 ** 63 - 1, 4, 0], np.uint64)
    mx, sm, gt = f(x, y)
    _same(mx, np.maximum(x, y), "traced maximum")
    _same(sm, x.sum(dtype=np.uint64), "traced sum")
    _same(gt, x > y, "traced greater")


def test_datasets_and_decode_raw_keep_uint32():
    """tf.data components and decode_raw of uint32 are uint32 (once widened to int64)."""
    tf.reset_default_graph()
    vals = np.array([1, 2 ** 31 + 5, 2 ** 32 - 1], np.uint32)
    nxt = tf.data.Dataset.from_tensor_slices(vals).make_one_shot_iterator().get_next()
    raw = tf.decode_raw(tf.constant(vals.tobytes()), tf.uint32)
    assert nxt.dtype is tf.uint32 and raw.dtype is tf.uint32
    with tf.Session() as s:
        got = [s.run(nxt) for _ in range(3)]
        r = s.run(raw)
    assert [type(g) for g in got] == [np.uint32] * 3 and [int(g) for g in got] == vals.tolist()
    _same(r, vals, "decode_raw")


def _values(dt):
    if dt.is_complex:
        return (np.arange(6).reshape(2, 3) + 1j * np.arange(6).reshape(2, 3)[::-1] / 3
                ).astype(dt.np)
    return np.array([[0, 1, 1 << (dt.bits - 1)], [(1 << dt.bits) - 1, 12345, 7]], dt.np)


@pytest.mark.parametrize("dt", [D.uint32, D.uint64, D.complex128], ids=lambda d: d.name)
def test_save_restore_graph_def_and_ir_text_round_trip(dt, tmp_path):
    from jitflow.ir import parse
    from jitflow.ir.printer import print_function
    tf.reset_default_graph()
    init = _values(dt)
    v = tf.Variable(init, name="v")
    x = tf.placeholder(dt, [2, 3], name="x")
    out = tf.identity(x + tf.constant(init), name="out")
    with tf.Session(backend="reference") as s:
        s.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(s, str(tmp_path / "ckpt"))
        s.run(tf.assign(v, tf.zeros_like(v)))
        tf.train.Saver().restore(s, path)
        restored = s.run(v)
        want = s.run(out, {x: init})
        gd = s.graph_def
    _same(restored, init, "restored")
    _same(tf.train.load_variable(path, "v"), init, "load_variable")
    for as_text in (False, True):
        f = tf.train.write_graph(gd, str(tmp_path), f"g{int(as_text)}.pb", as_text=as_text)
        with tf.Graph().as_default():
            o, = tf.import_graph_def(GD.parse_graph_def(open(f, "rb").read(), f),
                                     return_elements=["out:0"], name="")
            with tf.Session(backend="reference") as s:
                got = s.run(o, {"x:0": init})
        _same(got, want, f"GraphDef as_text={as_text}")
    fn = jitflow.make_ir(lambda a: a * tf.constant(init))(init)
    text = print_function(fn)
    assert dt.short in text
    assert print_function(parse(text)) == text


# ------------------------------------------------------------------ complex128 ---------------

def test_complex128_from_float64_parts(capfd):
    tf.reset_default_graph()
    re = tf.placeholder(tf.float64, [3])
    zc = tf.placeholder(tf.complex128, [3])
    z = tf.complex(re, re * 2.0)
    w = tf.cast(re, tf.complex128)
    outs = [z + w, z * w, z - zc, -z, tf.real(z * zc), tf.imag(z), tf.conj(zc),
            tf.cast(z, tf.float64), tf.cast(zc, tf.complex64), tf.equal(zc, w)]
    assert z.dtype is tf.complex128 and tf.real(z).dtype is tf.float64
    assert tf.complex(tf.ones([2]), tf.ones([2])).dtype is tf.complex64
    assert tf.constant(1 + 2j).dtype is tf.complex128 and tf.as_dtype(complex) is tf.complex128
    rv = np.array([1.0, -2.0, 1 / 3])
    zv = np.array([1 + 1j, -2.0, 1e-200j])
    zn = rv + 2j * rv
    want = [zn + rv, zn * rv, zn - zv, -zn, (zn * zv).real, zn.imag, np.conj(zv), rv,
            zv.astype(np.complex64), zv == rv]
    for backend in ("reference", "llvm"):
        got = _run(backend, outs, {re: rv, zc: zv})
        for i, (g, wv) in enumerate(zip(got, want)):
            _same(g, np.asarray(wv), f"{backend} complex128 output {i}")
    assert "complex128" in capfd.readouterr().err      # llvm said it ran on the reference
    with pytest.raises(UnsupportedOp, match="complex128"):
        _run("cuda", outs[0], {re: rv, zc: zv})


def test_unsupported_combinations_say_what_was_given():
    tf.reset_default_graph()
    with pytest.raises(TypeError, match="float64 parts.*got int32"):
        tf.complex(tf.constant([1]), tf.constant([2]))
    with pytest.raises(TypeError, match="float32.*float64"):
        tf.complex(tf.ones([2]), tf.ones([2], tf.float64))
    with pytest.raises(TypeError, match="uint32"):
        tf.placeholder(tf.uint32, [2]) + tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError, match="floating"):
        tf.sqrt(tf.placeholder(tf.uint64, [2]))


def test_dtype_objects():
    assert tf.uint32.max == 2 ** 32 - 1 and tf.uint64.max == 2 ** 64 - 1 and tf.uint64.min == 0
    assert tf.uint32.as_datatype_enum == 22 and tf.uint64.as_datatype_enum == 23
    assert tf.complex128.as_datatype_enum == 18 and tf.complex128.real_dtype is tf.float64
    assert tf.as_dtype(np.uint64) is tf.uint64 and tf.as_dtype("uint32") is tf.uint32
    assert tf.dtypes.uint32 is tf.uint32 and tf.dtypes.complex128 is tf.complex128
    assert tf.uint32.is_unsigned and tf.uint64.is_integer and not tf.uint64.is_narrow
    assert D.from_tf_enum(23) is tf.uint64 and D.from_tf_enum(18) is tf.complex128
