"""``tf.train.Saver``, checkpoint files and meta graphs.

``saver.save(sess, "dir/model.ckpt", global_step=1000)`` writes, for ``P = dir/model.ckpt-1000``,
TensorFlow's files, so TensorFlow restores what jitflow saves and vice versa:

``P.index`` + ``P.data-00000-of-00001``
    TF's V2 checkpoint ("tensor bundle"): :mod:`.bundle` (entries, slices, checksums) over the
    sorted string table of :mod:`.table`; written atomically by :mod:`.checkpoint`, which also
    reads jitflow 0.1's JSON-indexed format (:mod:`.legacy`, deprecated).
``P.meta``
    The meta graph (:mod:`.meta_graph`).
``dir/checkpoint``
    The state file in TF's text format (:mod:`.state`).

Integrity: every block checksum of the index and every tensor's CRC-32C is verified on read,
sizes are checked against the files before anything is allocated, and a truncated or
corrupted file raises ``tf.errors.DataLossError`` naming the file and entry with nothing
loaded (``restore`` reads and verifies every tensor before assigning any). A crash mid-save
leaves the previous checkpoint intact (see :mod:`.checkpoint`); the state file names a
checkpoint only once it is complete. Old checkpoints beyond ``max_to_keep`` are deleted index
first.
"""
from __future__ import annotations

from .checkpoint import CheckpointReader, write_checkpoint  # noqa: F401
from .format import (DATA_SUFFIX, FORMAT_VERSION, INDEX_SUFFIX, META_SUFFIX,  # noqa: F401
                     PENDING_SUFFIX)
from .legacy import write_jitflow_checkpoint  # noqa: F401
from .meta_graph import MetaGraph, export_meta_graph, import_meta_graph  # noqa: F401
from .reader import (NewCheckpointReader, checkpoint_exists, init_from_checkpoint,  # noqa: F401
                     list_variables, load_checkpoint, load_variable, remove_checkpoint)
from .saver import Saver  # noqa: F401
from .state import (CheckpointState, get_checkpoint_state, latest_checkpoint,  # noqa: F401
                    update_checkpoint_state)

__all__ = [
    "Saver", "CheckpointState", "CheckpointReader", "NewCheckpointReader", "MetaGraph",
    "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists", "update_checkpoint_state",
    "remove_checkpoint", "list_variables", "load_variable", "load_checkpoint",
    "export_meta_graph", "import_meta_graph", "init_from_checkpoint",
]
