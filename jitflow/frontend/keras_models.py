"""``tf.keras.Sequential``, the functional ``tf.keras.Model(inputs, outputs)`` and
``tf.keras.Input`` as TF 1.15 Keras builds them in graph mode.

A ``Sequential`` whose first layer has ``input_shape`` (or that starts with an
``InputLayer``) is built when it is made: its layers are called on a ``<layer>_input``
placeholder outside the model's scope, so the weights are ``dense/kernel:0``, as in TF 1.15.
Without one, the layers are built at the first call, inside the model's scope:
``sequential/dense/kernel:0``. Keras layers are named when they are made (dense, dense_1,
... per graph: keras_layers._drop_shape_kwargs), so a second model's are
``sequential_1/dense_2/...``. Calling a built model on another tensor applies the same
layers (the same weights) to it. ``compile``/``fit``/``evaluate``/``predict`` are in
keras_training.py.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .array_ops import placeholder
from .graph import Tensor
from .keras_base import Layer as KerasLayer
from .keras_training import TrainingMixin
from .layer_base import Layer, keras_uid
from .op_builder import convert_to_tensor

__all__ = ["Input", "InputLayer", "Model", "Sequential"]


def _unique(kind: str) -> str:
    return keras_uid(kind, zero_based=False)


def Input(shape: Any = None, batch_size: Optional[int] = None, name: Optional[str] = None,
          dtype: Any = None, sparse: bool = False, tensor: Any = None,
          batch_shape: Any = None, **kwargs: Any) -> Tensor:
    """``tf.keras.Input``: a placeholder of shape ``(batch_size,) + shape`` (``input_1``,
    ``input_2``, ... unless named); a given ``tensor`` is returned as it is."""
    if sparse:
        raise NotImplementedError("tf.keras.Input(sparse=True) is not supported by jitflow")
    if tensor is not None:
        return convert_to_tensor(tensor)
    if batch_shape is None:
        if shape is None:
            raise ValueError("Please provide to Input either a `shape` or a `batch_shape` "
                             "argument. Note that `shape` does not include the batch dimension.")
        batch_shape = (batch_size,) + tuple(shape)
    return placeholder(dtype or "float32", list(batch_shape), name=name or _unique("input"))


class InputLayer(Layer):
    """``tf.keras.layers.InputLayer``: holds an ``Input`` placeholder (``self.output``)."""

    def __init__(self, input_shape: Any = None, batch_size: Optional[int] = None,
                 dtype: Any = None, input_tensor: Any = None, sparse: bool = False,
                 name: Optional[str] = None, batch_input_shape: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name or _unique("input"), dtype=dtype)
        self.output = Input(input_shape, batch_size, self.name, dtype, sparse, input_tensor,
                            batch_input_shape)
        self.built = True


def _shape_tuple(t: Any) -> Any:
    if isinstance(t, (list, tuple)):
        return [_shape_tuple(x) for x in t]
    return tuple(t.shape.as_list()) if t.shape.ndims is not None else None


def _as_list(t: Any) -> list:
    return list(t) if isinstance(t, (list, tuple)) else [t]


def _one_or_list(ts: Any, what: str) -> Any:
    """One tensor, or a list of two or more; anything else is refused."""
    if isinstance(ts, (list, tuple)):
        ts = list(ts)
        if not ts:
            raise ValueError(f"tf.keras.Model: `{what}` is an empty list")
        if len(ts) == 1:
            ts = ts[0]
    for t in _as_list(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"tf.keras.Model(inputs, outputs): `{what}` must be a tensor or a "
                            f"list of tensors, got {t!r}")
    return ts


def _accepts_training(layer: Layer) -> bool:
    import inspect
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return False


class Model(TrainingMixin, KerasLayer):
    """``tf.keras.Model(inputs, outputs)``: the layers whose calls lead from ``inputs`` (a
    placeholder or a list of them) to ``outputs`` (a tensor or a list); calling the model on
    other tensors (a list for several inputs) applies them again.

    Subclassed (``Model()`` without inputs and outputs, a ``call`` of its own): the layers
    assigned as attributes are tracked (keras_base.py), the model is built by its first call
    (on a tensor, by ``build(input_shape)``, or by fit/evaluate/predict from the data's shape)
    and its variables are ``<model>/<layer>/...``, as TF 1.15 names them."""

    _name_when_made = False            # named by its variable scope below

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        self.__dict__["_subclassed"] = (inputs is None and outputs is None and
                                        not isinstance(self, Sequential))
        super().__init__(name=name, **kwargs)
        if not self._subclassed:
            self.__dict__.pop("_tracked", None)    # the graph, not attributes, says the layers
        self._capture_scope()          # Keras names models when they are made
        self._layers: list = []
        self._input: Optional[Tensor] = None
        self._output: Optional[Tensor] = None
        self._input_struct: Any = None  # a subclassed model's fit/predict input (list, dict)
        self._layer_shapes: list = []
        self._calls: list = []         # (layer, input tensor, args, kwargs, output tensor)
        self._compiled = None
        self._building = False
        if inputs is None and outputs is None:
            return
        self._init_graph(inputs, outputs)

    # ------------------------------------------------------------- functional -------------
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        inputs = _one_or_list(inputs, "inputs")
        outputs = _one_or_list(outputs, "outputs")
        ins = _as_list(inputs)
        calls = ins[0].graph.__dict__.get("_layer_calls", {})
        order: list = []
        seen: set = set(id(t) for t in ins)

        def visit(t: Tensor) -> None:
            if id(t) in seen:
                return
            rec = calls.get(id(t))
            if rec is None:
                raise ValueError(f"tf.keras.Model: the output is not connected to the inputs "
                                 f"{[i.name for i in ins]} through Keras layer calls: {t.name} "
                                 f"(op {t.op.type}) was not made by a layer")
            for x in _as_list(rec[1]):
                visit(x)
            seen.add(id(t))
            order.append(rec)
        for out in _as_list(outputs):
            visit(out)
        self._calls = order
        self._input, self._output = inputs, outputs
        layers: list = []
        for rec in order:
            if not any(rec[0] is l for l in layers):
                layers.append(rec[0])
                self._layer_shapes.append(_shape_tuple(rec[4]))
        self._layers = layers
        self.built = True

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if self._subclassed:
            return KerasLayer.__call__(self, inputs, *args, **kwargs)
        if not isinstance(inputs, (list, tuple)):
            return Layer.__call__(self, inputs, *args, **kwargs)
        from .layer_base import _record_call
        xs = [convert_to_tensor(t) for t in inputs]
        with self._call_scope():
            outputs = self.call(xs, *args, **kwargs)
        _record_call(self, xs, outputs, args, kwargs)
        return outputs

    # -------------------------------------------------------------- subclassed ------------
    def _build_from(self, xs: Any) -> None:
        self._building = True
        try:
            super()._build_from(xs)
        finally:
            self._building = False

    def build(self, input_shape: Any) -> None:
        """A subclassed model: calls the model on float32 placeholders of ``input_shape`` (a
        shape, or a list/dict of them) to make its weights."""
        if not self._subclassed or self._building:
            self.built = True
            return
        if self.built:
            return
        if input_shape is None:
            raise ValueError("Input shape must be defined when calling build on a model "
                             "subclass network.")

        def is_shape(s: Any) -> bool:
            return hasattr(s, "as_list") or (isinstance(s, (list, tuple)) and all(
                d is None or isinstance(d, (int, np.integer)) for d in s))

        def make(s: Any) -> Any:
            if is_shape(s):
                return placeholder("float32", s.as_list() if hasattr(s, "as_list") else
                                   [None if d is None else int(d) for d in s])
            if isinstance(s, dict):
                return {k: make(v) for k, v in s.items()}
            if isinstance(s, (list, tuple)):
                return [make(v) for v in s]
            raise ValueError(f"build(input_shape): expected a shape tuple or a list/dict of "
                             f"them, got {s!r}")
        self(make(input_shape))

    def _all_layers(self) -> list:
        return self._tracked_layers() if self._subclassed else list(self._layers)

    def call(self, inputs: Any, training: Any = None) -> Any:
        if self._subclassed:
            raise NotImplementedError(f"{type(self).__name__} subclasses tf.keras.Model "
                                      f"without inputs and outputs: it must define "
                                      f"call(self, inputs, training=None)")
        ins = _as_list(self._input)
        given = _as_list(inputs)
        if len(given) != len(ins):
            raise ValueError(f"Model {self.name} expects {len(ins)} input(s), but it received "
                             f"{len(given)} input tensors")
        values = {id(a): b for a, b in zip(ins, given)}
        for layer, x, args, kwargs, out in self._calls:
            kw = dict(kwargs)
            if training is not None and _accepts_training(layer):
                kw["training"] = training
            arg = [values[id(t)] for t in x] if isinstance(x, list) else values[id(x)]
            values[id(out)] = layer(arg, *args, **kw)
        if isinstance(self._output, list):
            return [values[id(o)] for o in self._output]
        return values[id(self._output)]

    # -------------------------------------------------------------- properties ------------
    @property
    def layers(self) -> list:
        return self._all_layers()

    @property
    def inputs(self) -> list:
        return [] if self._input is None else _as_list(self._input)

    @property
    def outputs(self) -> list:
        return [] if self._output is None else _as_list(self._output)

    @property
    def input(self) -> Tensor:
        self._require_built("input")
        return self._input

    @property
    def output(self) -> Tensor:
        self._require_built("output")
        return self._output

    @property
    def input_shape(self) -> tuple:
        self._require_built("input_shape")
        return _shape_tuple(self._input)

    @property
    def output_shape(self) -> tuple:
        self._require_built("output_shape")
        return _shape_tuple(self._output)

    def _gather(self, attr: str) -> list:
        """Each layer's ``attr`` in turn (Keras's Network order), then the model's own."""
        out: list = []
        own = {"trainable_weights": self._trainable_weights,
               "non_trainable_weights": self._non_trainable_weights,
               "weights": self._trainable_weights + self._non_trainable_weights,
               "updates": self._updates, "losses": self._losses}[attr]
        for v in [v for layer in self._all_layers() for v in getattr(layer, attr)] + own:
            if not any(v is w for w in out):
                out.append(v)
        return out

    @property
    def trainable_weights(self) -> list:
        return self._gather("trainable_weights") if self.trainable else []

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self) -> list:
        if not self.trainable:
            return self.weights
        return self._gather("non_trainable_weights")

    non_trainable_variables = non_trainable_weights

    @property
    def weights(self) -> list:
        return self._gather("weights")

    variables = weights

    @property
    def updates(self) -> list:
        return self._gather("updates")

    @property
    def losses(self) -> list:
        return self._gather("losses")

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        layers = self._all_layers()
        if index is not None:
            if not 0 <= index < len(layers):
                raise ValueError(f"Was asked to retrieve layer at index {index} but model only "
                                 f"has {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}")

    def _require_built(self, what: str) -> None:
        if self._output is None and not (self._subclassed and self.built):
            raise ValueError(f"{what}: this model has not yet been built. Build the model first "
                             "by calling it on a tensor or calling `fit()` with some data, or "
                             "specify an `input_shape` argument in the first layer(s) for "
                             "automatic build.")

    # -------------------------------------------------------------- weights ---------------
    def count_params(self) -> int:
        return int(sum(np.prod(v.shape.as_list()) for v in self.weights))

    def save_weights(self, filepath: Any, overwrite: bool = True,
                     save_format: Optional[str] = None) -> None:
        """The weights as a TensorFlow checkpoint at prefix ``filepath`` (keras_saving.py)."""
        from .keras_saving import save_weights
        save_weights(self, filepath, overwrite=overwrite, save_format=save_format)

    def load_weights(self, filepath: Any, by_name: bool = False) -> Any:
        """Assign the weights ``save_weights`` wrote into this model of the same
        architecture (keras_saving.py)."""
        from .keras_saving import load_weights
        return load_weights(self, filepath, by_name=by_name)

    # -------------------------------------------------------------- summary ---------------
    def summary(self, line_length: Optional[int] = None, positions: Any = None,
                print_fn: Optional[Callable] = None) -> None:
        """Keras's table: layer (type), output shape, parameter count; then the totals."""
        if self._output is None and not (self._subclassed and self.built):
            raise ValueError("This model has not yet been built. Build the model first by "
                             "calling `build()` or calling `fit()` with some data, or specify "
                             "an `input_shape` argument in the first layer(s) for automatic "
                             "build.")
        print_fn = print_fn or print
        line_length = line_length or 65
        positions = positions or [.45, .85, 1.]
        if positions[-1] <= 1:
            positions = [int(line_length * p) for p in positions]

        def row(fields: list) -> None:
            line = ""
            for i, f in enumerate(fields):
                if i > 0:
                    line = line[:-1] + " "
                line += str(f)
                line = line[:positions[i]]
                line += " " * (positions[i] - len(line))
            print_fn(line)

        rows = self._summary_rows()
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        row(["Layer (type)", "Output Shape", "Param #"])
        print_fn("=" * line_length)
        for i, fields in enumerate(rows):
            row(fields)
            print_fn(("=" if i == len(rows) - 1 else "_") * line_length)
        n_train = int(sum(np.prod(v.shape.as_list()) for v in self.trainable_weights))
        total = self.count_params()
        print_fn(f"Total params: {total:,}")
        print_fn(f"Trainable params: {n_train:,}")
        print_fn(f"Non-trainable params: {total - n_train:,}")
        print_fn("_" * line_length)

    def _summary_rows(self) -> list:
        rows = []
        if self._subclassed:     # Keras shows no shapes for a subclassed model's layers
            return [[f"{layer.name} ({type(layer).__name__})", "multiple",
                     int(sum(np.prod(v.shape.as_list()) for v in layer.weights))]
                    for layer in self._all_layers()]
        if self._calls:          # a functional model lists its inputs first
            for t in _as_list(self._input):
                rows.append([f"{t.op.name} (InputLayer)", f"[{_shape_tuple(t)}]", 0])
        for layer, shape in zip(self._layers, self._layer_shapes):
            n = int(sum(np.prod(v.shape.as_list()) for v in layer.weights))
            rows.append([f"{layer.name} ({type(layer).__name__})", shape, n])
        return rows


class Sequential(Model):
    """``tf.keras.Sequential([...])``: a stack of layers, each called on the previous one's
    output; ``add(layer)`` appends one."""

    def __init__(self, layers: Any = None, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"The added layer must be an instance of class Layer. Found: "
                            f"{layer!r}")
        if isinstance(layer, InputLayer):
            if self._layers or self._input is not None:
                raise ValueError("Sequential: an InputLayer can only be the first layer")
            self._input = self._output = layer.output
            return
        if any(layer is l for l in self._layers):
            raise ValueError(f"Sequential: layer {layer.name} was added twice")
        self._layers.append(layer)
        if self._output is None and len(self._layers) == 1 and layer._batch_input_shape:
            self._input = self._output = Input(batch_shape=layer._batch_input_shape,
                                               dtype=layer.dtype,
                                               name=f"{layer._base_name}_input")
        if self._output is not None:
            self._output = self._apply(layer, self._output, None, record=True)

    def _apply(self, layer: Layer, x: Any, training: Any, record: bool = False) -> Any:
        out = layer(x, training=training) if training is not None and \
            _accepts_training(layer) else layer(x)
        if record:
            self._layer_shapes.append(_shape_tuple(out))
        return out

    def pop(self) -> None:
        raise NotImplementedError("Sequential.pop() is not supported by jitflow")

    def _check_input(self, x: Tensor) -> None:
        if self._input is None:
            return
        want = self._input.shape
        if x.shape.ndims is not None and want.ndims is not None:
            if x.shape.ndims != want.ndims:
                raise ValueError(f"Input 0 of layer {self.name} is incompatible with the layer: "
                                 f"expected ndim={want.ndims}, found ndim={x.shape.ndims}. Full "
                                 f"shape received: {x.shape.as_list()}")
            for axis, (a, b) in enumerate(zip(want.as_list(), x.shape.as_list())):
                if a is not None and b is not None and a != b:
                    raise ValueError(f"Input 0 of layer {self.name} is incompatible with the "
                                     f"layer: expected axis {axis} of input shape to have "
                                     f"value {a} but received input with shape "
                                     f"{x.shape.as_list()}")

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if not self._layers:
            raise ValueError(f"Sequential model {self.name!r} has no layers: add layers "
                             f"(Sequential([...]) or model.add(layer)) before calling it")
        x = convert_to_tensor(inputs)
        self._check_input(x)
        return super().__call__(x, *args, **kwargs)

    def call(self, inputs: Tensor, training: Any = None) -> Any:
        first = self._output is None and not self._layer_shapes
        x = inputs
        for layer in self._layers:
            x = self._apply(layer, x, training, record=first)
        if first:
            self._input, self._output = inputs, x
        return x
