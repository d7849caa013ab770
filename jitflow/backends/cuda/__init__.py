"""The CUDA backend: each fusion group becomes a CUDA kernel generated as Python source and
compiled with Numba CUDA (``from numba import cuda``); GEMM and convolutions go through cuBLAS
(CuPy) when it is available, else a tiled shared-memory kernel. Variables stay on the device
between steps (``DeviceTensor``); feeds are copied in and fetches out. Under
``NUMBA_ENABLE_CUDASIM=1`` everything runs on Numba's CUDA simulator (no GPU needed).

See executable.py (planning, arena, launches), codegen.py (fused kernels), library.py (the
other kernels), device.py (GPU access, DeviceTensor, out-of-memory errors).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ...ir.core import Function
from .codegen import UnsupportedOp
from .device import DeviceTensor, cuda_usable, gpu_present, to_host

__all__ = ["CUDABackend", "DeviceTensor", "UnsupportedOp", "cuda_usable", "gpu_present",
           "to_host"]


class CUDABackend:
    name = "cuda"
    device = "gpu"

    def compile(self, f: Function, donations: Optional[dict[int, int]] = None,
                num_fetches: Optional[int] = None, num_feeds: Optional[int] = None,
                scalar_params: Optional[Sequence[int]] = None,
                dump_dir: Optional[str] = None):
        """Compile ``f``; an op without a CUDA lowering raises UnsupportedOp naming it."""
        from .device import numba_cuda_installed
        if not numba_cuda_installed():
            raise RuntimeError("the cuda backend needs numba-cuda: pip install 'jitflow[cuda]'")
        from .executable import CUDAExecutable
        exe = CUDAExecutable(f, donations, num_fetches, num_feeds, scalar_params)
        if dump_dir:
            d = Path(dump_dir)
            d.mkdir(parents=True, exist_ok=True)
            texts = []
            for n, s in enumerate(exe.steps):
                if s.kernels is not None:
                    texts.append(f"# step {n}: {s.kind} {[op.opname for op in s.ops]}\n"
                                 + s.kernels["__source__"])
            (d / "kernels.py").write_text("\n\n".join(texts))
        return exe
