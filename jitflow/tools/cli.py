"""The ``jitflow`` command (``python -m jitflow`` works too).

    jitflow dump-ir SCRIPT.py|FILE.jfir [--fetch NAME] [--stage STAGE|all] [--format F] [-o OUT]
                    [--backend NAME] [--diff A [B]] [--list-stages] [-- SCRIPT ARGS...]
    jitflow run-ir FILE.jfir --inputs in.npz [--backend NAME] [-o out.npz]
    jitflow info
    jitflow run [--backend NAME] PROG.py [ARGS...]
    jitflow cache info|clear
"""
from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

FORMATS = ("text", "dot", "svg", "html")


class CLIError(Exception):
    """A user-facing error: printed as ``jitflow <command>: error: ...``, exit status 1."""


# ----------------------------------------------------------------------------- parser -----
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="jitflow", description="jitflow developer tools: see what the compiler made of a "
        "TF1 program, store it, re-run it.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser(
        "dump-ir", help="show the IR of a compilation at any stage (text, dot, svg, html)",
        description="Run a TF1 script until its first compilation (or the first that fetches "
        "--fetch NAME), stop it, and show the IR at the stage asked. With a .jfir file, show "
        "the stored IR and each pass of the backend's pipeline re-run on it. Arguments after "
        "`--` are passed to the script.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="stages: frontend (alias input), autodiff, each pass (a pass run twice is "
        "NAME.2), fusion (alias fused), then on llvm: memory, llvm, asm; `final` is the last IR "
        "stage; `all` is every stage; a comma-separated list picks several.\n"
        "examples:\n"
        "  jitflow dump-ir prog.py --stage all\n"
        "  jitflow dump-ir prog.py --fetch train_step --format svg -o train.svg\n"
        "  jitflow dump-ir prog.py --fetch loss --diff cse dce\n"
        "  jitflow dump-ir prog.py --fetch train_step --stage fused -o train.jfir\n"
        "  jitflow dump-ir train.jfir --format html -o train.html")
    d.add_argument("target", help="a TF1 script (.py) or stored IR text (.jfir)")
    d.add_argument("--fetch", metavar="NAME",
                   help="stop at the first compilation that fetches NAME: a tensor (loss:0), an "
                   "op (train) or a Python variable of the script (train_step)")
    d.add_argument("--compilation", metavar="N", type=int, default=1,
                   help="stop at the N-th such compilation instead of the first (default 1)")
    d.add_argument("--stage", metavar="STAGE",
                   help="stage to show, `all`, or a comma-separated list (default: the last IR "
                   "stage; html: all)")
    d.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), dot (Graphviz source), svg (needs Graphviz's dot), "
                   "html (one page: pictures and text of every stage)")
    d.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    d.add_argument("--backend", metavar="NAME",
                   help="backend whose pipeline and code to show (default: JITFLOW_BACKEND or llvm)")
    d.add_argument("--diff", nargs="+", metavar="STAGE",
                   help="unified diff of the IR text between stages A and B (one stage: against "
                   "the stage before it)")
    d.add_argument("--list-stages", action="store_true",
                   help="list the stage names of the backend and exit")
    d.add_argument("-q", "--quiet", action="store_true", help="no status line on stderr")

    r = sub.add_parser("run-ir", help="execute stored IR text with inputs from an .npz",
                       description="Parse stored IR, run the backend's pass pipeline, compile and "
                       "run it. Inputs are matched to parameters by arg0, arg1, ... or by the "
                       "parameters' labels (Placeholder:0); results are written under their "
                       "labels or out0, out1, ...")
    r.add_argument("file", help="IR text (.jfir), e.g. from `jitflow dump-ir ... -o f.jfir`")
    r.add_argument("--inputs", metavar="IN.npz", help="the arguments (.npz; or .npy for one)")
    r.add_argument("--backend", metavar="NAME", help="backend (default: JITFLOW_BACKEND or llvm)")
    r.add_argument("-o", "--output", metavar="OUT.npz", help="write the results here (.npz)")

    sub.add_parser("info", help="versions, backends, CPU features, BLAS, cache, Graphviz",
                   description="Print what jitflow runs with on this machine.")
    _add_run_parser(sub)
    from . import cache
    cache.add_parser(sub)
    return p


def _split_script_args(argv: list[str]) -> tuple[list[str], list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _check_backend(name: Optional[str]) -> str:
    from ..backends import available_backends, default_backend_name
    name = name or default_backend_name()
    if name not in available_backends():
        raise CLIError(f"unknown backend {name!r}; available: {', '.join(available_backends())}")
    return name


def _status(args, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"jitflow: {msg}", file=sys.stderr)


def _write(args, data: str, default_name: Optional[str] = None) -> None:
    out = args.output
    if out is None and default_name is not None and sys.stdout.isatty():
        out = default_name       # an SVG/HTML page is no use on a terminal
    if out is None or out == "-":
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(data, encoding="utf-8")
    _status(args, f"wrote {out}")


# ----------------------------------------------------------------------------- dump-ir ----
def _is_script(target: str) -> bool:
    if target.endswith(".py"):
        return True
    try:
        head = Path(target).read_text(encoding="utf-8", errors="replace")[:4096].lstrip()
    except OSError as e:
        raise CLIError(f"cannot read {target}: {e.strerror}") from None
    if head.startswith("func"):
        return False
    raise CLIError(f"{target}: neither a Python script (.py) nor IR text (starting with `func`)")


def _load(args, script_args: list[str]):
    from .stages import ScriptError, StageError, capture_script, stages_from_ir
    if not os.path.exists(args.target):
        raise CLIError(f"{args.target}: no such file")
    backend = _check_backend(args.backend)
    if _is_script(args.target):
        if args.compilation < 1:
            raise CLIError("--compilation counts from 1")
        try:
            comp = capture_script(args.target, script_args, args.fetch, args.compilation,
                                  backend if args.backend else None)
        except ScriptError as e:
            raise CLIError(str(e)) from None
        where = f"at {comp.summary} on {comp.backend}"
        _status(args, f"stopped {os.path.basename(args.target)} {where}")
        if args.fetch is None and args.compilation == 1:
            _status(args, "(this is the script's first compilation; --fetch NAME picks a later "
                    "one: a tensor or op name, or a Python variable of the script)")
        return comp
    if args.fetch or args.compilation != 1 or script_args:
        raise CLIError("--fetch, --compilation and script arguments apply to scripts, not IR files")
    text = Path(args.target).read_text(encoding="utf-8")
    try:
        return stages_from_ir(args.target, text, backend)
    except StageError as e:
        raise CLIError(str(e)) from None


def _stage_text(stage, soft: bool = False) -> str:
    """A stage's text; ``soft`` (several stages shown): a stage this compilation cannot show
    becomes a note instead of an error."""
    from .stages import StageError
    try:
        return stage.text
    except StageError as e:
        if soft:
            return f"(not available: {e})\n"
        raise CLIError(f"stage {stage.name}: {e}") from None


def _list_stages(args) -> int:
    from .stages import static_stage_list
    backend = _check_backend(args.backend)
    rows = static_stage_list(backend)
    width = max(len(n) for n, _ in rows)
    print(f"stages on the {backend} backend, in order:")
    for n, desc in rows:
        print(f"  {n.ljust(width)}  {desc}")
    print("aliases: input = frontend, fused = fusion, final = the last IR stage; `all` selects "
          "every stage")
    return 0


def _diff(args, comp) -> int:
    if len(args.diff) > 2:
        raise CLIError("--diff takes one or two stage names")
    if args.format != "text":
        raise CLIError("--diff writes text; leave out --format")
    try:
        if len(args.diff) == 1:
            b = comp.resolve(args.diff[0])
            a = comp.previous(b)
            if a is None:
                raise CLIError(f"stage {b.name} is the first stage: nothing to diff against")
        else:
            a, b = comp.resolve(args.diff[0]), comp.resolve(args.diff[1])
    except ValueError as e:
        raise CLIError(str(e)) from None
    lines = list(difflib.unified_diff(_diff_text(comp, a).splitlines(),
                                      _diff_text(comp, b).splitlines(),
                                      f"{comp.function_name} {a.name}",
                                      f"{comp.function_name} {b.name}", lineterm=""))
    named = comp.named()
    if not lines:
        _status(args, f"no changes between {a.name} and {b.name}")
    elif a.name in named and b.name in named:
        from .naming import change_summary
        _status(args, f"{a.name} -> {b.name}: {change_summary(*named[a.name], *named[b.name])}")
    _write(args, "".join(line + "\n" for line in lines))
    return 0


def _diff_text(comp, stage) -> str:
    """An IR stage with stable value names (tools/naming.py: named by their producer and
    matched across the stages, not renumbered), so a diff shows what the passes changed;
    other stages as is."""
    text = _stage_text(stage)
    named = comp.named().get(stage.name) if stage.is_ir else None
    if named is None:
        return text
    from .naming import stable_text
    return stable_text(*named)


def _text_output(comp, stages) -> str:
    if len(stages) == 1:
        return _stage_text(stages[0])
    parts = []
    n = len(comp.stages)
    for s in stages:
        i = comp.stages.index(s) + 1
        parts.append(f"=== {s.name} ({i}/{n}): {s.description} ===\n")
        text = _stage_text(s, soft=True)
        parts.append(text if text.endswith("\n") else text + "\n")
        if s.name == "fusion" and comp.fusion_log:
            parts.append("--- fusion log (refused fusions) ---\n")
            parts.extend(f"  {line}\n" for line in comp.fusion_log)
        parts.append("\n")
    return "".join(parts)


def _dot_for(comp, stage) -> str:
    from ..ir.parser import parse
    from .graph import function_to_dot
    if not stage.is_ir:
        raise CLIError(f"stage {stage.name} is not a graph; use --format text for it (graph "
                       f"stages: {', '.join(s.name for s in comp.ir_stages())})")
    try:
        f = parse(stage.text)
    except ValueError as e:
        raise CLIError(f"stage {stage.name}: cannot parse its IR: {e}") from None
    return function_to_dot(f, f"{comp.function_name}: {stage.name}")


def _html(args, comp, stages) -> str:
    """The interactive page (tools/page.py): a graph of every IR stage drawn in the browser
    (no Graphviz needed), the text of every stage and each IR stage's diff from the one before,
    in stable value names."""
    from .naming import change_summary, stable_text
    from .page import html_page, stage_graph
    named = comp.named()
    sections = []
    for s in stages:
        sec = {"name": s.name, "description": s.description,
               "text": _stage_text(s, soft=len(stages) > 1), "is_ir": s.is_ir}
        if s.name in named:
            f, names = named[s.name]
            sec["graph"] = stage_graph(f, names)
            prev = comp.previous(s)
            if prev is not None and prev.name in named:
                pf, pnames = named[prev.name]
                before, after = stable_text(pf, pnames), stable_text(f, names)
                summary = "" if before == after else change_summary(pf, pnames, f, names)
                sec["diff"] = (prev.name, before, after, summary)
        sections.append(sec)
    meta = [f"source: {os.path.abspath(comp.source)}", f"compilation: {comp.summary}",
            f"backend: {comp.backend}"]
    if comp.fusion_log:
        meta.append(f"fusion: {len(comp.fusion_log)} refused fusion(s); see the text output of "
                    "--stage all")
    title = f"jitflow IR: {os.path.basename(comp.source)} @{comp.function_name}"
    return html_page(title, meta, sections)


def cmd_dump_ir(args, script_args: list[str]) -> int:
    from .graph import GraphvizMissing, render_svg
    if args.list_stages:
        return _list_stages(args)
    from .stages import known_stage_name
    names = list(args.diff or []) + ([] if args.stage in (None, "all") else args.stage.split(","))
    bad = [n for n in names if n.strip() and not known_stage_name(n)]
    if bad:                  # before running the script: a typo should not cost a whole run
        raise CLIError(f"unknown stage(s) {', '.join(map(repr, bad))}; see `jitflow dump-ir "
                       f"{args.target} --list-stages`")
    comp = _load(args, script_args)
    if args.diff:
        return _diff(args, comp)
    spec = args.stage if args.stage is not None else ("all" if args.format == "html" else None)
    try:
        stages = comp.select(spec)
    except ValueError as e:
        raise CLIError(str(e)) from None
    if not stages:
        raise CLIError("no stage selected")
    stem = Path(args.target).stem
    if args.format == "text":
        _write(args, _text_output(comp, stages))
    elif args.format == "dot":
        if spec == "all":
            stages = [s for s in stages if s.is_ir]
        _write(args, "".join(_dot_for(comp, s) for s in stages))
    elif args.format == "svg":
        if len(stages) != 1:
            raise CLIError("--format svg draws one stage; pick one with --stage, or use "
                           "--format html for a page with every stage")
        dot = _dot_for(comp, stages[0])
        try:
            svg = render_svg(dot)
        except GraphvizMissing as e:
            raise CLIError(str(e)) from None
        _write(args, svg, default_name=f"{stem}.{stages[0].name}.svg")
    else:
        _write(args, _html(args, comp, stages), default_name=f"{stem}.html")
    return 0


# ----------------------------------------------------------------------------- run-ir -----
def cmd_run_ir(args) -> int:
    import numpy as np
    from .runir import RunIRError, load_inputs, run_ir
    from ..errors import OpError
    backend = _check_backend(args.backend)
    if not os.path.exists(args.file):
        raise CLIError(f"{args.file}: no such file")
    text = Path(args.file).read_text(encoding="utf-8")
    arrays = load_inputs(args.inputs) if args.inputs else {}
    try:
        f, results = run_ir(text, arrays, backend, args.file)
    except RunIRError as e:
        hint = " (give the inputs with --inputs FILE.npz)" if not args.inputs and \
            str(e).startswith("missing") else ""
        raise CLIError(f"{e}{hint}") from None
    except OpError as e:
        raise CLIError(f"running @{_name(text)} failed: {e}") from None
    for i, p in enumerate(f.params):
        if p.name == "rng_step" and not ({f"arg{i}", "rng_step"} & set(arrays)):
            print("jitflow: note: the run step (rng_step) of the random ops defaulted to 0",
                  file=sys.stderr)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        with open(args.output, "wb") as fh:
            np.savez(fh, **results)
        print(f"jitflow: wrote {len(results)} result(s) of @{f.name} ({backend}) to {args.output}",
              file=sys.stderr)
        for k, v in results.items():
            print(f"  {k}: {v.dtype}{list(v.shape)}", file=sys.stderr)
    else:
        with np.printoptions(threshold=20, edgeitems=3, precision=6):
            for k, v in results.items():
                print(f"{k}: {v.dtype}{list(v.shape)}")
                print("  " + np.array2string(v).replace("\n", "\n  "))
    return 0


def _name(text: str) -> str:
    head = text.lstrip().split("(", 1)[0]
    return head.split("@", 1)[-1] if "@" in head else "main"


# ----------------------------------------------------------------------------- run --------
def _add_run_parser(sub) -> None:
    r = sub.add_parser(
        "run", help="run an unmodified TF1 program (`import tensorflow as tf`) on jitflow",
        description="Run PROG.py as `python PROG.py ARGS...` would, with an import hook that "
        "makes `import tensorflow` (and tensorflow.compat.v1, tensorflow.contrib..., "
        "tensorflow.examples...) give jitflow's TF1 API; no file is changed. A TF name "
        "jitflow lacks fails with an error naming it (see docs/tf_import.md).")
    r.add_argument("--backend", metavar="NAME",
                   help="backend to run on (default: JITFLOW_BACKEND or llvm)")
    r.add_argument("script", help="the TF1 program (.py)")
    r.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the program")


def cmd_run(args) -> int:
    """Run ``args.script`` as ``__main__`` with ``tensorflow`` aliased to jitflow; the
    program's exit status is the command's."""
    import runpy
    import traceback
    from ..compat import tensorflow_alias
    if not os.path.isfile(args.script):
        print(f"jitflow run: error: {args.script}: no such file", file=sys.stderr)
        return 2
    if args.backend:
        try:
            os.environ["JITFLOW_BACKEND"] = _check_backend(args.backend)
        except CLIError as e:
            print(f"jitflow run: error: {e}", file=sys.stderr)
            return 2
    script = os.path.abspath(args.script)
    sys.argv = [args.script] + list(args.args)
    sys.path.insert(0, os.path.dirname(script))
    tensorflow_alias.install()
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # noqa: BLE001 - the program's error, shown as Python would
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next          # drop jitflow's and runpy's frames above the program
        traceback.print_exception(type(e), e, tb or e.__traceback__)
        return 1
    finally:
        sys.stdout.flush()
    return 0


# ----------------------------------------------------------------------------- main -------
def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"]:        # the program's own arguments may hold `--`: no split
        return cmd_run(_parser().parse_args(argv))
    argv, script_args = _split_script_args(argv)
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "dump-ir":
            return cmd_dump_ir(args, script_args)
        if script_args:
            raise CLIError("arguments after `--` are passed to dump-ir scripts only")
        if args.command == "run-ir":
            return cmd_run_ir(args)
        if args.command == "cache":
            from . import cache
            return cache.run(args)
        if args.command == "info":
            from .info import info_text
            sys.stdout.write(info_text())
            return 0
        parser.error(f"unknown command {args.command}")
    except CLIError as e:
        print(f"jitflow {args.command}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
