"""``jitflow run-ir``: execute stored IR text on a backend with arrays from an ``.npz``.

Inputs are matched to parameters by name: ``arg0``, ``arg1``, ... (parameter order) or the
parameter's label (``Placeholder:0``; ``Placeholder`` also works for a ``:0`` label). The run
step parameter of graphs with random ops (label ``rng_step``) defaults to 0. Results are
written under their labels (``loss:0``), or ``out0``, ``out1``, ... for unlabelled or
repeated labels.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..ir.core import Function
from ..ir.parser import parse
from ..ir.types import format_type
from ..ir.verifier import VerificationError, verify
from ..runtime.compile import run_pipeline


class RunIRError(ValueError):
    pass


def _param_keys(f: Function) -> dict[str, int]:
    keys: dict[str, int] = {}
    for i, p in enumerate(f.params):
        keys[f"arg{i}"] = i
    for i, p in enumerate(f.params):
        if p.name:
            keys.setdefault(p.name, i)
            if p.name.endswith(":0"):
                keys.setdefault(p.name[:-2], i)
    return keys


def _describe(f: Function, i: int) -> str:
    p = f.params[i]
    return f"arg{i}" + (f" ({p.name!r})" if p.name else "") + f" of type {format_type(p.type)}"


def bind_inputs(f: Function, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The argument list for ``f`` from named arrays, with clear errors for missing or extra
    inputs, wrong ranks, dims, dtypes and inconsistent symbolic dims."""
    keys = _param_keys(f)
    args: list[Optional[np.ndarray]] = [None] * len(f.params)
    source: dict[int, str] = {}
    extra = []
    for name, a in arrays.items():
        i = keys.get(name)
        if i is None:
            extra.append(name)
            continue
        if i in source:
            raise RunIRError(f"inputs {source[i]!r} and {name!r} both give {_describe(f, i)}")
        source[i] = name
        args[i] = a
    if extra:
        expected = ", ".join(("arg%d" % i) + (f" / {p.name!r}" if p.name else "")
                             for i, p in enumerate(f.params))
        raise RunIRError(f"input(s) {', '.join(map(repr, extra))} match no parameter of @{f.name}; "
                         f"its parameters: {expected or '(none)'}")
    missing = []
    for i, p in enumerate(f.params):
        if args[i] is None:
            if p.name == "rng_step" and p.type.rank == 0:
                args[i] = np.array(0, dtype=p.type.dtype.np)
                source[i] = "(default 0)"
            else:
                missing.append(_describe(f, i))
    if missing:
        raise RunIRError(f"missing input(s) for @{f.name}: {'; '.join(missing)} (name them "
                         f"argN or by their label in the .npz)")
    symbols: dict[str, tuple[int, str]] = {}
    out = []
    for i, (p, a) in enumerate(zip(f.params, args)):
        a = np.asarray(a)
        want = p.type.dtype.np
        if a.dtype != want:
            if not np.can_cast(a.dtype, want, casting="same_kind"):
                raise RunIRError(f"input {source[i]!r} has dtype {a.dtype}, which cannot be "
                                 f"converted to {_describe(f, i)}")
            a = a.astype(want)
        decl = p.type.shape
        if decl is not None:
            if a.ndim != len(decl):
                raise RunIRError(f"input {source[i]!r} has shape {a.shape} (rank {a.ndim}) but "
                                 f"{_describe(f, i)} has rank {len(decl)}")
            for axis, (d, n) in enumerate(zip(decl, a.shape)):
                if isinstance(d, int) and d != n:
                    raise RunIRError(f"input {source[i]!r} has shape {a.shape} but "
                                     f"{_describe(f, i)} needs {d} at axis {axis}")
                if isinstance(d, str):
                    prev = symbols.setdefault(d, (n, source[i]))
                    if prev[0] != n:
                        raise RunIRError(f"input {source[i]!r} has shape {a.shape}: dim {d} is {n} "
                                         f"at axis {axis}, but {prev[0]} in input {prev[1]!r}")
        out.append(a if a.flags.c_contiguous else a.copy(order="C"))   # (keeps 0-d arrays 0-d)
    return out


def result_keys(f: Function) -> list[str]:
    labels = list(f.result_names)
    keys = [n if n and labels.count(n) == 1 else f"out{i}" for i, n in enumerate(labels)]
    if len(set(keys)) != len(keys):        # a label spelled like another result's outN
        keys = [f"out{i}" for i in range(len(labels))]
    return keys


def load_inputs(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise RunIRError(f"input file {path} does not exist")
    try:
        if path.endswith(".npy"):
            return {"arg0": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise RunIRError(f"cannot read {path} as .npz: {e}") from None


def run_ir(text: str, arrays: dict[str, np.ndarray], backend: str, path: str = "<ir>"
           ) -> tuple[Function, dict[str, np.ndarray]]:
    from ..backends import get_backend
    try:
        f = parse(text)
    except ValueError as e:
        raise RunIRError(f"{path}: cannot parse the IR: {e}") from None
    try:    # hand-written IR: checked before any pass (the pipeline verifies only its output)
        verify(f)
    except VerificationError as e:
        raise RunIRError(f"{path}: invalid IR: {e}") from None
    args = bind_inputs(f, arrays)
    try:
        f, _ = run_pipeline(f, backend, record=False)
    except Exception as e:  # noqa: BLE001 - verification/pass errors, shown to the user
        raise RunIRError(f"{path}: the {backend} pipeline failed: {type(e).__name__}: {e}") from None
    exe = get_backend(backend).compile(f)
    results = exe.run(args)
    return f, {k: np.asarray(r) for k, r in zip(result_keys(f), results)}
