"""The llvm backend's disk cache of object code (jit.py): written on a cold compile, loaded on
the next compile of the same Function, keyed by its text, CPU, versions and settings; damaged, foreign or
unreadable entries are ignored and rebuilt (never a crash, never a wrong result); concurrent
processes compiling the same graph into one directory all succeed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from jitflow.backends.llvm import jit

from _llvm_util import F32, build, llvm, reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(d))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    # the disk layer alone: no in-process object cache in front of it
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")
    return d


def _graph(k: float = 1.5):
    """A small graph with a few kernels (a reduction, a fused chain); ``k`` changes its IR."""
    def fn(b, x, w):
        h = b.tanh(b.add(b.matmul(x, w), k))
        return [h, b.reduce_sum(b.exp(h), axes=(1,))]
    return build([(F32, ("s0", 4)), (F32, (4, 3))], fn)


ARGS = [np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4),
        np.linspace(0, 2, 12, dtype=np.float32).reshape(4, 3)]


def _check(exe, f):
    for want, got in zip(reference(f, ARGS), exe.run(ARGS)):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def _objects(d: Path) -> list[Path]:
    return sorted(p for p in d.glob("*.o") if not p.name.startswith("."))


def test_cold_compile_writes_object_then_hits(cache):
    f = _graph()
    exe = llvm(f)
    assert not exe.compiled.from_cache
    objs = _objects(cache)
    assert len(objs) == 1 and objs[0].read_bytes().startswith(jit.MAGIC)
    assert objs[0].stem == exe.cache_key
    _check(exe, f)
    again = llvm(_graph())
    assert again.compiled.from_cache
    _check(again, f)
    assert _objects(cache) == objs
    assert not list(cache.glob(".tmp-*"))          # no temporary files left behind


def test_key_depends_on_ir_and_versions(cache, monkeypatch):
    a, b = llvm(_graph(1.5)), llvm(_graph(2.5))
    assert not b.compiled.from_cache
    assert len(_objects(cache)) == 2
    key = a.cache_key
    import jitflow
    monkeypatch.setattr(jitflow, "__version__", jitflow.__version__ + "+other")
    other = llvm(_graph(1.5))
    assert other.cache_key != key and not other.compiled.from_cache


def test_no_disk_cache_env(cache, monkeypatch):
    monkeypatch.setenv("JITFLOW_NO_DISK_CACHE", "1")
    exe = llvm(_graph())
    assert not exe.compiled.from_cache and not _objects(cache)


def _truncate_half(p: Path):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(offset):
    def damage(p: Path):
        blob = bytearray(p.read_bytes())
        i = offset if offset >= 0 else len(blob) + offset
        blob[i] ^= 0x5A
        p.write_bytes(bytes(blob))
    return damage


CORRUPTIONS = {
    "empty": lambda p: p.write_bytes(b""),
    "truncated": _truncate_half,
    "header-only": lambda p: p.write_bytes(jit.MAGIC),
    "flipped-magic": _flip(0),
    "flipped-digest": _flip(len(jit.MAGIC) + 3),
    "flipped-payload": _flip(-100),
    "garbage": lambda p: p.write_bytes(os.urandom(5000)),
    "directory": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_damaged_cache_entry_is_ignored_and_rebuilt(cache, how):
    f = _graph()
    llvm(f)
    (obj,) = _objects(cache) if how != "directory" else [next(cache.glob("*.o"))]
    CORRUPTIONS[how](obj)
    exe = llvm(_graph())
    assert not exe.compiled.from_cache
    _check(exe, f)
    assert llvm(_graph()).compiled.from_cache  # the entry is rewritten and valid again


def test_valid_entry_under_another_key_is_rejected(cache):
    """A well-formed file of another graph renamed to this graph's key (a stale copy, a
    collision) must not run the wrong code."""
    f1, f2 = _graph(1.5), _graph(-3.0)
    e1, e2 = llvm(f1), llvm(f2)
    p1 = cache / f"{e1.cache_key}.o"
    p2 = cache / f"{e2.cache_key}.o"
    p1.write_bytes(p2.read_bytes())
    exe = llvm(_graph(1.5))
    assert not exe.compiled.from_cache
    _check(exe, f1)


def test_unusable_cache_dir_still_compiles(tmp_path, monkeypatch):
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(blocker / "sub"))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    f = _graph()
    exe = llvm(f)
    _check(exe, f)
    assert not llvm(_graph()).compiled.from_cache


_WORKER = textwrap.dedent("""
    import sys, time
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from test_llvm_cache import _graph, ARGS
    from _llvm_util import llvm
    t_start = float(sys.argv[2])
    while time.time() < t_start:       # start compiling at the same moment
        time.sleep(0.001)
    out = []
    for k in (1.5, 2.5, 1.5):
        exe = llvm(_graph(k))
        res = exe.run(ARGS)
        out.append("%d:%s" % (exe.compiled.from_cache, ",".join("%.6f" % float(r.sum()) for r in res)))
    print(" ".join(out))
""")


def test_concurrent_processes_share_one_cache_dir(cache, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = dict(os.environ, JITFLOW_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT),
               JITFLOW_MEMORY_CACHE_BYTES="0")
    env.pop("JITFLOW_NO_DISK_CACHE", None)
    import time
    start = time.time() + 4.0                 # after both interpreters have imported jitflow
    procs = [subprocess.Popen([sys.executable, str(script), str(ROOT / "tests"), str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    outs = []
    for p in procs:
        so, se = p.communicate(timeout=120)
        assert p.returncode == 0, se
        outs.append(so.split())
    sums = {tuple(o.split(":")[1] for o in out) for out in outs}
    assert len(sums) == 1                     # every process computed the same numbers
    (s,) = sums
    assert s[0] == s[2]
    want = [float(r.sum()) for r in reference(_graph(1.5), ARGS)]
    np.testing.assert_allclose([float(v) for v in s[0].split(",")], want, rtol=1e-5)
    assert all(o[2].startswith("1:") for o in outs)    # the third compile hit the cache
    assert len(_objects(cache)) == 2
    assert not list(cache.glob(".tmp-*"))
