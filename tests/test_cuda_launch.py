"""The cuda backend's fast kernel launches (jitflow/backends/cuda/launch.py).

The launcher's bookkeeping (resolve once, pack once, reuse while the arguments are the same
objects, repack when one changes, fall back when Numba's internals differ) is checked here with
a stand-in for Numba's dispatcher, on any machine. On a real GPU the last test checks that the
packed launches train as Numba's own dispatcher does.
"""
from __future__ import annotations

import numpy as np
import pytest

from jitflow.backends.cuda import launch as L


class FakeKernel:
    argument_types = ("array", "int")
    debug = False
    cooperative = False

    def __init__(self, log):
        self.log = log

        class _Lib:
            def get_cufunc(self_inner):
                class _F:
                    kernel = "cufunc"
                return _F()
        self._codelibrary = _Lib()

    def _prepare_args(self, t, v, stream, retr, kernelargs):
        self.log.append(("prepare", t))
        kernelargs.append(v if t == "int" else ("ptr", id(v)))

    def launch(self, args, griddim, blockdim, stream, sharedmem):
        self.log.append(("kernel.launch", tuple(args), griddim, blockdim))


class FakeDispatcher:
    def __init__(self, log):
        self.log = log
        self.overloads = {}

    def typeof_pyval(self, v):
        return "int" if isinstance(v, int) else "array"

    def __getitem__(self, gb):
        disp = self

        class Configured:
            dispatcher = disp
            griddim, blockdim, stream, sharedmem = (gb[0], 1, 1), (gb[1], 1, 1), "stream0", 0

            def __call__(self, *args):
                disp.log.append(("dispatch", args))
                key = tuple("int" if isinstance(a, int) else "array" for a in args)
                disp.overloads.setdefault(key, FakeKernel(disp.log))
        return Configured()


class FakeConfig:
    def __init__(self, **kw):
        self.kw = kw


@pytest.fixture
def fake(monkeypatch):
    log: list = []

    def core_launch(stream, config, fn, *args):
        log.append(("core", stream, fn, args, config.kw["grid"]))
    monkeypatch.setattr(L, "_state", {"mode": "packed", "core": (core_launch, FakeConfig, True)})
    return log, FakeDispatcher(log)


def kinds(log):
    return [e[0] for e in log]


def test_packed_launches_are_reused_while_the_arguments_are_the_same_objects(fake):
    log, disp = fake
    kl = L.KernelLauncher(disp, 4, 32)
    a, b = object(), object()
    kl((a, 3))                        # first: Numba's dispatcher compiles and runs it
    assert kinds(log) == ["dispatch"] and kl.kernel is not None
    log.clear()
    kl((a, 3))                        # second: marshalled once, launched through cuda.core
    assert kinds(log) == ["prepare", "prepare", "core"]
    assert log[-1] == ("core", "stream0", "cufunc", (("ptr", id(a)), 3), (4, 1, 1))
    log.clear()
    for _ in range(3):
        kl((a, 3))                    # steady state: no marshalling, no dispatch
    assert kinds(log) == ["core"] * 3
    log.clear()
    kl((b, 3))                        # another buffer object: repacked
    assert kinds(log) == ["prepare", "prepare", "core"] and log[-1][3][0] == ("ptr", id(b))
    log.clear()
    kl((b, 4))                        # another scalar value: repacked
    assert kinds(log) == ["prepare", "prepare", "core"] and log[-1][3][1] == 4


def test_kernel_mode_skips_the_dispatcher_but_marshals_each_time(fake, monkeypatch):
    log, disp = fake
    L._state["mode"] = "kernel"
    kl = L.KernelLauncher(disp, 2, 8)
    a = object()
    kl((a, 1))
    log.clear()
    kl((a, 1))
    kl((a, 1))
    assert kinds(log) == ["kernel.launch", "kernel.launch"]
    assert log[0][2:] == ((2, 1, 1), (8, 1, 1))


def test_dispatch_mode_always_uses_numba(fake):
    log, disp = fake
    L._state["mode"] = "dispatch"
    kl = L.KernelLauncher(disp, 1, 1)
    for _ in range(3):
        kl((object(), 1))
    assert kinds(log) == ["dispatch"] * 3 and kl.kernel is None


def test_a_packing_failure_falls_back_to_kernel_launches_with_a_warning(fake, monkeypatch):
    log, disp = fake
    kl = L.KernelLauncher(disp, 1, 1)
    a = object()
    kl((a, 1))

    def broken(*args):
        raise TypeError("LaunchConfig() got an unexpected keyword argument")
    L._state["core"] = (None, broken, True)
    log.clear()
    with pytest.warns(RuntimeWarning, match="falling back to 'kernel'"):
        kl((a, 1))
    assert L._state["mode"] == "kernel"
    assert kinds(log)[-1] == "kernel.launch"        # the launch still happened, once
    assert kinds(log).count("kernel.launch") == 1


def test_launch_mode_from_the_environment(monkeypatch):
    monkeypatch.setattr(L, "_state", {})
    monkeypatch.setenv("JITFLOW_CUDA_LAUNCH", "kernel")
    assert L.launch_mode(simulated=True) == "dispatch"      # the simulator has one path
    assert L.launch_mode(simulated=False) == "kernel"
    monkeypatch.setattr(L, "_state", {})
    monkeypatch.setenv("JITFLOW_CUDA_LAUNCH", "fastest")
    with pytest.raises(ValueError, match="JITFLOW_CUDA_LAUNCH must be one of"):
        L.launch_mode(simulated=False)


def _real_gpu_reason() -> str:
    from _cuda_util import HAVE_NUMBA_CUDA, SIMULATED
    if not HAVE_NUMBA_CUDA:
        return "numba-cuda is not installed"
    from jitflow.backends.cuda.device import gpu_present
    if SIMULATED or not gpu_present():
        return "needs a real CUDA GPU (benchmarks/gpu_check.sh runs it with NUMBA_ENABLE_CUDASIM=0)"
    return ""


@pytest.mark.skipif(bool(_real_gpu_reason()), reason=_real_gpu_reason() or "GPU present")
def test_packed_launches_train_as_numbas_dispatcher(monkeypatch):
    import jitflow.compat.v1 as tf
    from test_cuda_graphs import cnn_graph
    losses = {}
    for mode in ("dispatch", "packed"):
        monkeypatch.setitem(L._state, "mode", mode)
        g = cnn_graph(batch=32, size=12)
        with tf.Session(backend="cuda") as sess:
            sess.run(tf.global_variables_initializer())
            losses[mode] = [float(sess.run([g["loss"], g["train"]], g["feed"])[0])
                            for _ in range(6)]
    assert L._state["mode"] == "packed", "the packed path fell back (see the warning)"
    # same kernels, same order: equal up to the order of atomic float adds, if any
    np.testing.assert_allclose(losses["packed"], losses["dispatch"], rtol=1e-5)


def test_an_unidentified_overload_keeps_the_dispatcher_for_that_launch(fake):
    log, disp = fake
    disp.typeof_pyval = lambda v: "something else"     # typing disagrees with the compiled key
    kl = L.KernelLauncher(disp, 1, 1)
    a = object()
    for _ in range(3):
        kl((a, 1))
    assert kinds(log) == ["dispatch"] * 3


def test_numpy_2_5_alias_that_numba_cuda_needs_is_restored(monkeypatch):
    from jitflow.backends.cuda import device
    monkeypatch.delattr(np, "row_stack", raising=False)
    device._numpy_compat()
    assert np.row_stack is np.vstack


def test_kernel_times_label_each_launch_by_its_step(monkeypatch):
    from _cuda_util import build, compile_cuda, rand, usable_or_skip
    from jitflow.backends.cuda import executable as E
    usable_or_skip()
    monkeypatch.setattr(E, "KERNEL_TIMES", {})
    f = build([("f32", (4, 3)), ("f32", (3,))],
              lambda b, x, y: b.reduce_sum(b.tanh(b.add(x, y)), axes=(1,)))
    compile_cuda(f).run([rand("f32", (4, 3)), rand("f32", (3,))])
    rows = E.kernel_times()
    assert rows and all(secs >= 0 and n >= 1 for _, secs, n in rows)
    assert any("reduce_sum" in label and "tanh" in label for label, _, _ in rows), rows
