"""libm functions for generated code, vectorized through glibc's libmvec.

Each function is declared once per module as ``@jf_m_<name>`` (float64) and
``@jf_m_<name>f`` (float32), bound to libm's scalar symbol, with a ``vector-function-abi-variant`` attribute
naming libmvec's SSE (``b``), AVX2 (``d``) and AVX-512 (``e``) versions that this CPU runs:
LLVM's loop vectorizer then calls ``_ZGVdN8v_sinf`` on 8 floats at once instead of the scalar
``sinf`` per element. Without libmvec (another C library), the declarations carry no variants
and the loops stay scalar; the results are libm's either way (glibc documents libmvec's
maximum error as 4 ulp; tests/test_math_unary_ops.py measures ours). ``JITFLOW_LIBMVEC=0``
leaves the variants out (scalar calls: benchmarks/math_unary.py compares the two).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Optional

#: name -> number of arguments (all are float -> float or (float, float) -> float)
FUNCTIONS = {"exp": 1, "log": 1, "sin": 1, "cos": 1, "tan": 1, "asin": 1, "acos": 1, "atan": 1, "atan2": 2,
             "sinh": 1, "cosh": 1, "asinh": 1, "acosh": 1, "atanh": 1, "erf": 1, "erfc": 1,
             "log1p": 1, "expm1": 1}

#: libmvec ISA letter -> (CPU feature that must be present, vector bits)
_ISAS = (("b", "sse4.2", 128), ("d", "avx2", 256), ("e", "avx512f", 512))

_state: dict = {}

#: LLVM intrinsics of the rounding ops (backends/llvm/elementwise_math.py)
INTRINSICS = """
declare float @llvm.ceil.f32(float)
declare double @llvm.ceil.f64(double)
declare float @llvm.roundeven.f32(float)
declare double @llvm.roundeven.f64(double)
"""


def _libmvec() -> Optional[ctypes.CDLL]:
    path = ctypes.util.find_library("mvec")
    for cand in ([path] if path else []) + ["libmvec.so.1"]:
        try:
            return ctypes.CDLL(cand)
        except OSError:
            continue
    return None


def register(add_symbol, features: str) -> None:
    """Bind ``jf_m_<name>[f]`` and their vector variants (``add_symbol(name, address)``);
    ``features`` is the host's LLVM feature string (``+avx2,-avx512f,...``)."""
    libm = ctypes.CDLL("libm.so.6")
    mvec = _libmvec() if os.environ.get("JITFLOW_LIBMVEC", "1") != "0" else None
    have = {f[1:] for f in features.split(",") if f.startswith("+")}
    variants: dict[str, list[str]] = {}
    for name, arity in FUNCTIONS.items():
        for suffix, width in (("", 64), ("f", 32)):
            add_symbol(f"jf_m_{name}{suffix}",
                       ctypes.cast(getattr(libm, name + suffix), ctypes.c_void_p).value)
            found = []
            for isa, feature, bits in _ISAS if mvec is not None else ():
                if feature not in have:
                    continue
                lanes = bits // width
                theirs = f"_ZGV{isa}N{lanes}{'v' * arity}_{name}{suffix}"
                try:
                    addr = ctypes.cast(getattr(mvec, theirs), ctypes.c_void_p).value
                except AttributeError:
                    continue
                ours = f"jf_m{lanes}{isa}_{name}{suffix}"
                add_symbol(ours, addr)
                found.append((isa, lanes, ours))
            variants[f"jf_m_{name}{suffix}"] = found
    _state["variants"] = variants


def declarations() -> str:
    """The module-level declarations of every function and its vector variants (after
    ``register``); ``@llvm.compiler.used`` keeps the variants until the vectorizer runs."""
    if "variants" not in _state:
        from .jit import _init
        _init()          # registers the symbols (once per process)
    variants = _state.get("variants", {})
    lines, used = [], []
    for name, arity in FUNCTIONS.items():
        for suffix, t in (("", "double"), ("f", "float")):
            sym = f"jf_m_{name}{suffix}"
            found = variants.get(sym, [])
            args = ", ".join([t] * arity)
            maps = ",".join(f"_ZGV{isa}N{lanes}{'v' * arity}_{sym}({ours})"
                            for isa, lanes, ours in found)
            attr = f' "vector-function-abi-variant"="{maps}"' if maps else ""
            lines.append(f"declare {t} @{sym}({args}) nounwind willreturn nofree nosync "
                         f"memory(none){attr}")
            for isa, lanes, ours in found:
                vt = f"<{lanes} x {t}>"
                lines.append(f"declare {vt} @{ours}({', '.join([vt] * arity)}) nounwind "
                             f"willreturn nofree nosync memory(none)")
                used.append(ours)
    if used:
        lines.append(f"@llvm.compiler.used = appending global [{len(used)} x ptr] ["
                     + ", ".join(f"ptr @{u}" for u in used) + '], section "llvm.metadata"')
    return INTRINSICS + "\n".join(lines) + "\n"


def fingerprint() -> str:
    """The vector variants bound in this process (they change the generated code): part of
    the cache key."""
    if "variants" not in _state:
        from .jit import _init
        _init()
    return ",".join(sorted(ours for found in _state.get("variants", {}).values()
                           for _, _, ours in found))
