"""The stages of one compilation, from a TF1 script (stopped at a compilation) or from IR text.

A stage has a name, a kind (``ir``: IR text the parser reads back; ``memory``: the llvm
backend's buffers and kernel order; ``llvm``: optimized LLVM IR; ``asm``: host assembly) and a
text computed on demand (assembly takes a moment).

``capture_script`` runs a script with ``runpy`` (its own directory first on ``sys.path``, its
own ``sys.argv``, its stdout sent to stderr so that ours carries only the dump) and stops it
by raising a private ``BaseException`` from a ``Session`` compile hook (a script's ``except
Exception`` does not swallow it).
"""
from __future__ import annotations

import contextlib
import os
import runpy
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ..ir.parser import parse
from ..passes.manager import pipeline_for
from ..runtime.compile import run_pipeline

IR_DESCRIPTIONS = {
    "frontend": "the graph as lowered from the TF ops (params: feeds, variables read, rng step; "
                "results: fetches, then variable updates)",
    "autodiff": "after expanding gradients ops (tf.gradients, minimize) into ordinary ops",
    "canonicalize": "after canonicalization (identities, no-op casts/reshapes, x*1, x+0 removed)",
    "constant-fold": "after constant folding",
    "cse": "after common-subexpression elimination",
    "licm": "after loop-invariant code motion (a while body's invariant ops moved before "
            "the loop)",
    "dce": "after dead-code elimination",
    "llvm-legalize": "after rewriting the ops llvm has no kernel for (selu, softsign, "
                     "log_sigmoid) into their records' decompositions",
    "conv-fusion": "after fusing each convolution with its bias and relu (fused_conv2d) and "
                   "a layer's relu and bias gradients (relu_bias_grad)",
    "cuda-legalize": "after rewriting the ops cuda has no kernel for into their records' "
                     "decompositions",
    "promote-narrow": "after computing float16/bfloat16 and the 8/16-bit integers in "
                      "float32/int32 between casts (passes/narrow.py)",
    "fusion": "fused: group(N) marks the ops that run as one kernel",
}
BACKEND_DESCRIPTIONS = {
    "memory": "memory plan: buffers (param/result/temp/const/donated, sizes) and kernel order",
    "llvm": "optimized LLVM IR of the module",
    "asm": "host assembly of the module",
}
ALIASES = {"input": "frontend", "fused": "fusion", "assembly": "asm", "ll": "llvm",
           "llvm-ir": "llvm", "memory-plan": "memory", "mem": "memory"}


class StageError(ValueError):
    """A stage name that does not exist, or a stage this compilation cannot show."""


class ScriptError(RuntimeError):
    """The script failed, or finished, before the compilation asked for."""


@dataclass
class Stage:
    name: str
    kind: str                       # ir | memory | llvm | asm
    description: str
    _text: Optional[str] = None
    _make: Optional[Callable[[], str]] = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self._make()
        return self._text

    @property
    def is_ir(self) -> bool:
        return self.kind == "ir"


@dataclass
class Compilation:
    """What ``dump-ir`` shows: stages plus where they came from."""
    source: str                     # the script or IR file
    backend: str
    function_name: str
    stages: list
    summary: str = ""               # e.g. "run1: targets GradientDescent"
    fusion_log: list = field(default_factory=list)
    event: Any = None               # the Session's CompileEvent (scripts only)
    previous_compilations: list = field(default_factory=list)   # describe() of earlier ones
    _named: Optional[dict] = field(default=None, repr=False)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def ir_stages(self) -> list[Stage]:
        return [s for s in self.stages if s.is_ir]

    def resolve(self, name: str) -> Stage:
        name = name.strip()
        key = ALIASES.get(name, name)
        if key in ("final", "last"):
            return self.ir_stages()[-1]
        for s in self.stages:
            if s.name == key:
                return s
        raise StageError(f"no stage {name!r} for this compilation ({self.backend} backend); "
                         f"stages: {', '.join(self.names())} (aliases: input=frontend, "
                         f"fused=fusion, final=last IR stage, all)")

    def select(self, spec: Optional[str]) -> list[Stage]:
        """``all``, one stage, or a comma-separated list."""
        if spec is None:
            return [self.ir_stages()[-1]]
        if spec.strip() == "all":
            return list(self.stages)
        return [self.resolve(p) for p in spec.split(",") if p.strip()]

    def previous(self, stage: Stage) -> Optional[Stage]:
        i = self.stages.index(stage)
        return self.stages[i - 1] if i > 0 else None

    def named(self) -> dict[str, tuple]:
        """Stage name -> (Function, stable names) for every IR stage that parses, named as
        one chain (tools/naming.py) so that a value keeps its name across the stages."""
        if self._named is None:
            from .naming import chain_names
            fs = []
            for s in self.ir_stages():
                try:
                    fs.append((s.name, parse(s.text.split("--- fusion log")[0])))
                except ValueError:
                    continue
            names = chain_names([f for _, f in fs])
            self._named = {n: (f, nm) for (n, f), nm in zip(fs, names)}
        return self._named


def stage_names(recorded: Sequence[str]) -> list[str]:
    """Display names for recorded pass names: ``input`` -> ``frontend``; a pass that runs
    twice gets ``.2`` (``canonicalize``, ``canonicalize.2``)."""
    counts: dict[str, int] = {}
    out = []
    for raw in recorded:
        base = "frontend" if raw == "input" else raw
        counts[base] = counts.get(base, 0) + 1
        out.append(base if counts[base] == 1 else f"{base}.{counts[base]}")
    return out


def ir_stage_list(recorded: Sequence[tuple[str, str]], first_description: Optional[str] = None
                  ) -> list[Stage]:
    stages = []
    for name, (raw, text) in zip(stage_names([r for r, _ in recorded]), recorded):
        desc = IR_DESCRIPTIONS.get(name.split(".")[0], f"after the {raw} pass")
        if name == "frontend" and first_description:
            desc = first_description
        stages.append(Stage(name, "ir", desc, _text=text))
    return stages


def static_stage_list(backend: str) -> list[tuple[str, str]]:
    """(name, description) of the stages a compilation on ``backend`` has, without running."""
    names = stage_names(["input"] + [p.name for p in pipeline_for(backend)])
    out = [(n, IR_DESCRIPTIONS.get(n.split(".")[0], "")) for n in names]
    if backend == "llvm":
        out += list(BACKEND_DESCRIPTIONS.items())
    return out


def known_stage_name(name: str) -> bool:
    """Whether ``name`` can name a stage on some backend (checked before running a script)."""
    from ..backends import available_backends
    name = ALIASES.get(name.strip(), name.strip())
    if name in ("all", "final", "last"):
        return True
    return any(name == n for b in available_backends() for n, _ in static_stage_list(b))


def backend_stages(get_executable: Callable[[], Any], backend: str) -> list[Stage]:
    if backend != "llvm":
        return []

    def llvm_exe():
        exe = get_executable()
        if hasattr(exe, "steps") and hasattr(exe, "parts"):
            raise StageError("this graph has control flow (cond/while): it runs host-driven "
                             "over one native module per straight-line part and per region "
                             "(jitflow/backends/hostloop.py), not as one module: no single "
                             "memory plan, LLVM IR or assembly")
        if not hasattr(exe, "mb"):
            raise StageError("this graph did not compile to native code (an op has no llvm "
                             "lowering, so it runs on the reference interpreter): no memory plan, "
                             "LLVM IR or assembly")
        return exe

    def memory() -> str:
        from .memory import memory_plan_text
        return memory_plan_text(llvm_exe())

    def llvm_ir() -> str:
        exe = llvm_exe()
        exe.ir_text                  # generated now if loaded from a cache
        return exe.compiled.optimized_ir     # (optimized again on first use)

    def asm() -> str:
        return llvm_exe().compiled.assembly()

    return [Stage("memory", "memory", BACKEND_DESCRIPTIONS["memory"], _make=memory),
            Stage("llvm", "llvm", BACKEND_DESCRIPTIONS["llvm"], _make=llvm_ir),
            Stage("asm", "asm", BACKEND_DESCRIPTIONS["asm"], _make=asm)]


# ----------------------------------------------------------------------- from IR text -------
def stages_from_ir(path: str, text: str, backend: str) -> Compilation:
    """The file as given, then each pass of ``backend``'s pipeline re-run on it; the backend
    stages compile the final Function when asked for."""
    try:
        f = parse(text)
    except ValueError as e:
        raise StageError(f"{path}: cannot parse the IR: {e}") from None
    try:
        f, pm = run_pipeline(f, backend, record=True)
    except Exception as e:  # noqa: BLE001 - verification or pass failure, reported to the user
        raise StageError(f"{path}: the {backend} pipeline failed: {type(e).__name__}: {e}") from None
    recorded = [("input", text if text.endswith("\n") else text + "\n")] + pm.stages[1:]
    stages = ir_stage_list(recorded, first_description=f"the IR as stored in {os.path.basename(path)}")
    cache: dict = {}

    def exe():
        if "exe" not in cache:
            from ..backends import get_backend
            cache["exe"] = get_backend(backend).compile(f)
        return cache["exe"]

    stages += backend_stages(exe, backend)
    return Compilation(path, backend, f.name, stages, f"{f.name} from {path}",
                       list(getattr(f, "fusion_log", [])))


# ----------------------------------------------------------------------- from a script ------
class _StopScript(BaseException):
    """Raised from the compile hook to stop the script; not an Exception on purpose."""


def _fetch_names(event) -> list[str]:
    return [t.name for t in event.fetches] + [op.name for op in event.targets]


def describe(event) -> str:
    parts = []
    if event.fetches:
        parts.append("fetches " + ", ".join(t.name for t in event.fetches))
    if event.targets:
        parts.append("targets " + ", ".join(op.name for op in event.targets))
    return f"{event.function.name} ({'; '.join(parts) or 'nothing fetched'})"


def _user_objects(name: str, script: str) -> list:
    """Objects bound to ``name`` in the script's frames on the current stack (locals first)."""
    from ..frontend.graph import _PKG_DIR
    out = []
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG_DIR) and not fn.startswith("<"):
            for ns in (f.f_locals, f.f_globals):
                if name in ns:
                    out.append(ns[name])
                    break
        f = f.f_back
    return out


def _matches(event, name: str, script: str) -> bool:
    """Whether the compilation fetches ``name``: a tensor name (``loss:0``), an op name
    (``Mean``, ``train``) or a Python variable of the script bound to fetched tensors/ops."""
    for t in event.fetches:
        if name in (t.name, t.op.name):
            return True
    for op in event.targets:
        if name == op.name:
            return True
    fetched = {id(x) for x in list(event.fetches) + list(event.targets)}
    if event.session is not None:
        graph = event.session.graph
    elif event.fetches:                 # a traced function (@jitflow.function): its own graph
        graph = event.fetches[0].graph
    else:
        return False
    for obj in _user_objects(name, script):
        items = obj if isinstance(obj, (list, tuple)) else [obj]
        if not items or any(isinstance(i, (str, bytes)) for i in items):
            continue                # names are matched above, not through Python strings
        ok = True
        for item in items:
            try:
                elem = graph.as_graph_element(item)
            except Exception:  # noqa: BLE001 - not a graph element: no match
                ok = False
                break
            if id(elem) not in fetched:
                ok = False
                break
        if ok:
            return True
    return False


def _format_user_traceback(exc: BaseException, script: str) -> str:
    """The traceback from the script's first frame on, without the runner's frames nor
    jitflow's own (the error message names the op and the user's line)."""
    from ..frontend.graph import _PKG_DIR
    target = os.path.abspath(script)
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, fr in enumerate(frames) if os.path.abspath(fr.filename) == target), 0)
    user = [fr for fr in frames[start:] if not os.path.abspath(fr.filename).startswith(_PKG_DIR)]
    text = "Traceback (most recent call last):\n" if user else ""
    text += "".join(traceback.format_list(user))
    text += "".join(traceback.format_exception_only(type(exc), exc))
    return text.rstrip()


def capture_script(script: str, args: Sequence[str] = (), fetch: Optional[str] = None,
                   nth: int = 1, backend: Optional[str] = None) -> Compilation:
    """Run ``script`` until its ``nth`` compilation (that fetches ``fetch``, if given), stop
    it, and return that compilation's stages. Raises ScriptError if the script fails first
    or never gets there."""
    from ..runtime import compile as compile_mod
    seen: list[str] = []
    captured: list = []
    count = [0]

    def hook(event) -> None:
        seen.append(describe(event))
        if fetch is None or _matches(event, fetch, script):
            count[0] += 1
            if count[0] == nth:
                captured.append(event)
                raise _StopScript()

    what = "its first compilation" if fetch is None and nth == 1 else (
        f"compilation #{nth}" if fetch is None else
        f"a compilation that fetches {fetch!r}" + (f" (#{nth})" if nth > 1 else ""))

    def seen_text() -> str:
        if not seen:
            return "it compiled nothing"
        return "its compilations: " + "; ".join(seen)

    script_abs = os.path.abspath(script)
    old_argv, old_path = sys.argv, list(sys.path)
    old_backend = os.environ.get("JITFLOW_BACKEND")
    if backend:
        os.environ["JITFLOW_BACKEND"] = backend
    sys.argv = [script] + list(args)
    sys.path.insert(0, os.path.dirname(script_abs))
    compile_mod.COMPILE_HOOKS.append(hook)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            runpy.run_path(script, run_name="__main__")
    except _StopScript:
        pass
    except SystemExit as e:
        if e.code not in (None, 0):
            raise ScriptError(f"{script} exited with status {e.code} before {what} "
                              f"({seen_text()})") from None
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - the script's own error, shown to the user
        raise ScriptError(f"{script} raised {type(e).__name__} before {what} ({seen_text()}):\n"
                          f"{_format_user_traceback(e, script)}") from None
    finally:
        try:
            compile_mod.COMPILE_HOOKS.remove(hook)
        except ValueError:
            pass
        sys.argv = old_argv
        sys.path[:] = old_path
        if backend:
            if old_backend is None:
                os.environ.pop("JITFLOW_BACKEND", None)
            else:
                os.environ["JITFLOW_BACKEND"] = old_backend
    if not captured:
        raise ScriptError(f"{script} finished without reaching {what} ({seen_text()})"
                          + ("; --fetch takes a tensor name (loss:0), an op name (train) or a "
                             "Python variable of the script" if fetch else ""))
    ev = captured[0]
    stages = ir_stage_list(ev.stages)
    stages += backend_stages(lambda: ev.executable, ev.backend)
    return Compilation(script, ev.backend, ev.function.name, stages, describe(ev),
                       list(ev.fusion_log), event=ev, previous_compilations=seen[:-1])
