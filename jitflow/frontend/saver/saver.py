from __future__ import annotations

import functools
import os
import threading
import time
from typing import Any, Callable, Optional

import numpy as np

from ...errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from ..graph import GraphKeys, Operation, Tensor, get_default_graph
from .checkpoint import CheckpointReader, write_checkpoint
from .format import INDEX_SUFFIX, _clean_stale_temps
from .reader import checkpoint_exists, remove_checkpoint
from .state import update_checkpoint_state

# ====================================================================== Saver ================

def _variables_by_op(g) -> dict:
    return getattr(g, "_variables_by_op", {})


def _as_variable(item: Any) -> Any:
    """A Variable, or a VariableV2 tensor/op -> its Variable object."""
    from ..variables import Variable
    if isinstance(item, Variable):
        return item
    op = item.op if isinstance(item, Tensor) else item
    if isinstance(op, Operation) and op.type == "VariableV2":
        v = _variables_by_op(op.graph).get(op)
        if v is not None:
            return v
    raise TypeError(f"Variable to save is not a Variable: {item!r}")


def _var_list_to_dict(var_list: Any) -> dict:
    if isinstance(var_list, dict):
        out = {}
        for k, v in var_list.items():
            if not isinstance(k, str):
                raise TypeError(f"Saver's var_list keys must be strings, got {k!r}")
            out[k] = _as_variable(v)
        return out
    out = {}
    for item in var_list:
        v = _as_variable(item)
        key = v.op.name
        if key in out:
            raise ValueError(f"At least two variables have the same name: {key}")
        out[key] = v
    return out


def _one_at_a_time(method: Callable) -> Callable:
    """Serialize calls of ``method`` on one Saver: two threads saving through the same Saver
    (a Supervisor's checkpoint thread and the training loop) must not interleave their files
    and checkpoint-state updates."""
    @functools.wraps(method)
    def locked(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return locked


class Saver:
    """``tf.train.Saver``: saves and restores variables' values in a Session.

    ``var_list``: None (all global variables at construction, including optimizer slots), a
    list (keys = variable op names) or a dict ``{key: variable}``. See the module docstring for
    the files and their guarantees."""

    def __init__(self, var_list: Any = None, reshape: bool = False, sharded: bool = False,
                 max_to_keep: Optional[int] = 5, keep_checkpoint_every_n_hours: float = 10000.0,
                 name: Optional[str] = None, restore_sequentially: bool = False,
                 saver_def: Any = None, builder: Any = None, defer_build: bool = False,
                 allow_empty: bool = False, write_version: int = 2,
                 pad_step_number: bool = False, save_relative_paths: bool = False,
                 filename: Optional[str] = None) -> None:
        self._graph = get_default_graph()
        self._var_list_arg = var_list
        self._allow_empty = allow_empty
        self._max_to_keep = max_to_keep
        self._keep_every_n_hours = keep_checkpoint_every_n_hours
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths
        self._filename = filename
        self._last_checkpoints: list[tuple[str, float]] = []
        self._next_preserve = time.time() + keep_checkpoint_every_n_hours * 3600
        self._vars: Optional[dict] = None
        self._lock = threading.Lock()    # one save at a time (a checkpoint thread and the user)
        if not defer_build:
            self.build()

    def build(self) -> None:
        if self._vars is not None:
            return
        var_list = self._var_list_arg
        if var_list is None:
            var_list = self._graph.get_collection(GraphKeys.GLOBAL_VARIABLES) + \
                self._graph.get_collection("saveable_objects")
        self._vars = _var_list_to_dict(var_list)
        if not self._vars and not self._allow_empty:
            raise ValueError("No variables to save")

    # -------------------------------------------------------------- properties ------------
    @property
    def last_checkpoints(self) -> list[str]:
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints: list) -> None:
        self._last_checkpoints = [(p, time.time()) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list) -> None:
        self._last_checkpoints = [(p, t) for p, t in last_checkpoints_with_time]

    def recover_last_checkpoints(self, checkpoint_paths: list) -> None:
        self._last_checkpoints = [(p, os.path.getmtime(p + INDEX_SUFFIX))
                                  for p in checkpoint_paths if checkpoint_exists(p)]

    @property
    def var_list(self) -> dict:
        self.build()
        return dict(self._vars)

    # -------------------------------------------------------------- save ------------------
    @_one_at_a_time
    def save(self, sess: Any, save_path: str, global_step: Any = None,
             latest_filename: Optional[str] = None, meta_graph_suffix: str = "meta",
             write_meta_graph: bool = True, write_state: bool = True,
             strip_default_attrs: bool = False, save_debug_info: bool = False) -> str:
        """Write the checkpoint; returns its prefix (``save_path`` or ``save_path-<step>``)."""
        self.build()
        if latest_filename and os.path.basename(latest_filename) != latest_filename:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if global_step is not None:
            step = _global_step_value(sess, global_step)
            prefix = (f"{save_path}-{step:08d}" if self._pad_step_number
                      else f"{save_path}-{step}")
        else:
            prefix = save_path
        save_dir = os.path.dirname(prefix)
        if save_dir and not os.path.isdir(save_dir):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        _check_session(sess)
        values = {}
        for key, var in self._vars.items():
            val = sess._variable_value(var)
            if val is None:
                raise FailedPreconditionError(
                    f"Attempting to use uninitialized value {var.op.name} (while saving "
                    f"{prefix}: run the initializer or restore before saving)")
            values[key] = np.asarray(val)
        write_checkpoint(prefix, values)
        if write_meta_graph:
            from .meta_graph import export_meta_graph
            export_meta_graph(prefix + "." + meta_graph_suffix, graph=self._graph, saver=self)
        self._record(prefix, meta_graph_suffix)
        if write_state:
            update_checkpoint_state(
                save_dir, prefix, self.last_checkpoints, latest_filename,
                all_model_checkpoint_timestamps=[t for _, t in self._last_checkpoints],
                last_preserved_timestamp=self._next_preserve - self._keep_every_n_hours * 3600)
        return prefix

    def _record(self, prefix: str, meta_suffix: str) -> None:
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        if not self._max_to_keep or self._max_to_keep <= 0:
            return
        while len(self._last_checkpoints) > self._max_to_keep:
            old, t = self._last_checkpoints.pop(0)
            if t > self._next_preserve:   # keep_checkpoint_every_n_hours: preserve this one
                self._next_preserve += self._keep_every_n_hours * 3600
                continue
            remove_checkpoint(old, meta_graph_suffix=meta_suffix)

    # -------------------------------------------------------------- restore ---------------
    def restore(self, sess: Any, save_path: Optional[str]) -> None:
        """Assign the saved values to this Saver's variables (only those; all or nothing)."""
        self.build()
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        if not checkpoint_exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        _check_session(sess)
        _clean_stale_temps(save_path)
        reader = CheckpointReader(save_path)
        for key, var in self._vars.items():
            if not reader.has_tensor(key):
                raise NotFoundError(
                    f"Key {key} not found in checkpoint {save_path} (restoring variable "
                    f"{var.name}). The checkpoint holds: {', '.join(reader.keys()) or 'nothing'}")
            e = reader.entry(key)
            want_shape = tuple(var.shape.as_list())
            if tuple(e["shape"]) != want_shape:
                raise InvalidArgumentError(
                    f"Assign requires shapes of both tensors to match. lhs shape= "
                    f"{list(want_shape)} rhs shape= {list(e['shape'])}: restoring variable "
                    f"{var.op.name} from key {key} in checkpoint {save_path}")
            if e["dtype"] != var.dtype.name:
                raise InvalidArgumentError(
                    f"tensor_name = {key}; expected dtype {var.dtype.name} does not equal "
                    f"original dtype {e['dtype']} (restoring variable {var.op.name} from "
                    f"checkpoint {save_path})")
        values = reader.read(self._vars.keys())
        for key, var in self._vars.items():
            sess._load_variable(var, values[key])
        reader.finish_interrupted_save()

    # -------------------------------------------------------------- meta graph ------------
    def export_meta_graph(self, filename: Optional[str] = None, collection_list=None,
                          as_text: bool = False, export_scope: Optional[str] = None,
                          clear_devices: bool = False, clear_extraneous_savers: bool = False,
                          strip_default_attrs: bool = False, save_debug_info: bool = False):
        from .meta_graph import export_meta_graph
        return export_meta_graph(filename, collection_list=collection_list, graph=self._graph,
                                 clear_devices=clear_devices, saver=self, as_text=as_text)

    def _saver_def(self) -> dict:
        self.build()
        return {"var_list": {k: v.op.name for k, v in self._vars.items()},
                "max_to_keep": self._max_to_keep,
                "keep_checkpoint_every_n_hours": self._keep_every_n_hours,
                "pad_step_number": self._pad_step_number}


def _check_session(sess: Any) -> None:
    if not hasattr(sess, "_variable_value") or not hasattr(sess, "_load_variable"):
        raise TypeError(f"'sess' must be a Session; {sess!r}")
    if getattr(sess, "_closed", False):
        raise RuntimeError("Attempted to use a closed Session.")


def _global_step_value(sess: Any, global_step: Any) -> int:
    if isinstance(global_step, (int, np.integer)) and not isinstance(global_step, bool):
        return int(global_step)
    return int(np.asarray(sess.run(global_step)))
