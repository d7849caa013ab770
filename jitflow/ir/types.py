"""Tensor types: an element type and a shape whose dims are static ints or symbols.

A dim is an ``int`` (static), a ``str`` (a named symbolic dim, e.g. ``"s0"``: equal names
mean equal sizes at run time) or ``None`` (unknown, printed ``?``). A shape of ``None`` means
unknown rank; the frontend allows it, a verified IR Function does not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

from .dtypes import DType

Dim = Union[int, str, None]
Shape = Optional[tuple]


@dataclass(frozen=True)
class TensorType:
    dtype: DType
    shape: Shape  # tuple of Dim, or None for unknown rank

    @property
    def rank(self) -> Optional[int]:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def num_elements(self) -> Optional[int]:
        if not self.is_static:
            return None
        n = 1
        for d in self.shape:
            n *= d
        return n

    def with_shape(self, shape: Shape) -> "TensorType":
        return TensorType(self.dtype, None if shape is None else tuple(shape))

    def with_dtype(self, dtype: DType) -> "TensorType":
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        return format_type(self)


def format_dim(d: Dim) -> str:
    return "?" if d is None else str(d)


def format_type(t: TensorType) -> str:
    if t.shape is None:
        return f"{t.dtype.short}[*]"
    return f"{t.dtype.short}[{','.join(format_dim(d) for d in t.shape)}]"


def format_shape_tf(shape: Shape) -> str:
    """TF's spelling of a shape in messages: ``(?, 784)``, ``<unknown>``."""
    if shape is None:
        return "<unknown>"
    dims = ["?" if not isinstance(d, int) else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


class ShapeMismatch(ValueError):
    """Raised by type rules; the frontend adds the op name, input types and user's line."""


#: a symbolic dim that is a product of others (a reshape's ``-1`` over symbolic dims) is
#: named by its factors, sorted, joined with this: ``s0__x50`` is ``s0 * 50``. Equal names
#: are equal sizes, like any symbol; a reshape back divides the factors out again
#: (``[s0__x50, 1024] -> [50, -1, 1024]`` gives ``s0``).
PRODUCT_SEP = "__x"


def split_dim(d: str) -> tuple[int, list[str]]:
    """(coefficient, symbol factors) of a symbolic dim (a plain symbol: (1, [d]))."""
    coef, syms = 1, []
    for part in d.split(PRODUCT_SEP):
        if part.isdigit():
            coef *= int(part)
        else:
            syms.append(part)
    return coef, syms


def product_dim(coef: int, syms: list[str]) -> Dim:
    """The dim ``coef * prod(syms)``: an int, a plain symbol, or a product's name."""
    if not syms:
        return coef
    if coef == 1 and len(syms) == 1:
        return syms[0]
    return PRODUCT_SEP.join(sorted(syms) + ([str(coef)] if coef != 1 else []))


def broadcast_dim(a: Dim, b: Dim, axis: int) -> Dim:
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise ShapeMismatch(f"dimensions must be equal or 1, but are {a} and {b} at axis {axis}")
    if isinstance(a, int):
        return a   # a static size > 1 wins; run time checks the symbol equals it
    if isinstance(b, int):
        return b
    return None    # two different unknown dims


def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy broadcasting over static/symbolic dims; ``None`` (unknown rank) is contagious."""
    if any(s is None for s in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    out: list = [1] * rank
    for s in shapes:
        padded = (1,) * (rank - len(s)) + tuple(s)
        for i, d in enumerate(padded):
            out[i] = broadcast_dim(out[i], d, i - rank)
    return tuple(out)


def normalize_axes(axes: Sequence[int], rank: int) -> tuple:
    out = []
    for a in axes:
        if not -rank <= a < rank:   # as TF: a scalar has no axis to reduce or squeeze
            raise ShapeMismatch(f"axis {a} is out of range for a tensor of rank {rank}")
        out.append(a % rank)
    return tuple(sorted(set(out)))
