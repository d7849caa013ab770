"""``jitflow info``: what jitflow runs with on this machine."""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

#: CPU features worth knowing for generated code (x86 and Arm spellings)
FEATURES = ("sse4.2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq",
            "avx512vnni", "neon", "sve")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def collect() -> dict[str, Any]:
    """The facts ``jitflow info`` prints, as (label -> text) in print order."""
    import jitflow
    from ..backends import available_backends, default_backend_name
    from .graph import dot_program, dot_version

    out: dict[str, Any] = {}
    out["jitflow"] = f"{jitflow.__version__} ({os.path.dirname(jitflow.__file__)})"
    out["python"] = f"{platform.python_version()} ({sys.executable})"
    out["platform"] = platform.platform()
    out["numpy"] = _version("numpy")
    try:
        import llvmlite.binding as llvm
        llvm_v = ".".join(map(str, llvm.llvm_version_info))
        out["llvmlite"] = f"{_version('llvmlite')} (LLVM {llvm_v})"
    except Exception as e:  # noqa: BLE001 - report, do not fail
        out["llvmlite"] = f"{_version('llvmlite')} (cannot load: {e})"
    out["numba"] = _version("numba")
    out["backends"] = ", ".join(available_backends()) + \
        f" (default: {default_backend_name()}; JITFLOW_BACKEND selects)"
    try:
        from ..backends.llvm import jit
        host = jit.host_info()
        feats = {f[1:]: f[0] == "+" for f in host["features"].split(",") if f}
        out["cpu"] = f"{host['cpu']} ({host['triple']})"
        known = [f for f in FEATURES if f in feats]
        out["cpu features"] = ", ".join(f"{f}: {'yes' if feats[f] else 'no'}" for f in known) or \
            "(none of the listed features reported)"
        out["blas"] = (host["blas"] and os.path.realpath(host["blas"])) or "not found (GEMMs use generated loops)"
        if host.get("blas_core"):
            forced = os.environ.get("OPENBLAS_CORETYPE")
            out["blas"] += f" [{host['blas_core']} kernels" + \
                (f", forced by OPENBLAS_CORETYPE={forced}]" if forced else "]")
        from ..backends.llvm import diskcache
        c = diskcache.info()
        out["cache dir"] = f"{c['directory']} ({c['state']}; {c['entries']} entries, " \
            f"{_human(c['bytes'])} of {_human(c['limit_bytes'])}; JITFLOW_CACHE_DIR moves it)"
    except Exception as e:  # noqa: BLE001 - the llvm backend cannot start here
        out["cpu"] = f"unknown (llvm backend unavailable: {type(e).__name__}: {e})"
    prog = dot_program()
    if prog:
        out["graphviz dot"] = f"{prog} ({dot_version()})"
    else:
        out["graphviz dot"] = "not found (needed for dump-ir --format svg; " \
                              "apt-get install graphviz)"
    out["graphviz (python)"] = _version("graphviz")
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith("JITFLOW_")}
    out["environment"] = ", ".join(f"{k}={v}" for k, v in env.items()) or "(no JITFLOW_* variables set)"
    return out


def info_text() -> str:
    facts = collect()
    width = max(len(k) for k in facts) + 1
    return "".join(f"{(k + ':').ljust(width)} {v}\n" for k, v in facts.items())
