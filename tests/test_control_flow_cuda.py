"""Control flow on the cuda backend (jitflow/backends/cuda/control.py), under Numba's CUDA
simulator: a host loop over device kernels. cuda == reference on cond, while, nested loops, a
cond inside a loop, per-trip stacks and their gradients (IR programs of
tests/test_control_flow_ir.py, float64); values stay on the device between trips (counted
host copies: one predicate read per trip and loop, no upload per trip); deferred status words
still give a failing trip's own error; a region op cuda has no kernel for runs on the host
between cuda segments; each region is compiled once. Then TF1 programs in a cuda Session:
tf.while_loop training, tf.cond, map_fn/scan, dynamic_rnn training steps (BasicRNNCell,
LSTMCell) == the reference Session (rtol 1e-5). Tiny shapes: the simulator is slow.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _cuda_util import SIMULATED, needs_cuda, usable_or_skip
import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError
from jitflow.ir import Builder, Function, TensorType, float64, int32
from jitflow.ir.builder import build_region
from jitflow.runtime import compile as compile_mod
from jitflow.runtime.compile import compile_function
from test_control_flow_frontend import loop_loss
from test_control_flow_ir import (F3, I, cond_body, cond_program, loop_program, nested_body,
                                  run, tanh_body)
from test_control_flow_llvm import rows_program

pytestmark = needs_cuda
FEW = settings(max_examples=6, deadline=None)
BODIES = {"tanh": tanh_body, "cond": cond_body, "nested": nested_body}
X = np.array([0.3, -0.2, 0.5])
W = np.array([0.9, 1.1, -0.4])


def leaves(exe) -> list:
    """Every leaf executable of a host-driven one, nested regions included."""
    from jitflow.backends.hostloop import HostDriven
    if not isinstance(exe, HostDriven):
        return [exe]
    return [leaf for p in exe.parts for leaf in leaves(p)]


_compiled: dict = {}


def cuda_exe(key, build):
    """The cuda executable of ``build()``, compiled once per key (the simulator is slow)."""
    if key not in _compiled:
        usable_or_skip()
        from jitflow.backends.cuda.control import DeviceDriven
        from jitflow.backends.cuda.executable import CUDAExecutable
        exe = compile_function(build(), "cuda").executable
        assert isinstance(exe, DeviceDriven)
        assert all(isinstance(p, CUDAExecutable) for p in leaves(exe))
        _compiled[key] = exe
    return _compiled[key]


def assert_same(key, build, args, rtol=1e-10):
    want = run(build(), args)
    got = cuda_exe(key, build).run(args)
    assert len(got) == len(want)
    for a, e in zip(got, want):
        assert isinstance(a, np.ndarray)            # fetched: on the host
        np.testing.assert_allclose(a, e, rtol=rtol, atol=1e-12)


# ------------------------------------------------------------------ IR programs ------------

@FEW
@given(st.sampled_from(sorted(BODIES)), st.integers(0, 3), st.sampled_from([-1, 2]),
       st.booleans())
def test_cuda_loops_match_the_reference(body, n, max_iter, grad):
    assert_same(("loop", body, max_iter, grad), lambda: loop_program(BODIES[body], grad, max_iter),
                [X, W, np.int32(n)])


@pytest.mark.parametrize("pred", [True, False])
def test_cuda_cond_and_its_gradient_match_the_reference(pred):
    assert_same(("cond",), lambda: cond_program(True), [np.bool_(pred), X, W])


@pytest.mark.parametrize("n", [0, 1, 5])
def test_stacked_values_and_row_read_gradients(n):
    m = np.random.RandomState(n).uniform(-1, 1, (5, 3))
    assert_same(("rows",), lambda: rows_program(True), [X, m, np.int32(n)])


class HostCopies:
    """Counts the simulator's device-to-host and host-to-device copies."""

    def __init__(self, monkeypatch) -> None:
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        self.d2h = self.h2d = 0
        to_host, to_dev = FakeCUDAArray.copy_to_host, FakeCUDAArray.copy_to_device

        def copy_to_host(arr, *a, **k):
            self.d2h += 1
            return to_host(arr, *a, **k)

        def copy_to_device(arr, src, *a, **k):
            if not isinstance(src, FakeCUDAArray):
                self.h2d += 1
            return to_dev(arr, src, *a, **k)
        monkeypatch.setattr(FakeCUDAArray, "copy_to_host", copy_to_host)
        monkeypatch.setattr(FakeCUDAArray, "copy_to_device", copy_to_device)

    def run(self, exe, args) -> tuple[int, int]:
        d2h, h2d = self.d2h, self.h2d
        exe.run(args)
        return self.d2h - d2h, self.h2d - h2d


@pytest.mark.skipif(not SIMULATED, reason="counts the simulator's host copies")
@pytest.mark.parametrize("key,build,loops", [
    (("loop", "tanh", -1, False), lambda: loop_program(tanh_body, False), 1),
    (("loop", "tanh", -1, True), lambda: loop_program(tanh_body, True), 2),
    (("rows",), lambda: rows_program(True), 2)])
def test_one_predicate_read_per_trip_and_no_uploads_per_trip(monkeypatch, key, build, loops):
    """The carried values, stacks and row reads stay on the device: a trip more costs one
    host read per loop (its predicate) and no upload. (The gradient's reverse loop of
    ``rows`` gathers at a recorded index: its status word is read after the loop.)"""
    exe = cuda_exe(key, build)
    copies = HostCopies(monkeypatch)
    args = [X, np.random.RandomState(0).uniform(-1, 1, (5, 3)) if key == ("rows",) else W]
    copies.run(exe, args + [np.int32(1)])      # plans, constants: uploaded once
    d2h_2, h2d_2 = copies.run(exe, args + [np.int32(2)])
    d2h_5, h2d_5 = copies.run(exe, args + [np.int32(5)])
    assert (d2h_5 - d2h_2, h2d_5 - h2d_2) == (3 * loops, 0)


@pytest.mark.parametrize("key,build", [
    (("loop", "tanh", -1, False), lambda: loop_program(tanh_body, False)),
    (("loop", "tanh", -1, True), lambda: loop_program(tanh_body, True)),
    (("rows",), lambda: rows_program(True))])
def test_no_device_allocation_per_trip(monkeypatch, key, build):
    """A trip's step results are written into the buffers of the trip before last (handed
    back once the next trip's kernels are queued): a run allocates the set its caller keeps
    (the last trip's), however many trips; the stacks hold 16 rows before growing."""
    from jitflow.backends.cuda import control, executable
    exe = cuda_exe(key, build)
    args = [X, np.random.RandomState(0).uniform(-1, 1, (5, 3)) if key == ("rows",) else W]
    for n in (3, 3, 5):       # plans (per stack shape after the loop); the pool's two sets
        exe.run(args + [np.int32(n)])
    allocs = []
    for mod in (control, executable):
        orig = mod.alloc
        monkeypatch.setattr(mod, "alloc", lambda *a, orig=orig, **k: allocs.append(1) or
                            orig(*a, **k))
    counts = []
    for n in (3, 5):
        allocs.clear()
        exe.run(args + [np.int32(n)])
        counts.append(len(allocs))
    assert counts[0] == counts[1], counts


def gather_loop(j_step: int) -> Function:
    """for i < n: x = tanh(x * m[j]), j += j_step: a row read at a carried index that is
    not a counter (a gather kernel with a status word, not a row view)."""
    M = TensorType(float64, (70, 3))
    f = Function()
    x, m, n = f.add_param(F3, "x"), f.add_param(M, "m"), f.add_param(I, "n")
    b = Builder(f.ops)
    tys = [I, I, F3, M, I]
    cond = build_region("cond", tys, lambda b, i, j, x, m, n: b.less(i, n))
    body = build_region("body", tys, lambda b, i, j, x, m, n: [
        b.add(i, b.const(1, int32)), b.add(j, b.const(j_step, int32)),
        b.tanh(b.mul(x, b.gather(m, j, axis=0)))])
    res = b.op("while", b.const(0, int32), b.const(0, int32), x, m, n, num_carried=3,
               regions=[cond, body])
    f.set_results([res[2]])
    return f


@pytest.mark.parametrize("n", [3, 50])
def test_a_failing_trip_gives_its_own_error(n):
    """Trip 35 reads row 70 of 70: found at the deferred check after the loop (n = 50) and
    rerun for the reference's message; n = 3 runs clean."""
    m = np.random.RandomState(1).uniform(-1, 1, (70, 3))
    args = [X, m, np.int32(n)]
    exe = cuda_exe(("gather", 2), lambda: gather_loop(2))
    if n < 35:
        np.testing.assert_allclose(exe.run(args)[0], run(gather_loop(2), args)[0], rtol=1e-10)
        return
    with pytest.raises(InvalidArgumentError) as want:
        run(gather_loop(2), args)
    with pytest.raises(InvalidArgumentError) as got:
        exe.run(args)
    # the reference's message, naming the gather (the reference adds the while op's node)
    first = str(want.value).splitlines()[0]
    assert first == "indices[] = 70 is not in [0, 70)"
    assert str(got.value).splitlines()[0] == first and "[[node gather" in str(got.value)


def test_a_row_view_out_of_range_gives_the_gather_error():
    """rows_program reads m[i] for i < n: n = 7 reads past m's 5 rows (a row view, checked
    on the host at the counter's value)."""
    args = [X, np.zeros((5, 3)), np.int32(7)]
    with pytest.raises(InvalidArgumentError) as want:
        run(rows_program(False), args)
    with pytest.raises(InvalidArgumentError) as got:
        cuda_exe(("rows-fwd",), lambda: rows_program(False)).run(args)
    assert str(got.value).splitlines()[0] == str(want.value).splitlines()[0] == \
        "indices[] = 5 is not in [0, 5)"


def test_each_region_is_compiled_once(monkeypatch):
    from jitflow.backends.cuda.executable import CUDAExecutable
    usable_or_skip()
    built = []
    orig = CUDAExecutable.__init__

    def counting(self, f, *a, **k):
        built.append(f.name)
        orig(self, f, *a, **k)
    monkeypatch.setattr(CUDAExecutable, "__init__", counting)
    exe = compile_function(loop_program(nested_body, True), "cuda").executable
    n_built = len(built)
    assert n_built >= 6          # segments, the loops' cond and step regions, nested ones
    for n in (1, 3):
        exe.run([X, W, np.int32(n)])
    assert len(built) == n_built


def linalg_loop() -> Function:
    """for i < n: x = tanh(inv(a * s(x)) @ x) (matrix_inverse has no cuda kernel)."""
    A = TensorType(float64, (3, 3))
    f = Function()
    x, a, n = f.add_param(F3, "x"), f.add_param(A, "a"), f.add_param(I, "n")
    b = Builder(f.ops)
    tys = [I, F3, A, I]
    cond = build_region("cond", tys, lambda b, i, x, a, n: b.less(i, n))


    def body(b, i, x, a, n):                 # (a scaled by the carried x: not hoisted)
        s = b.add(b.const(1.0, float64), b.mul(b.const(0.1, float64),
                                               b.tanh(b.reduce_sum(x, axes=None))))
        inv = b.matrix_inverse(b.mul(a, s))
        return [b.add(i, b.const(1, int32)), b.tanh(b.reduce_sum(b.mul(inv, x), axes=[1]))]
    body = build_region("body", tys, body)
    res = b.op("while", b.const(0, int32), x, a, n, num_carried=2, regions=[cond, body])
    f.set_results([res[1]])
    return f


def test_a_region_op_without_a_cuda_kernel_runs_on_the_host_between_cuda_segments(
        monkeypatch):
    from jitflow.backends.cuda.control import HostOp
    usable_or_skip()
    calls = []
    orig = HostOp.__call__
    monkeypatch.setattr(HostOp, "__call__", lambda self, args: calls.append(1) or
                        orig(self, args))
    a = np.array([[2.0, 0.3, 0.1], [0.2, 1.5, -0.4], [0.0, 0.5, 3.0]])
    args = [X, a, np.int32(3)]
    exe = compile_function(linalg_loop(), "cuda").executable
    np.testing.assert_allclose(exe.run(args)[0], run(linalg_loop(), args)[0], rtol=1e-10)
    assert len(calls) == 3                       # once a trip, between the step's kernels


# ------------------------------------------------------------------ TF1 sessions -----------

def both_backends(build, feed, steps: int = 1):
    """Run ``build()`` -> (fetches, train op or None) in a reference and a cuda Session for
    ``steps`` steps (train, then fetch) and compare every fetch (rtol 1e-5)."""
    usable_or_skip()
    from jitflow.backends.cuda.control import DeviceDriven
    got = {}
    seen = []
    hook = lambda ev: seen.append(ev.executable)       # noqa: E731
    for backend in ("reference", "cuda"):
        tf.reset_default_graph()
        tf.set_random_seed(0)
        fetches, train, ph = build()
        compile_mod.COMPILE_HOOKS.append(hook)
        try:
            with tf.Session(backend=backend) as s:
                s.run(tf.global_variables_initializer())
                out = []
                for _ in range(steps):
                    if train is not None:
                        s.run(train, {ph: feed})
                    out.append(s.run(fetches, {ph: feed}))
        finally:
            compile_mod.COMPILE_HOOKS.remove(hook)
        got[backend] = out
    assert any(isinstance(e, DeviceDriven) for e in seen)      # the loops ran on cuda
    for step, (want, have) in enumerate(zip(got["reference"], got["cuda"])):
        for k, (w, h) in enumerate(zip(want, have)):
            np.testing.assert_allclose(h, w, rtol=1e-5, atol=1e-6,
                                       err_msg=f"step {step} fetch {k}")
    return got


def test_session_trains_through_a_while_loop_with_a_cond():
    def build():
        x = tf.placeholder(tf.float32, [None, 3])
        w = tf.Variable(np.full((3, 3), 0.5, np.float32))
        loss = loop_loss(x, w, tf.constant(3))
        train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
        return [loss, tf.gradients(loss, x)[0]], train, x
    got = both_backends(build, np.full((2, 3), 0.3, np.float32), steps=3)
    losses = [o[0] for o in got["cuda"]]
    assert losses[-1] < losses[0]


def test_session_cond_map_fn_and_scan():
    def build():
        e = tf.placeholder(tf.float32, [None, 2])
        c = tf.cond(tf.reduce_sum(e) > 0, lambda: e * 2.0, lambda: e - 1.0)
        m = tf.map_fn(lambda x: x * 2.0 + 1.0, e)
        s = tf.scan(lambda a, x: tf.tanh(a * 0.5 + x), e, initializer=tf.zeros([2]))
        sr = tf.scan(lambda a, x: a * x, e, reverse=True)
        g, = tf.gradients(tf.reduce_sum(s * s), e)
        return [c, m, s, sr, g], None, e
    both_backends(build, np.linspace(-1, 1, 6).astype(np.float32).reshape(3, 2))


@pytest.mark.parametrize("cell", ["basic", "lstm"])
def test_session_dynamic_rnn_training_steps(cell):
    def build():
        x = tf.placeholder(tf.float32, [2, 3, 2])
        c = tf.nn.rnn_cell.BasicRNNCell(3) if cell == "basic" else tf.nn.rnn_cell.LSTMCell(2)
        outs, state = tf.nn.dynamic_rnn(c, x, dtype=tf.float32)
        h = state if cell == "basic" else state.h
        loss = tf.reduce_mean(tf.square(outs)) + tf.reduce_mean(h)
        opt = tf.train.GradientDescentOptimizer(0.1) if cell == "basic" else \
            tf.train.AdamOptimizer(0.05)
        return [loss, outs, h], opt.minimize(loss), x
    rv = np.random.RandomState(0).uniform(-1, 1, (2, 3, 2)).astype(np.float32)
    got = both_backends(build, rv, steps=2)
    assert got["cuda"][1][0] < got["cuda"][0][0]           # the loss went down


def test_a_variable_update_donated_after_a_loop_that_returns_the_old_value():
    """w = 2 w after a loop over w's old value: the update is written into w's buffer (a
    donation), except when the loop ran no trip and returns that very buffer (a copy is
    donated then): the fetched loop value is the old one either way."""
    usable_or_skip()
    from jitflow.backends.cuda.control import DeviceDriven
    got = {}
    seen = []
    hook = lambda ev: seen.append(ev.executable)       # noqa: E731
    for backend in ("reference", "cuda"):
        tf.reset_default_graph()
        w = tf.Variable(np.array([1.0, 2.0], np.float32))
        n = tf.placeholder(tf.int32, [])
        _, out = tf.while_loop(lambda i, v: i < n, lambda i, v: [i + 1, v * 3.0],
                               [0, w.read_value()])
        with tf.control_dependencies([out]):
            up = tf.assign(w, w * 2.0)
        compile_mod.COMPILE_HOOKS.append(hook)
        try:
            with tf.Session(backend=backend) as s:
                s.run(tf.global_variables_initializer())
                got[backend] = [s.run([out, up], {n: k}) for k in (0, 1, 0)] + [[s.run(w)]]
        finally:
            compile_mod.COMPILE_HOOKS.remove(hook)
    drivers = [e for e in seen if isinstance(e, DeviceDriven)]
    assert drivers and any(d.guards for d in drivers)          # the update is donated
    for want, have in zip(got["reference"], got["cuda"]):
        for w_, h in zip(want, have):
            np.testing.assert_array_equal(h, w_)


def test_a_failing_loop_stops_at_the_next_periodic_check(monkeypatch):
    """Trip 35 fails; the loop would run 500 trips: the status words read every CHECK_EVERY
    (32) trips stop it at trip 64, then the checked rerun stops at the failing trip."""
    from jitflow.backends.cuda import control
    reads = []
    orig = control.read_pred
    monkeypatch.setattr(control, "read_pred", lambda x: reads.append(1) or orig(x))
    exe = cuda_exe(("gather", 2), lambda: gather_loop(2))
    m = np.random.RandomState(1).uniform(-1, 1, (70, 3))
    with pytest.raises(InvalidArgumentError, match=r"= 70 is not in \[0, 70\)"):
        exe.run([X, m, np.int32(500)])
    assert len(reads) == 64 + 36          # (1 + 63 predicates) + (1 + 35) in the rerun


def test_stacks_grow_past_their_first_capacity():
    """20 trips of a recording loop (capacity 16 at the first run: the device stacks double)."""
    assert_same(("loop", "tanh", -1, True), lambda: loop_program(tanh_body, True),
                [X, W, np.int32(20)])


def test_loops_on_the_gpu_and_the_cpu_in_one_cuda_session():
    """tf.device splits the run: the GPU segment's loop is host-driven on cuda, the CPU's on
    llvm; values cross as the placement's copies; training matches the reference."""
    usable_or_skip()
    from jitflow.backends.cuda.control import DeviceDriven
    from jitflow.runtime.placement import PartitionedExecutable
    got, seen = {}, []
    hook = lambda ev: seen.append(ev.executable)       # noqa: E731
    for backend in ("reference", "cuda"):
        tf.reset_default_graph()
        x = tf.placeholder(tf.float32, [2, 3])
        w = tf.Variable(np.full((3, 3), 0.2, np.float32))
        with tf.device("/cpu:0"):
            x2 = tf.tanh(x) * 2.0
        with tf.device("/gpu:0"):
            _, h = tf.while_loop(lambda i, h: i < 3,
                                 lambda i, h: [i + 1, tf.tanh(tf.matmul(h, w))], [0, x2])
            loss = tf.reduce_sum(h * h)
        with tf.device("/cpu:0"):
            _, h2 = tf.while_loop(lambda i, h: i < 2, lambda i, h: [i + 1, h * 0.5 + 1.0],
                                  [0, h])
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss + tf.reduce_sum(h2))
        compile_mod.COMPILE_HOOKS.append(hook)
        try:
            with tf.Session(backend=backend,
                            config=tf.ConfigProto(allow_soft_placement=True)) as s:
                s.run(tf.global_variables_initializer())
                got[backend] = [s.run([loss, h2, train], {x: np.full((2, 3), 0.3, np.float32)})[:2]
                                for _ in range(3)]
        finally:
            compile_mod.COMPILE_HOOKS.remove(hook)
    parts = [st.executable for e in seen if isinstance(e, PartitionedExecutable)
             for st in e.steps if getattr(st, "executable", None) is not None]
    assert any(isinstance(p, DeviceDriven) for p in parts)
    for want, have in zip(got["reference"], got["cuda"]):
        for w_, h_ in zip(want, have):
            np.testing.assert_allclose(h_, w_, rtol=1e-5, atol=1e-6)


def test_dump_dir_holds_the_kernels_of_every_segment_and_region(tmp_path):
    from jitflow.backends.base import CompileOptions
    usable_or_skip()
    exe = compile_function(loop_program(tanh_body, True), "cuda",
                           CompileOptions(dump_dir=str(tmp_path))).executable
    text = (tmp_path / "kernels.py").read_text()
    names = {leaf.function.name for leaf in exe.leaves() if any(s.kernels for s in leaf.steps)}
    assert len(names) >= 4 and all(f"# {n} step" in text for n in names)
    assert "body_step" in names and "body_grad_step" in names


def _fib():
    n = tf.placeholder(tf.int32, [])
    out = tf.while_loop(lambda i, ab: i < n, lambda i, ab: (i + 1, (ab[0] + ab[1], ab[0])),
                        (tf.constant(0), (tf.constant(1.0), tf.constant(0.0))))
    return [out[0], out[1][0], out[1][1]], {n: 10}


def _max_iter_and_growth():
    i7 = tf.while_loop(lambda i: i < 100, lambda i: i + 1, [tf.constant(0)],
                       maximum_iterations=7)
    _, v = tf.while_loop(lambda i, v: i < 3, lambda i, v: [i + 1, tf.concat([v, v * 2.0], 0)],
                         [tf.constant(0), tf.constant([1.0])],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    return [i7, v], {}


def _nested_cond_fold_case():
    x = tf.placeholder(tf.int32, [])
    w = tf.Variable(2.0)

    def body(i, acc):
        inner = tf.while_loop(lambda j, s: j < i, lambda j, s: [j + 1, s + w],
                              [tf.constant(0), tf.constant(0.0)])[1]
        return [i + 1, acc + tf.cond(tf.equal(i % 2, 0), lambda: inner, lambda: -inner)]
    out = tf.while_loop(lambda i, acc: i < 5, body, [tf.constant(0), tf.constant(0.0)])[1]
    e = tf.constant([1.0, 2.0, 3.0, 4.0])
    case = tf.case([(tf.less(x, 0), lambda: tf.constant(-1)),
                    (tf.equal(x, 0), lambda: tf.constant(0))], default=lambda: tf.constant(1))
    return [out, tf.foldl(lambda a, v: a * 10.0 + v, e), tf.foldr(lambda a, v: a * 10.0 + v, e),
            case], {x: 0}


@pytest.mark.parametrize("build", [_fib, _max_iter_and_growth, _nested_cond_fold_case],
                         ids=["fibonacci", "max-iter-and-growth", "nested-cond-fold-case"])
def test_frontend_loops_and_conds_in_a_cuda_session(build):
    usable_or_skip()
    got = {}
    for backend in ("reference", "cuda"):
        tf.reset_default_graph()
        fetches, feed = build()
        with tf.Session(backend=backend) as s:
            s.run(tf.global_variables_initializer())
            got[backend] = s.run(fetches, feed)
    for w_, h in zip(got["reference"], got["cuda"]):
        np.testing.assert_allclose(h, w_, rtol=1e-5)
        assert np.asarray(h).dtype == np.asarray(w_).dtype


@pytest.mark.parametrize("trips", [0, 3])
def test_tensor_array_recurrence_and_its_gradient_in_a_cuda_session(trips):
    from test_tensor_array import recurrence_on_arrays
    usable_or_skip()
    got = {}
    for backend in ("reference", "cuda"):
        g, n, x, outs, _ = recurrence_on_arrays()
        with g.as_default(), tf.Session(backend=backend) as s:
            got[backend] = s.run(outs, {n: trips, x: np.array([0.1, -0.4, 0.7])})
    for w_, h in zip(got["reference"], got["cuda"]):
        np.testing.assert_allclose(h, w_, rtol=1e-10, atol=1e-12)


def test_tensor_array_written_in_one_branch_of_a_cond_in_a_cuda_session():
    """A loop's TensorArray written by one branch of a cond (masked padding rows) and its
    gradient: cuda == reference."""
    usable_or_skip()
    got = {}
    xv = np.array([0.5, -1.5, 2.0, -0.25])
    for backend in ("reference", "cuda"):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float64, [4])

            def body(i, ta):
                return i + 1, tf.cond(x[i] > 0, lambda: ta.write(i, x[i] * x[i]), lambda: ta)
            ta = tf.while_loop(lambda i, ta: i < 4, body,
                               [tf.constant(0), tf.TensorArray(tf.float64, size=4,
                                                               element_shape=[])])[1]
            st = ta.stack()
            gx = tf.gradients(tf.reduce_sum(st * st), x)[0]
            with tf.Session(backend=backend) as s:
                got[backend] = s.run([st, gx], {x: xv})
    np.testing.assert_allclose(got["reference"][0], np.where(xv > 0, xv * xv, 0.0))
    for w_, h in zip(got["reference"], got["cuda"]):
        np.testing.assert_allclose(h, w_, rtol=1e-10, atol=1e-12)


def test_random_ops_in_a_loop_body_match_the_reference_run_after_run():
    usable_or_skip()
    got = {}
    for backend in ("reference", "cuda"):
        tf.reset_default_graph()
        tf.set_random_seed(3)
        x = tf.placeholder(tf.float32, [2, 3])
        _, h = tf.while_loop(lambda i, h: i < 3, lambda i, h: [
            i + 1, tf.nn.dropout(h, 0.5) + tf.random_uniform([2, 3])], [0, x])
        with tf.Session(backend=backend) as s:
            got[backend] = [s.run(h, {x: np.ones((2, 3), np.float32)}) for _ in range(2)]
    assert not np.array_equal(got["cuda"][0], got["cuda"][1])        # a new step each run
    for w_, h_ in zip(got["reference"], got["cuda"]):
        np.testing.assert_allclose(h_, w_, rtol=1e-6)


def test_a_loop_of_no_trip_sizes_its_stacks_by_a_fed_batch_on_cuda():
    usable_or_skip()
    from test_control_flow_frontend import test_a_loop_of_no_trip_sizes_its_stacks_by_a_fed_batch
    tf.reset_default_graph()
    test_a_loop_of_no_trip_sizes_its_stacks_by_a_fed_batch("cuda")
