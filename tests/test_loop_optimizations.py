"""What the compiler does to loops, beyond running them: loop-invariant code motion
(passes/loops.py), the while gradient's saved contractions and its weight gradient as one
GEMM after the reverse loop (ops/control_grad.py), and the llvm host driver's planned trip
buffers (backends/loopbuffers.py). Each checked on the IR it produces and on values: llvm ==
reference == finite differences, including zero trips and trip counts past the buffers'
first capacity."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jitflow.backends import loopbuffers
from jitflow.ir import Builder, Function, TensorType, float64, int32
from jitflow.ir.builder import build_region
from jitflow.runtime.compile import compile_function
from test_control_flow_ir import SETTINGS, finite_diff, run

B, K = 2, 3
H = TensorType(float64, (B, K))
W = TensorType(float64, (K, K))
I = TensorType(int32, ())


def rnn_program(with_grad: bool, transpose_w: bool = False, max_iter: int = -1) -> Function:
    """for i < n: h = tanh(h @ W (or W^T) + u @ V); loss = sum(h^2); [d/dh0, d/dW, d/dV].
    W, u, V are loop invariants (what a TF1 body captures); ``u @ V`` reads invariants only
    (LICM's target)."""
    f = Function()
    h0, w, u, v, n = (f.add_param(H, "h0"), f.add_param(W, "w"), f.add_param(H, "u"),
                      f.add_param(W, "v"), f.add_param(I, "n"))
    b = Builder(f.ops)
    tys = [I, H, W, H, W, I]
    cond = build_region("cond", tys, lambda b, i, h, w, u, v, n: b.less(i, n))

    def body(b, i, h, w, u, v, n):
        hw = b.matmul(h, w, transpose_a=False, transpose_b=transpose_w)
        nh = b.tanh(b.add(hw, b.matmul(u, v, transpose_a=False, transpose_b=False)))
        return [b.add(i, b.const(1, int32)), nh]
    res = b.op("while", b.const(0, int32), h0, w, u, v, n, num_carried=2,
               maximum_iterations=max_iter, regions=[cond, build_region("body", tys, body)])
    loss = b.reduce_sum(b.mul(res[1], res[1]), axes=None)
    f.set_results([loss] + (list(b.op("gradients", loss, h0, w, v, num_ys=1, num_xs=3))
                            if with_grad else []))
    return f


def invariant_program(transpose_w: bool) -> Function:
    """The same loop with W and V as invariants (not carried): what LICM can move."""
    f = Function()
    h0, w, u, v, n = (f.add_param(H, "h0"), f.add_param(W, "w"), f.add_param(H, "u"),
                      f.add_param(W, "v"), f.add_param(I, "n"))
    b = Builder(f.ops)
    tys = [I, H, W, H, W, I]
    cond = build_region("cond", tys, lambda b, i, h, w, u, v, n: b.less(i, n))

    def body(b, i, h, w, u, v, n):
        hw = b.matmul(h, w, transpose_a=False, transpose_b=transpose_w)
        uv = b.matmul(u, b.mul(v, b.const(2.0, float64)), transpose_a=False,
                      transpose_b=False)
        return [b.add(i, b.const(1, int32)), b.tanh(b.add(hw, uv))]
    res = b.op("while", b.const(0, int32), h0, w, u, v, n, num_carried=2,
               regions=[cond, build_region("body", tys, body)])
    loss = b.reduce_sum(b.mul(res[1], res[1]), axes=None)
    f.set_results([loss] + list(b.op("gradients", loss, h0, w, v, num_ys=1, num_xs=3)))
    return f


def args_for(seed: int, n: int):
    r = np.random.RandomState(seed)
    return [r.uniform(-1, 1, (B, K)), r.uniform(-.8, .8, (K, K)), r.uniform(-1, 1, (B, K)),
            r.uniform(-.8, .8, (K, K)), np.int32(n)]


def loops_of(f: Function) -> list:
    return [op for op in f.ops if op.opname == "while"]


# ---------------------------------------------------------------------------- LICM -------

@pytest.mark.parametrize("transpose_w", [False, True])
def test_invariant_work_moves_before_the_loop(transpose_w):
    f = compile_function(invariant_program(transpose_w), "reference").function
    for loop in loops_of(f):
        body = loop.regions[1]
        names = [op.opname for op in body.ops]
        # u @ (2 v) reads invariants only: never inside a loop (forward, recording, reverse)
        for op in body.ops:
            if op.opname == "matmul":
                assert not all(v in body.params[loop.attrs["num_carried"]:]
                               for v in op.operands), f"invariant matmul left in {names}"
        # a transposed invariant weight is transposed once, before the loop
        assert not any(op.opname == "matmul" and op.attrs["transpose_b"]
                       and op.operands[1] in body.params for op in body.ops)
    before = [op.opname for op in f.ops[:f.ops.index(loops_of(f)[0])]]
    assert "matmul" in before and "mul" in before
    if transpose_w:
        assert "transpose" in before


@SETTINGS
@given(st.booleans(), st.integers(0, 6), st.integers(0, 2 ** 31 - 1))
def test_hoisted_loops_compute_the_same_values(transpose_w, n, seed):
    args = args_for(seed, n)
    want = finite_diff(Function.clone(invariant_program(transpose_w)), args, [0, 1, 3])
    got = run(invariant_program(transpose_w), args)
    for g, e in zip(got[1:], want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    native = compile_function(invariant_program(transpose_w), "llvm").executable.run(args)
    for a, e in zip(native, got):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


# ------------------------------------------------- saved GEMMs, the weight-gradient GEMM ---

def test_the_reverse_loop_reads_saved_products_and_sums_the_weight_gradient_once():
    f = compile_function(rnn_program(True), "reference").function
    fwd, back = loops_of(f)
    assert fwd.attrs["record"] and not back.attrs["record"]
    # the recording loop stacks h @ W beside its own results (u @ V is invariant: hoisted)
    assert fwd.attrs["num_stacked"] == 1
    mm = [op for op in back.regions[1].ops if op.opname == "matmul"]
    # per reverse trip: dh @ W^T and du's g @ V^T, both untransposed by LICM; no recomputed
    # forward product, no per-trip dW or dV
    assert len(mm) == 2 and not any(op.attrs["transpose_a"] or op.attrs["transpose_b"]
                                    for op in mm)
    carried = back.operands[:back.attrs["num_carried"]]
    # k, dh and u's accumulator (u @ V's cotangent in u is g @ V^T: no A^T B form)
    assert [str(v.type) for v in carried] == ["i32[]", "f64[2,3]", "f64[2,3]"]
    after = f.ops[f.ops.index(back) + 1:]
    sums = [op for op in after if op.opname == "matmul" and op.attrs["transpose_a"]]
    assert len(sums) == 2          # dW and dV: one GEMM each over all trips' rows


@SETTINGS
@given(st.booleans(), st.integers(0, 7), st.integers(-1, 5), st.integers(0, 2 ** 31 - 1))
def test_loop_gradients_match_finite_differences(transpose_w, n, max_iter, seed):
    args = args_for(seed, n)
    got = run(rnn_program(True, transpose_w, max_iter), args)
    want = finite_diff(rnn_program(False, transpose_w, max_iter), args, [0, 1, 3])
    for g, e in zip(got[1:], want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    native = compile_function(rnn_program(True, transpose_w, max_iter),
                              "llvm").executable.run(args)
    for a, e in zip(native, got):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ planned buffers ------

def test_llvm_trips_write_into_planned_buffers(monkeypatch):
    """Every loop of the gradient program runs on the buffered path (no fallback), grows
    its buffers past the first capacity (40 trips > 16) and gives the reference's values."""
    calls = {"fast": 0, "fallback": 0}
    orig = loopbuffers.buffered_while

    def counting(*a, **k):
        out = orig(*a, **k)
        calls["fast" if out is not None else "fallback"] += 1
        return out
    monkeypatch.setattr("jitflow.backends.hostloop.buffered_while", counting)
    exe = compile_function(rnn_program(True), "llvm").executable
    for n in (1, 2, 40):
        args = args_for(n, n)
        got = exe.run(args)
        for a, e in zip(got, run(rnn_program(True), args)):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)
    assert calls == {"fast": 6, "fallback": 0}
    exe.run(args_for(0, 0))                       # no trip: the generic path shapes the stacks
    assert calls["fallback"] == 2


def test_a_loop_whose_carried_shape_changes_takes_the_generic_path():
    """while i < n: x = concat(x, x[:1]) (shape [?] grows): llvm == reference."""
    V = TensorType(float64, (None,))
    f = Function()
    x, n = f.add_param(TensorType(float64, (2,)), "x"), f.add_param(I, "n")
    b = Builder(f.ops)
    tys = [I, V, I]
    cond = build_region("cond", tys, lambda b, i, x, n: b.less(i, n))
    body = build_region("body", tys, lambda b, i, x, n: [
        b.add(i, b.const(1, int32)), b.op("concat", x, b.mul(x, b.const(0.5, float64)),
                                          axis=0), n])
    res = b.op("while", b.const(0, int32), x, n, num_carried=3, regions=[cond, body])
    f.set_results([res[1]])
    args = [np.array([1.0, 2.0]), np.int32(3)]
    want = run(f.clone(), args)[0]
    assert want.shape == (16,)
    np.testing.assert_array_equal(compile_function(f, "llvm").executable.run(args)[0], want)


def test_trips_run_from_python_where_the_step_has_no_native_driver(monkeypatch):
    """The same buffers driven one ``run_into`` call per trip (a backend without
    ``run_trips``) give the same values, growth included."""
    from jitflow.backends.llvm.executable import LLVMExecutable
    exe = compile_function(rnn_program(True), "llvm").executable
    want = [exe.run(args_for(n, n)) for n in (3, 40)]
    monkeypatch.delattr(LLVMExecutable, "run_trips")
    for n, w in zip((3, 40), want):
        for a, e in zip(exe.run(args_for(n, n)), w):
            np.testing.assert_array_equal(a, e)


def test_a_failing_trip_raises_the_reference_message():
    """while i < n: x += m[i]: a row past the end of m fails in native code at that trip; the
    error is the one a Python run of that trip gives (the row index and the bound)."""
    from jitflow.errors import InvalidArgumentError
    M = TensorType(float64, (4, 3))
    F3 = TensorType(float64, (3,))
    f = Function()
    x, m, n = f.add_param(F3, "x"), f.add_param(M, "m"), f.add_param(I, "n")
    b = Builder(f.ops)
    tys = [I, F3, M, I]
    cond = build_region("cond", tys, lambda b, i, x, m, n: b.less(i, n))
    body = build_region("body", tys, lambda b, i, x, m, n: [
        b.add(i, b.const(1, int32)), b.add(x, b.gather(m, i, axis=0))])
    res = b.op("while", b.const(0, int32), x, m, n, num_carried=2, regions=[cond, body])
    f.set_results([res[1]])
    exe = compile_function(f, "llvm").executable
    args = [np.zeros(3), np.arange(12.0).reshape(4, 3), np.int32(4)]
    np.testing.assert_array_equal(exe.run(args)[0], [18.0, 22.0, 26.0])
    with pytest.raises(InvalidArgumentError) as native:
        exe.run(args[:2] + [np.int32(6)])
    with pytest.raises(InvalidArgumentError) as ref:
        run(f.clone(), args[:2] + [np.int32(6)])
    first = str(native.value).splitlines()[0]
    assert first == str(ref.value).splitlines()[0]           # the op's message, same values
    assert "= 4" in first and "[0, 4)" in first


def test_a_tiny_loop_runs_its_trips_in_native_code(monkeypatch):
    """10,000 trips of a scalar update are one call of the native driver: the step's
    Python entry points are not called per trip."""
    from jitflow.backends.llvm.executable import LLVMExecutable
    S = TensorType(float64, ())
    f = Function()
    x, n = f.add_param(S, "x"), f.add_param(I, "n")
    b = Builder(f.ops)
    tys = [I, S, I]
    cond = build_region("cond", tys, lambda b, i, x, n: b.less(i, n))
    body = build_region("body", tys, lambda b, i, x, n: [
        b.add(i, b.const(1, int32)), b.add(b.mul(x, b.const(0.999, float64)),
                                           b.const(1.0, float64))])
    res = b.op("while", b.const(0, int32), x, n, num_carried=2, regions=[cond, body])
    f.set_results([res[1]])
    exe = compile_function(f, "llvm").executable
    calls = []
    for name in ("run", "run_into"):
        orig = getattr(LLVMExecutable, name)
        monkeypatch.setattr(LLVMExecutable, name,
                            lambda self, *a, _o=orig, _n=name: calls.append(_n) or _o(self, *a))
    got = exe.run([np.float64(1.0), np.int32(10000)])[0]
    want = 1.0
    for _ in range(10000):
        want = want * 0.999 + 1.0
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert calls.count("run_into") == 0 and calls.count("run") <= 3   # cond, segments


def test_a_training_step_with_a_loop_updates_variables_in_place():
    """The last segment of a host-driven step (the updates, after the loops) donates the
    variables' buffers as a straight-line step does; values equal the reference's, also
    when the variable is fetched beside the update (then it is not donated)."""
    import jitflow.compat.v1 as tf
    from jitflow.backends.hostloop import HostDriven
    finals = {}
    for backend in ("llvm", "reference"):
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [None, 5, 3])
            cell = tf.nn.rnn_cell.BasicRNNCell(4)
            out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
            loss = tf.reduce_mean(tf.square(out - 0.5))
            train = tf.train.AdamOptimizer(0.05).minimize(loss)
            kernel = [v for v in tf.global_variables() if "kernel" in v.name][0]
            with tf.Session(backend=backend) as s:
                s.run(tf.global_variables_initializer())
                s.run(kernel.assign(np.linspace(-1, 1, 28).reshape(7, 4).astype(np.float32)))
                xs = np.linspace(-1, 1, 30).reshape(2, 5, 3).astype(np.float32)
                for _ in range(3):
                    s.run(train, {x: xs})
                before, _ = s.run([kernel, train], {x: xs})
                finals[backend] = (before, s.run([kernel, loss], {x: xs}))
                if backend == "llvm":
                    exes = [c.executable for c in s._cache.values()
                            if isinstance(getattr(c, "executable", None), HostDriven)]
                    assert exes and any(getattr(e.parts[-1], "donated", None) for e in exes)
    np.testing.assert_allclose(finals["llvm"][0], finals["reference"][0], rtol=1e-5)
    for a, b in zip(finals["llvm"][1], finals["reference"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_rows_read_at_the_loop_counter_are_passed_in_place():
    """A step's gather of an invariant's row at a counter (x[t] of an RNN, a reverse loop's
    stacks at k) becomes a parameter the driver points at the row: no gather left in the
    step, values equal the reference's forward and reverse, a row past the end is the
    gather's error."""
    from jitflow.backends.hostloop import HostDriven, _While
    from jitflow.errors import InvalidArgumentError
    from test_control_flow_llvm import rows_program
    exe = compile_function(rows_program(True), "llvm").executable
    assert isinstance(exe, HostDriven)
    loops = [s[0] for s in exe.steps if isinstance(s[0], _While)]
    assert loops and all(w.rows for w in loops)
    assert {d for w in loops for _, _, d in w.rows} == {1, -1}      # forward and reverse
    assert not any(op.opname == "gather" and op.operands[1] is w.step.function.params[0]
                   for w in loops for op in w.step.function.ops)
    # the reverse body's M[i] is M's row at its own counter k (the forward i counts trips
    # from 0: control_grad._counts_trips), not at i read from a stack: no gather is left
    assert not any(op.opname == "gather" for w in loops for op in w.step.function.ops)
    x, m = np.array([0.3, -0.2, 0.5]), np.random.RandomState(0).uniform(-1, 1, (5, 3))
    for n in (0, 1, 5):
        args = [x, m, np.int32(n)]
        for a, e in zip(exe.run(args), run(rows_program(True), args)):
            np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)
    with pytest.raises(InvalidArgumentError, match=r"\[0, 5\)"):
        exe.run([x, m, np.int32(6)])
