from __future__ import annotations

import os

import numpy as np

from .format import (DATA_SUFFIX, INDEX_SUFFIX, PENDING_SUFFIX, CheckpointReader,
                     _silent_remove)


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
