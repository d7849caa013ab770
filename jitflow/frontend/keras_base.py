"""``tf.keras.layers.Layer`` for subclassing, and the attribute tracking that subclassed layers
and models share (TF 1.15 graph mode).

A layer or variable assigned as an attribute is tracked, also inside lists, tuples and dicts
(a dict's values in the order of its sorted keys, as TF's ``_DictWrapper``); reassigning an
attribute drops what it held. The tracked layers are the layer's sub-layers: its weights are
theirs (in the order they were assigned) followed by its own (``add_weight`` or a variable
assigned as an attribute), and so are its updates and losses. ``__call__`` takes a tensor or a
list/tuple/dict of them, calls ``build`` with their shapes the first time, and passes
``training``/``mask`` to ``call`` only when ``call`` takes them.
"""
from __future__ import annotations

import inspect
from typing import Any, Optional

from ..ir.dtypes import float32
from .graph import Tensor
from .keras_layers import _drop_shape_kwargs, get_initializer
from .layer_base import Layer as _BaseLayer
from .layer_base import KERAS_CALL as _CALL
from .layer_base import _activity, _record_call
from .op_builder import convert_to_tensor
from .variables import Variable

__all__ = ["Layer", "Tracking", "accepts_arg", "map_structure",
           "flatten_structure", "losses_of_call"]

_LAYER_KWARGS = ("activity_regularizer", "weights", "autocast", "dynamic", "input_dim")


def _layers_in(value: Any) -> list:
    """The layers in ``value``: itself, or those of a list/tuple/dict (sorted keys)."""
    if isinstance(value, _BaseLayer):
        return [value]
    if isinstance(value, (list, tuple)):
        return [l for v in value for l in _layers_in(v)]
    if isinstance(value, dict):
        return [l for k in sorted(value, key=str) for l in _layers_in(value[k])]
    return []


def _variables_in(value: Any) -> list:
    if isinstance(value, Variable):
        return [value]
    if isinstance(value, (list, tuple)):
        return [w for v in value for w in _variables_in(v)]
    if isinstance(value, dict):
        return [w for k in sorted(value, key=str) for w in _variables_in(value[k])]
    return []


def accepts_arg(fn: Any, name: str) -> bool:
    """Whether ``fn`` takes an argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def map_structure(fn: Any, s: Any) -> Any:
    """``fn`` applied to the leaves of nested lists/tuples/dicts (tuples become lists)."""
    if isinstance(s, (list, tuple)):
        return [map_structure(fn, v) for v in s]
    if isinstance(s, dict):
        return {k: map_structure(fn, v) for k, v in s.items()}
    return fn(s)


def flatten_structure(s: Any) -> list:
    """The leaves of nested lists/tuples/dicts (a dict's in sorted-key order)."""
    if isinstance(s, (list, tuple)):
        return [x for v in s for x in flatten_structure(v)]
    if isinstance(s, dict):
        return [x for k in sorted(s, key=str) for x in flatten_structure(s[k])]
    return [s]


class Tracking:
    """Tracks the layers and variables assigned as attributes (see the module docstring)."""

    def _start_tracking(self) -> None:
        self.__dict__.setdefault("_tracked", {})

    def __setattr__(self, name: str, value: Any) -> None:
        tracked = self.__dict__.get("_tracked")
        if tracked is not None and not isinstance(getattr(type(self), name, None), property):
            tracked.pop(name, None)
            if _layers_in(value):
                tracked[name] = value
            for v in _variables_in(value):
                own = self._trainable_weights if v.trainable else self._non_trainable_weights
                if not any(v is w for w in self._trainable_weights + self._non_trainable_weights):
                    own.append(v)
        elif tracked is None and _layers_in(value) and "_trainable_weights" not in self.__dict__:
            kind = "Model" if hasattr(self, "fit") else "Layer"
            raise RuntimeError(f"It looks like you are subclassing `{kind}` and you forgot to "
                               f"call `super(YourClass, self).__init__()`. Always start with "
                               f"this line.")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        tracked = self.__dict__.get("_tracked")
        if tracked is not None:
            tracked.pop(name, None)
        object.__delattr__(self, name)

    def _tracked_layers(self) -> list:
        """The sub-layers, in the order their attributes were assigned, each once."""
        out: list = []
        for value in self.__dict__.get("_tracked", {}).values():
            for layer in _layers_in(value):
                if layer is not self and not any(layer is l for l in out):
                    out.append(layer)
        return out

    def _tracked_attrs(self) -> list:
        """``(attribute path, layer)`` for each sub-layer: ``d1``, ``blocks/0``, ``heads/a``."""
        out: list = []

        def walk(path: str, v: Any) -> None:
            if isinstance(v, _BaseLayer):
                if v is not self and not any(v is l for _, l in out):
                    out.append((path, v))
            elif isinstance(v, (list, tuple)):
                for i, e in enumerate(v):
                    walk(f"{path}/{i}", e)
            elif isinstance(v, dict):
                for k in sorted(v, key=str):
                    walk(f"{path}/{k}", v[k])
        for name, value in self.__dict__.get("_tracked", {}).items():
            walk(name, value)
        return out


def losses_of_call(losses: list, token: Any) -> list:
    """The losses not added in a call (weight regularizers) and those of call ``token``."""
    return [l for l in losses if getattr(l, "_keras_call", None) in (None, token)]


def _gather(layer: Any, attr: str, own: list) -> list:
    out: list = []
    for sub in layer._tracked_layers():
        for v in getattr(sub, attr):
            if not any(v is w for w in out):
                out.append(v)
    return out + [v for v in own if not any(v is w for w in out)]


class Layer(Tracking, _BaseLayer):
    """``tf.keras.layers.Layer``: subclass it with ``build(input_shape)`` (``add_weight``) and
    ``call(inputs)``; named when made (``my_layer``, ``my_layer_1``, ...), its variables
    ``<scope>/my_layer/<name>:0``."""

    _name_when_made = True

    def __init__(self, trainable: bool = True, name: Optional[str] = None, dtype: Any = None,
                 dynamic: bool = False, **kwargs: Any) -> None:
        for k in kwargs:
            if k not in _LAYER_KWARGS + ("input_shape", "batch_input_shape", "batch_size"):
                raise TypeError(f"('Keyword argument not understood:', {k!r})")
        activity = kwargs.pop("activity_regularizer", None)
        if kwargs.pop("weights", None) is not None:
            raise NotImplementedError("Layer(weights=...) is not supported by jitflow; call "
                                      "set_weights after the layer is built")
        kw = {k: v for k, v in _drop_shape_kwargs(kwargs).items() if k not in _LAYER_KWARGS}
        kw["_keras_named"] = self._name_when_made
        super().__init__(trainable=trainable, name=name, dtype=dtype, **kw)
        self.activity_regularizer = activity
        self._start_tracking()

    # ------------------------------------------------------------- weights ---------------
    @property
    def trainable_weights(self) -> list:
        if not self.trainable:
            return []
        return _gather(self, "trainable_weights", self._trainable_weights)

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return _gather(self, "weights", self._trainable_weights +
                           self._non_trainable_weights)
        return _gather(self, "non_trainable_weights", self._non_trainable_weights)

    non_trainable_variables = non_trainable_weights

    @property
    def weights(self) -> list:
        return self.trainable_weights + self.non_trainable_weights

    variables = weights

    @property
    def updates(self) -> list:
        return _gather(self, "updates", self._updates)

    @property
    def losses(self) -> list:
        return _gather(self, "losses", self._losses)

    def add_weight(self, name: Optional[str] = None, shape: Any = None, dtype: Any = None,
                   initializer: Any = None, regularizer: Any = None, trainable: Any = None,
                   constraint: Any = None, **kwargs: Any) -> Variable:
        """Keras's ``add_weight``: a scalar without ``shape``, initializers by name
        (glorot_uniform by default for floats, as TF's), trainable unless told."""
        if constraint is not None:
            raise NotImplementedError("add_weight(constraint=...) is not supported by jitflow")
        if name is None:
            name = "Variable"
        init = get_initializer(initializer)
        return super().add_weight(name, [] if shape is None else list(shape), dtype=dtype,
                                  initializer=init, regularizer=regularizer,
                                  trainable=True if trainable is None else bool(trainable))

    add_variable = add_weight

    def add_loss(self, losses: Any, inputs: Any = None) -> None:
        """Adds loss tensors (or callables returning one) to ``self.losses``; one added in
        ``call`` belongs to that call (``call_token``): fit counts those of its own call."""
        for loss in losses if isinstance(losses, (list, tuple)) else [losses]:
            t = convert_to_tensor(loss() if callable(loss) else loss)
            t._keras_call = _CALL["token"]
            self._losses.append(t)

    # ------------------------------------------------------------- calling ---------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("scope", None)
        for k in ("training", "mask"):
            if k in kwargs and not accepts_arg(self.call, k):
                kwargs.pop(k)
        xs = map_structure(convert_to_tensor, inputs)
        leaves = [t for t in flatten_structure(xs) if isinstance(t, Tensor)]
        if self.dtype is None:
            self.dtype = leaves[0].dtype if leaves and leaves[0].dtype.is_floating else float32
        outer = _CALL["token"] is None
        if outer:
            _CALL["count"] += 1
            _CALL["token"] = _CALL["count"]
        self.last_call_token = _CALL["token"]
        try:
            with self._call_scope():
                if not self.built:
                    self._build_from(xs)
                outputs = self.call(xs, *args, **kwargs)
        finally:
            if outer:
                _CALL["token"] = None
        if self.activity_regularizer is not None and isinstance(outputs, Tensor):
            _activity(self, outputs)
        _record_call(self, xs, outputs, args, kwargs)
        return outputs

    apply = __call__

    def _build_from(self, xs: Any) -> None:
        self.build(map_structure(lambda t: t.shape, xs))
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.compute_output_shape is not "
                                  f"implemented")

    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self.trainable,
                "dtype": self.dtype.name if self.dtype is not None else None}
