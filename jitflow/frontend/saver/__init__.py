"""``tf.train.Saver`` and checkpoint files; meta graph export/import.

Checkpoint files
================

``saver.save(sess, "dir/model.ckpt", global_step=1000)`` writes, for the prefix
``P = dir/model.ckpt-1000``, TF1's file names:

``P.data-00000-of-00001``
    A 64-byte header -- the magic ``b"JFCKPTDATA\\0\\0"``, a little-endian uint32 format version
    (1), the 16-byte random ``save_id`` of this save, zero padding -- followed by each tensor's
    raw bytes: C order, little-endian, at offsets aligned to 64 bytes. Nothing else: no pickle,
    no code, nothing executed when it is read.

``P.index``
    UTF-8 JSON describing the data file::

        {"format": "jitflow.checkpoint.index", "version": 1,
         "save_id": "<32 hex digits, as in the data header>",
         "data_file": "model.ckpt-1000.data-00000-of-00001", "data_size": <bytes>,
         "byte_order": "little",
         "tensors": [{"name": "hidden1/kernel", "dtype": "float32", "shape": [784, 300],
                      "offset": 64, "length": 940800, "sha256": "<hex>"}, ...],
         "sha256": "<hex>"}

    Tensors are listed by name (the checkpoint keys: variable op names such as
    ``hidden1/kernel``, optimizer slots ``hidden1/kernel/Adam``, ``beta1_power``, or the keys of
    a ``Saver({"name": var})`` dict); dtypes are float32, float64, int32, int64 or bool (one
    byte). The final ``sha256`` is the SHA-256 of the canonical JSON of all other fields
    (``json.dumps(obj, sort_keys=True, separators=(",", ":"))``), so the index checks itself.

``P.meta``
    The graph (see *Meta graphs* below).

``dir/checkpoint``
    The state file, TF's text format: ``model_checkpoint_path: "model.ckpt-1000"`` and one
    ``all_model_checkpoint_paths: "..."`` line per kept checkpoint (oldest first), plus their
    timestamps. Paths are relative to ``dir`` unless the save path was absolute.

Integrity. A reader checks the index's own checksum, the data file's size and header
``save_id`` against the index, and the SHA-256 of every tensor it reads; any mismatch, a
truncated file or a malformed index raises ``tf.errors.DataLossError`` naming the file, and
nothing is loaded (``restore`` verifies every tensor before assigning any).

Atomic saves. Every file is written to a temporary name in the same directory and fsync'ed;
then the new index is renamed to ``P.index.pending``, the data file renamed into place, and
``P.index.pending`` renamed to ``P.index`` (directory fsync'ed after each rename); the ``.meta``
and the state file follow, also by rename. A crash before the data file's rename leaves the
previous files untouched; between the two renames, readers find that ``P.index`` no longer
matches the data's ``save_id`` and use the complete ``P.index.pending`` that does (roll
forward). The state file names a checkpoint only once it is complete, so
``tf.train.latest_checkpoint`` never returns a partial one. Old checkpoints beyond
``max_to_keep`` are deleted index first.

Meta graphs
===========

``P.meta`` (and ``tf.train.export_meta_graph(filename)``) is UTF-8 JSON::

    {"format": "jitflow.meta_graph", "version": 1,
     "ops": [{"name": "dnn/hidden1/MatMul", "type": "MatMul", "ir_op": "matmul",
              "attrs": {"transpose_a": "false", ...},   # IR attribute text (ir.printer)
              "inputs": ["X:0", "hidden1/kernel/read:0"], "control_inputs": [],
              "outputs": [{"dtype": "float32", "shape": [null, 300]}],
              "device": "", "rng": false, "file": "model.py", "line": 12}, ...],
     "variables": [{"name": "hidden1/kernel", "trainable": true,
                    "initializer": "hidden1/kernel/Assign", "snapshot": "hidden1/kernel/read:0",
                    "initial_value": "hidden1/kernel/Initializer/random_uniform:0"}, ...],
     "collections": {"trainable_variables": [{"variable": "hidden1/kernel"}, ...],
                     "train_op": [{"op": "train/GradientDescent"}],
                     "losses": [{"tensor": "loss/value:0"}], "my_ints": [{"value": 3}]},
     "saver": {"var_list": {"hidden1/kernel": "hidden1/kernel", ...}, "max_to_keep": 5, ...},
     "sha256": "<hex, as for the index>"}

Ops appear in creation order; attribute values are printed by ``jitflow.ir.printer.format_attr``
and parsed back by the IR parser, so constants (base64 arrays), dtypes and shapes round-trip
exactly. ``tf.train.import_meta_graph`` recreates every op under its original name in the
default graph, the Variable objects and the collections, and returns a Saver for the saved
var_list: ``get_tensor_by_name``/``get_operation_by_name`` work, and training continues after
``saver.restore`` with no Python model code.
"""
from __future__ import annotations

from .format import (ALIGN, DATA_HEADER, DATA_MAGIC, DATA_SUFFIX, FORMAT_VERSION,  # noqa: F401
                     INDEX_SUFFIX, META_SUFFIX, PENDING_SUFFIX, CheckpointReader,
                     write_checkpoint)
from .meta_graph import MetaGraph, export_meta_graph, import_meta_graph  # noqa: F401
from .reader import (NewCheckpointReader, checkpoint_exists, list_variables,  # noqa: F401
                     load_checkpoint, load_variable, remove_checkpoint)
from .saver import Saver  # noqa: F401
from .state import (CheckpointState, get_checkpoint_state, latest_checkpoint,  # noqa: F401
                    update_checkpoint_state)

__all__ = [
    "Saver", "CheckpointState", "CheckpointReader", "NewCheckpointReader", "MetaGraph",
    "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists", "update_checkpoint_state",
    "remove_checkpoint", "list_variables", "load_variable", "load_checkpoint",
    "export_meta_graph", "import_meta_graph",
]
