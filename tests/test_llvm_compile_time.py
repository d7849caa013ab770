"""What keeps a cold llvm compile short (benchmarks/run.py's compile bench: the MNIST CNN
train step), checked by mechanism, not by the clock: a large module compiles in parts on
threads (parts.py) to the same code whatever the thread count; a parallel kernel's range
function is optimized once (not inlined into its serial wrapper and its OpenMP worker); the
pipeline runs no loop unroller; a compile does not print its optimized IR."""
from __future__ import annotations

import re

import llvmlite.binding as llvmb
import numpy as np
import pytest

from jitflow.backends.llvm import jit, parts
from jitflow.backends.llvm.module import ModuleBuilder

from _llvm_util import F32, build, llvm, reference


@pytest.fixture
def cold(tmp_path, monkeypatch):
    """An empty disk cache and no memory cache: every compile in the test is cold."""
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")


def _many_kernels(n: int = 6):
    """``n`` kernels: each result a reduction of its own elementwise chain (a kernel each)."""
    def fn(b, x, *ws):
        return [b.reduce_sum(b.tanh(b.mul(x, w)), axes=(1,)) for w in ws]
    return build([(F32, ("s0", 64))] + [(F32, (64,))] * n, fn)


def _args(rows: int = 9, n: int = 6):
    rng = np.random.RandomState(0)
    return [rng.rand(rows, 64).astype(np.float32)] + [rng.rand(64).astype(np.float32)
                                                      for _ in range(n)]


def _ir(f) -> str:
    return ModuleBuilder(f).build()


def _defined(text: str) -> list[str]:
    return re.findall(r"^define [^@]*@([\w.]+)\(", text, re.M)


def test_split_deals_every_kernel_to_one_part_and_the_entry_calls_across(monkeypatch):
    monkeypatch.setattr(parts, "PARTS_MIN_CHARS", 0)
    ir = _ir(_many_kernels())
    kernels = re.findall(r"^; jitflow kernel @(\w+)$", ir, re.M)
    assert len(kernels) >= 6
    texts = parts.split(ir, 3)
    assert len(texts) == 3
    defined = [set(_defined(t)) for t in texts]
    assert "jf_entry" in defined[0] and all("jf_entry" not in d for d in defined[1:])
    for k in kernels:     # each kernel (and its helpers) in exactly one part
        assert sum(k in d for d in defined) == 1, k
    for j, t in enumerate(texts[1:], 1):     # exported where defined, declared in part 0
        for k in set(kernels) & defined[j]:
            assert re.search(rf"^define i32 @{k}\(", t, re.M), k
            assert re.search(rf"^declare i32 @{k}\(", texts[0], re.M), k
    for t in texts:       # each part is a module of its own
        mod = llvmb.parse_assembly(t, context=llvmb.create_context())
        mod.verify()
    # small or unmarked text stays one part
    monkeypatch.setattr(parts, "PARTS_MIN_CHARS", len(ir) + 1)
    assert parts.split(ir, 3) == [ir]
    assert parts.split("define i32 @f() {\n  ret i32 0\n}\n", 2) == \
        ["define i32 @f() {\n  ret i32 0\n}\n"]


def test_pack_round_trips_and_refuses_a_truncated_blob():
    objs = [b"\x7fELF one", b"", b"\x7fELF three"]
    assert parts.unpack(parts.pack(objs)) == objs
    assert parts.pack([b"\x7fELF"]) == b"\x7fELF" and parts.unpack(b"\x7fELF") == [b"\x7fELF"]
    with pytest.raises(ValueError, match="expected"):
        parts.unpack(parts.pack(objs)[:-1])


def test_a_large_module_compiles_in_parts_and_runs_from_the_disk_cache(cold, monkeypatch, tmp_path):
    monkeypatch.setattr(parts, "PARTS_MIN_CHARS", 0)
    f = _many_kernels()
    exe = llvm(f)
    assert not exe.compiled.from_cache
    assert parts.PARTS >= 2
    blob = jit.diskcache.read(exe.cache_key)
    assert blob is not None and len(parts.unpack(blob)) == parts.PARTS
    args = _args()
    want = reference(f, args)
    for got, w in zip(exe.run(args), want):
        np.testing.assert_allclose(got, w, rtol=2e-5, atol=1e-5)
    hit = llvm(_many_kernels())          # loads both objects into one engine
    assert hit.compiled.source == "disk"
    for got, w in zip(hit.run(args), want):
        np.testing.assert_allclose(got, w, rtol=2e-5, atol=1e-5)
    dumped = llvm(_many_kernels(), dump_dir=str(tmp_path / "dump"))    # the parts as compiled
    for name in ("module.ll", "module.s"):
        text = (tmp_path / "dump" / name).read_text()
        assert f"; ---- part {parts.PARTS} of {parts.PARTS} ----" in text
    assert "jf_entry" in (tmp_path / "dump" / "module.s").read_text()
    assert dumped.run(args)[0].shape == want[0].shape


def test_the_parts_compile_to_the_same_code_on_threads_as_one_after_another(monkeypatch):
    """The object code is a function of the IR alone (the cache key does not hold the
    thread count); the threaded path calls LLVM without llvmlite's lock."""
    monkeypatch.setattr(parts, "PARTS_MIN_CHARS", 0)
    texts = parts.split(_ir(_many_kernels()), 2)
    assert len(texts) == 2
    unlocked = []
    real = parts._unlocked
    monkeypatch.setattr(parts, "_unlocked", lambda name: unlocked.append(name) or real(name))
    s = jit._init()
    objs = {}
    for n in (1, 2):
        ctxs, mods = parts.parse_all(texts)
        tms = [jit._machine(s) for _ in texts]
        objs[n] = parts.compile_all(mods, tms, [jit._pass_builder(tm) for tm in tms], n)
        parts.close_all(ctxs, mods)
    assert "LLVMPY_RunNewModulePassManager" in unlocked
    assert real("LLVMPY_RunNewModulePassManager") is not None, \
        "llvmlite hides its ctypes functions: the parts compile one after the other"
    assert objs[1] == objs[2] and all(objs[1])


def test_a_parallel_kernels_range_is_compiled_once(cold, monkeypatch):
    """``@k0`` (serial path) and ``@k0.worker`` (each OpenMP thread) call ``@k0.range``,
    which keeps the only copy of the vector loop."""
    monkeypatch.setenv("JITFLOW_NUM_THREADS", "2")      # OpenMP kernels are generated
    if not jit.have_openmp():
        pytest.skip("no OpenMP runtime (libgomp): no parallel wrappers to check")
    f = build([(F32, ("s0", 256)), (F32, (256,))], lambda b, x, c: b.tanh(b.add(x, c)))
    exe = llvm(f)
    assert "noinline" in re.search(r"^define internal i32 @k0\.range\(.*$", exe.ir_text,
                                   re.M).group(0)
    opt = exe.compiled.optimized_ir
    bodies = {m.group(1): m.group(0)
              for m in re.finditer(r"^define [^@]*@([\w.]+)\(.*?^}$", opt, re.M | re.S)}
    vector = {name for name, body in bodies.items() if re.search(r"<\d+ x float>", body)}
    assert "k0.range" in vector and all(name.endswith(".range") for name in vector), vector
    for name in vector:       # its serial wrapper and its OpenMP worker call it
        k = name[:-len(".range")]
        calls = re.compile(rf"call [^@\n]*@{re.escape(name)}\(")
        assert calls.search(bodies[k]) and calls.search(bodies[k + ".worker"]), name
    x = np.random.RandomState(1).rand(300, 256).astype(np.float32)
    c = np.random.RandomState(2).rand(256).astype(np.float32)
    np.testing.assert_allclose(exe.run([x, c])[0], np.tanh(x + c), rtol=1e-6, atol=1e-6)


def _keeps_its_vector_loop(monkeypatch, unrolling: bool) -> bool:
    """Whether a 288-element (static) elementwise kernel is still a loop once optimized."""
    monkeypatch.setattr(jit, "LOOP_UNROLLING", unrolling)
    f = build([(F32, (288,)), (F32, (288,))], lambda b, x, y: b.add(b.mul(x, y), x))
    mod = llvmb.parse_assembly(_ir(f), context=llvmb.create_context())
    jit.optimize(mod)
    return re.search(r"^vector\.body\d*:", str(mod), re.M) is not None


def test_the_pipeline_runs_no_loop_unroller(monkeypatch):
    """The unroller would unroll the static loop completely (a third of the CNN's cold compile
    went to such bodies); off, the vectorized loop stays a loop."""
    monkeypatch.setenv("JITFLOW_NUM_THREADS", "1")
    assert jit.LOOP_UNROLLING is False
    assert _keeps_its_vector_loop(monkeypatch, False)
    assert not _keeps_its_vector_loop(monkeypatch, True)     # the check sees an unroller


def test_a_compile_prints_no_optimized_ir_until_asked(cold, monkeypatch):
    printed = []
    real = llvmb.ModuleRef.__str__
    monkeypatch.setattr(llvmb.ModuleRef, "__str__", lambda m: printed.append(1) or real(m))
    exe = llvm(_many_kernels(2))
    assert not printed
    assert "define" in exe.compiled.optimized_ir and printed


def test_identical_kernels_are_compiled_once(cold):
    """Kernels whose LLVM text is the same but for their name (static shapes: the optimizer
    updates of same-shaped variables) share one function; each call passes its own buffers."""
    def fn(b, x, *ws):
        return [b.reduce_sum(b.tanh(b.mul(x, w)), axes=(1,)) for w in ws]
    f = build([(F32, (8, 64))] + [(F32, (64,))] * 3, fn)
    exe = llvm(f)
    kernels = exe.mb.kernels
    own = [k for k in kernels if not k.calls]
    assert len(kernels) == 3 * len(own), [(k.name, k.calls) for k in kernels]
    assert len(re.findall(r"^; jitflow kernel @", exe.ir_text, re.M)) == len(own)
    for k in kernels:
        if k.calls:
            assert not k.text and any(o.name == k.calls for o in own)
            assert re.search(rf"^define internal i32 @{k.name}\(", exe.ir_text, re.M) is None
    args = _args(8, 3)
    for got, want in zip(exe.run(args), reference(f, args)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5)
    assert len({tuple(np.round(r, 4)) for r in exe.run(args)}) == 3     # its own weights each
