"""The generated code is vectorized: the assembly of fused float32 kernels uses vector
registers (zmm with AVX-512, ymm otherwise) for their arithmetic, as written by
``LLVMExecutable(f, dump_dir=...)`` (module.s) — the same files JITFLOW_DUMP produces."""
from __future__ import annotations

import re

import numpy as np

from jitflow.passes import PassManager, pipeline_for

from _llvm_util import F32, build, llvm, reference

#: packed single-precision arithmetic (not just moves) on a 256/512-bit register, e.g.
#: ``vfmadd213ps %zmm1, %zmm2, %zmm0`` or ``vmulps (%rdi), %ymm0, %ymm1``
PACKED = re.compile(r"^\s*v(?:add|sub|mul|div|f\w*madd|f\w*msub|max|min|rcp\w*|sqrt)\w*ps"
                    r"\s+[^\n]*%[yz]mm\d+", re.M)


def _compile(f, tmp_path, monkeypatch):
    monkeypatch.setenv("JITFLOW_NO_DISK_CACHE", "1")
    fused = PassManager(pipeline_for("llvm")).run(f)
    exe = llvm(fused, dump_dir=str(tmp_path))
    return fused, exe, (tmp_path / "module.s").read_text()


def test_fused_elementwise_kernel_uses_vector_registers(tmp_path, monkeypatch):
    """tanh(x * w + b) over 4096 float32 elements: one fused kernel, packed vector math."""
    f = build([(F32, (4096,)), (F32, (4096,)), (F32, (4096,))],
              lambda b, x, w, c: b.tanh(b.add(b.mul(x, w), c)))
    fused, exe, asm = _compile(f, tmp_path, monkeypatch)
    assert [k.kind for k in exe.mb.kernels] == ["ew"], "mul, add and tanh fuse into one kernel"
    assert (tmp_path / "module.ll").exists() and (tmp_path / "module.unoptimized.ll").exists()
    packed = PACKED.findall(asm)
    assert packed, "no packed float32 arithmetic on ymm/zmm registers in module.s"
    assert len(packed) >= 8       # the tanh rational polynomial is vectorized, not just a copy
    # and it still computes the right thing
    rng = np.random.default_rng(0)
    args = [rng.uniform(-3, 3, 4096).astype(np.float32) for _ in range(3)]
    np.testing.assert_allclose(exe.run(args)[0], reference(fused, args)[0], rtol=2e-6, atol=1e-6)


def test_symbolic_batch_kernel_uses_vector_registers(tmp_path, monkeypatch):
    """A fused bias-add and sigmoid over a run-time batch dim (broadcast bias) vectorizes."""
    f = build([(F32, ("batch", 256)), (F32, (256,))],
              lambda b, x, c: b.sigmoid(b.add(x, c)))
    _, _, asm = _compile(f, tmp_path, monkeypatch)
    assert PACKED.search(asm), "no packed float32 instruction on ymm/zmm registers"


def test_reduction_kernel_uses_vector_registers(tmp_path, monkeypatch):
    f = build([(F32, (64, 1024))], lambda b, x: b.reduce_sum(b.square(x), axes=(1,)))
    _, _, asm = _compile(f, tmp_path, monkeypatch)
    assert re.search(r"^\s*vaddps\s+[^\n]*%[yz]mm", asm, re.M), "sum not vectorized"


def test_assembly_also_written_for_a_cached_module(tmp_path, monkeypatch):
    """module.s is produced even when the object code came from the disk cache."""
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    f = build([(F32, (4096,))], lambda b, x: b.tanh(b.mul(x, x)))
    llvm(f)
    exe = llvm(f, dump_dir=str(tmp_path / "dump"))
    assert exe.compiled.from_cache
    assert PACKED.search((tmp_path / "dump" / "module.s").read_text())
