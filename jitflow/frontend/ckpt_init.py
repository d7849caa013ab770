"""``tf.train.init_from_checkpoint``: make variables' initializers load checkpoint values.

As in TF, the variables' ``initializer`` ops are replaced (by an assign of the checkpoint
tensor, read on the host now), so a later ``tf.global_variables_initializer()`` run loads
them; the variables keep their other ops. ``assignment_map`` maps checkpoint names to current
ones: ``{"old/w": "new/w"}`` or ``{"old/w": variable}`` for one variable,
``{"old_scope/": "new_scope/"}`` for every current variable under ``new_scope/`` (``"/"``
stands for the root on either side).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph import get_default_graph
from .op_builder import constant, make_op
from .variables import Variable, global_variables

__all__ = ["init_from_checkpoint"]


def _set_initializer(var: Variable, value: np.ndarray, ckpt_name: str) -> None:
    shape = var.shape.as_list()
    if list(value.shape) != shape:
        raise ValueError(f"Shape of variable {var.op.name} ({shape}) doesn't match with shape of "
                         f"tensor {ckpt_name} ({list(value.shape)}) from checkpoint reader.")
    g = get_default_graph()
    with g.name_scope(None), g.name_scope(var.op.name + "/"):
        init = constant(value.astype(var.dtype.np), name="checkpoint_initializer_value")
        op = make_op("Assign", None, [var._variable, init], name="checkpoint_initializer",
                     out_types=[var._variable._type])
    var.initializer = op
    var._initial_value = init


def init_from_checkpoint(ckpt_dir_or_file: str, assignment_map: dict) -> None:
    """Initialize the mapped variables from the checkpoint (see the module docstring)."""
    from .saver.reader import load_checkpoint
    reader = load_checkpoint(ckpt_dir_or_file)
    shapes = reader.get_variable_to_shape_map()
    current = {v.op.name: v for v in global_variables()}
    for ckpt_name, target in assignment_map.items():
        if isinstance(target, Variable) or not isinstance(target, str):
            targets = target if isinstance(target, (list, tuple)) else [target]
            if ckpt_name not in shapes:
                raise ValueError(f"Tensor {ckpt_name} is not found in {ckpt_dir_or_file} "
                                 "checkpoint")
            for v in targets:
                _set_initializer(v, reader.get_tensor(ckpt_name), ckpt_name)
            continue
        if not ckpt_name.endswith("/") and ckpt_name != "/" and not target.endswith("/"):
            if ckpt_name not in shapes:
                raise ValueError(f"Tensor {ckpt_name} is not found in {ckpt_dir_or_file} "
                                 "checkpoint")
            if target not in current:
                raise ValueError(f"Variable {target} not found in the graph's variables")
            _set_initializer(current[target], reader.get_tensor(ckpt_name), ckpt_name)
            continue
        src = "" if ckpt_name == "/" else ckpt_name
        dst = "" if target == "/" else target
        if src and not src.endswith("/") or dst and not dst.endswith("/"):
            raise ValueError(f"Assignment map with scope only name {ckpt_name} should map to "
                             f"scope only {target}. Should be 'scope/': 'other_scope/'.")
        matched = False
        for name, v in current.items():
            if not name.startswith(dst):
                continue
            full = src + name[len(dst):]
            if full not in shapes:
                raise ValueError(f"Tensor {full} (for variable {name}) is not found in "
                                 f"{ckpt_dir_or_file} checkpoint")
            _set_initializer(v, reader.get_tensor(full), full)
            matched = True
        if not matched:
            raise ValueError(f"No variable under scope {target!r} to initialize from "
                             f"{ckpt_name!r}")
