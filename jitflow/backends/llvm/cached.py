"""What an llvm executable needs besides its object code, kept with it in the caches so that a
hit generates no LLVM IR (``PlanRecord``).

Generating a module's LLVM IR (``ModuleBuilder.build``) also fills three things the run needs:
the error table (status code -> message), the scratch buffers of the kernels, and the run-time
parameter table (functions of the input shapes). The record keeps the first two as data, and
per input-shape signature a ``Layout``: the values of the third, the result shapes and the
arena offsets (computed the first time a signature is planned by an executable that did
generate the IR, e.g. on the cold compile; the shapes were validated then by the same code).
An executable loaded from the cache plans a known signature from the record alone; a new
signature makes it generate the IR once (and the record learns that signature).

The record also keeps the SHA-256 of the LLVM IR it was made from: whenever an executable
that was loaded from the cache generates the IR anyway (a new signature, a dump, or every
hit under ``JITFLOW_CHECK_CACHE_KEYS=1``, which the test suite sets), a different IR means the
cache key missed an input of the code generator, and ``CacheKeyError`` says so instead of
running code compiled from other IR.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from typing import NamedTuple, Optional, Sequence

from ...kernels.errors import ErrorTable

FORMAT = 2
#: input-shape signatures remembered per module (the most recent kept); a process adds at
#: most as many to one record (each addition is a disk write: a loop whose shapes change every
#: trip must not write every trip)
MAX_PLANS = 16


class CacheKeyError(RuntimeError):
    """A cached module's record disagrees with the IR this process generates for the same
    key: the key misses an input of the code generator (a bug)."""


def check_hits() -> bool:
    """``JITFLOW_CHECK_CACHE_KEYS`` set (not 0): every cache hit also generates the IR and
    compares it with the record."""
    return os.environ.get("JITFLOW_CHECK_CACHE_KEYS", "") not in ("", "0")


def ir_digest(ir_text: str) -> str:
    return hashlib.sha256(ir_text.encode()).hexdigest()


def uses_pools(ir_text: str) -> bool:
    """The module calls OpenBLAS or OpenMP kernels (its runs tune their thread count)."""
    return "call void @GOMP_parallel(" in ir_text or "call void @jf_cblas_" in ir_text


def own_threads(ir_text: str) -> bool:
    """The module splits its convolutions over jitflow's threads: OpenBLAS stays at one
    thread during its runs (threads.py)."""
    return "call i32 @jf_blas_get_threads()" in ir_text


def shape_key(shapes: Sequence[tuple]) -> str:
    """The record's name of an input-shape signature (one shape per parameter)."""
    return json.dumps([list(s) for s in shapes], separators=(",", ":"))


class Layout(NamedTuple):
    """One input-shape signature's plan: what ``jf_entry`` needs besides the arguments."""
    params: list            # the run-time parameter table
    results: list           # each result's shape
    offsets: dict           # arena buffer index (temporary or scratch) -> byte offset
    top: int                # arena bytes

    def to_json(self) -> list:
        return [self.params, self.results, sorted(self.offsets.items()), self.top]

    @classmethod
    def from_json(cls, d) -> "Layout":
        params, results, offsets, top = d
        return cls([int(p) for p in params], [tuple(int(n) for n in s) for s in results],
                   {int(i): int(o) for i, o in offsets}, int(top))


class PlanRecord:
    """The data of a generated module that its runs need (see the module docstring)."""

    def __init__(self, ir_sha: str, pools: bool, messages: list, exact: list,
                 planned: int, scratch: list, slots: int,
                 plans: Optional[dict] = None, own: bool = False) -> None:
        self.ir_sha = ir_sha
        self.uses_pools = pools
        self.own_threads = own
        self.messages = list(messages)
        self.exact = sorted(exact)
        self.planned = planned             # buffers made by planning (before the IR)
        self.scratch = list(scratch)       # per scratch buffer (indices planned, planned+1, ...): its kernel
        self.slots = slots                 # run-time parameters
        self.plans: dict[str, Layout] = dict(plans or {})   # shape key -> its Layout
        self._lock = threading.Lock()
        self._added = 0                    # signatures this process added

    @classmethod
    def of(cls, mb, ir_text: str, planned: int) -> Optional["PlanRecord"]:
        """The record of a ModuleBuilder that has generated ``ir_text``; None when its code
        generation made buffers other than kernels' scratch space (nothing to record then)."""
        scratch = []
        for b in mb.buffers[planned:]:
            kernel = next((n for n, k in enumerate(mb.kernels) if b in k.writes), None)
            if b.kind != "scratch" or kernel is None:
                return None
            scratch.append(kernel)
        return cls(ir_digest(ir_text), uses_pools(ir_text), mb.errors.messages,
                   mb.errors.exact, planned, scratch, len(mb.table.fns),
                   own=own_threads(ir_text))

    def same_code(self, other: "PlanRecord") -> list[str]:
        """What differs between two records of one key (nothing when the key is sound)."""
        fields = ("ir_sha", "uses_pools", "own_threads", "messages", "exact", "planned",
                  "scratch", "slots")
        return [f for f in fields if getattr(self, f) != getattr(other, f)]

    def errors(self) -> ErrorTable:
        t = ErrorTable()
        t.messages = list(self.messages)
        t.exact = set(self.exact)
        return t

    def plan(self, key: str) -> Optional[Layout]:
        """The Layout recorded for a signature, or None."""
        with self._lock:
            return self.plans.get(key)

    def add_plan(self, key: str, layout: Layout) -> bool:
        """Remember a signature's Layout; True when it is new (the record should be saved)."""
        with self._lock:
            if key in self.plans or self._added >= MAX_PLANS:
                return False
            self._added += 1
            self.plans[key] = layout
            while len(self.plans) > MAX_PLANS:
                del self.plans[next(iter(self.plans))]
            return True

    # ---------------------------------------------------------------- bytes ---------------
    def to_bytes(self) -> bytes:
        with self._lock:
            plans = {k: v.to_json() for k, v in self.plans.items()}
        return json.dumps({"format": FORMAT, "ir_sha": self.ir_sha, "pools": self.uses_pools,
                           "own": self.own_threads,
                           "messages": self.messages, "exact": self.exact,
                           "planned": self.planned, "scratch": self.scratch,
                           "slots": self.slots, "plans": plans}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Optional["PlanRecord"]:
        """The record, or None for anything not a well-formed record of this format."""
        try:
            d = json.loads(data)
            if d.get("format") != FORMAT:
                return None
            rec = cls(str(d["ir_sha"]), bool(d["pools"]), [str(m) for m in d["messages"]],
                      [int(c) for c in d["exact"]], int(d["planned"]),
                      [int(k) for k in d["scratch"]], int(d["slots"]), own=bool(d["own"]))
            arena = set(range(rec.planned, rec.planned + len(rec.scratch)))
            for key, value in d["plans"].items():
                layout = Layout.from_json(value)
                if len(layout.params) != rec.slots or not arena <= set(layout.offsets) or \
                        any(o < 0 or o > layout.top for o in layout.offsets.values()):
                    return None
                rec.plans[str(key)] = layout
            return rec
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
