"""The thread count of native runs (backends/llvm/threads.py): the tuner's decisions on given
timings and load, JITFLOW_NUM_THREADS, the CPU count, and runs that give the same numbers
whatever count a run uses."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.backends.llvm import threads as T


@pytest.fixture
def load(monkeypatch):
    """Set how many other threads /proc/loadavg reports runnable."""
    box = {"others": 0}
    monkeypatch.setattr(T, "runnable_others", lambda: box["others"])
    return box


def _drive(tuner, cost, runs):
    """Run ``runs`` runs whose time is ``cost(threads)``; the counts used, in order."""
    used = []
    for _ in range(runs):
        n = tuner.pick()
        used.append(n)
        tuner.record(cost(n))
    return used


def test_a_quiet_machine_keeps_all_threads_when_they_are_faster(load):
    t = T.ThreadTuner(2)
    used = _drive(t, {2: 1.0, 1: 1.6}.get, 200)
    assert t.threads == 2 and used[0] == 2
    trials = used.count(1)
    assert 1 <= trials <= 8          # losing trials back off: 4, 8, 16, ... runs apart


def test_one_thread_wins_when_it_is_faster(load):
    t = T.ThreadTuner(2)
    used = _drive(t, {2: 5.0, 1: 1.0}.get, 50)
    assert t.threads == 1 and used[:3] == [2, 2, 2] and used[-10:].count(1) >= 9


def test_under_load_runs_start_at_one_thread_and_never_try_busy_threads(load):
    load["others"] = 3
    t = T.ThreadTuner(2)
    used = _drive(t, {2: 40.0, 1: 1.0}.get, 300)
    assert set(used) == {1}


def test_own_threads_are_tried_under_load_and_kept_when_faster(load):
    """An executable whose kernels run on jitflow's passive threads (conv_gemm) may ask for
    busy CPUs: under load it starts at one thread and tries all of them, kept if faster."""
    load["others"] = 3
    t = T.ThreadTuner(2, own=True)
    used = _drive(t, {2: 1.0, 1: 1.5}.get, 100)
    assert used[0] == 1 and t.threads == 2 and used[-20:].count(2) >= 18
    t = T.ThreadTuner(2, own=True)
    used = _drive(t, {2: 3.0, 1: 1.0}.get, 100)
    assert t.threads == 1 and 1 <= used.count(2) <= 6
    load["others"] = 0
    _drive(t, {2: 1.0, 1: 3.0}.get, 1100)        # the load leaves: back to two
    assert t.threads == 2


def test_the_choice_follows_the_load(load):
    t = T.ThreadTuner(2)
    cost = {2: 1.0, 1: 1.7}
    _drive(t, cost.get, 20)
    assert t.threads == 2
    load["others"] = 2                 # other work arrives: 2 threads now collapse
    cost.update({2: 30.0, 1: 2.5})
    _drive(t, cost.get, 40)
    assert t.threads == 1
    load["others"] = 0                 # it leaves again
    cost.update({2: 1.0, 1: 1.7})
    _drive(t, cost.get, 1100)
    assert t.threads == 2


def test_num_threads_env_fixes_the_count(monkeypatch):
    monkeypatch.setenv("JITFLOW_NUM_THREADS", "1")
    assert T.tuner_for(True) is None and T.NUM_THREADS.value == 1
    assert T.tuner_for(False) is None
    monkeypatch.setenv("JITFLOW_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="JITFLOW_NUM_THREADS must be a positive integer"):
        T.fixed_threads()
    monkeypatch.delenv("JITFLOW_NUM_THREADS")
    T.apply(T.most_threads())


def test_available_cpus_follows_the_affinity_mask(monkeypatch):
    monkeypatch.setattr(T.os, "sched_getaffinity", lambda pid: {0})
    assert T.available_cpus() == 1
    assert T.tuner_for(True) is None      # one CPU: nothing to tune
    monkeypatch.undo()
    T.apply(T.most_threads())


def test_results_are_the_same_whatever_thread_count_each_run_uses(monkeypatch):
    """A GEMM (OpenBLAS) and a large elementwise kernel (OpenMP) under a tuner that switches
    the count every other run: every run gives the reference's numbers."""
    if T.available_cpus() < 2:
        pytest.skip("one CPU: a single thread count")
    monkeypatch.setattr(T.ThreadTuner, "FIRST_GAP", 1)
    monkeypatch.setattr(T.ThreadTuner, "MAX_GAP", 1)
    monkeypatch.setattr(T, "runnable_others", lambda: 0)
    rng = np.random.RandomState(0)
    a = rng.rand(300, 200).astype(np.float32)
    b = rng.rand(200, 500).astype(np.float32)
    x = tf.placeholder(tf.float32, [300, 200])
    y = tf.nn.relu(tf.matmul(x, tf.constant(b)) - 50.0) * 1.5 + tf.tanh(tf.matmul(x, b) / 100.0)
    want = np.maximum(a @ b - 50, 0) * 1.5 + np.tanh(a @ b / 100)
    used = set()
    with tf.Session() as s:
        for _ in range(8):
            np.testing.assert_allclose(s.run(y, {x: a}), want, rtol=2e-5, atol=1e-4)
            used.add(int(T.NUM_THREADS.value))
        exe = next(iter(s._cache.values())).executable
    assert type(exe).__name__ == "LLVMExecutable" and exe.uses_pools
    assert used == {1, T.available_cpus()}
    T.apply(T.most_threads())


def test_limits_set_outside_jitflow_are_kept(monkeypatch):
    """OpenBLAS's thread count at start (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS) caps the runs'
    counts, and the OpenMP kernels take the calling thread's OpenMP limit too (the limit a
    data-parallel replica sets with omp_set_num_threads)."""
    monkeypatch.delenv("JITFLOW_NUM_THREADS", raising=False)
    monkeypatch.setattr(T, "_blas_cap", [1])
    assert T.most_threads() == 1
    monkeypatch.setattr(T, "_blas_cap", [0])       # unknown: the CPUs alone decide
    assert T.most_threads() == T.available_cpus()
    from jitflow.backends.llvm.parallel import parallel_wrappers
    text = parallel_wrappers("k0", "%n", ["%a0"], [], "ptr noalias %a0", ", ")
    assert "call i32 @omp_get_max_threads()" in text and "i32 %nth, i32 0)" in text
    T.apply(T.most_threads())
