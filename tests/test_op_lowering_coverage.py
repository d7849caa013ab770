"""Every op has a lowering on every compiling backend, read from the op records' traits and the
backends' own tables (a new op without one fails here, naming the backend), unless its record
declares it unlowered there (``unlowered_on``), with the reason. (File sizes: tests/test_architecture.py.)"""
from __future__ import annotations

import pytest

import jitflow  # noqa: F401  (registers the ops)
from jitflow.ir.opdef import OPS


def _llvm_lowers(name: str) -> bool:
    from jitflow.backends.llvm import compiler
    from jitflow.backends.llvm.elementwise import LOWER
    from jitflow.backends.hostloop import CONTROL
    d = OPS[name]
    if d.kind == "control":
        return name in CONTROL      # run host-driven over compiled regions
    if d.decompose is not None:
        return True        # a kernel of its own, or llvm-legalize rewrites it into simpler ops
    if d.kind in ("view", "remap", "constant", "contraction"):
        return True        # aliased, strided loads, immediates or buffers, GEMM / inline
    if d.kind == "reduction" and d.combiner in ("sum", "mean", "max", "min", "prod"):
        return True        # the loop reduction
    return name in LOWER or name in compiler.CUSTOM_KERNELS or name in compiler.BUILTIN_KERNELS


def _cuda_lowers(name: str) -> bool:
    pytest.importorskip("numba")
    from jitflow.backends.cuda.lib import LIBRARY
    from jitflow.backends.cuda.scalar_ops import EW
    d = OPS[name]
    if d.kind == "control":
        from jitflow.backends.cuda.control import DeviceDriven
        return name in DeviceDriven.control     # a host loop over device kernels
    if d.decompose is not None:
        return True        # cuda-legalize rewrites it into simpler ops
    if d.kind in ("view", "remap", "constant", "reduction"):
        return True        # aliased, index-mapped loads, buffers, generated reductions
    return name in EW or name in LIBRARY


LOWERS = {"llvm": _llvm_lowers, "cuda": _cuda_lowers}
RUNNABLE = sorted(n for n, d in OPS.items() if not d.pseudo)


@pytest.mark.parametrize("backend", sorted(LOWERS))
@pytest.mark.parametrize("name", RUNNABLE)
def test_every_op_has_a_lowering_on_every_backend(name, backend):
    why = OPS[name].unlowered_on.get(backend)
    if why:        # declared unlowered on this backend: the declaration must stay true
        assert not LOWERS[backend](name), (
            f"op {name!r} has a {backend} lowering now: drop {backend!r} from its "
            f"unlowered_on ({why!r})")
        return
    assert LOWERS[backend](name), (
        f"op {name!r} (kind {OPS[name].kind!r}) has no lowering on the {backend} backend: "
        f"add it to the backend's scalar table (elementwise) or library kernels, or give the "
        f"op a decomposition, or declare it in unlowered_on with the reason")


def test_a_new_op_without_a_lowering_is_caught():
    from jitflow.ir.opdef import defop
    name = "_test_unlowered_op"
    defop(name, kind="library", infer=lambda t, a: t[0], reference=lambda x: x, num_inputs=1,
          differentiable=False)
    try:
        assert not _llvm_lowers(name)
        assert not _cuda_lowers(name)
        OPS[name].kind = "elementwise"          # an elementwise op needs both scalar tables
        assert not _llvm_lowers(name)
        assert not _cuda_lowers(name)
    finally:
        del OPS[name]
