"""PassManager: runs a named pipeline of IR passes and verifies the result.

The IR is verified once, after the last pass (the verifier costs as much as the passes
together); ``JITFLOW_VERIFY_EACH_PASS=1`` (set by the test suite), a ``JITFLOW_DUMP`` folder or
``PassManager(verify_each=True)`` verify the input and the IR after every pass instead, so an
error names the pass that broke the IR. An error of the final verification names the pass
that ran last and says how to find the culprit.

``JITFLOW_DUMP=<dir>`` writes the IR after every pass as ``<dir>/<graph-id>/<NN>-<pass>.jfir``
and each pass's time in ``<dir>/<graph-id>/passes.log``.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..ir.core import Function
from ..ir.printer import print_function
from ..ir.verifier import VerificationError, verify
from .autodiff import expand_gradients
from .dce import dce
from .fusion import fuse
from .loops import hoist_loop_invariants
from .numerics import enabled as _check_numerics_enabled
from .narrow import promote_narrow
from .numerics import insert_numeric_checks
from .simplify import canonicalize, cse, fold_constants

PassFn = Callable[[Function], Function]


@dataclass(frozen=True)
class Pass:
    """A named IR -> IR function. ``per_device``: it depends on the device the code runs on
    (fusion, a backend's legalization), so with ``tf.device`` scopes it runs on each device's
    part after placement, the other passes on the whole Function before it."""
    name: str
    run: PassFn
    per_device: bool = False


AUTODIFF = Pass("autodiff", expand_gradients)
DCE = Pass("dce", dce)
CANONICALIZE = Pass("canonicalize", canonicalize)
FOLD = Pass("constant-fold", fold_constants)
CSE = Pass("cse", cse)
FUSION = Pass("fusion", fuse, per_device=True)
#: the native backends' narrow-type arithmetic in float32/int32 between casts
PROMOTE_NARROW = Pass("promote-narrow", promote_narrow, per_device=True)
CHECK_NUMERICS = Pass("check-numerics", insert_numeric_checks)
LICM = Pass("licm", hoist_loop_invariants)

#: the passes every compiling backend runs before its own (fusion last, by convention)
SIMPLIFY = [AUTODIFF, CANONICALIZE, FOLD, CSE, LICM, CANONICALIZE, DCE]

#: pipeline per backend name: the reference's here, the others registered by their backend
#: package (``jitflow/backends/<name>/pipeline.py``) through ``register_pipeline``
PIPELINES: dict[str, list[Pass]] = {
    "reference": [AUTODIFF, CANONICALIZE, FOLD, CSE, LICM, DCE],
}


def register_pipeline(backend: str, passes: Sequence[Pass]) -> None:
    """Declare the pass pipeline of ``backend`` (a later registration replaces it)."""
    PIPELINES[backend] = list(passes)


def verify_each_pass() -> bool:
    """``JITFLOW_VERIFY_EACH_PASS`` set (and not 0): verify after every pass."""
    return os.environ.get("JITFLOW_VERIFY_EACH_PASS", "") not in ("", "0")


def graph_id(f: Function) -> str:
    return f"{f.name}-{hashlib.sha1(print_function(f).encode()).hexdigest()[:10]}"


class PassManager:
    def __init__(self, passes: Sequence[Pass], dump_dir: Optional[str] = None,
                 record: bool = False, verify_each: Optional[bool] = None) -> None:
        self.passes = list(passes)
        self.record = record
        self.stages: list[tuple[str, str]] = []   # (stage name, IR text) when recording
        self.dump_dir = dump_dir if dump_dir is not None else os.environ.get("JITFLOW_DUMP") or None
        #: verify the input and after every pass (default: JITFLOW_VERIFY_EACH_PASS or dumping)
        self.verify_each = (verify_each_pass() or bool(self.dump_dir)) if verify_each is None \
            else verify_each
        self.timings: list[tuple[str, float]] = []
        self.last_dump: Optional[Path] = None

    def run(self, f: Function) -> Function:
        out_dir = None
        if self.dump_dir:
            out_dir = Path(self.dump_dir) / graph_id(f)
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "00-input.jfir").write_text(print_function(f))
            self.last_dump = out_dir
        if self.verify_each:
            self._verify(f, "in the pipeline's input (before any pass)")
        if self.record:
            self.stages.append(("input", print_function(f)))
        for n, p in enumerate(self.passes, 1):
            t0 = time.perf_counter()
            f = p.run(f)
            if self.verify_each:
                self._verify(f, f"after pass #{n} {p.name!r}")
            self.timings.append((p.name, time.perf_counter() - t0))
            if self.record:
                self.stages.append((p.name, print_function(f)))
            if out_dir is not None:
                (out_dir / f"{n:02d}-{p.name}.jfir").write_text(print_function(f))
                if getattr(f, "fusion_log", None) and p.name == "fusion":
                    (out_dir / "fusion.log").write_text("\n".join(f.fusion_log) + "\n")
        if out_dir is not None:
            with open(out_dir / "passes.log", "w") as log:
                for name, secs in self.timings:
                    log.write(f"{name}\t{secs * 1e3:.3f} ms\n")
        if not self.verify_each:
            if self.passes:
                last = self.passes[-1].name
                self._verify(f, f"after the pipeline (last pass #{len(self.passes)} {last!r}; input "
                             f"and passes unchecked: JITFLOW_VERIFY_EACH_PASS=1 names the pass "
                             f"that broke it)")
            else:
                self._verify(f, "in the pipeline's input (no passes)")
        return f

    @staticmethod
    def _verify(f: Function, where: str) -> None:
        try:
            verify(f)
        except VerificationError as e:
            raise VerificationError(f"invalid IR {where}: {e}") from None


def pipeline_for(backend: str) -> list[Pass]:
    """The backend's pipeline; with JITFLOW_CHECK_NUMERICS=1, checks are inserted after
    autodiff and simplification (so they see the final ops)."""
    passes = list(PIPELINES.get(backend, PIPELINES["reference"]))
    if _check_numerics_enabled():
        at = next((i for i, p in enumerate(passes) if p.name == "fusion"), len(passes))
        passes.insert(at, CHECK_NUMERICS)
    return passes
