"""TensorFlow interop in the ``tf`` namespace: checkpoint utilities, GraphDef/MetaGraphDef
import and export, ``tf.graph_util``, SavedModel (wired by ``install(namespace)``)."""
from __future__ import annotations

import types
from typing import Any


def install(ns: dict[str, Any]) -> None:
    """Add the interop names to the ``jitflow.compat.v1`` module namespace ``ns``."""
    from ...frontend import saver as _saver
    train = ns["train"]
    for name in ("init_from_checkpoint", "NewCheckpointReader", "list_variables",
                 "load_variable", "load_checkpoint"):
        setattr(train, name, getattr(_saver, name))
    from ...frontend import graph_def as _gd
    from ...frontend import summary as _summary
    train.summary_iterator = _summary.summary_iterator
    train.write_graph = _gd.write_graph
    ns["import_graph_def"] = _gd.import_graph_def
    ns["graph_util"] = types.SimpleNamespace(
        convert_variables_to_constants=_gd.convert_variables_to_constants)
    from ...frontend import saved_model as _sm
    ns["saved_model"] = _sm.namespace()
    ns["GraphDef"] = _gd.P.graph_pb2.GraphDef
    ns["MetaGraphDef"] = _gd.P.meta_graph_pb2.MetaGraphDef
