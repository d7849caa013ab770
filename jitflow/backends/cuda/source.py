"""Pieces of the generated CUDA kernel source (Python for ``numba.cuda.jit``): typed
literals, the line builder, and which operand reads go through an index map of their own."""
from __future__ import annotations


from ...ir.core import Op
from ...ir.dtypes import DType
from ...ir.opdef import OPS


CTOR = {"f32": "f32", "f64": "f64", "i32": "i32", "i64": "i64", "f16": "f16", "i8": "i8",
        "u8": "u8", "i16": "i16", "u16": "u16", "u32": "u32", "u64": "u64"}
INT_MAX_CODE = 2 ** 31 - 1
#: terms of a float sum one thread adds in the input's type before adding the block's partial
#: to its float64 accumulator (the generated reductions and the softmax rows);
#: 256 was too many: a float32 chain of 256 copies of 0.1 is off by 2.3e-6
SUM_BLOCK = 32


def lit(v, dt: DType) -> str:
    """A typed literal of ``v``."""
    if dt.is_bool:
        return "True" if bool(v) else "False"
    if dt.is_floating:
        x = float(v)
        if x != x:
            body = "NAN"
        elif x in (float("inf"), float("-inf")):
            body = "INF" if x > 0 else "-INF"
        else:
            body = repr(x)
        return f"{CTOR[dt.short]}({body})"
    return f"{CTOR[dt.short]}({int(v)})"


def wrap(dt: DType, expr: str) -> str:
    return f"({expr})" if dt.is_bool else f"{CTOR[dt.short]}({expr})"


# ================================================================ index maps ================

def slice_map(in_shape, attrs) -> tuple[int, list[int]]:
    """(base, strides over the result's axes) of a strided slice of a contiguous tensor."""
    return OPS["strided_slice"].index_map(in_shape, attrs)


def remaps(name: str) -> bool:
    """A transpose or strided slice: read through its own index map, from memory."""
    return OPS[name].kind == "remap"


def reduces(name: str) -> bool:
    return OPS[name].kind == "reduction"


def is_special_read(op: Op, idx: int) -> bool:
    return remaps(op.opname) or (op.opname == "bias_add" and idx == 1)


# ================================================================ source builder ============

class Src:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.ind = 1

    def __call__(self, line: str) -> None:
        self.lines.append("    " * self.ind + line)

    def text(self) -> str:
        return "\n".join(self.lines)


