"""``tf.debugging.check_numerics`` and ``tf.add_check_numerics_ops``."""
from __future__ import annotations

from typing import Any, Optional

from .graph import Operation, Tensor, get_default_graph
from .op_builder import convert_to_tensor, make_op


def check_numerics(tensor: Any, message: str, name: Optional[str] = None) -> Tensor:
    """``tensor`` unchanged; the run fails with ``message`` if it holds a NaN or Inf."""
    x = convert_to_tensor(tensor)
    return make_op("CheckNumerics", "check_numerics", [x], {"message": str(message)},
                   name or "CheckNumerics").outputs[0]


def add_check_numerics_ops() -> Operation:
    """A group op checking every floating-point tensor of the default graph built so far
    (fetch it beside the train op, as in TF1)."""
    g = get_default_graph()
    checks = []
    for op in list(g.get_operations()):
        if op.type in ("CheckNumerics", "VariableV2", "Assign", "AssignAdd", "AssignSub", "Gradients"):
            continue
        for t in op.outputs:
            if t.dtype.is_floating and t.shape.dims is not None:
                checks.append(check_numerics(t, f"{op.name}:{t.value_index}"))
    from .variables import group
    return group(*checks, name="CheckNumericsGroup")
