"""A large module compiled in parts, one thread each: its kernels dealt into ``PARTS``
modules (each with the shared head: mathlib, vecmath's declarations), optimized and emitted
to object code at once, loaded together into one engine (which resolves the entry's calls
into the other parts' kernels).

A cold compile is almost all LLVM (the MNIST CNN train step: ~1 s of optimization and code
generation over 29 kernels), and two cores do it in about half the time. The parts are a
function of the IR text alone (``PARTS`` and ``PARTS_MIN_CHARS`` are keyed settings), so the
object code does not depend on how many threads compiled it.

``ModuleBuilder.build`` marks the pieces (``KERNEL_MARK`` before each kernel's text, whose
functions only it calls, ``ENTRY_MARK`` before ``jf_entry``); text without marks is one part.
llvmlite serializes every call into LLVM behind one lock; the two long ones (the pass
pipeline, the code generator) are called here without it, each part in its own context with
its own target machine (LLVM is thread-safe across contexts). An llvmlite without that
access compiles the same parts one after the other.
"""
from __future__ import annotations

import ctypes
import re
import struct
import threading
from typing import Callable, Optional, Sequence

import llvmlite.binding as llvm
from llvmlite.binding import ffi

#: how many parts a large module is compiled in (the machines this runs on have 2+ cores)
PARTS = 2
#: modules with less IR text than this stay in one part (a part's fixed cost: a few ms)
PARTS_MIN_CHARS = 1 << 16
KERNEL_MARK = "; jitflow kernel @"
ENTRY_MARK = "; jitflow entry"
PACKED = b"JFPARTS1"


def split(ir_text: str, parts: Optional[int] = None) -> list[str]:
    """The module as ``parts`` (default ``PARTS``) module texts (the first holds ``jf_entry``
    and declares the kernels of the others, which export them), kernels dealt largest first
    to the part with the least text; ``[ir_text]`` when small or unmarked."""
    parts = PARTS if parts is None else parts
    if parts < 2 or len(ir_text) < PARTS_MIN_CHARS or ENTRY_MARK not in ir_text:
        return [ir_text]
    body, entry = ir_text.split(ENTRY_MARK, 1)
    head, *blocks = body.split(KERNEL_MARK)
    if len(blocks) < parts:
        return [ir_text]
    kernels = [(b.split("\n", 1)[0].strip(), b) for b in blocks]
    bins: list[list[int]] = [[] for _ in range(parts)]
    size = [0] * parts
    for i in sorted(range(len(kernels)), key=lambda i: (-len(kernels[i][1]), i)):
        j = size.index(min(size))
        bins[j].append(i)
        size[j] += len(kernels[i][1])
    texts = []
    for j, members in enumerate(bins):
        text = [head]
        for i in sorted(members):
            name, block = kernels[i]
            if j:           # called from part 0: exported here, declared there
                block = block.replace(f"define internal i32 @{name}(", f"define i32 @{name}(", 1)
            text.append(KERNEL_MARK + block)
        if j == 0:
            text += [_declaration(*kernels[i]) for k, b in enumerate(bins) if k for i in b]
            text.append(ENTRY_MARK + entry)
        texts.append("".join(text))
    return texts


def _declaration(name: str, block: str) -> str:
    m = re.search(rf"define internal i32 @{re.escape(name)}\(([^)]*)\)", block)
    if m is None:
        raise ValueError(f"expected the definition of kernel @{name} in its block, got "
                         f"{block[:120]!r}")
    params = re.sub(r" %[\w.]+", "", m.group(1))
    return f"declare i32 @{name}({params}) nounwind\n"


def pack(objs: Sequence[bytes]) -> bytes:
    """One blob (the caches' unit) for the parts' object files; one part is stored as is."""
    if len(objs) == 1:
        return objs[0]
    return PACKED + struct.pack(f"<{len(objs) + 1}Q", len(objs), *map(len, objs)) + b"".join(objs)


def unpack(blob: bytes) -> list[bytes]:
    if not blob.startswith(PACKED):
        return [blob]
    at = len(PACKED)
    (n,) = struct.unpack_from("<Q", blob, at)
    sizes = struct.unpack_from(f"<{n}Q", blob, at + 8)
    at += 8 * (n + 1)
    objs = []
    for s in sizes:
        objs.append(blob[at:at + s])
        at += s
    if at != len(blob):
        raise ValueError(f"expected {at} bytes of packed object files, got {len(blob)}")
    return objs


def _unlocked(name: str):
    """The bare ctypes function of llvmlite's ``name`` (no lock; ctypes releases the GIL),
    or None on an llvmlite that hides it."""
    return getattr(getattr(ffi.lib, name, None), "_cfn", None)


def compile_all(mods: Sequence, machines: Sequence, builders: Sequence, threads: int) -> list[bytes]:
    """Object code of each parsed module ``mods[i]``: its pass pipeline (``builders[i]``: a
    PassBuilder on ``machines[i]``) then code generation, on up to ``threads`` threads."""
    run = _unlocked("LLVMPY_RunNewModulePassManager")
    emit = _unlocked("LLVMPY_TargetMachineEmitToMemory")
    mpms = [pb.getModulePassManager() for pb in builders]
    out: list = [None] * len(mods)
    if threads < 2 or len(mods) < 2 or run is None or emit is None:
        for i, (mod, tm, pb, mpm) in enumerate(zip(mods, machines, builders, mpms)):
            mpm.run(mod, pb)
            out[i] = tm.emit_object(mod)
        return out
    errors: list = [None] * len(mods)
    bufs: list = [None] * len(mods)
    todo = list(range(len(mods)))
    take = threading.Lock()

    def work() -> None:
        while True:
            with take:
                if not todo:
                    return
                i = todo.pop(0)
            try:
                with ffi.OutputString() as err:
                    run(mpms[i], mods[i], builders[i])
                    bufs[i] = emit(machines[i], mods[i], 1, err)
                    if not bufs[i]:
                        errors[i] = str(err)
            except Exception as e:  # noqa: BLE001 - raised in the calling thread below
                errors[i] = repr(e)

    pool = [threading.Thread(target=work, name=f"jitflow-llvm-{t}", daemon=True)
            for t in range(min(threads, len(mods)))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for i, buf in enumerate(bufs):
        if buf:
            out[i] = ctypes.string_at(ffi.lib.LLVMPY_GetBufferStart(buf),
                                      ffi.lib.LLVMPY_GetBufferSize(buf))
            ffi.lib.LLVMPY_DisposeMemoryBuffer(buf)
    for mpm in mpms:
        mpm.close()
    bad = [e for e in errors if e is not None]
    if bad:
        raise RuntimeError(f"LLVM code generation failed: {bad[0]}")
    return out


def parse_all(texts: Sequence[str], verify: bool = True) -> tuple[list, list]:
    """(contexts, modules): each text parsed (and verified) in a context of its own."""
    ctxs, mods = [], []
    for text in texts:
        ctx = llvm.create_context()
        mod = llvm.parse_assembly(text, context=ctx)
        if verify:
            mod.verify()
        ctxs.append(ctx)
        mods.append(mod)
    return ctxs, mods


def close_all(ctxs: Sequence, mods: Sequence) -> None:
    for mod in mods:
        mod.close()
    for ctx in ctxs:
        ctx.close()


def each_text(mods: Sequence, fn: Callable = str) -> str:
    """The parts' texts one after the other (a dump; not one module when more than one)."""
    if len(mods) == 1:
        return fn(mods[0])
    return "".join(f"; ---- part {i + 1} of {len(mods)} ----\n{fn(m)}\n"
                   for i, m in enumerate(mods))
