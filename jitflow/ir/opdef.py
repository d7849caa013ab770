"""The op registry. Each op family module (``jitflow/ops/*``) declares, side by side, an op's
attributes, type rule, NumPy reference implementation and gradient (VJP) rule.

Backends add their lowerings in their own folders, keyed by op name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from .dtypes import DType
from .types import TensorType

REQUIRED = object()

#: attribute kinds the verifier knows: how to check a value
ATTR_KINDS: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (float, int)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "dtype": lambda v: isinstance(v, DType),
    "ints": lambda v: isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
    "opt_ints": lambda v: v is None or (isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)),
    "array": lambda v: isinstance(v, np.ndarray),
}


@dataclass(frozen=True)
class Attr:
    kind: str
    default: Any = REQUIRED


#: infer(input types, attrs) -> result types (a TensorType or a list of them)
InferFn = Callable[[Sequence[TensorType], dict], Any]
#: reference(input arrays, attrs) -> array or tuple of arrays
RefFn = Callable[..., Any]
#: grad(builder, op, output cotangents) -> one cotangent Value (or None) per operand
GradFn = Callable[..., Sequence[Any]]
#: region_infer(input types, attrs, regions) -> result types, for ops with regions
RegionInferFn = Callable[[Sequence[TensorType], dict, Sequence[Any]], Any]


@dataclass
class OpDef:
    name: str
    infer: InferFn
    reference: Optional[RefFn]
    grad: Optional[GradFn] = None
    attrs: dict[str, Attr] = field(default_factory=dict)
    num_inputs: int = -1            # -1: variadic
    differentiable: bool = True     # False: no gradient flows through (explicit, checked)
    pseudo: bool = False            # expanded by a pass before any backend runs
    stateful: bool = False          # e.g. random ops: never folded or CSE'd
    effectful: bool = False         # runs for its effect (e.g. failing a check): never dropped
    doc: str = ""
    #: control flow: the names of the op's regions (nested Functions), e.g. ("then", "else");
    #: its reference then takes ``regions=`` (one callable per region: arrays -> arrays)
    region_names: tuple = ()
    #: control flow: result types from operand types, attrs and the regions (``infer`` then
    #: only says that the regions are needed)
    region_infer: Optional[RegionInferFn] = None

    def result_types(self, in_types: Sequence[TensorType], attrs: dict,
                     regions: Optional[Sequence[Any]] = None) -> list[TensorType]:
        if self.region_infer is not None and regions is not None:
            out = self.region_infer(list(in_types), attrs, list(regions))
        else:
            out = self.infer(list(in_types), attrs)
        return [out] if isinstance(out, TensorType) else list(out)

    def complete_attrs(self, attrs: dict) -> dict:
        """Fill defaults, canonicalize lists to tuples, reject unknown or missing attributes."""
        out = {}
        for key in attrs:
            if key not in self.attrs:
                raise ValueError(f"op {self.name!r} has no attribute {key!r}; "
                                 f"it takes {sorted(self.attrs) or 'none'}")
        for key, spec in self.attrs.items():
            if key in attrs:
                v = attrs[key]
            elif spec.default is REQUIRED:
                raise ValueError(f"op {self.name!r} requires attribute {key!r}")
            else:
                v = spec.default
            if isinstance(v, list):
                v = tuple(v)
            if isinstance(v, np.integer):
                v = int(v)
            if spec.kind == "float" and isinstance(v, (int, np.floating)) and not isinstance(v, bool):
                v = float(v)
            out[key] = v
        return out


OPS: dict[str, OpDef] = {}


def defop(name: str, *, infer: InferFn, reference: Optional[RefFn], grad: Optional[GradFn] = None,
          attrs: Optional[dict[str, Attr]] = None, num_inputs: int = -1,
          differentiable: bool = True, pseudo: bool = False, stateful: bool = False,
          effectful: bool = False, doc: str = "", region_names: tuple = (),
          region_infer: Optional[RegionInferFn] = None) -> OpDef:
    """Register an op. ``differentiable=False`` declares that it has no gradient on purpose."""
    if name in OPS:
        raise ValueError(f"op {name!r} registered twice")
    d = OpDef(name, infer, reference, grad, dict(attrs or {}), num_inputs, differentiable,
              pseudo, stateful, effectful, doc, tuple(region_names), region_infer)
    OPS[name] = d
    return d


def get_opdef(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None
