"""TF1's ``tf.Dimension``: what ``TensorShape`` indexing and iteration give in TF 1.x
(``x.get_shape()[1].value``, ``[d.value for d in x.shape]``).

A known dim is a ``Dimension``, an ``int`` subclass (so arithmetic, ``range``, shapes built
from it and ``isinstance(d, int)`` behave as with the int) with TF1's ``value``; an unknown
dim is ``Dimension(None)``, an object of its own whose ``value`` is None and whose
comparisons are unknown (None), as in TF1. ``TensorShape.dims`` stays plain ints and Nones:
jitflow's own code reads shapes there. ``tf.enable_v2_tensorshape()`` switches indexing and
iteration to TF2's plain ints and Nones (``tf.disable_v2_tensorshape()`` back), process-wide
as in TF.
"""
from __future__ import annotations

from typing import Any, Optional


class Dimension(int):
    """``tf.Dimension(value)``: ``Dimension(None)`` is the unknown dim."""

    def __new__(cls, value: Any) -> Any:
        if isinstance(value, Dimension):
            return value
        if value is None or isinstance(value, _Unknown):
            return UNKNOWN
        try:
            v = int(value.__index__()) if hasattr(value, "__index__") else int(value)
        except (TypeError, ValueError):
            raise TypeError(f"Dimension value must be integer or None, got {value!r}") from None
        if v < 0:
            raise ValueError(f"Dimension {v} must be >= 0")
        return int.__new__(cls, v)

    @property
    def value(self) -> int:
        return int(self)

    def is_compatible_with(self, other: Any) -> bool:
        o = as_dimension(other).value
        return o is None or o == int(self)

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {other} are not compatible")

    def merge_with(self, other: Any) -> "Dimension":
        self.assert_is_compatible_with(other)
        return self

    def __reduce__(self):
        return (Dimension, (int(self),))


class _Unknown:
    """The unknown dim (``Dimension(None)``): ``value`` None; arithmetic gives it again,
    comparisons give None (unknown), as TF1's Dimension does."""

    __slots__ = ()
    value: Optional[int] = None

    def __repr__(self) -> str:
        return "Dimension(None)"

    def __str__(self) -> str:
        return "?"

    def __eq__(self, other: Any) -> Optional[bool]:     # type: ignore[override]
        return None

    def __ne__(self, other: Any) -> Optional[bool]:     # type: ignore[override]
        return None

    __lt__ = __le__ = __gt__ = __ge__ = __eq__

    def __hash__(self) -> int:
        return hash(None)

    def _same(self, *_: Any) -> "_Unknown":
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _same

    def __int__(self) -> int:
        raise TypeError("int() of an unknown Dimension (its value is None)")

    __index__ = __int__

    def is_compatible_with(self, other: Any) -> bool:
        return True

    def assert_is_compatible_with(self, other: Any) -> None:
        return None

    def merge_with(self, other: Any) -> Any:
        return as_dimension(other)

    def __reduce__(self):
        return (Dimension, (None,))


UNKNOWN = _Unknown()

#: TF2's TensorShape behaviour (ints and Nones from indexing), off as in TF 1.x
_V2 = [False]


def enable_v2_tensorshape() -> None:
    """``tf.enable_v2_tensorshape``: indexing a TensorShape gives ints and Nones."""
    _V2[0] = True


def disable_v2_tensorshape() -> None:
    """``tf.disable_v2_tensorshape``: indexing a TensorShape gives Dimensions (TF1)."""
    _V2[0] = False


def of_dim(d: Optional[int]) -> Any:
    """What indexing a TensorShape gives for the dim ``d`` (int or None)."""
    return d if _V2[0] else Dimension(d)


def as_dimension(value: Any) -> Any:
    """TF1's ``tf.compat.v1.Dimension`` conversion (``tensor_shape.as_dimension``)."""
    return value if isinstance(value, (Dimension, _Unknown)) else Dimension(value)


def dimension_value(d: Any) -> Optional[int]:
    """``tf.compat.dimension_value``: the int of a dim (a Dimension, an int or None)."""
    if isinstance(d, (Dimension, _Unknown)):
        return d.value
    return None if d is None else int(d)


def dimension_at_index(shape: Any, index: int) -> Any:
    """``tf.compat.dimension_at_index``: the Dimension at ``index`` (unknown for a shape of
    unknown rank)."""
    from .graph import TensorShape
    s = TensorShape(shape)
    return UNKNOWN if s.dims is None else Dimension(s.dims[index])


__all__ = ["Dimension", "UNKNOWN", "as_dimension", "dimension_at_index", "dimension_value",
           "disable_v2_tensorshape", "enable_v2_tensorshape", "of_dim"]
