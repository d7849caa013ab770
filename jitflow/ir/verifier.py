"""Verifier: every op known, attributes match their schema, operands defined before use
(SSA dominance in a single block), result types equal to what the op's type rule gives.

Regions of control-flow ops are verified as Functions of their own: closed (an op inside uses
only values of its region), their parameter and result types checked against the op's
operands and results by the op's ``region_infer`` rule."""
from __future__ import annotations

from .core import Function
from .opdef import ATTR_KINDS, OPS
from .types import ShapeMismatch


class VerificationError(ValueError):
    pass


def verify(f: Function, *, allow_pseudo: bool = True, _region: str = "") -> Function:
    defined: set[int] = {id(p) for p in f.params}
    outer = f"{_region}: " if _region else ""
    for p in f.params:
        if p.type.shape is None:
            raise VerificationError(f"parameter {p.name or p.index} has unknown rank")
    for n, op in enumerate(f.ops):
        where = f"{outer}op #{n} {op.opname} ({op.loc})"
        opdef = OPS.get(op.opname)
        if opdef is None:
            raise VerificationError(f"{where}: unknown op")
        if opdef.pseudo and not allow_pseudo:
            raise VerificationError(f"{where}: pseudo op must be expanded before this stage")
        if opdef.num_inputs >= 0 and len(op.operands) != opdef.num_inputs:
            raise VerificationError(f"{where}: expected {opdef.num_inputs} operands, got {len(op.operands)}")
        for i, v in enumerate(op.operands):
            if id(v) not in defined:
                if _region and id(v) not in {id(x) for x in f.values()}:
                    raise VerificationError(f"{where}: operand {i} is not a value of this region "
                                            f"(regions are closed: pass it in as an operand)")
                raise VerificationError(f"{where}: operand {i} is used before it is defined")
        for key, val in op.attrs.items():
            spec = opdef.attrs.get(key)
            if spec is None:
                raise VerificationError(f"{where}: unknown attribute {key!r}")
            if not ATTR_KINDS[spec.kind](val):
                raise VerificationError(f"{where}: attribute {key!r} should be {spec.kind}, got {val!r}")
        missing = set(opdef.attrs) - set(op.attrs)
        if missing:
            raise VerificationError(f"{where}: missing attributes {sorted(missing)}")
        names = opdef.region_names
        if len(op.regions) != len(names):
            raise VerificationError(f"{where}: expected {len(names)} regions {list(names)}, got "
                                    f"{len(op.regions)}")
        for rname, r in zip(names, op.regions):
            verify(r, allow_pseudo=allow_pseudo, _region=f"{where} region '{rname}'")
        try:
            expected = opdef.result_types([v.type for v in op.operands], op.attrs,
                                          op.regions if names else None)
        except (ShapeMismatch, TypeError, ValueError) as e:
            raise VerificationError(f"{where}: type rule rejects operands: {e}") from None
        got = [r.type for r in op.results]
        if len(expected) != len(got) or any(not _compatible(e, g) for e, g in zip(expected, got)):
            raise VerificationError(f"{where}: result types {[str(t) for t in got]} but the type "
                                    f"rule gives {[str(t) for t in expected]}")
        for r in op.results:
            # every value has a known rank, except a host callback's result that nothing
            # compiled reads (a fetched tf.py_func without set_shape; no type rule accepts it)
            if r.type.shape is None and opdef.kind != "host":
                raise VerificationError(f"{where}: result has unknown rank")
            defined.add(id(r))
    for i, v in enumerate(f.results):
        if id(v) not in defined:
            raise VerificationError(f"{outer}result {i} is not defined in the function")
    return f


def _compatible(expected, got) -> bool:
    """Equal, except that a result may refine an unknown (None) dim of the rule."""
    if expected.dtype is not got.dtype:
        return False
    if expected.shape is None or got.shape is None:
        return expected.shape is None and got.shape is None
    if len(expected.shape) != len(got.shape):
        return False
    return all(e is None or e == g for e, g in zip(expected.shape, got.shape))
