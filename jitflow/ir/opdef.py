"""The op registry. Each op family module (``jitflow/ops/*``) declares, side by side, an op's
attributes, type rule, NumPy reference implementation, gradient (VJP) rule and *traits*: what
kind of computation it is (fusion and the backends' planners read the kind, never a list of op
names), its cost class, the operands it reads only for their shape and an optional
decomposition into simpler ops.

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


#: op kinds (``OpDef.kind``):
#: * ``elementwise``: each result element from the same-index (broadcast) operand elements;
#:   computed inside a fused kernel's element loop;
#: * ``random``: elementwise from a counter-based stream (element = f(seed, run step, index));
#: * ``reduction``: combines elements over axes with ``OpDef.combiner``; a kernel of its own
#:   whose elementwise producers may join it;
#: * ``view``: the result is the operand's buffer reinterpreted (same elements, same order);
#: * ``remap``: every result element is one operand element at a remapped index (transpose,
#:   strided slice); fused as a strided load from memory;
#: * ``contraction``: a matrix product (GEMM; its elementwise users may form its epilogue);
#: * ``library``: a kernel of its own written by hand per backend (conv, pool, softmax, ...);
#: * ``constant``: a value known at compile time;
#: * ``pseudo``: expanded by a pass before any backend runs (``gradients``);
#: * ``control``: structured control flow with regions (``cond``, ``while``): nested
#:   Functions the op runs (``region_names``); never fused;
#: * ``host``: runs Python on the host (``py_call``: tf.py_func, tf.Print); never compiled: the
#:   Session places it in a host segment of its own (runtime/placement.py).
KINDS = ("elementwise", "random", "reduction", "view", "remap", "contraction", "library",
         "constant", "pseudo", "control", "host")
#: how a reduction combines elements
COMBINERS = ("sum", "mean", "max", "min", "prod", "all", "any")
#: cost classes: an ``expensive`` op is not recomputed per element of a larger kernel space
COSTS = ("cheap", "expensive")

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
    kind: str = "library"           # one of KINDS
    combiner: Optional[str] = None  # reductions: one of COMBINERS
    cost: str = "cheap"             # one of COSTS
    shape_only: frozenset = frozenset()   # operand indices read only for their shape
    #: decompose(builder, op) -> the Value replacing op's single result (a tuple of them, one
    #: per result, for several), built from simpler ops (a backend without a kernel of its own
    #: runs the decomposition)
    decompose: Optional[Callable[..., Any]] = None
    #: elementwise ops fusable only in some configurations: fusable(op) -> bool
    fusable: Optional[Callable[..., bool]] = None
    #: remap ops: index_map(operand shape, attrs) -> (base, strides): result element
    #: ``idx`` reads the contiguous operand at ``base + sum(idx[a] * strides[a])``
    index_map: Optional[Callable[..., tuple]] = None
    #: control flow: the names of the op's regions (nested Functions), e.g. ("then", "else");
    #: its reference then takes ``regions=`` (one callable per region: arrays -> arrays)
    region_names: tuple = ()
    #: control flow: result types from operand types, attrs and the regions (``infer`` then
    #: only says that the regions are needed)
    region_infer: Optional[RegionInferFn] = None
    #: backends without a lowering of the op yet -> why (e.g. {"cuda": "..."}): on such a
    #: backend a graph holding it is refused (cuda) or runs on the reference interpreter with
    #: a warning (llvm); empty for every op all native backends lower
    unlowered_on: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"op {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if (self.kind == "reduction") != (self.combiner is not None):
            raise ValueError(f"op {self.name!r}: a reduction needs a combiner (one of "
                             f"{COMBINERS}), and only a reduction has one; got kind "
                             f"{self.kind!r}, combiner {self.combiner!r}")
        if self.combiner is not None and self.combiner not in COMBINERS:
            raise ValueError(f"op {self.name!r}: combiner {self.combiner!r} is not one of "
                             f"{COMBINERS}")
        if (self.kind == "remap") != (self.index_map is not None):
            raise ValueError(f"op {self.name!r}: a remap op needs an index_map, and only a "
                             f"remap op has one (kind {self.kind!r})")
        if self.cost not in COSTS:
            raise ValueError(f"op {self.name!r}: cost {self.cost!r} is not one of {COSTS}")
        if (self.kind == "control" and not self.region_names) or \
                (self.region_names and self.kind not in ("control", "pseudo")):
            raise ValueError(f"op {self.name!r}: a control op needs region_names, and only a "
                             f"control or pseudo op has regions (kind {self.kind!r})")
        if self.pseudo != (self.kind == "pseudo"):
            raise ValueError(f"op {self.name!r}: pseudo={self.pseudo} but kind={self.kind!r}")
        self.shape_only = frozenset(self.shape_only)

    @property
    def loop_fusable(self) -> bool:
        """Computed per element inside a fused loop (elementwise or random)."""
        return self.kind in ("elementwise", "random")

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
            if isinstance(v, np.integer) or (isinstance(v, int) and type(v) not in (int, bool)):
                v = int(v)          # numpy ints, tf.Dimension (an int subclass)
            elif type(v) is tuple and any(isinstance(x, int) and type(x) not in (int, bool)
                                          for x in v):
                v = tuple(int(x) if isinstance(x, int) and not isinstance(x, bool) else x
                          for x in v)
            if spec.kind == "float" and isinstance(v, (int, np.floating)) and not isinstance(v, bool):
                v = float(v)
            out[key] = v
        return out


OPS: dict[str, OpDef] = {}


def defop(name: str, *, infer: InferFn, reference: Optional[RefFn], grad: Optional[GradFn] = None,
          attrs: Optional[dict[str, Attr]] = None, num_inputs: int = -1,
          differentiable: bool = True, pseudo: bool = False, stateful: bool = False,
          effectful: bool = False, doc: str = "", kind: Optional[str] = None,
          combiner: Optional[str] = None, cost: str = "cheap", shape_only=(),
          decompose: Optional[Callable[..., Any]] = None,
          fusable: Optional[Callable[..., bool]] = None,
          index_map: Optional[Callable[..., tuple]] = None, region_names: tuple = (),
          region_infer: Optional[RegionInferFn] = None, unlowered_on: Optional[dict] = None) -> OpDef:
    """Register an op. ``differentiable=False`` declares that it has no gradient on purpose.
    ``kind`` (one of KINDS) is required, except for pseudo ops (kind ``pseudo``)."""
    if name in OPS:
        raise ValueError(f"op {name!r} registered twice")
    if kind is None:
        if not pseudo:
            raise ValueError(f"op {name!r} declares no kind; give kind= one of {KINDS}")
        kind = "pseudo"
    d = OpDef(name, infer, reference, grad, dict(attrs or {}), num_inputs, differentiable,
              pseudo, stateful, effectful, doc, kind, combiner, cost, frozenset(shape_only),
              decompose, fusable, index_map, tuple(region_names), region_infer, dict(unlowered_on or {}))
    OPS[name] = d
    return d


def get_opdef(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None
