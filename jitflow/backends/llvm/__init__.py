"""The LLVM CPU backend: fused kernels compiled to native code with llvmlite; one native call
runs a whole compiled Function (forward, backward and optimizer update)."""
from __future__ import annotations

import sys
from typing import Optional

from ...ir.core import Function
from ..base import CompileOptions

_warned: set = set()


class LLVMBackend:
    name = "llvm"

    def compile(self, f: Function, options: Optional[CompileOptions] = None):
        """Compile ``f`` to native code. A Function using an op that has no LLVM lowering yet
        runs on the reference interpreter instead, with a warning naming the ops."""
        from ...kernels.errors import UnsupportedOp
        from .executable import LLVMExecutable
        try:
            opts = options or CompileOptions()
            return LLVMExecutable(f, opts.donations, opts.dump_dir)
        except UnsupportedOp as e:
            if str(e) not in _warned:
                _warned.add(str(e))
                print(f"[jitflow] warning: {e}; this graph runs on the reference backend",
                      file=sys.stderr)
            from ..reference import ReferenceExecutable
            return ReferenceExecutable(f)
