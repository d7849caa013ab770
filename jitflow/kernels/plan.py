"""The plan's data: buffers and kernels, where each value is stored, and donations.

A ``Buffer`` holds one value (or a kernel's scratch space); its ``kind`` says who owns it:
``param`` (an argument), ``const`` (an array held by the executable), ``temp`` (the arena),
``scratch`` (the arena, only while its kernel runs), or what the backend calls its results
(``result``, ``vresult``) and ``donated`` (a result written into a parameter's buffer).
A ``Kernel`` reads and writes buffers; backends subclass it with what they generate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..ir.core import Function, Op, Value


@dataclass(eq=False)
class Buffer:
    idx: int
    kind: str
    value: Optional[Value]
    ref: int = -1                     # param / result index
    array: Optional[np.ndarray] = None   # const
    dtype: Optional[np.dtype] = None     # scratch
    nbytes: Optional[Callable] = None    # scratch: fn(shapes) -> bytes
    name: str = ""

    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype) if self.dtype is not None else self.value.type.dtype.np


@dataclass(eq=False)
class Kernel:
    kind: str
    ops: list
    reads: list = field(default_factory=list)     # Buffers
    writes: list = field(default_factory=list)    # Buffers
    scratch: list = field(default_factory=list)   # Buffers live only while it runs


class BufferTable:
    """The buffers of one executable and which buffer holds each value."""

    def __init__(self, f: Function) -> None:
        self.buffers: list[Buffer] = []
        self.storage: dict = {}        # id(Value) -> Buffer
        for i, p in enumerate(f.params):
            self.storage[id(p)] = self.new("param", p, ref=i, name=p.name or f"param{i}")

    def new(self, kind: str, value: Optional[Value], **kw) -> Buffer:
        b = Buffer(len(self.buffers), kind, value, **kw)
        self.buffers.append(b)
        return b

    def of(self, v: Value) -> Buffer:
        """The buffer holding ``v``; a constant gets one on first use."""
        b = self.storage.get(id(v))
        if b is None:
            p = v.producer
            if p is not None and p.opname == "constant":
                b = self.storage[id(v)] = self.new("const", v, array=p.attrs["value"],
                                                   name=p.loc.tf_name or "const")
                return b
            raise AssertionError(f"value {v} has no buffer")
        return b

    def out(self, v: Value, kind: str = "temp", name: str = "") -> Buffer:
        """The buffer a kernel writes ``v`` into (a new one of ``kind`` if it has none)."""
        if id(v) not in self.storage:
            self.storage[id(v)] = self.new(kind, v, name=name)
        return self.storage[id(v)]


def live_ranges(kernels: list[Kernel]) -> tuple[dict[int, int], dict[int, int]]:
    """(first, last): per arena buffer index, the kernel that first writes it and the last
    kernel that reads it (scratch: only its own kernel)."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for n, k in enumerate(kernels):
        for b in k.writes + k.scratch:
            if b.kind in ("temp", "scratch"):
                first.setdefault(b.idx, n)
                last[b.idx] = max(last.get(b.idx, n), n)
        for b in k.reads:
            if b.kind == "temp":
                last[b.idx] = n
    return first, last


def aligned(nbytes: int, align: int) -> int:
    return (nbytes + align - 1) // align * align


def donation_kernel(f: Function, kernels: list[Kernel], r_idx: int, p_idx: int,
                    rbuf: Buffer, pbuf: Buffer,
                    reads_in_place: Callable[[Kernel], bool]) -> Optional[Kernel]:
    """The kernel that may write result ``r_idx`` (in ``rbuf``) straight into parameter
    ``p_idx``'s buffer ``pbuf``, or None: the result and the parameter have one type, the
    result is returned once and the parameter (or a view of it) not at all, one elementwise
    kernel writes the result, no later kernel reads the parameter, and that kernel reads the
    parameter only at the element it writes (``reads_in_place``)."""
    v, p = f.results[r_idx], f.params[p_idx]
    if v.type != p.type or sum(1 for x in f.results if x is v) > 1:
        return None
    kpos = next((n for n, k in enumerate(kernels) if rbuf in k.writes), None)
    if kpos is None or kernels[kpos].kind != "ew":
        return None
    k = kernels[kpos]
    if any(pbuf in later.reads for later in kernels[kpos + 1:]):
        return None
    if pbuf in k.reads and not reads_in_place(k):
        return None
    return k


def reads_only_in_place(ops: list[Op], storage: dict, pbuf: Buffer, space: Value,
                        out: Value, reads_memory: Callable[[Op, int], bool]) -> bool:
    """Whether a kernel computing ``ops`` over ``space`` reads ``pbuf`` only at the element it
    writes ``out`` to: same static shapes, and no member reading ``pbuf`` through a map of its
    own (``reads_memory(op, operand index)``: a transpose, a slice, a GEMM operand, ...)."""
    from .groups import same_static
    if not same_static(out, space):
        return False
    for op in ops:
        for i, v in enumerate(op.operands):
            if storage.get(id(v)) is not pbuf:
                continue
            if reads_memory(op, i) or not same_static(v, space):
                return False
    return True
