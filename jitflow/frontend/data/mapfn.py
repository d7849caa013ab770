"""``Dataset.map`` / ``filter`` functions, traced once into a private graph and compiled once.

The function is called a single time with symbolic inputs (one per element component) in a
private ``tf.Graph`` that inherits the dataset graph's random seed; the ops it records are
compiled by a private Session on the first element (the default backend, cached by the
Session's usual signature), and every element then runs that compiled code. String
components reach the function as host StringTensors, for the host ops
(``tf.parse_single_example``, ``tf.decode_csv``, ``tf.decode_raw``) whose numeric outputs
feed the compiled part. Python side effects in the function happen once, at trace time, as
in TF.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

from ..default_session import new_session
from ..graph import Graph, Tensor
from .hostfeed import HostNode, HostRegistry, StringTensor
from .structure import Spec, flatten, pack_as


class TracedFn:
    """``fn`` traced over elements of ``structure`` (a nested structure of Specs)."""

    def __init__(self, fn: Callable, structure: Any, graph_seed: Any, what: str) -> None:
        self.what = what
        self.graph = g = Graph()
        g.seed = graph_seed
        self.registry = reg = HostRegistry(g, install=False)
        g._host_registry = reg
        specs = flatten(structure)
        self._in_node = HostNode(None, name="args")
        with g.as_default():
            flat_in = [reg.output(self._in_node, i, s.dtype, s.shape, f"arg{i}")
                       for i, s in enumerate(specs)]
            args = pack_as(structure, flat_in)
            try:
                out = fn(*args) if isinstance(args, tuple) and not hasattr(args, "_fields") \
                    else fn(args)
            except ValueError as e:
                if "must be from the same graph" not in str(e):
                    raise
                raise ValueError(
                    f"the function passed to Dataset.{what} uses a tensor created outside it "
                    f"({e}); jitflow traces it into a graph of its own, which cannot capture "
                    "outer tensors: create constants inside the function, or use Python/NumPy "
                    "values (a placeholder's value can be a from_tensor_slices/from_tensors "
                    "component instead)") from None
            if isinstance(out, list):
                out = tuple(out)          # TF1 reads a returned list as a tuple
            self.structure_out = out
            self.flat_out = [_as_output(o, what) for o in flatten(out)]
        self.out_structure = pack_as(out, [Spec(o.dtype, o.shape) for o in self.flat_out])
        self._sess = None
        self._lock = threading.Lock()

    def __call__(self, flat_values: list) -> list:
        with self._lock:
            if self._sess is None:
                self._sess = new_session(graph=self.graph)
            ctx = {id(self._in_node): tuple(flat_values)}
            return self.registry.evaluate(self._sess, self.flat_out, None, ctx)


def _as_output(o: Any, what: str) -> Any:
    if isinstance(o, (Tensor, StringTensor)):
        return o
    if o is None:
        raise TypeError(f"the function passed to Dataset.{what} returned None; it must return "
                        "tensors (or a tuple/dict of them)")
    from ..op_builder import convert_to_tensor
    return convert_to_tensor(o)

