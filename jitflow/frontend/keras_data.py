"""What ``fit``/``evaluate``/``predict`` make of their ``x`` and ``y`` (TF 1.15's
``standardize_input_data``): an array, a list of arrays in the order of the model's inputs
(outputs), or a dict keyed by their names, become one array per input (output), checked
against what the model expects, with TF's messages."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

__all__ = ["standardize", "check_lengths", "count", "take"]


def _short(data: Any) -> str:
    return str(data)[:200]


def standardize(data: Any, names: list, prefix: str,
                shapes: Optional[list] = None) -> list:
    """One array per name (``prefix`` is ``input`` or ``target`` in the messages); 1-D input
    arrays become columns, as Keras makes them."""
    if data is None:
        raise ValueError(f"Error when checking model {prefix}: expected data for "
                         f"{names}, got None")
    if isinstance(data, dict):
        arrays = []
        for name in names:
            if name not in data:
                raise ValueError(f'No data provided for "{name}". Need data for each key in: '
                                 f"{names}")
            arrays.append(np.asarray(data[name]))
    elif isinstance(data, (list, tuple)):
        data = list(data)
        if len(data) != len(names):
            if data and hasattr(data[0], "shape"):
                raise ValueError(f"Error when checking model {prefix}: the list of Numpy "
                                 f"arrays that you are passing to your model is not the size "
                                 f"the model expected. Expected to see {len(names)} array(s) "
                                 f"({names}), but instead got the following list of "
                                 f"{len(data)} arrays: {_short(data)}...")
            if len(names) != 1:
                raise ValueError(f"Error when checking model {prefix}: you are passing a list "
                                 f"as {prefix} to your model, but the model expects a list of "
                                 f"{len(names)} Numpy arrays ({names}) instead. The list you "
                                 f"passed was: {_short(data)}")
            data = [data]
        arrays = [np.asarray(d) for d in data]
    else:
        if not hasattr(data, "shape"):
            data = np.asarray(data)
        if len(names) > 1:
            raise ValueError(f"The model expects {len(names)} {prefix} arrays ({names}), but "
                             f"only received one array. Found: array with shape {data.shape}")
        arrays = [np.asarray(data)]
    if prefix == "input":               # a column, unless the input is rank 1 itself
        arrays = [a[:, None] if a.ndim == 1 and (sh is None or len(sh) != 1) else a
                  for a, sh in zip(arrays, shapes or [None] * len(arrays))]
    for name, a, shape in zip(names, arrays, shapes or [None] * len(names)):
        if shape is None:
            continue
        if a.ndim != len(shape):
            raise ValueError(f"Error when checking {prefix}: expected {name} to have "
                             f"{len(shape)} dimensions, but got array with shape {a.shape}")
        for j, (dim, ref) in enumerate(zip(a.shape, shape)):
            if j and ref is not None and ref != dim:
                raise ValueError(f"Error when checking {prefix}: expected {name} to have "
                                 f"shape {tuple(shape)} but got array with shape {a.shape}")
    return arrays


def check_lengths(xs: list, ys: list) -> None:
    """All inputs, and all targets, of one length; the same for both."""
    lx, ly = {len(a) for a in xs}, {len(a) for a in ys}
    if len(lx) > 1:
        raise ValueError(f"All input arrays (x) should have the same number of samples. Got "
                         f"array shapes: {[a.shape for a in xs]}")
    if len(ly) > 1:
        raise ValueError(f"All target arrays (y) should have the same number of samples. Got "
                         f"array shapes: {[a.shape for a in ys]}")
    if lx and ly and lx != ly:
        raise ValueError(f"Input arrays should have the same number of samples as target "
                         f"arrays. Found {lx.pop()} input samples and {ly.pop()} target "
                         f"samples.")


def count(xs: list) -> int:
    return len(xs[0]) if xs else 0


def take(xs: list, idx: Any) -> list:
    return [a[idx] for a in xs]
