"""The autodiff pass's clean-up for control flow: a forward ``while`` loop that a gradient
re-emitted with recording (jitflow/ops/control_grad.py) runs once."""
from __future__ import annotations

from ..ir.core import Function, Op


# ------------------------------------------------------------------------------ cleanup ----

def _same_loop(plain: Op, rec: Op) -> bool:
    """Whether ``rec`` is ``plain`` re-emitted with recording: same operands, limit and
    regions, except that its body may stack more results (the saved contractions) after the
    plain body's own."""
    from ..ir.printer import print_function
    if not (plain.opname == "while" and not plain.attrs["record"]
            and len(plain.operands) == len(rec.operands)
            and all(a is b for a, b in zip(plain.operands, rec.operands))
            and plain.attrs["num_carried"] == rec.attrs["num_carried"]
            and plain.attrs["maximum_iterations"] == rec.attrs["maximum_iterations"]
            and plain.attrs["num_stacked"] <= rec.attrs["num_stacked"]):
        return False
    (pc, pb), (rc, rb) = plain.regions, rec.regions
    trimmed = Function(rb.name, rb.params, rb.ops, rb.results[:len(pb.results)])
    return print_function(pc) == print_function(rc) and \
        print_function(pb) == print_function(trimmed)


def merge_recorded_loops(f: Function) -> Function:
    """A forward loop that a gradient re-emitted with recording runs once: the recording
    loop takes the place of the plain one (same operands, regions and limit), whose results
    become its first results. Applied in ``f`` and in every region."""
    i = 0
    while i < len(f.ops):
        rec = f.ops[i]
        if rec.opname == "while" and rec.attrs["record"]:
            plain = next((p for p in f.ops[:i] if _same_loop(p, rec)), None)
            if plain is not None:
                del f.ops[i]
                f.ops[f.ops.index(plain)] = rec
                n, m = plain.attrs["num_carried"], plain.attrs["num_stacked"]
                f.replace_all_uses(dict(zip(plain.results, rec.results[:n + m])))
        i += 1
    for op in f.ops:
        for r in op.regions:
            merge_recorded_loops(r)
    return f
