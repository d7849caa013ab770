"""Keras ``Model.save_weights`` / ``Model.load_weights`` (TF 1.15 graph mode).

The TensorFlow format only: ``save_weights("dir/w")`` writes the V2 checkpoint ``dir/w.index``
+ ``dir/w.data-00000-of-00001`` (``saver/checkpoint.write_checkpoint``) and the ``dir/checkpoint``
state file naming it, so ``tf.train.latest_checkpoint("dir")`` finds it. The keys are TF's
object-based ones for a model's layers: ``layer_with_weights-K/<weight>/.ATTRIBUTES/
VARIABLE_VALUE``, K counting the layers that have weights (a nested model adds its own level;
a subclassed model or layer keys its sub-layers by attribute: ``d1/kernel/...``),
``<weight>`` the variable's name inside its layer (``kernel``, ``bias``, ``moving_mean``), so a
model of the same architecture restores them whatever its layers are named. Not written: the
optimizer's slots and TF's object-graph proto. HDF5 (``.h5``, ``.hdf5``, ``.keras``) needs
h5py, which jitflow does not use: those paths raise an error that says so.

``load_weights`` checks the whole checkpoint against the model before assigning anything: a
weight without a value, a value of another shape or dtype, or values for layers the model does
not have are a ``ValueError`` naming the layer, the weight and the shapes.
"""
from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

_HDF5 = (".h5", ".hdf5", ".keras")
_ATTR = "/.ATTRIBUTES/VARIABLE_VALUE"
_LAYER = "layer_with_weights-"


def is_hdf5_filepath(filepath: Any) -> bool:
    return str(filepath).endswith(_HDF5)


def _save_format(filepath: str, save_format: Optional[str]) -> str:
    if save_format is None:
        return "h5" if is_hdf5_filepath(filepath) else "tf"
    fmt = str(save_format).lower().strip()
    if fmt in ("tensorflow", "tf"):
        fmt = "tf"
    elif fmt in ("h5", "hdf5", "keras"):
        fmt = "h5"
    else:
        raise ValueError(f'Unknown format "{save_format}". Was expecting one of {{"tf", "h5"}}.')
    if fmt == "tf" and is_hdf5_filepath(filepath):
        raise ValueError(f'save_weights got save_format="{save_format}", but the filepath '
                         f'("{filepath}") looks like an HDF5 file. Omit the ".h5"/".keras" '
                         f'when saving in TensorFlow format.')
    return fmt


def _no_hdf5(what: str, filepath: str) -> None:
    try:
        import h5py  # noqa: F401
    except ImportError:
        raise ImportError(f"`{what}` requires h5py when saving or loading weights in HDF5 "
                          f"({filepath!r}); h5py is not installed (jitflow does not depend on "
                          f"it). Use a path without .h5/.hdf5/.keras for the TensorFlow "
                          f"checkpoint format.") from None
    raise NotImplementedError(f"`{what}`: jitflow writes and reads weights in the TensorFlow "
                              f"checkpoint format only, not HDF5 ({filepath!r}); use a path "
                              f"without .h5/.hdf5/.keras")


def _relative_names(layer: Any, weights: list) -> list:
    """Each weight's name inside ``layer`` (``dense/kernel:0`` -> ``kernel``); by position
    (``weight-J``) when the names do not say it uniquely."""
    out = []
    for v in weights:
        parts = v.name.split(":")[0].split("/")
        if layer.name in parts:
            k = len(parts) - 1 - parts[::-1].index(layer.name)
            out.append("/".join(parts[k + 1:]))
        else:
            out.append("")
    if "" in out or len(set(out)) != len(out):
        return [f"weight-{j}" for j in range(len(weights))]
    return out


def _object_entries(obj: Any, prefix: str) -> list:
    """A subclassed model's or layer's keys: its sub-layers' under their attribute paths
    (``d1/kernel``, ``blocks/0/kernel``), then its own weights (TF's object-based keys)."""
    out: list = []
    for path, layer in obj._tracked_attrs():
        if not layer.weights:
            continue
        base = f"{prefix}{path}/"
        if "_tracked" in layer.__dict__ or _is_model(layer):
            out += weight_entries(layer, base)
            continue
        ws = list(layer.weights)
        out += [(f"{base}{n}{_ATTR}", v, layer) for v, n in zip(ws, _relative_names(layer, ws))]
    own = list(obj._trainable_weights) + list(obj._non_trainable_weights)
    if own:
        out += [(f"{prefix}{n}{_ATTR}", v, obj) for v, n in zip(own, _relative_names(obj, own))]
    return out


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "_require_built")


def weight_entries(model: Any, prefix: str = "") -> list:
    """``(checkpoint key, variable, layer)`` for every weight of ``model``, in its order:
    ``layer_with_weights-K/...`` for Sequential and functional models, attribute paths for
    subclassed models and layers."""
    if "_tracked" in model.__dict__:
        return _object_entries(model, prefix)
    out = []
    k = 0
    for layer in model.layers:
        ws = list(layer.weights)
        if not ws:
            continue
        base = f"{prefix}{_LAYER}{k}/"
        k += 1
        if _is_model(layer) or "_tracked" in layer.__dict__:   # a nested model
            out += weight_entries(layer, base)
            continue
        for v, n in zip(ws, _relative_names(layer, ws)):
            out.append((f"{base}{n}{_ATTR}", v, layer))
    return out


def _ask_to_proceed_with_overwrite(filepath: str) -> bool:
    """Keras's prompt before overwriting a file (``overwrite=False``)."""
    answer = input(f"[WARNING] {filepath} already exists - overwrite? [y/n]").strip().lower()
    while answer not in ("y", "n"):
        answer = input('Enter "y" (overwrite) or "n" (cancel).').strip().lower()
    if answer == "n":
        return False
    print("[TIP] Next time specify overwrite=True!")
    return True


def save_weights(model: Any, filepath: Any, overwrite: bool = True,
                 save_format: Optional[str] = None) -> None:
    """``Model.save_weights``: the model's weights as a TF checkpoint at prefix ``filepath``."""
    from .keras_backend import get_session
    from .saver import update_checkpoint_state, write_checkpoint
    from .saver.format import INDEX_SUFFIX
    filepath = os.fspath(filepath)
    if _save_format(filepath, save_format) == "h5":
        _no_hdf5("save_weights", filepath)
    model._require_built("save_weights")
    if not overwrite and (os.path.isfile(filepath) or os.path.isfile(filepath + INDEX_SUFFIX)):
        if not _ask_to_proceed_with_overwrite(filepath):
            return
    entries = weight_entries(model)
    values = get_session().run([v for _, v, _ in entries]) if entries else []
    d = os.path.dirname(filepath)
    if d:
        os.makedirs(d, exist_ok=True)
    write_checkpoint(filepath, {k: np.asarray(val) for (k, _, _), val in zip(entries, values)})
    sd, base = d or ".", os.path.basename(filepath)       # the state file holds "w" (TF's
    rel = base if os.path.isabs(sd) else os.path.join(sd, base)      # save_relative_paths)
    update_checkpoint_state(sd, rel, all_model_checkpoint_paths=[rel])


class LoadStatus:
    """What ``load_weights`` returns (TF's CheckpointLoadStatus): the values are already
    assigned and every weight was matched, so its assertions pass and its runs do nothing."""

    def assert_consumed(self) -> "LoadStatus":
        return self

    def assert_existing_objects_matched(self) -> "LoadStatus":
        return self

    def assert_nontrivial_match(self) -> "LoadStatus":
        return self

    def expect_partial(self) -> "LoadStatus":
        return self

    def run_restore_ops(self, session: Any = None) -> None:
        return None

    def initialize_or_restore(self, session: Any = None) -> None:
        return None


def load_weights(model: Any, filepath: Any, by_name: bool = False) -> LoadStatus:
    """``Model.load_weights``: assign the weights saved by ``save_weights`` (the TF format)."""
    from .keras_backend import get_session
    from .saver import CheckpointReader
    filepath = os.fspath(filepath)
    if is_hdf5_filepath(filepath):
        _no_hdf5("load_weights", filepath)
    if by_name:
        raise NotImplementedError("Weights may only be loaded based on topology into Models "
                                  "when loading TensorFlow-formatted weights (got by_name=True "
                                  "to load_weights).")
    model._require_built("load_weights")
    reader = CheckpointReader(filepath)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    entries = weight_entries(model)
    for key, v, layer in entries:
        want = tuple(v.shape.as_list())
        if key not in shapes:
            raise ValueError(f"load_weights: {filepath} has no value for weight {v.name} of "
                             f"layer {layer.name!r} ({type(layer).__name__}, shape {want}); "
                             f"expected the key {key!r}. The checkpoint's layer weights: "
                             f"{_summary(shapes)}")
        got = tuple(shapes[key])
        if got != want:
            raise ValueError(f"load_weights: layer {layer.name!r} ({type(layer).__name__}) has "
                             f"weight {v.name} of shape {want}, but {filepath} holds {key} "
                             f"of shape {got}: the model's architecture differs from the "
                             f"saved one")
        if dtypes[key] != v.dtype:
            raise ValueError(f"load_weights: layer {layer.name!r} has weight {v.name} of dtype "
                             f"{v.dtype.name}, but {filepath} holds {key} of dtype "
                             f"{dtypes[key].name}")
    used = {k for k, _, _ in entries}
    saved = [k for k in shapes if _is_layer_key(model, k)]
    extra = sorted(k for k in saved if k not in used)
    if extra:
        raise ValueError(f"load_weights: {filepath} holds weights the model does not have "
                         f"(the model has {_count_layers(used)} layers with weights, the "
                         f"checkpoint {_count_layers(saved)}): {extra[:6]}"
                         f"{' ...' if len(extra) > 6 else ''}")
    values = reader.read([k for k, _, _ in entries])
    sess = get_session()
    for key, v, _ in entries:
        v.load(values[key], sess)
    return LoadStatus()


def _is_layer_key(model: Any, key: str) -> bool:
    if "_tracked" in model.__dict__:           # subclassed: attribute paths
        return key.endswith(_ATTR) and not key.startswith(("optimizer/", "save_counter/"))
    return key.startswith(_LAYER)


def _count_layers(keys: Any) -> int:
    return len({k.split("/")[0] for k in keys})


def _summary(shapes: dict) -> str:
    keys = sorted(k for k in shapes if k.startswith(_LAYER))
    shown = ", ".join(f"{k[:-len(_ATTR)] if k.endswith(_ATTR) else k} {list(shapes[k])}"
                      for k in keys[:8])
    return (shown + (" ..." if len(keys) > 8 else "")) or "none"
