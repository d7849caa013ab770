"""``tf.saved_model`` (TF1): ``simple_save``, ``builder.SavedModelBuilder``, ``loader.load``,
signature helpers.

Layout followed (``tensorflow/core/protobuf/saved_model.proto``, ``meta_graph.proto`` and TF's
``saved_model/builder_impl.py`` / ``loader_impl.py`` conventions)::

    export_dir/saved_model.pb     SavedModel{saved_model_schema_version: 1, meta_graphs: [...]}
                                  (saved_model.pbtxt with as_text=True)
    export_dir/variables/variables.index, variables.data-00000-of-00001
                                  the variables, TF's V2 checkpoint
    export_dir/assets/            (created empty; asset files are not supported)

Each MetaGraphDef carries ``meta_info_def.tags`` (e.g. ``["serve"]``), ``signature_def``
(``SignatureDef``: ``inputs``/``outputs`` maps of ``TensorInfo{name, dtype, tensor_shape}``
and ``method_name``), a ``saver_def`` whose restore op the loader runs on
``variables/variables``, and optionally the ``saved_model_main_op`` / ``legacy_init_op``
collections, run after the restore. See :mod:`.saver.tf_meta` for the graph itself.
"""
from __future__ import annotations

import os
import types
from typing import Any, Optional, Sequence

from ..errors import NotFoundError
from ..interop import tf_protos as P
from .graph import Operation, Tensor, get_default_graph

SERVING, TRAINING, GPU, TPU = "serve", "train", "gpu", "tpu"
DEFAULT_SERVING_SIGNATURE_DEF_KEY = "serving_default"
PREDICT_METHOD_NAME = "tensorflow/serving/predict"
CLASSIFY_METHOD_NAME = "tensorflow/serving/classify"
REGRESS_METHOD_NAME = "tensorflow/serving/regress"
PREDICT_INPUTS, PREDICT_OUTPUTS = "inputs", "outputs"
MAIN_OP_KEY, LEGACY_INIT_OP_KEY = "saved_model_main_op", "legacy_init_op"
SAVED_MODEL_FILENAME_PB, SAVED_MODEL_FILENAME_PBTXT = "saved_model.pb", "saved_model.pbtxt"
VARIABLES_DIRECTORY, VARIABLES_FILENAME = "variables", "variables"


# ------------------------------------------------------------------ signatures -------------

def build_tensor_info(tensor: Tensor) -> Any:
    """``tf.saved_model.utils.build_tensor_info``."""
    info = P.meta_graph_pb2.TensorInfo(name=tensor.name, dtype=P.DT_TO_TF[tensor.dtype.name])
    dims = tensor.shape.dims
    if dims is None:
        info.tensor_shape.unknown_rank = True
    else:
        info.tensor_shape.SetInParent()
        for d in dims:
            info.tensor_shape.dim.add().size = -1 if d is None else d
    return info


def build_signature_def(inputs: Optional[dict] = None, outputs: Optional[dict] = None,
                        method_name: Optional[str] = None) -> Any:
    sig = P.meta_graph_pb2.SignatureDef(method_name=method_name or "")
    for k, v in (inputs or {}).items():
        sig.inputs[k].CopyFrom(v)
    for k, v in (outputs or {}).items():
        sig.outputs[k].CopyFrom(v)
    return sig


def predict_signature_def(inputs: dict, outputs: dict) -> Any:
    """``tf.saved_model.signature_def_utils.predict_signature_def``."""
    if not inputs or not outputs:
        raise ValueError("Prediction inputs and outputs cannot be None or empty.")
    return build_signature_def({k: build_tensor_info(t) for k, t in inputs.items()},
                               {k: build_tensor_info(t) for k, t in outputs.items()},
                               PREDICT_METHOD_NAME)


def get_tensor_from_tensor_info(info: Any, graph: Any = None, import_scope: Optional[str] = None):
    g = graph or get_default_graph()
    prefix = (import_scope.rstrip("/") + "/") if import_scope else ""
    return g.get_tensor_by_name(prefix + info.name)


# ------------------------------------------------------------------ builder ----------------

class SavedModelBuilder:
    """``tf.saved_model.builder.SavedModelBuilder``."""

    def __init__(self, export_dir: str) -> None:
        self._export_dir = os.fspath(export_dir)
        if os.path.exists(self._export_dir) and os.listdir(self._export_dir):
            raise AssertionError(f"Export directory already exists, and isn't empty. Please "
                                 f"choose a different export directory, or delete all the "
                                 f"contents of the specified directory: {self._export_dir}")
        self._saved = P.SavedModel(saved_model_schema_version=1)
        self._saver: Any = None
        self._tags_seen: list[set] = []

    def _meta(self, graph: Any, tags: Sequence[str], signature_def_map: Optional[dict],
              main_op: Any, legacy_init_op: Any, clear_devices: bool) -> Any:
        from .saver.meta_graph import export_meta_graph
        from .saver.tf_meta import build_meta_graph_def
        tags = list(tags or [])
        if set(tags) in self._tags_seen:
            raise AssertionError(f"MetaGraphDef with tags {tags} already exists in the builder")
        self._tags_seen.append(set(tags))
        for key, op in ((MAIN_OP_KEY, main_op), (LEGACY_INIT_OP_KEY, legacy_init_op)):
            if op is not None:
                if not isinstance(op, Operation):
                    raise TypeError(f"{key} needs an Operation, got {op!r}")
                graph.clear_collection(key)
                graph.add_to_collection(key, op)
        meta_json = dict(export_meta_graph(graph=graph, saver=self._saver))
        m = build_meta_graph_def(graph, meta_json, self._saver, clear_devices)
        m.meta_info_def.tags.extend(tags)
        for k, sig in (signature_def_map or {}).items():
            m.signature_def[k].CopyFrom(sig)
        self._saved.meta_graphs.add().CopyFrom(m)
        return m

    def add_meta_graph_and_variables(self, sess: Any, tags: Sequence[str],
                                     signature_def_map: Optional[dict] = None,
                                     assets_collection: Any = None, legacy_init_op: Any = None,
                                     clear_devices: bool = False, main_op: Any = None,
                                     strip_default_attrs: bool = False, saver: Any = None,
                                     **kwargs: Any) -> None:
        from .saver import Saver
        if self._saver is not None:
            raise AssertionError("Graph state including variables and assets has already been "
                                 "saved. Please invoke `add_meta_graph()` instead.")
        if assets_collection:
            raise NotImplementedError("SavedModel assets are not supported by jitflow")
        self._saver = saver or Saver(allow_empty=True, max_to_keep=None)
        var_dir = os.path.join(self._export_dir, VARIABLES_DIRECTORY)
        os.makedirs(var_dir, exist_ok=True)
        os.makedirs(os.path.join(self._export_dir, "assets"), exist_ok=True)
        if self._saver.var_list:
            self._saver.save(sess, os.path.join(var_dir, VARIABLES_FILENAME),
                             write_meta_graph=False, write_state=False)
        self._meta(sess.graph, tags, signature_def_map, main_op, legacy_init_op, clear_devices)

    def add_meta_graph(self, tags: Sequence[str], signature_def_map: Optional[dict] = None,
                       assets_collection: Any = None, legacy_init_op: Any = None,
                       clear_devices: bool = False, main_op: Any = None,
                       strip_default_attrs: bool = False, saver: Any = None,
                       **kwargs: Any) -> None:
        if self._saver is None:
            raise AssertionError("Variables and assets have not been saved yet. Please invoke "
                                 "`add_meta_graph_and_variables()` first.")
        self._meta(get_default_graph(), tags, signature_def_map, main_op, legacy_init_op,
                   clear_devices)

    def save(self, as_text: bool = False) -> str:
        from .saver.format import _atomic_write
        os.makedirs(self._export_dir, exist_ok=True)
        if as_text:
            path = os.path.join(self._export_dir, SAVED_MODEL_FILENAME_PBTXT)
            data = P.text_format.MessageToString(self._saved).encode()
        else:
            path = os.path.join(self._export_dir, SAVED_MODEL_FILENAME_PB)
            data = self._saved.SerializeToString()
        _atomic_write(path, data)
        return path


def simple_save(session: Any, export_dir: str, inputs: dict, outputs: dict,
                legacy_init_op: Any = None) -> None:
    """``tf.saved_model.simple_save``: one ``serve`` meta graph with a predict signature."""
    b = SavedModelBuilder(export_dir)
    b.add_meta_graph_and_variables(
        session, [SERVING],
        signature_def_map={DEFAULT_SERVING_SIGNATURE_DEF_KEY:
                           predict_signature_def(inputs, outputs)},
        legacy_init_op=legacy_init_op, main_op=None)
    b.save()


# ------------------------------------------------------------------ loader -----------------

def _read_saved_model(export_dir: str) -> Any:
    from ..errors import DataLossError
    pb = os.path.join(export_dir, SAVED_MODEL_FILENAME_PB)
    txt = os.path.join(export_dir, SAVED_MODEL_FILENAME_PBTXT)
    sm = P.SavedModel()
    try:
        if os.path.isfile(pb):
            with open(pb, "rb") as f:
                sm.ParseFromString(f.read())
            return sm
        if os.path.isfile(txt):
            with open(txt, "r", encoding="utf-8") as f:
                P.text_format.Parse(f.read(), sm)
            return sm
    except (P.DecodeError, P.text_format.ParseError, RecursionError, UnicodeDecodeError) as e:
        raise DataLossError(f"{pb if os.path.isfile(pb) else txt} is corrupted or truncated: "
                            f"{e}") from None
    raise OSError(f"SavedModel file does not exist at: {export_dir}/{{{SAVED_MODEL_FILENAME_PBTXT}"
                  f"|{SAVED_MODEL_FILENAME_PB}}}")


def maybe_saved_model_directory(export_dir: str) -> bool:
    return any(os.path.isfile(os.path.join(export_dir, n))
               for n in (SAVED_MODEL_FILENAME_PB, SAVED_MODEL_FILENAME_PBTXT))


def load(sess: Any, tags: Sequence[str], export_dir: str, import_scope: Optional[str] = None,
         **saver_kwargs: Any) -> Any:
    """``tf.saved_model.loader.load``: import the meta graph with exactly ``tags`` into
    ``sess.graph``, restore its variables, run its main op; returns the MetaGraphDef."""
    from .saver.meta_graph import import_meta_graph
    export_dir = os.fspath(export_dir)
    sm = _read_saved_model(export_dir)
    want = set(tags or [])
    found = [m for m in sm.meta_graphs if set(m.meta_info_def.tags) == want]
    if not found:
        raise RuntimeError(f"MetaGraphDef associated with tags {sorted(want)} could not be "
                           f"found in SavedModel, with available tags '"
                           f"{[list(m.meta_info_def.tags) for m in sm.meta_graphs]}'.")
    meta = found[0]
    with sess.graph.as_default():
        saver = import_meta_graph(meta, import_scope=import_scope)
        var_prefix = os.path.join(export_dir, VARIABLES_DIRECTORY, VARIABLES_FILENAME)
        if saver is not None:
            if not os.path.isfile(var_prefix + ".index"):
                raise NotFoundError(f"{export_dir}: the SavedModel has variables but no "
                                    f"{var_prefix}.index")
            saver.restore(sess, var_prefix)
        g = sess.graph
        for key in (MAIN_OP_KEY, LEGACY_INIT_OP_KEY):
            ops = g.get_collection(key)
            if ops:
                sess.run(ops[0])
                break
    return meta


builder = types.SimpleNamespace(SavedModelBuilder=SavedModelBuilder)
loader = types.SimpleNamespace(load=load, maybe_saved_model_directory=maybe_saved_model_directory)
tag_constants = types.SimpleNamespace(SERVING=SERVING, TRAINING=TRAINING, GPU=GPU, TPU=TPU)
signature_constants = types.SimpleNamespace(
    DEFAULT_SERVING_SIGNATURE_DEF_KEY=DEFAULT_SERVING_SIGNATURE_DEF_KEY,
    PREDICT_METHOD_NAME=PREDICT_METHOD_NAME, CLASSIFY_METHOD_NAME=CLASSIFY_METHOD_NAME,
    REGRESS_METHOD_NAME=REGRESS_METHOD_NAME, PREDICT_INPUTS=PREDICT_INPUTS,
    PREDICT_OUTPUTS=PREDICT_OUTPUTS)
signature_def_utils = types.SimpleNamespace(predict_signature_def=predict_signature_def,
                                            build_signature_def=build_signature_def)
utils = types.SimpleNamespace(build_tensor_info=build_tensor_info,
                              get_tensor_from_tensor_info=get_tensor_from_tensor_info)


def namespace() -> Any:
    """The ``tf.saved_model`` namespace."""
    return types.SimpleNamespace(
        simple_save=simple_save, builder=builder, loader=loader, load=load,
        tag_constants=tag_constants, signature_constants=signature_constants,
        signature_def_utils=signature_def_utils, utils=utils, Builder=SavedModelBuilder,
        build_tensor_info=build_tensor_info, predict_signature_def=predict_signature_def,
        build_signature_def=build_signature_def, SERVING=SERVING, TRAINING=TRAINING,
        DEFAULT_SERVING_SIGNATURE_DEF_KEY=DEFAULT_SERVING_SIGNATURE_DEF_KEY,
        maybe_saved_model_directory=maybe_saved_model_directory)
