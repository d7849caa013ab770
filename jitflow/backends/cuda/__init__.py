"""The CUDA backend: each fusion group becomes a CUDA kernel generated as Python source and
compiled with Numba CUDA (``from numba import cuda``); GEMM and convolutions go through cuBLAS
(CuPy) when it is available, else a tiled shared-memory kernel. Variables stay on the device
between steps (``DeviceTensor``); feeds are copied in and fetches out. Under
``NUMBA_ENABLE_CUDASIM=1`` everything runs on Numba's CUDA simulator (no GPU needed).

Control flow (``cond``, ``while``) is a host loop over device kernels (control.py, through
``backends/hostloop.py``): the straight-line segments and each region are compiled once as
executables whose results stay on the device, values pass between them (and between trips) as
DeviceTensors, and the host reads back only each trip's predicate (a cond's once); per-trip
stacks for gradients are rows of device arrays.

See executable.py (planning, arena, launches), codegen.py (fused kernels), library.py (the
other kernels), device.py (GPU access, DeviceTensor, out-of-memory errors), control.py (the
host loop).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ...ir.core import Function
from ..base import CompileOptions
from ...kernels.errors import UnsupportedOp
from .device import DeviceTensor, cuda_usable, gpu_present, to_host

__all__ = ["CUDABackend", "DeviceTensor", "UnsupportedOp", "cuda_usable", "gpu_present",
           "to_host"]


_NO_CUDA = ("bf16", "c64", "c128")


def _refuse_types(f: Function) -> None:
    """bfloat16, complex64 and complex128 have no cuda lowering: UnsupportedOp names the
    ops."""
    bad = {f"{op.opname} on {v.type.dtype.name}" + (f" (node {op.loc.tf_name})"
                                                     if op.loc.tf_name else "")
           for op in f.walk() for v in (*op.operands, *op.results)
           if v.type.dtype.short in _NO_CUDA}
    bad |= {f"a {p.type.dtype.name} parameter" for p in f.params
            if p.type.dtype.short in _NO_CUDA}
    if bad:
        raise UnsupportedOp("cuda", bad)


def _dump(exes, dump_dir: str) -> None:
    """``kernels.py`` in ``dump_dir``: the generated kernel sources of ``exes``."""
    d = Path(dump_dir)
    d.mkdir(parents=True, exist_ok=True)
    texts = []
    for exe in exes:
        name = f"{exe.function.name} " if len(exes) > 1 else ""
        for n, s in enumerate(exe.steps):
            if s.kernels is not None:
                texts.append(f"# {name}step {n}: {s.kind} {[op.opname for op in s.ops]}\n"
                             + s.kernels["__source__"])
    (d / "kernels.py").write_text("\n\n".join(texts))


class CUDABackend:
    name = "cuda"
    device = "gpu"

    def compile(self, f: Function, options: Optional[CompileOptions] = None):
        """Compile ``f``; an op without a CUDA lowering raises UnsupportedOp naming it.

        Fetched results come back as NumPy arrays, variable updates stay on the device; fed
        scalars (and the run step) are passed to kernels as host values. A Function with
        ``cond``/``while`` runs host-driven over device executables (control.py)."""
        from .device import numba_cuda_installed
        if not numba_cuda_installed():
            raise RuntimeError("the cuda backend needs numba-cuda: pip install 'jitflow[cuda]'")
        from .executable import CUDAExecutable
        from ..hostloop import has_control
        _refuse_types(f)
        opts = options or CompileOptions()
        if has_control(f):
            from .control import DeviceDriven, compile_leaf, prepare_region
            nf = len(f.results) if opts.num_fetches is None else opts.num_fetches
            exe = DeviceDriven(f, compile_leaf, prepare_region, opts.donations, nf, sync=True)
            if opts.dump_dir:
                _dump(exe.leaves(), opts.dump_dir)
            return exe
        feeds = opts.num_feeds
        scalar_params = None if feeds is None else [
            i for i, p in enumerate(f.params)
            if (i < feeds or p.name == "rng_step") and p.type.shape == ()]
        exe = CUDAExecutable(f, opts.donations, opts.num_fetches, feeds, scalar_params)
        if opts.dump_dir:
            _dump([exe], opts.dump_dir)
        return exe
