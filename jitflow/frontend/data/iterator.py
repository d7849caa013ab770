"""TF1 iterators over datasets: one-shot, initializable and reinitializable
(``Iterator.from_structure`` + ``make_initializer``).

An iterator's state lives per Session (as TF's iterator resource does): running its
initializer (a host action, see hostfeed.py) evaluates the dataset's source tensors with the
run's feed_dict and starts a fresh pass; ``get_next()`` returns placeholders the Session fills
with the next element before each run that needs them, raising ``tf.errors.OutOfRangeError``
("End of sequence") when the pass is over.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any, Optional

import numpy as np

from ...errors import FailedPreconditionError, InvalidArgumentError, OutOfRangeError
from ..graph import Tensor, TensorShape, get_default_graph
from .dataset import Dataset, _Env
from .hostfeed import HostNode, StringTensor, registry_for
from .structure import Spec, flatten, pack_as, same_structure, to_dtype


class _State:
    __slots__ = ("gen", "lock", "done")

    def __init__(self, gen: Any) -> None:
        self.gen = gen
        self.lock = threading.Lock()
        self.done = False

    def close(self) -> None:
        try:
            self.gen.close()
        except Exception:       # a prefetch thread's error after the pass was abandoned
            pass


class Iterator:
    """``tf.data.Iterator``: ``get_next()``, ``initializer``, ``make_initializer(dataset)``."""

    def __init__(self, structure: Any, dataset: Optional[Dataset] = None,
                 one_shot: bool = False, name: str = "Iterator") -> None:
        self._structure = structure
        self._graph = get_default_graph()
        self._registry = registry_for(self._graph)
        self._dataset = dataset
        self._one_shot = one_shot
        self._name = self._graph.unique_name(name)
        self._states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._initializer = None

    # ----------------------------------------------------------------- construction -------
    @classmethod
    def _one_shot(cls, dataset: Dataset) -> "Iterator":
        return cls(dataset._structure, dataset, one_shot=True, name="OneShotIterator")

    @classmethod
    def _initializable(cls, dataset: Dataset) -> "Iterator":
        it = cls(dataset._structure, dataset)
        it._initializer = it.make_initializer(dataset)
        return it

    @staticmethod
    def from_structure(output_types: Any, output_shapes: Any = None, shared_name: Any = None,
                       output_classes: Any = None) -> "Iterator":
        types = flatten(output_types)
        if output_shapes is None:
            shapes = [TensorShape(None)] * len(types)
        else:
            from .dataset import _flatten_shapes
            shapes = [TensorShape(s) for s in _flatten_shapes(output_shapes, output_types)]
        return Iterator(pack_as(output_types, [Spec(to_dtype(t), s) for t, s in
                                               zip(types, shapes)]))

    @staticmethod
    def from_string_handle(string_handle: Any, output_types: Any, output_shapes: Any = None,
                           output_classes: Any = None) -> "Iterator":
        """A feedable iterator: each run's ``get_next()`` comes from the iterator whose
        ``string_handle()`` value is fed to ``string_handle`` (a tf.string placeholder)."""
        if not isinstance(string_handle, StringTensor):
            raise TypeError(f"from_string_handle takes a tf.string tensor "
                            f"(tf.placeholder(tf.string, shape=[])), got {string_handle!r}")
        it = Iterator.from_structure(output_types, output_shapes)
        it._handle_input = string_handle
        return it

    @property
    def initializer(self):
        if self._initializer is None:
            if self._one_shot:
                raise ValueError("a one-shot iterator has no initializer; use "
                                 "make_initializable_iterator()")
            raise ValueError("Iterator does not have an initializer: it was created with "
                             "Iterator.from_structure; use make_initializer(dataset)")
        return self._initializer

    def make_initializer(self, dataset: Dataset, name: Optional[str] = None):
        if not same_structure(dataset._structure, self._structure):
            raise TypeError(f"Expected output structure {self._structure}, dataset has "
                            f"{dataset._structure}")
        for want, got in zip(flatten(self._structure), flatten(dataset._structure)):
            if want.dtype is not got.dtype:
                raise TypeError(f"Expected output types {self.output_types} but got dataset "
                                f"with output types {dataset.output_types}")
            if not want.shape.is_compatible_with(got.shape):
                raise TypeError(f"Expected output shapes compatible with {self.output_shapes} "
                                f"but got dataset with output shapes {dataset.output_shapes}")
        return self._registry.action(lambda sess, fd: self._start(sess, dataset, fd),
                                     name or "make_initializer")

    # ----------------------------------------------------------------- running ------------
    def _start(self, session: Any, dataset: Dataset, feed_dict: Optional[dict]) -> _State:
        sources = dataset._sources()
        values: dict = {}
        if sources:
            got = self._registry.evaluate(session, sources, feed_dict)
            values = {id(t): np.asarray(v) for t, v in zip(sources, got)}
        old = self._states.get(session)
        if old is not None:
            old.close()
        state = _State(dataset._iter(_Env(session, values)))
        self._states[session] = state
        return state

    def _next(self, session: Any) -> tuple:
        state = self._states.get(session)
        if state is None:
            if not self._one_shot:
                raise FailedPreconditionError(
                    "GetNext() failed because the iterator has not been initialized. Ensure "
                    "that you have run the initializer operation for this iterator before "
                    f"getting the next element. (iterator {self._name})")
            try:
                state = self._start(session, self._dataset, None)
            except (FailedPreconditionError, InvalidArgumentError, ValueError) as e:
                raise FailedPreconditionError(
                    f"a one-shot iterator's dataset could not be evaluated ({e}); for a "
                    "dataset built from placeholders use make_initializable_iterator()") from e
        with state.lock:
            if state.done:
                raise OutOfRangeError("End of sequence")
            try:
                flat = next(state.gen)
            except StopIteration:
                state.done = True
                raise OutOfRangeError("End of sequence") from None
            except BaseException:
                state.done = True
                raise
        return tuple(v if type(v) is np.ndarray else np.asarray(v) for v in flat)

    def _next_by_handle(self, session: Any, handle: Any) -> tuple:
        h = handle[()] if isinstance(handle, np.ndarray) and handle.shape == () else handle
        target = _HANDLES.get(bytes(h)) if isinstance(h, (bytes, bytearray)) else None
        if target is None:
            raise InvalidArgumentError(f"{h!r} is not the string_handle() of an iterator of "
                                       f"this program (feed the value sess.run("
                                       f"iterator.string_handle()) returned)")
        if not same_structure(target._structure, self._structure) or any(
                a.dtype is not b.dtype for a, b in zip(flatten(target._structure),
                                                       flatten(self._structure))):
            raise InvalidArgumentError(f"the iterator behind handle {h!r} produces "
                                       f"{target.output_types}, this feedable iterator expects "
                                       f"{self.output_types}")
        return target._next(session)

    def get_next(self, name: Optional[str] = None) -> Any:
        handle = getattr(self, "_handle_input", None)
        if handle is not None:
            node = HostNode(self._next_by_handle, [handle], name=name or "IteratorGetNext")
        else:
            node = HostNode(lambda sess: self._next(sess), name=name or "IteratorGetNext")
        base = name or "IteratorGetNext"
        outs = [self._registry.output(node, i, s.dtype, s.shape, base if i == 0 else f"{base}_{i}")
                for i, s in enumerate(flatten(self._structure))]
        return pack_as(self._structure, outs)

    def string_handle(self, name: Optional[str] = None) -> "_HandleFetch":
        """A fetchable whose value (bytes) selects this iterator in a feedable iterator."""
        key = f"jitflow-iterator:{self._name}:{id(self):x}".encode()
        _HANDLES[key] = self
        return _HandleFetch(key, self._graph)

    # ----------------------------------------------------------------- structure ----------
    @property
    def element_spec(self) -> Any:
        return self._structure

    @property
    def output_types(self) -> Any:
        return pack_as(self._structure, [s.dtype for s in flatten(self._structure)])

    @property
    def output_shapes(self) -> Any:
        return pack_as(self._structure, [s.shape for s in flatten(self._structure)])

    @property
    def output_classes(self) -> Any:
        return pack_as(self._structure, [Tensor for _ in flatten(self._structure)])


#: string_handle() value -> the iterator (weak: a dropped iterator's handle stops working)
_HANDLES: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


class _HandleFetch:
    """What ``Iterator.string_handle()`` returns: ``sess.run`` of it gives the handle bytes
    (a composite fetch over one constant, so it also works in a list of fetches)."""

    def __init__(self, key: bytes, graph: Any) -> None:
        from ..op_builder import constant
        self._key = key
        self.graph = graph
        with graph.as_default():
            self._anchor = constant(0, name="IteratorToStringHandle")
        self.dtype = "string"

    def _fetch_parts(self):
        return [self._anchor], lambda values: self._key

    def eval(self, feed_dict: Optional[dict] = None, session: Any = None) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return f"<tf.Tensor string_handle {self._key.decode()!r} dtype=string>"


def make_one_shot_iterator(dataset: Dataset) -> Iterator:
    """``tf.compat.v1.data.make_one_shot_iterator(dataset)``."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset: Dataset, shared_name: Optional[str] = None) -> Iterator:
    """``tf.compat.v1.data.make_initializable_iterator(dataset)``."""
    return dataset.make_initializable_iterator(shared_name)


def get_output_types(x: Any) -> Any:
    return x.output_types


def get_output_shapes(x: Any) -> Any:
    return x.output_shapes
