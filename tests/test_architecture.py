"""The folder layout is the architecture (docs/architecture.md): imports run one way only, and
no module grows past what one reader can hold.

Layers, lowest first: ``errors`` <- ``ir`` <- ``ops`` <- ``passes`` <- ``kernels`` <-
``backends`` <- ``runtime``; the ``frontend`` (the TF1 API: graph, tensors, layers...) sits on
``ir``/``ops`` (and ``interop``, TF's wire formats, and ``datasets``) and never imports the
compiler below it or the runtime above it. Everything at the
top (``compat``, ``tracing``, ``tools``, ``distributed``) may use any layer.
"""
from __future__ import annotations

import ast
import pathlib

PKG = pathlib.Path(__file__).resolve().parents[1] / "jitflow"
MAX_LINES = 800

#: package -> the packages it may import (besides itself); lazy imports inside functions count
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "ir": {"errors"},
    "ops": {"errors", "ir"},
    "passes": {"errors", "ir", "ops"},
    "kernels": {"errors", "ir", "ops", "passes"},
    "backends": {"errors", "ir", "ops", "passes", "kernels"},
    "frontend": {"errors", "ir", "ops", "datasets", "interop"},
    "datasets": {"errors"},
    "interop": {"errors"},          # TF's wire formats: protos, CRC-32C
    "runtime": {"errors", "ir", "ops", "passes", "kernels", "backends", "frontend"},
}


def _module_name(path: pathlib.Path) -> list[str]:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: pathlib.Path, mod: list[str] | None = None) -> list[tuple[int, str]]:
    """(line, absolute module) of every jitflow import in ``path`` (module ``mod``, default
    from its place in the package), at any depth."""
    mod = _module_name(path) if mod is None else mod
    base_pkg = mod if path.name == "__init__.py" else mod[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("jitflow")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = base_pkg[:len(base_pkg) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "jitflow":          # from jitflow import errors / from ... import x
                # a submodule, or an attribute of the root package (__version__), which is
                # initialized before any of its modules anyway
                out += [(node.lineno, f"jitflow.{a.name}" if _is_module(a.name) else "jitflow")
                        for a in node.names]
            elif target.startswith("jitflow"):
                out.append((node.lineno, target))
    return out


def _is_module(name: str) -> bool:
    return (PKG / name).is_dir() or (PKG / f"{name}.py").is_file()


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _source_files() -> list[pathlib.Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def test_imports_run_one_way():
    bad = []
    for path in _source_files():
        layer = _layer(".".join(_module_name(path)))
        allowed = ALLOWED.get(layer)
        if allowed is None:               # the top: compat, tracing, tools, distributed, ...
            continue
        for line, target in _imports(path):
            other = _layer(target)
            if other and other != layer and other not in allowed:
                bad.append(f"{path.relative_to(PKG.parent)}:{line} ({layer}) imports {target}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_import_checker_sees_lazy_and_relative_imports(tmp_path):
    """The checker itself: a function-local relative import of the runtime is found."""
    probe = tmp_path / "probe.py"
    probe.write_text("import os\n\ndef f():\n    from ..runtime.session import Session\n"
                     "    from .. import errors\n    return Session\n")
    found = _imports(probe, ["jitflow", "frontend", "probe"])
    assert (4, "jitflow.runtime.session") in found and (5, "jitflow.errors") in found


def test_no_module_is_over_800_lines():
    sizes = {p: len(p.read_text().splitlines()) for p in _source_files()}
    big = [f"{p.relative_to(PKG.parent)}: {n}" for p, n in sorted(sizes.items()) if n > MAX_LINES]
    assert not big, f"modules over {MAX_LINES} lines:\n" + "\n".join(big)
