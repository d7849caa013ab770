"""Native code is released when nothing can call it (issue 17 item 2): a closed Session's
executables, a dropped unclosed Session and its Graph, traces evicted from a traced function's
bounded cache. The in-process object cache is bounded by bytes and holds no engines."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import jitflow
import jitflow.compat.v1 as tf
from jitflow.backends.llvm import jit


@pytest.fixture(autouse=True)
def no_disk(monkeypatch):
    monkeypatch.setenv("JITFLOW_NO_DISK_CACHE", "1")


def _session_graph(k: float):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.reduce_sum(tf.tanh(x * 0.5 + k), axis=1)
    sess = tf.Session(graph=g, backend="llvm")
    out = sess.run(y, feed_dict={x: np.ones((2, 4), np.float32)})
    np.testing.assert_allclose(out, np.full(2, 4 * np.tanh(0.5 + k)), rtol=1e-5)
    return sess


def _live() -> int:
    gc.collect()
    return jit.live_engines()


def test_closing_a_session_releases_its_engines():
    base = _live()
    sessions = [_session_graph(float(k)) for k in range(5)]
    assert _live() == base + 5
    for s in sessions[:3]:
        s.close()
    assert _live() == base + 2
    exe = next(iter(sessions[0]._cache.values()), None)
    assert exe is None                      # the session forgot its executables
    for s in sessions[3:]:
        s.close()
    assert _live() == base


def test_a_closed_executable_refuses_to_run():
    from _llvm_util import F32, build, llvm
    f = build([(F32, (3,))], lambda b, x: b.tanh(x))
    exe = llvm(f)
    exe.close()
    with pytest.raises(RuntimeError, match="closed"):
        exe.run([np.ones(3, np.float32)])


def test_dropped_session_and_graph_release_their_engines():
    base = _live()
    s = _session_graph(7.0)                 # never closed
    assert _live() == base + 1
    del s
    assert _live() == base


def test_traced_function_cache_is_bounded(monkeypatch):
    monkeypatch.setenv("JITFLOW_TRACE_CACHE_SIZE", "3")
    base = _live()

    @jitflow.function
    def f(x):
        return tf.reduce_sum(x * 2.0)

    for n in range(1, 7):                   # a new static dim: a new trace each time
        assert float(f(np.ones((2, n), np.float32))) == 4.0 * n
        f(np.ones((2, 1), np.float32))      # keep the first one recently used
    assert len(f.concrete_functions) == 3
    dims = sorted(cf.input_types[0].shape[1] for cf in f.concrete_functions)
    assert dims == [1, 5, 6]                # least recently called went first
    assert _live() == base + 3
    assert f.trace_count == 6
    assert float(f(np.ones((2, 2), np.float32))) == 8.0   # evicted: traced again, still right
    assert f.trace_count == 7
    del f
    assert _live() == base


def test_memory_object_cache_is_bounded_and_reused(monkeypatch):
    jit.memory_cache.clear()
    from _llvm_util import F32, build, llvm
    graphs = [build([(F32, (8,))], lambda b, x, k=k: b.add(b.tanh(x), float(k))) for k in range(4)]
    first = [llvm(g) for g in graphs]
    assert all(e.compiled.source == "compiled" for e in first)
    assert llvm(graphs[0]).compiled.source == "memory"       # same IR: no LLVM optimization
    size = jit.memory_cache.nbytes / len(jit.memory_cache.entries)
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", str(int(size * 2.5) + 64))
    jit.memory_cache.clear()
    for g in graphs:
        llvm(g)
    assert len(jit.memory_cache.entries) == 2 and jit.memory_cache.nbytes <= size * 2.5 + 64
    assert llvm(graphs[3]).compiled.source == "memory"
    assert llvm(graphs[0]).compiled.source == "compiled"     # evicted
    x = np.linspace(-1, 1, 8, dtype=np.float32)
    np.testing.assert_allclose(llvm(graphs[2]).run([x])[0], np.tanh(x) + 2, rtol=1e-6)
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")
    jit.memory_cache.clear()
    llvm(graphs[1])
    assert not jit.memory_cache.entries
