"""Element types of the IR: float32, float64, int32, int64, bool."""
from __future__ import annotations

from typing import Any

import numpy as np


class DType:
    """An IR element type. Singletons: compare with `is` or `==`."""

    __slots__ = ("short", "name", "np", "is_floating", "is_integer", "is_bool")

    def __init__(self, short: str, name: str, np_dtype: Any) -> None:
        self.short = short            # IR text spelling: f32
        self.name = name              # TF spelling: float32
        self.np = np.dtype(np_dtype)
        self.is_floating = self.np.kind == "f"
        self.is_integer = self.np.kind == "i"
        self.is_bool = self.np.kind == "b"

    @property
    def as_numpy_dtype(self) -> type:
        return self.np.type

    @property
    def base_dtype(self) -> "DType":
        return self

    @property
    def is_numeric(self) -> bool:
        return not self.is_bool

    @property
    def min(self):
        return np.finfo(self.np).min if self.is_floating else np.iinfo(self.np).min

    @property
    def max(self):
        return np.finfo(self.np).max if self.is_floating else np.iinfo(self.np).max

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.short,))


float32 = DType("f32", "float32", np.float32)
float64 = DType("f64", "float64", np.float64)
int32 = DType("i32", "int32", np.int32)
int64 = DType("i64", "int64", np.int64)
bool_ = DType("bool", "bool", np.bool_)

ALL: tuple[DType, ...] = (float32, float64, int32, int64, bool_)
_BY_NAME: dict[str, DType] = {}
for _d in ALL:
    _BY_NAME[_d.short] = _d
    _BY_NAME[_d.name] = _d
_BY_NAME.update({"float": float32, "double": float64, "int": int32, "f4": float32, "f8": float64})


def as_dtype(x: Any) -> DType:
    """Convert a DType, NumPy dtype, Python type or name ('float', 'float32', 'f32') to a DType."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        if x in _BY_NAME:
            return _BY_NAME[x]
        raise TypeError(f"unknown dtype name {x!r}; expected one of {sorted(_BY_NAME)}")
    if x is float:
        return float32
    if x is int:
        return int32
    if x is bool:
        return bool_
    try:
        npd = np.dtype(x)
    except TypeError as e:
        why = str(e) if "jitflow" in str(e) else ""     # the object's own explanation
        raise TypeError(f"cannot convert {x!r} to a jitflow dtype" + (f": {why}" if why else "")
                        ) from None
    for d in ALL:
        if d.np == npd:
            return d
    raise TypeError(f"unsupported dtype {npd}; jitflow supports {', '.join(d.name for d in ALL)}")


def is_dtype_name(s: str) -> bool:
    return s in ("f32", "f64", "i32", "i64", "bool")
