"""The one compile entry: a backend's pass pipeline, then the backend, then the compile event.

``Session``, ``@jitflow.function`` (jitflow/tracing.py) and the tools (``jitflow dump-ir``,
``jitflow run-ir``) all compile through :func:`compile_function`, so the pipeline, the
``JITFLOW_DUMP`` files, the compile log and the :data:`COMPILE_HOOKS` events are the same for
each of them. What a backend needs to know about the graph beyond the Function itself travels in
one :class:`~jitflow.backends.base.CompileOptions`.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from ..backends import get_backend
from ..backends.base import CompileOptions
from ..ir.core import Function
from ..passes.manager import Pass, PassManager, pipeline_for


@dataclass
class CompileEvent:
    """What one compilation produced, for tools (``jitflow dump-ir``) and tests."""
    session: Optional[Any]         # None for a traced function (@jitflow.function) or a tool
    fetches: list
    targets: list
    function: Any                  # the final ir.Function
    stages: list                   # [(stage name, IR text)] from the frontend to the last pass
    executable: Any
    backend: str
    seconds: float
    fusion_log: list


#: callables ``hook(event: CompileEvent)`` run after each compilation (may raise to stop)
COMPILE_HOOKS: list = []


@dataclass
class Compiled:
    """The result of :func:`compile_function`."""
    function: Function             # after the pipeline
    executable: Any
    backend: str
    seconds: float
    passes: PassManager = field(repr=False)


def log_compile(msg: str) -> None:
    """Print ``msg`` to stderr when ``JITFLOW_LOG`` contains ``compile``."""
    if "compile" in os.environ.get("JITFLOW_LOG", "").split(","):
        print(f"[jitflow] {msg}", file=sys.stderr)


def run_pipeline(f: Function, backend: str, passes: Optional[Sequence[Pass]] = None,
                 record: Optional[bool] = None) -> tuple[Function, PassManager]:
    """Run ``passes`` (default: ``backend``'s pipeline) on ``f``; stages are recorded when a
    compile hook listens (or ``record``)."""
    pm = PassManager(pipeline_for(backend) if passes is None else passes,
                     record=bool(COMPILE_HOOKS) if record is None else record)
    return pm.run(f), pm


def compile_function(f: Function, backend: str, options: Optional[CompileOptions] = None, *,
                     passes: Optional[Sequence[Pass]] = None, session: Any = None,
                     fetches: Sequence = (), targets: Sequence = (),
                     start: Optional[float] = None) -> Compiled:
    """Run the pipeline on ``f``, compile it on ``backend`` and fire the compile hooks.

    ``passes`` overrides the backend's pipeline (the placement path runs part of it earlier);
    ``options`` says what the backend may assume (donations, fetch/feed counts); its
    ``dump_dir`` defaults to this compilation's ``JITFLOW_DUMP`` folder. ``start`` is when the
    compilation began (for the reported time), default now.
    """
    t0 = time.perf_counter() if start is None else start
    be = get_backend(backend)
    final, pm = run_pipeline(f, be.name, passes)
    opts = options if options is not None else CompileOptions()
    if opts.dump_dir is None and pm.last_dump is not None:
        opts = opts.replace(dump_dir=str(pm.last_dump))
    exe = be.compile(final, opts)
    secs = time.perf_counter() - t0
    result = Compiled(final, exe, be.name, secs, pm)
    fire_compile_hooks(result, session, fetches, targets)
    return result


def fire_compile_hooks(c: Compiled, session: Any = None, fetches: Sequence = (),
                       targets: Sequence = (), stages: Optional[list] = None,
                       backend: Optional[str] = None) -> None:
    """Tell every :data:`COMPILE_HOOKS` listener about ``c``."""
    if not COMPILE_HOOKS:
        return
    event = CompileEvent(session, list(fetches), list(targets), c.function,
                         c.passes.stages if stages is None else stages, c.executable,
                         backend or c.backend, c.seconds,
                         list(getattr(c.function, "fusion_log", [])))
    for hook in list(COMPILE_HOOKS):
        hook(event)
