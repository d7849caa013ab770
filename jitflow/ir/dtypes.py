"""Element types of the IR: float16, bfloat16, float32, float64, int8, int16, int32, int64,
uint8, uint16, uint32, uint64, bool, complex64, complex128.

Narrow types are storage types with TF's CPU semantics: arithmetic on float16 and bfloat16 is
computed in float32 and rounded back after each op (round to nearest even), arithmetic on the
8- and 16-bit integers is computed in int32 and wraps around as TF's does. ``DType.compute`` is
that arithmetic type (the type itself for the others). bfloat16 arrays are NumPy arrays of
``ml_dtypes.bfloat16`` (the type TF returns); without the ml_dtypes package there is no
bfloat16 dtype (``as_dtype('bfloat16')`` says so). uint32 and uint64 are full types (computed
as themselves: unsigned division, comparisons, extensions and conversions)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

try:   # bfloat16's NumPy type (TF's own bfloat16 is this package's)
    import ml_dtypes as _ml_dtypes
except ImportError:   # pragma: no cover - ml_dtypes is a dependency; kept optional here
    _ml_dtypes = None


class DType:
    """An IR element type. Singletons: compare with `is` or `==`."""

    __slots__ = ("short", "name", "np", "kind", "is_floating", "is_integer", "is_bool",
                 "is_complex", "is_unsigned", "bits", "_compute", "tf_enum")

    def __init__(self, short: str, name: str, np_dtype: Any, kind: str, tf_enum: int,
                 compute: Optional["DType"] = None) -> None:
        self.short = short            # IR text spelling: f32
        self.name = name              # TF spelling: float32
        self.np = np.dtype(np_dtype)
        self.kind = kind              # 'f' float, 'i' integer (signed or not), 'b' bool, 'c' complex
        self.is_floating = kind == "f"
        self.is_integer = kind == "i"
        self.is_bool = kind == "b"
        self.is_complex = kind == "c"
        self.is_unsigned = self.np.kind == "u"
        self.bits = self.np.itemsize * 8
        self._compute = compute
        self.tf_enum = tf_enum        # TF's DataType number (types.proto)

    @property
    def compute(self) -> "DType":
        """The type arithmetic on this one is computed in (float16 -> float32, int8 -> int32)."""
        return self._compute or self

    @property
    def is_narrow(self) -> bool:
        """A storage type whose arithmetic is computed in ``compute`` and rounded back."""
        return self._compute is not None

    @property
    def as_numpy_dtype(self) -> type:
        return self.np.type

    @property
    def base_dtype(self) -> "DType":
        return self

    @property
    def real_dtype(self) -> "DType":
        return (float64 if self.bits == 128 else float32) if self.is_complex else self

    @property
    def is_numeric(self) -> bool:
        return not self.is_bool

    @property
    def as_datatype_enum(self) -> int:
        return self.tf_enum

    @property
    def size(self) -> int:
        return self.np.itemsize

    @property
    def min(self):
        if self.is_complex:
            raise TypeError(f"{self.name} has no minimum")
        return _finfo(self).min if self.is_floating else np.iinfo(self.np).min

    @property
    def max(self):
        if self.is_complex:
            raise TypeError(f"{self.name} has no maximum")
        return _finfo(self).max if self.is_floating else np.iinfo(self.np).max

    def __repr__(self) -> str:
        return f"tf.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.short,))


def _finfo(d: DType):
    if d.short == "bf16":
        return _ml_dtypes.finfo(_ml_dtypes.bfloat16)
    return np.finfo(d.np)


float32 = DType("f32", "float32", np.float32, "f", 1)
float64 = DType("f64", "float64", np.float64, "f", 2)
int32 = DType("i32", "int32", np.int32, "i", 3)
int64 = DType("i64", "int64", np.int64, "i", 9)
bool_ = DType("bool", "bool", np.bool_, "b", 10)
float16 = DType("f16", "float16", np.float16, "f", 19, compute=float32)
int8 = DType("i8", "int8", np.int8, "i", 6, compute=int32)
int16 = DType("i16", "int16", np.int16, "i", 5, compute=int32)
uint8 = DType("u8", "uint8", np.uint8, "i", 4, compute=int32)
uint16 = DType("u16", "uint16", np.uint16, "i", 17, compute=int32)
uint32 = DType("u32", "uint32", np.uint32, "i", 22)
uint64 = DType("u64", "uint64", np.uint64, "i", 23)
complex64 = DType("c64", "complex64", np.complex64, "c", 8)
complex128 = DType("c128", "complex128", np.complex128, "c", 18)
#: bfloat16 exists where ml_dtypes is installed (a dependency of jitflow)
bfloat16: Optional[DType] = (DType("bf16", "bfloat16", _ml_dtypes.bfloat16, "f", 14,
                                   compute=float32) if _ml_dtypes is not None else None)

ALL: tuple[DType, ...] = tuple(d for d in (
    float32, float64, int32, int64, bool_, float16, bfloat16, int8, int16, uint8, uint16,
    uint32, uint64, complex64, complex128) if d is not None)
#: types whose arithmetic is computed in a wider one (``DType.compute``)
NARROW: tuple[DType, ...] = tuple(d for d in ALL if d.is_narrow)
_BY_NAME: dict[str, DType] = {}
for _d in ALL:
    _BY_NAME[_d.short] = _d
    _BY_NAME[_d.name] = _d
_BY_NAME.update({"float": float32, "double": float64, "int": int32, "f4": float32, "f8": float64,
                 "half": float16, "f2": float16, "long": int64, "short": int16})
_BY_ENUM: dict[int, DType] = {d.tf_enum: d for d in ALL}
_NO_BF16 = "bfloat16 needs the ml_dtypes package (pip install ml_dtypes), which is not installed"


def as_dtype(x: Any) -> DType:
    """Convert a DType, NumPy dtype, Python type or name ('float', 'float32', 'f32') to a DType."""
    if isinstance(x, DType):
        return x
    if isinstance(x, str):
        if x in _BY_NAME:
            return _BY_NAME[x]
        if x in ("bfloat16", "bf16"):
            raise TypeError(_NO_BF16)
        raise TypeError(f"unknown dtype name {x!r}; expected one of {sorted(_BY_NAME)}")
    if x is float:
        return float32
    if x is int:
        return int32
    if x is bool:
        return bool_
    if x is complex:
        return complex128
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


def from_tf_enum(n: int) -> DType:
    """The DType of TF's DataType number ``n`` (types.proto: DT_FLOAT = 1, DT_HALF = 19, ...)."""
    if n in _BY_ENUM:
        return _BY_ENUM[n]
    if n == 14:
        raise TypeError(_NO_BF16)
    raise TypeError(f"TF DataType {n} has no jitflow dtype; supported: "
                    + ", ".join(f"{d.tf_enum} ({d.name})" for d in ALL))


def is_dtype_name(s: str) -> bool:
    return any(s == d.short for d in ALL)
