"""The LLVM CPU backend: fused kernels compiled to native code with llvmlite; one native call
runs a whole compiled Function (forward, backward and optimizer update). A Function with
control flow (``cond``, ``while``) runs host-driven (``backends/hostloop.py``): its
straight-line parts and each region compiled once to native code, one native call per trip."""
from __future__ import annotations

import sys
from typing import Optional

from ...ir.core import Function
from ..base import CompileOptions

_warned: set = set()


def refuse_complex(f: Function, backend: str) -> None:
    """complex64/complex128 run on the reference interpreter only: UnsupportedOp names the
    ops."""
    from ...kernels.errors import UnsupportedOp
    bad = {f"{op.opname} on {v.type.dtype.name}"
           + (f" (node {op.loc.tf_name})" if op.loc.tf_name else "")
           for op in f.walk() for v in (*op.operands, *op.results) if v.type.dtype.is_complex}
    bad |= {f"a {p.type.dtype.name} parameter" for p in f.params if p.type.dtype.is_complex}
    if bad:
        raise UnsupportedOp(backend, bad)


def prepare_region(f: Function) -> Function:
    """The llvm pipeline for a region or segment of a host-driven Function (autodiff has
    already run on the whole Function): the simplifications, then fusion."""
    from ...passes.manager import AUTODIFF
    from .pipeline import PIPELINE
    for p in PIPELINE:
        if p is not AUTODIFF:
            f = p.run(f)
    return f


def refuse_unlowered(f: Function, backend: str) -> None:
    """Ops whose records declare no lowering on ``backend`` (``unlowered_on``): UnsupportedOp
    names them all at once."""
    from ...ir.opdef import OPS
    from ...kernels.errors import UnsupportedOp
    bad = {op.opname for op in f.walk() if backend in OPS[op.opname].unlowered_on
           and OPS[op.opname].kind != "host"}
    if bad:
        raise UnsupportedOp(backend, bad)


class LLVMBackend:
    name = "llvm"

    def compile(self, f: Function, options: Optional[CompileOptions] = None):
        """Compile ``f`` to native code. A Function using an op that has no LLVM lowering yet
        runs on the reference interpreter instead, with a warning naming the ops."""
        from ...kernels.errors import UnsupportedOp
        from ..hostloop import HostDriven
        from .executable import LLVMExecutable
        try:
            opts = options or CompileOptions()
            refuse_complex(f, "llvm")
            refuse_unlowered(f, "llvm")
            if HostDriven.needs(f):       # control ops, or host ops inside regions
                return HostDriven(f, LLVMExecutable, prepare_region, opts.donations)
            return LLVMExecutable(f, opts.donations, opts.dump_dir)
        except UnsupportedOp as e:
            if str(e) not in _warned:
                _warned.add(str(e))
                print(f"[jitflow] warning: {e}; this graph runs on the reference backend",
                      file=sys.stderr)
            from ..reference import ReferenceExecutable
            return ReferenceExecutable(f)
