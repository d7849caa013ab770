"""``tf.train`` checkpoint utilities: ``NewCheckpointReader``, ``list_variables``,
``load_variable``, ``load_checkpoint``, ``init_from_checkpoint``, ``checkpoint_exists``,
``remove_checkpoint`` (TensorFlow's format and jitflow 0.1's, see :mod:`.checkpoint`)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..graph import GraphKeys, get_default_graph

from .checkpoint import CheckpointReader
from .format import DATA_SUFFIX, INDEX_SUFFIX, PENDING_SUFFIX, _silent_remove


def NewCheckpointReader(filepattern: str) -> CheckpointReader:  # noqa: N802 (TF's name)
    return CheckpointReader(filepattern)


def _resolve_ckpt(ckpt_dir_or_file: str) -> str:
    from .state import latest_checkpoint
    if os.path.isdir(ckpt_dir_or_file):
        p = latest_checkpoint(ckpt_dir_or_file)
        if p is None:
            raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given "
                             f"directory {ckpt_dir_or_file}")
        return p
    return ckpt_dir_or_file


def load_checkpoint(ckpt_dir_or_file: str) -> CheckpointReader:
    return CheckpointReader(_resolve_ckpt(ckpt_dir_or_file))


def list_variables(ckpt_dir_or_file: str) -> list[tuple[str, list]]:
    """``tf.train.list_variables``: [(name, shape)] sorted by name."""
    r = load_checkpoint(ckpt_dir_or_file)
    return [(k, r.get_variable_to_shape_map()[k]) for k in r.keys()]


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    """``tf.train.load_variable``: one tensor's value (``name`` may end in ``:0``)."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """Whether a (V2) checkpoint with this prefix exists: ``P.index`` (or a complete
    ``P.index.pending``) is present."""
    p = str(checkpoint_prefix)
    return os.path.isfile(p + INDEX_SUFFIX) or (os.path.isfile(p + PENDING_SUFFIX)
                                                and os.path.isfile(p + DATA_SUFFIX))


def remove_checkpoint(checkpoint_prefix: str, checkpoint_format_version: int = 2,
                      meta_graph_suffix: str = "meta") -> None:
    """Delete a checkpoint's files (index first, so it stops existing atomically)."""
    p = str(checkpoint_prefix)
    for suffix in (INDEX_SUFFIX, PENDING_SUFFIX, DATA_SUFFIX, "." + meta_graph_suffix):
        _silent_remove(p + suffix)


def init_from_checkpoint(ckpt_dir_or_file: str, assignment_map: Any) -> None:
    """``tf.train.init_from_checkpoint``: make the mapped variables' initializers load their
    values from the checkpoint. ``assignment_map``: ``{"ckpt_scope/": "graph_scope/"}`` (every
    graph variable under the scope, by the same relative name; ``"/"`` = all), or
    ``{"ckpt_name": variable or "graph_name"}``."""
    from ..op_builder import constant, make_op
    from ..variables import Variable
    reader = load_checkpoint(ckpt_dir_or_file)
    g = get_default_graph()
    by_name = {v.op.name: v for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES)}
    pairs: list[tuple[str, Any]] = []
    for ckpt, target in dict(assignment_map).items():
        if isinstance(target, Variable):
            pairs.append((ckpt, target))
        elif ckpt.endswith("/") or ckpt == "":
            src = "" if ckpt == "/" else ckpt
            dst = "" if target in ("/", "") else str(target).rstrip("/") + "/"
            for name, v in by_name.items():
                if name.startswith(dst):
                    pairs.append((src + name[len(dst):], v))
        else:
            v = by_name.get(str(target).split(":")[0])
            if v is None:
                raise ValueError(f"init_from_checkpoint: no variable {target!r} in the graph "
                                 f"(mapping checkpoint key {ckpt!r})")
            pairs.append((ckpt, v))
    for ckpt, v in pairs:
        if not reader.has_tensor(ckpt):
            raise ValueError(f"Tensor {ckpt} ({v.op.name} in the graph) is not found in "
                             f"{reader.prefix} checkpoint")
        e = reader.entry(ckpt)
        if list(e["shape"]) != v.shape.as_list():
            raise ValueError(f"Shape of variable {v.op.name} ({v.shape.as_list()}) doesn't match "
                             f"with shape of tensor {ckpt} ({e['shape']}) from checkpoint reader.")
    values = reader.read(sorted({c for c, _ in pairs}))
    for ckpt, v in pairs:
        with g.name_scope(None), g.control_dependencies(None):
            init = constant(values[ckpt].astype(v.dtype.np), name=v.op.name + "/ckpt_value")
            v.initializer = make_op("Assign", None, [v._variable, init],
                                    name=v.op.name + "/restore_from_checkpoint",
                                    out_types=[v._variable._type])
