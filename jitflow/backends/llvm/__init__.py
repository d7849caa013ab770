"""The LLVM CPU backend: fused kernels compiled to native code with llvmlite; one native call
runs a whole compiled Function (forward, backward and optimizer update)."""
from __future__ import annotations

from typing import Optional

from ...ir.core import Function


class LLVMBackend:
    name = "llvm"

    def compile(self, f: Function, donations: Optional[dict[int, int]] = None,
                dump_dir: Optional[str] = None):
        from .executable import LLVMExecutable
        return LLVMExecutable(f, donations, dump_dir)
