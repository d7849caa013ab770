"""The llvm caches' key is computed before any LLVM IR exists (jit.module_key): a hit loads
the object code and its plan record (backends/llvm/cached.py) and generates no IR; every
input of the code generator changes the key; a record that disagrees with the IR this process
generates is caught (CacheKeyError), not run."""
from __future__ import annotations

import os
from pathlib import Path

import llvmlite
import numpy as np
import pytest

import jitflow
from jitflow.backends.llvm import cached, jit, mathlib, parts, threads, vecmath
from jitflow.backends.llvm.lib import conv
from jitflow.backends.llvm.module import ModuleBuilder
from jitflow.errors import InvalidArgumentError
from jitflow.ir.printer import print_function

from _llvm_util import F32, I32, build, llvm, reference


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(d))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")     # the disk layer alone
    monkeypatch.delenv("JITFLOW_CHECK_CACHE_KEYS", raising=False)
    return d


@pytest.fixture
def builds(monkeypatch):
    """How many times a module's LLVM IR was generated."""
    calls = []
    real = ModuleBuilder.build

    def counting(self):
        calls.append(self)
        return real(self)
    monkeypatch.setattr(ModuleBuilder, "build", counting)
    return calls


def _graph(k: float = 2.0):
    """A column sum (scratch space, run-time parameters of the batch dim), a GEMM and an
    integer division (a run-time error)."""
    def fn(b, x, w, n, d):
        h = b.tanh(b.add(b.matmul(x, w), k))
        return [h, b.reduce_sum(b.mul(h, h), axes=(0,)), b.floordiv(n, d)]
    return build([(F32, ("s0", 8)), (F32, (8, 16)), (I32, ("s0",)), (I32, ("s0",))], fn)


def _args(rows: int, divisor: int = 3):
    rng = np.random.RandomState(rows)
    return [rng.rand(rows, 8).astype(np.float32), rng.rand(8, 16).astype(np.float32),
            np.arange(rows, dtype=np.int32) - 2, np.full(rows, divisor, np.int32)]


def _check(exe, rows: int) -> None:
    args = _args(rows)
    for want, got in zip(reference(_graph(), args), exe.run(args)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)


def test_a_disk_hit_generates_no_llvm_ir(cache, builds):
    cold = llvm(_graph())
    assert len(builds) == 1 and cold.generated and not cold.compiled.from_cache
    _check(cold, 5)
    assert sorted(p.suffix for p in cache.iterdir() if p.name != "key") == [".o", ".plan"]
    warm = llvm(_graph())
    assert warm.compiled.source == "disk" and not warm.generated
    _check(warm, 5)                       # the cold run's shapes: planned from the record
    with pytest.raises(InvalidArgumentError, match="Integer division by zero"):
        warm.run(_args(5, divisor=0))     # the error table came with the record
    assert len(builds) == 1 and not warm.generated
    assert warm.record.scratch and warm.record.slots   # the case exercises both


def test_a_new_shape_generates_once_and_the_record_learns_it(cache, builds):
    _check(llvm(_graph()), 5)
    warm = llvm(_graph())
    _check(warm, 7)                       # not in the record: the IR is generated for it
    assert len(builds) == 2 and warm.generated
    _check(warm, 9)
    assert len(builds) == 2
    again = llvm(_graph())                # a later process: both shapes known now
    _check(again, 7)
    _check(again, 9)
    assert len(builds) == 2 and not again.generated


def test_a_memory_hit_generates_no_llvm_ir(cache, builds, monkeypatch):
    monkeypatch.setenv("JITFLOW_NO_DISK_CACHE", "1")
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", str(32 << 20))
    jit.memory_cache.clear()
    _check(llvm(_graph()), 5)
    warm = llvm(_graph())
    assert warm.compiled.source == "memory"
    _check(warm, 5)
    assert len(builds) == 1
    jit.memory_cache.clear()


def test_asking_for_the_ir_of_a_hit_generates_it(cache, builds):
    cold = llvm(_graph())
    warm = llvm(_graph())
    assert len(builds) == 1
    assert warm.ir_text == cold.ir_text and warm.mb.kernels and len(builds) == 2


def _key(f=None, donations=None) -> str:
    text = print_function(f or _graph())
    return jit.module_key(text[text.index("("):], donations or {})


def _variants_less_one():
    v = {k: list(found) for k, found in vecmath._state["variants"].items()}
    name = next((k for k, found in v.items() if found), None)
    if name is None:
        pytest.skip("no libmvec variants on this machine")
    v[name] = v[name][1:]
    return v


#: each input of the code generator, changed (monkeypatch -> None)
CHANGES = {
    "jitflow version": lambda mp: mp.setattr(jitflow, "__version__", jitflow.__version__ + "+x"),
    "llvmlite version": lambda mp: mp.setattr(llvmlite, "__version__", "0.0.0"),
    "code generator source": lambda mp: mp.setitem(jit._state, "source_fingerprint", "edited"),
    "openmp": lambda mp: mp.setitem(jit._state, "openmp", not jit._state["openmp"]),
    "thread count": lambda mp: mp.setattr(threads, "most_threads",
                                          lambda real=threads.most_threads(): real + 1),
    "blas": lambda mp: mp.setitem(jit._state, "blas_path",
                                  None if jit._state["blas_path"] else "/x/libopenblas.so"),
    "libmvec variants": lambda mp: mp.setitem(vecmath._state, "variants", _variants_less_one()),
    "JITFLOW_CONV": lambda mp: mp.setenv("JITFLOW_CONV", "direct"),
    "a module setting": lambda mp: mp.setattr(conv, "IM2COL_BYTES", conv.IM2COL_BYTES // 2),
    "loop unrolling": lambda mp: mp.setattr(jit, "LOOP_UNROLLING", not jit.LOOP_UNROLLING),
    "compile parts": lambda mp: mp.setattr(parts, "PARTS", parts.PARTS + 1),
    "parts threshold": lambda mp: mp.setattr(parts, "PARTS_MIN_CHARS", 0),
    "JITFLOW_IM2COL_BYTES": lambda mp: mp.setenv("JITFLOW_IM2COL_BYTES", "4096"),
    "JITFLOW_LIBMVEC": lambda mp: mp.setenv("JITFLOW_LIBMVEC", "0"),
    "a new JITFLOW_ setting": lambda mp: mp.setenv("JITFLOW_SOME_NEW_TUNABLE", "1"),
}
KEY_ONLY = {   # changes the running process cannot compile with
    "cpu name": lambda mp: mp.setitem(jit._state, "cpu", jit._state["cpu"] + "-other"),
    "cpu features": lambda mp: mp.setitem(jit._state, "features", jit._state["features"] + ",+x"),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_each_codegen_input_changes_the_key_and_misses(cache, monkeypatch, what):
    before = llvm(_graph())
    assert llvm(_graph()).compiled.from_cache
    CHANGES[what](monkeypatch)
    assert _key() != before.cache_key
    after = llvm(_graph())
    assert not after.compiled.from_cache and after.cache_key != before.cache_key
    _check(after, 5)


@pytest.mark.parametrize("what", sorted(KEY_ONLY))
def test_the_cpu_is_keyed(cache, monkeypatch, what):
    key = _key()
    KEY_ONLY[what](monkeypatch)
    assert _key() != key


def test_the_function_and_donations_are_keyed_its_name_and_run_time_settings_not(
        cache, monkeypatch):
    key = _key()
    assert _key(_graph(2.5)) != key                   # another constant
    assert _key(donations={0: 0}) != key
    named = _graph()
    named.name = "another_name"
    assert _key(named) == key
    monkeypatch.setenv("JITFLOW_LOG", "compile")      # run-time only settings
    monkeypatch.setenv("JITFLOW_CACHE_MAX_BYTES", "1G")
    assert _key() == key


def test_source_fingerprint_follows_the_files(tmp_path):
    for pkg in jit.CODEGEN_PACKAGES:
        (tmp_path / pkg).mkdir(parents=True)
        (tmp_path / pkg / "a.py").write_text("x = 1\n")
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "b.py").write_text("y = 1\n")
    fp = jit.source_fingerprint(tmp_path)
    (tmp_path / "frontend" / "b.py").write_text("y = 22\n")     # not a code generator's
    assert jit.source_fingerprint(tmp_path) == fp
    target = tmp_path / "backends" / "llvm" / "a.py"
    target.write_text("x = 22\n")
    edited = jit.source_fingerprint(tmp_path)
    assert edited != fp
    st = target.stat()
    target.write_text("x = 33\n")                                # same size, new mtime
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert jit.source_fingerprint(tmp_path) != edited
    (tmp_path / "kernels" / "new.py").write_text("")
    assert jit.source_fingerprint(tmp_path) not in (fp, edited)


def _unkeyed_change(monkeypatch):
    """The code generator changes through something the key does not see."""
    real = mathlib.library
    monkeypatch.setattr(mathlib, "library", lambda: real() + "\n; an unkeyed change\n")


def test_check_mode_catches_a_key_that_misses_an_input(cache, monkeypatch):
    llvm(_graph())
    monkeypatch.setenv("JITFLOW_CHECK_CACHE_KEYS", "1")
    llvm(_graph())                                    # the same IR: the check passes
    _unkeyed_change(monkeypatch)
    with pytest.raises(cached.CacheKeyError, match="differs: ir_sha"):
        llvm(_graph())


def test_a_new_shape_after_a_hit_checks_the_ir_too(cache, monkeypatch):
    _check(llvm(_graph()), 5)
    _unkeyed_change(monkeypatch)
    warm = llvm(_graph())
    _check(warm, 5)                   # planned from the record: nothing to compare yet
    with pytest.raises(cached.CacheKeyError):
        warm.run(_args(6))


def test_a_damaged_plan_record_is_ignored_and_rewritten(cache, builds):
    _check(llvm(_graph()), 5)
    (plan,) = cache.glob("*.plan")
    blob = bytearray(plan.read_bytes())
    blob[-3] ^= 0x21
    plan.write_bytes(bytes(blob))
    again = llvm(_graph())            # object code from the disk, the IR generated again
    assert again.compiled.from_cache and again.generated and len(builds) == 2
    _check(again, 5)
    third = llvm(_graph())
    _check(third, 5)
    assert not third.generated and len(builds) == 2


def test_plan_record_bytes_round_trip_and_reject_malformed_data():
    rec = cached.PlanRecord("ab" * 32, True, ["m1", "m2"], [2], 7, [3, 4], 2)
    layout = cached.Layout([5, 1], [(5, 8), ()], {6: 0, 7: 64, 8: 128}, 192)
    assert rec.add_plan("[[5,8]]", layout)
    assert not rec.add_plan("[[5,8]]", layout)
    back = cached.PlanRecord.from_bytes(rec.to_bytes())
    assert back.same_code(rec) == [] and back.plan("[[5,8]]") == layout
    assert back.errors().message(2) == "m2" and back.errors().exact == {2}
    for n in range(2, 2 + 2 * cached.MAX_PLANS):     # a process adds at most MAX_PLANS
        rec.add_plan(f"[[{n},8]]", layout)
    assert len(rec.plans) == cached.MAX_PLANS and rec.plan("[[5,8]]") == layout
    good = cached.PlanRecord.from_bytes(rec.to_bytes()).to_bytes()
    assert cached.PlanRecord.from_bytes(good).plan(f"[[{cached.MAX_PLANS},8]]") == layout
    for data in (b"", b"not json", b"[]", good.replace(b'"format": 2', b'"format": 9'),
                 good.replace(b'"slots": 2', b'"slots": 3'),       # params of the wrong length
                 good.replace(b"[8, 128]", b"[9, 128]"),           # a scratch buffer unplaced
                 good.replace(b"[8, 128]", b"[8, 999]")):          # beyond the arena
        assert cached.PlanRecord.from_bytes(data) is None, data
