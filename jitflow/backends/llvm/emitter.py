"""Helpers to write LLVM IR text: typed constants, fresh names, blocks and loop nests."""
from __future__ import annotations

import struct
from typing import Callable, Sequence

from ...ir.dtypes import DType

# narrow types live in registers as their memory type (bfloat16 as its 16 bits); the
# promote-narrow pass leaves them only to loads, stores, casts and constants
REG_TYPE = {"f32": "float", "f64": "double", "i32": "i32", "i64": "i64", "bool": "i1",
            "f16": "half", "bf16": "i16", "i8": "i8", "u8": "i8", "i16": "i16", "u16": "i16",
            "u32": "i32", "u64": "i64"}
MEM_TYPE = {**REG_TYPE, "bool": "i8"}
ALIGN = {"f32": 4, "f64": 8, "i32": 4, "i64": 8, "bool": 1, "f16": 2, "bf16": 2, "i8": 1,
         "u8": 1, "i16": 2, "u16": 2, "u32": 4, "u64": 8}


def _unsupported(dt: DType):
    from ...kernels.errors import UnsupportedOp
    return UnsupportedOp("llvm", {f"any op on {dt.name}"})


def rtype(dt: DType) -> str:
    if dt.short not in REG_TYPE:
        raise _unsupported(dt)
    return REG_TYPE[dt.short]


def mtype(dt: DType) -> str:
    if dt.short not in MEM_TYPE:
        raise _unsupported(dt)
    return MEM_TYPE[dt.short]


def fhex(v: float) -> str:
    """LLVM spells float and double constants as the hex of the double (f32 values exact)."""
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", float(v)))[0]


def const(v, dt: DType) -> str:
    import numpy as np
    if dt.short == "f16":    # LLVM's half literal: 0xH and the 16 bits
        return "0xH%04X" % int(np.array(v, np.float32).astype(np.float16).view(np.uint16))
    if dt.short == "bf16":   # its 16 bits, as a (signed) i16
        return str(int(np.array(v, np.float32).astype(dt.np).view(np.int16)))
    if dt.is_floating:
        if dt.short == "f32":
            v = float(np.float32(v))
        return fhex(v)
    if dt.is_bool:
        return "true" if v else "false"
    if dt.is_complex:
        raise _unsupported(dt)
    if dt.is_narrow or dt.is_unsigned:   # the bits as LLVM's (signed) literal of that width
        return str(int(np.array(v).astype(dt.np).astype(dt.np.str.replace("u", "i"))))
    return str(int(v))


class Emitter:
    """Collects the instructions of one LLVM function; tracks the current block."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0
        self.cur = "entry"

    def tmp(self, hint: str = "t") -> str:
        self.n += 1
        return f"%{hint}{self.n}"

    def fresh(self, hint: str) -> str:
        self.n += 1
        return f"{hint}{self.n}"

    def __call__(self, text: str) -> None:
        self.lines.append("  " + text)

    def op(self, text: str, hint: str = "t") -> str:
        r = self.tmp(hint)
        self.lines.append(f"  {r} = {text}")
        return r

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")
        self.cur = name

    def br(self, target: str) -> None:
        self.lines.append(f"  br label %{target}")

    def loops(self, bounds: Sequence[str], body: Callable[[list[str]], None],
              idx: list[str] | None = None, start: str = "0") -> None:
        """Nested counted loops ``for i0 < bounds[0]: for i1 < bounds[1]: ... body(idx)``
        (the outermost loop may start at ``start``)."""
        idx = list(idx or [])
        if not bounds:
            body(idx)
            return
        L = self.fresh("L")
        pre = self.cur
        self.br(f"{L}.head")
        self.label(f"{L}.head")
        i = f"%{L}.i"
        self(f"{i} = phi i64 [{start}, %{pre}], [{i}.next, %{L}.latch]")
        self(f"%{L}.c = icmp slt i64 {i}, {bounds[0]}")
        self(f"br i1 %{L}.c, label %{L}.body, label %{L}.exit")
        self.label(f"{L}.body")
        self.loops(bounds[1:], body, idx + [i])  # inner loops start at 0
        self.br(f"{L}.latch")
        self.label(f"{L}.latch")
        self(f"{i}.next = add nuw nsw i64 {i}, 1")
        self.br(f"{L}.head")
        self.label(f"{L}.exit")

    def load(self, dt: DType, base: str, offset: str) -> str:
        p = self.op(f"getelementptr inbounds {mtype(dt)}, ptr {base}, i64 {offset}", "p")
        v = self.op(f"load {mtype(dt)}, ptr {p}, align {ALIGN[dt.short]}", "v")
        if dt.is_bool:
            v = self.op(f"icmp ne i8 {v}, 0", "b")
        return v

    def store(self, dt: DType, value: str, base: str, offset: str) -> None:
        p = self.op(f"getelementptr inbounds {mtype(dt)}, ptr {base}, i64 {offset}", "p")
        if dt.is_bool:
            value = self.op(f"zext i1 {value} to i8", "z")
        self(f"store {mtype(dt)} {value}, ptr {p}, align {ALIGN[dt.short]}")

    def text(self) -> str:
        return "\n".join(self.lines)
