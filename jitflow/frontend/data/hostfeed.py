"""Host-fed tensors: values that Python computes right before a compiled run.

tf.data iterators, input queues and the string ops (``parse_single_example``, ``decode_csv``,
``decode_raw``) run on the host, before the compiled step. In the graph they are ordinary
``Placeholder`` ops (so lowering and compilation see feeds); a per-graph :class:`HostRegistry`
remembers which placeholder each :class:`HostNode` output fills, and which ``NoOp`` ops are
*host actions* (an iterator's initializer, a queue's enqueue or close).

The Session's one extension point is ``graph._host_feed`` (None unless the graph has host-fed
tensors): ``Session.run`` calls ``feed_dict = graph._host_feed(session, fetches, feed_dict)``
before it runs. :meth:`HostRegistry.before_run` walks from the fetches to the host-fed
placeholders and host actions they depend on (cached per fetch/feed structure), runs the
actions, computes each needed :class:`HostNode` once for the run (so all components of one
``get_next()`` come from one element) and returns the feed_dict with their values added.
Placeholders the caller feeds itself are left alone. A host node may raise
``tf.errors.OutOfRangeError`` (end of data) or any error: it does so before the compiled
step, so no variable is touched by a failed run.

String values never enter compiled code: a string component is a :class:`StringTensor`, which
only host ops consume; ``Session.run`` fetches it (``Session._run_with_strings``: every fetched
value from one host evaluation, so a record and the numbers parsed from it match).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..graph import Graph, Operation, Tensor, TensorShape
from .structure import string


#: the run context's key of the run's numeric feeds (a host node reading a graph tensor runs
#: it with them: ``string_format.GraphValue``)
FEEDS = "feeds"


class HostNode:
    """A Python computation ``fn(session, *input_values) -> tuple of outputs`` run at most once
    per Session.run. Inputs are StringTensors (host values), or graph tensors read through a
    nested run (``string_format.GraphValue``)."""

    def __init__(self, fn: Callable, inputs: Sequence["StringTensor"] = (), name: str = "") -> None:
        self.fn = fn
        self.inputs = list(inputs)
        self.name = name

    def evaluate(self, session: Any, ctx: dict) -> tuple:
        got = ctx.get(id(self))
        if got is None:
            args = [t.evaluate(session, ctx) for t in self.inputs]
            got = ctx[id(self)] = tuple(self.fn(session, *args))
        return got


class StringTensor:
    """A string-valued (host-only) tensor: output ``index`` of a HostNode."""

    dtype = string

    def __init__(self, node: HostNode, index: int, shape: Any, graph: Graph, name: str) -> None:
        self.node = node
        self.index = index
        self._shape = TensorShape(shape)
        self.graph = graph
        self.name = name

    @property
    def shape(self) -> TensorShape:
        return self._shape

    def get_shape(self) -> TensorShape:
        return self._shape

    def set_shape(self, shape: Any) -> None:
        self._shape = self._shape.merge_with(shape)

    def evaluate(self, session: Any, ctx: dict) -> Any:
        return self.node.evaluate(session, ctx)[self.index]

    def _as_graph_element(self):
        raise TypeError(f"{self.name} is a tf.string tensor: jitflow computes strings on the "
                        "host, never inside compiled ops; Session.run fetches it, but ops "
                        "other than the string ops (tf.parse_single_example, tf.decode_csv, "
                        "tf.decode_raw, tf.string_to_number) cannot take it")

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self._shape} dtype=string>"


class HostRegistry:
    """The host-fed placeholders and host actions of one graph (see the module docstring)."""

    def __init__(self, graph: Graph, install: bool = True) -> None:
        self.graph = graph
        self.fed: dict[int, tuple[HostNode, int]] = {}     # id(Placeholder op) -> (node, index)
        self.actions: dict[int, Callable] = {}           # id(NoOp) -> fn(session, feed_dict)
        self._plans: dict[tuple, tuple] = {}
        self._lock = threading.Lock()
        if install:
            graph._host_feed = self.before_run

    # ----------------------------------------------------------------- building -----------
    def output(self, node: HostNode, index: int, dtype: Any, shape: Any, name: str) -> Any:
        """Output ``index`` of ``node`` as a graph tensor: a Placeholder (or StringTensor)."""
        if dtype is string:
            return StringTensor(node, index, shape, self.graph, self.graph.unique_name(name))
        from ..array_ops import placeholder
        with self.graph.as_default():
            t = placeholder(dtype, shape=None if TensorShape(shape).dims is None else
                            list(TensorShape(shape).dims), name=name)
        self.fed[id(t.op)] = (node, index)
        self._plans.clear()
        return t

    def action(self, fn: Callable, name: str) -> Operation:
        """A NoOp that runs ``fn(session, feed_dict)`` on the host when a run needs it."""
        from ..variables import no_op
        with self.graph.as_default():
            op = no_op(name=name)
        self.actions[id(op)] = fn
        self._plans.clear()
        return op

    # ----------------------------------------------------------------- running ------------
    def before_run(self, session: Any, fetches: Any, feed_dict: Optional[dict]) -> Optional[dict]:
        elems: list = []
        given = feed_dict
        feed_dict, ctx = split_string_feeds(feed_dict)
        ctx[FEEDS] = feed_dict
        if not _flatten_fetches(self.graph, fetches, elems):
            return feed_dict            # not interpretable here: Session.run reports it
        fed_ids = tuple(id(k) for k in feed_dict) if feed_dict else ()
        key = (tuple(map(id, elems)), fed_ids)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(elems, feed_dict)
            if len(self._plans) > 512:
                self._plans.clear()
            self._plans[key] = plan
        actions, needed = plan
        if not actions and not needed:
            return feed_dict
        for op in actions:
            self.actions[id(op)](session, given)       # with the string feeds
        if not needed:
            return feed_dict
        out = dict(feed_dict) if feed_dict else {}
        self.fill(session, needed, out, ctx)
        return out

    def fill(self, session: Any, placeholders: Sequence[Tensor], out: dict, ctx: dict) -> None:
        """Compute the host values of ``placeholders`` (memoized in ``ctx``) into ``out``."""
        for t in placeholders:
            node, index = self.fed[id(t.op)]
            v = node.evaluate(session, ctx)[index]
            out[t] = v if type(v) is np.ndarray else np.asarray(v)

    def needed_placeholders(self, tensors: Sequence[Any], feed_dict: Optional[dict]) -> list:
        return self._plan(list(tensors), feed_dict)[1]

    def evaluate(self, session: Any, values: Sequence[Any], feed_dict: Optional[dict] = None,
                 ctx: Optional[dict] = None) -> list:
        """Values of a mix of StringTensors and graph tensors, all from one host evaluation."""
        feed_dict, fed_strings = split_string_feeds(feed_dict)
        ctx = fed_strings if ctx is None else {**fed_strings, **ctx}
        ctx.setdefault(FEEDS, feed_dict)
        graph_ts = [v for v in values if not isinstance(v, StringTensor)]
        out: dict = dict(feed_dict) if feed_dict else {}
        got: dict = {}
        if graph_ts:
            self.fill(session, self.needed_placeholders(graph_ts, out), out, ctx)
            rest = [t for t in graph_ts if t not in out]     # fed values need no run
            got = {id(t): out[t] for t in graph_ts if t in out}
            if rest:
                got.update(zip(map(id, rest), session.run(rest, out)))
        res = []
        for v in values:
            res.append(v.evaluate(session, ctx) if isinstance(v, StringTensor) else got[id(v)])
        return res

    def _plan(self, elems: list, feed_dict: Optional[dict]) -> tuple[list, list]:
        fed = set()
        for k in (feed_dict or ()):
            t = k if isinstance(k, Tensor) else None
            if t is None and isinstance(k, str):
                try:
                    t = self.graph.get_tensor_by_name(k)
                except (KeyError, ValueError):
                    continue
            if t is not None:
                fed.add(id(t))
        seen: set[int] = set()
        actions: list = []
        needed: list = []
        stack = list(elems)
        while stack:
            e = stack.pop()
            op = e.op if isinstance(e, Tensor) else e
            if isinstance(e, Tensor) and id(e) in fed:
                continue
            if id(op) in seen:
                continue
            seen.add(id(op))
            if id(op) in self.fed:
                needed.append(op.outputs[0])
            elif id(op) in self.actions:
                actions.append(op)
            stack.extend(t for t in op.inputs if id(t) not in fed)
            stack.extend(op.control_inputs)
        actions.sort(key=lambda o: o._id if hasattr(o, "_id") else 0)
        return actions, needed


def split_string_feeds(feed_dict: Optional[dict]) -> tuple[Optional[dict], dict]:
    """(feed_dict without StringTensor keys, run context with their values): fed strings
    (``tf.placeholder(tf.string)``) never reach the Session."""
    if not feed_dict or not any(isinstance(k, StringTensor) for k in feed_dict):
        return feed_dict, {}
    rest, ctx = {}, {}
    for k, v in feed_dict.items():
        if isinstance(k, StringTensor):
            from .structure import array_of
            arr = array_of(v, string)
            if not k.shape.is_compatible_with(arr.shape):
                raise ValueError(f"Cannot feed value of shape {arr.shape} for Tensor "
                                 f"'{k.name}', which has shape '{k.shape}'")
            ctx[id(k.node)] = (arr,)
        else:
            rest[k] = v
    return rest, ctx


def string_placeholder(shape: Any = None, name: Optional[str] = None) -> StringTensor:
    """``tf.placeholder(tf.string, shape)``: a host string tensor that must be fed."""
    from ..graph import get_default_graph
    g = get_default_graph()
    registry_for(g)                      # so the Session strips its feed
    op_name = g.unique_name(name or "Placeholder")
    shape_s = TensorShape(shape)

    def missing(session: Any) -> tuple:
        from ...errors import InvalidArgumentError
        raise InvalidArgumentError(f"You must feed a value for placeholder tensor '{op_name}' "
                                   f"with dtype string and shape {shape_s}")
    return StringTensor(HostNode(missing, name=op_name), 0, shape, g, op_name + ":0")


def _flatten_fetches(graph: Graph, fetch: Any, out: list) -> bool:
    if fetch is None:
        return False
    parts_of = getattr(fetch, "_fetch_parts", None)
    if parts_of is not None:
        return all(_flatten_fetches(graph, t, out) for t in parts_of()[0])
    if isinstance(fetch, (list, tuple)) and not hasattr(fetch, "_as_graph_element"):
        return all(_flatten_fetches(graph, f, out) for f in fetch)
    if isinstance(fetch, dict):
        return all(_flatten_fetches(graph, f, out) for f in fetch.values())
    try:
        out.append(graph.as_graph_element(fetch))
    except (TypeError, ValueError, KeyError):
        return False
    return True


def registry_for(graph: Graph) -> HostRegistry:
    """The graph's HostRegistry, created (and installed as the Session hook) on first use."""
    reg = getattr(graph, "_host_registry", None)
    if reg is None:
        reg = graph._host_registry = HostRegistry(graph)
    return reg


def as_value_array(value: Any) -> np.ndarray:
    return value if isinstance(value, np.ndarray) else np.asarray(value)
