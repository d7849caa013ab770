"""``tf.Session``: prunes the graph to what a run needs, lowers it to an ``ir.Function``, runs
the backend's pass pipeline, compiles once per signature and owns the variables' values.

The compile cache key is the run's signature: fetched elements, fed tensors, their ranks and
which run-time dims are equal (so a new batch size reuses the compiled code).
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
import os
import sys
import threading
import time
from typing import Any, Callable, Optional

import numpy as np

from ..backends import default_backend_name, get_backend
from ..errors import FailedPreconditionError
from ..ir.types import TensorType
from ..passes.manager import PassManager, pipeline_for
from ..frontend.graph import Graph, Operation, Tensor, get_default_graph
from ..frontend.graph import _stack as _graph_stack
from .lowering import Lowered, lower

_local = threading.local()


def _default_session_stack() -> list:
    s = getattr(_local, "sessions", None)
    if s is None:
        s = _local.sessions = []
    return s


def get_default_session() -> Optional["Session"]:
    s = _default_session_stack()
    return s[-1] if s else None


def _session_for(session: Optional["Session"], what: str) -> "Session":
    if session is not None:
        return session
    s = get_default_session()
    if s is None:
        kind = "tensor using `eval()`" if what == "eval()" else f"operation using `{what}`"
        raise ValueError(f"Cannot evaluate {kind}: No default session is registered. Use `with "
                         f"sess.as_default()` or pass an explicit session to `{what[:-2]}(session=sess)`")
    return s


class _Compiled:
    __slots__ = ("lowered", "executable", "copy_results", "compile_seconds", "host_args")

    def __init__(self, lowered: Lowered, executable, compile_seconds: float,
                 host_args: bool = False) -> None:
        self.lowered = lowered
        self.executable = executable
        # a CPU executable: variables held on the GPU (DeviceTensor) are copied to the host
        self.host_args = host_args
        params = {id(p) for p in lowered.function.params}
        self.copy_results = [id(v) in params for v in lowered.function.results[:lowered.num_fetches]]
        self.compile_seconds = compile_seconds


def _log_compile(msg: str) -> None:
    if "compile" in os.environ.get("JITFLOW_LOG", "").split(","):
        print(f"[jitflow] {msg}", file=sys.stderr)


@dataclass
class CompileEvent:
    """What one compilation produced, for tools (``jitflow dump-ir``) and tests."""
    session: Optional["Session"]   # None for a traced function (@jitflow.function)
    fetches: list
    targets: list
    function: Any                  # the final ir.Function
    stages: list                   # [(stage name, IR text)] from the frontend to the last pass
    executable: Any
    backend: str
    seconds: float
    fusion_log: list


#: callables ``hook(event: CompileEvent)`` run after each compilation (may raise to stop)
COMPILE_HOOKS: list = []

_FETCH_TYPES = (Tensor, Operation)
_SCALAR_FEEDS = (float, int, bool)


def _fast_key(fetches: Any, feed_dict: Optional[dict]) -> Optional[tuple]:
    """A key for runs identical to an earlier one (same fetch objects, feed keys, and feed
    shapes/dtypes), so a training loop skips re-validation; None when not applicable."""
    t = type(fetches)
    if t in _FETCH_TYPES or hasattr(fetches, "_as_graph_element") and not isinstance(fetches, (list, tuple, dict, str)):
        fk: Any = id(fetches)
    elif t is list or t is tuple:
        for e in fetches:
            if type(e) not in _FETCH_TYPES:
                return None
        fk = (t, tuple(map(id, fetches)))
    else:
        return None
    if not feed_dict:
        return (fk,)
    items = []
    for k, v in feed_dict.items():
        tv = type(v)
        if tv is np.ndarray:
            items.append((id(k), v.shape, v.dtype.num))
        elif tv in _SCALAR_FEEDS:
            items.append((id(k), tv))
        else:
            return None
    return (fk, tuple(items))


class Session:
    """Runs fetches of one graph. Variable values live here, not in the graph."""

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config: Any = None,
                 backend: Optional[str] = None) -> None:
        self.graph = graph or get_default_graph()
        self._closed = False
        self._values: dict[int, np.ndarray] = {}     # id(VariableV2 op) -> value
        self._cache: dict[tuple, _Compiled] = {}
        self._fast: dict[tuple, tuple] = {}          # exact-run key -> (compiled, ...)
        self._step = 0
        cfg_backend = getattr(config, "backend", None) if config is not None else None
        self.backend_name = backend or cfg_backend or default_backend_name()
        self._backend = get_backend(self.backend_name)
        self._context_stack: list = []
        self._config = config
        self._placement_logged: set[int] = set()
        self._device_values = False
        if getattr(config, "log_device_placement", False):
            from .placement import log_device_mapping
            log_device_mapping(self)

    # ------------------------------------------------------------------ context ----------
    def __enter__(self) -> "Session":
        _default_session_stack().append(self)
        self._context_stack.append(self.graph.as_default())
        self._context_stack[-1].__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._context_stack.pop().__exit__(*exc)
        stack = _default_session_stack()
        if stack and stack[-1] is self:
            stack.pop()
        self.close()

    class _AsDefault:
        def __init__(self, sess: "Session") -> None:
            self.sess = sess

        def __enter__(self) -> "Session":
            _default_session_stack().append(self.sess)
            return self.sess

        def __exit__(self, *exc) -> None:
            stack = _default_session_stack()
            if stack and stack[-1] is self.sess:
                stack.pop()

    def as_default(self) -> "_AsDefault":
        return Session._AsDefault(self)

    def close(self) -> None:
        self._closed = True
        # device-resident state (cuda backend): free variables' buffers and executables' arenas
        for v in self._values.values():
            free = getattr(v, "free", None)
            if free is not None:
                free()
        for c in self._cache.values():
            close = getattr(c.executable, "close", None)
            if close is not None:
                close()
        self._values.clear()
        self._cache.clear()
        self._fast.clear()
        dev = sys.modules.get("jitflow.backends.cuda.device")
        if dev is not None:
            dev.flush_deallocations()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def sess_str(self) -> str:
        return ""

    # ------------------------------------------------------------------ run --------------
    def run(self, fetches: Any, feed_dict: Optional[dict] = None, options: Any = None,
            run_metadata: Any = None) -> Any:
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        host_feed = getattr(self.graph, "_host_feed", None)
        if host_feed is not None:   # extension point: tf.data / queues (frontend/data/hostfeed.py)
            feed_dict = host_feed(self, fetches, feed_dict)
        fast_key = _fast_key(fetches, feed_dict)
        hit = self._fast.get(fast_key) if fast_key is not None else None
        if hit is not None:
            # the same fetches, feed keys, feed shapes and dtypes as a validated earlier run
            compiled, dtypes, tensors, rebuild = hit
            arrays = ([] if not feed_dict else
                      [np.asarray(v, dtype=dt) for v, dt in zip(feed_dict.values(), dtypes)])
        else:
            flat: list = []
            index: dict[int, int] = {}
            rebuild = self._flatten(fetches, flat, index)
            feeds, arrays = self._feeds(feed_dict)
            tensors = [e for e in flat if isinstance(e, Tensor)]
            targets = [e for e in flat if isinstance(e, Operation)]
            key, types = self._signature(tensors, targets, feeds, arrays)
            compiled = self._cache.get(key)
            if compiled is None:
                compiled = self._compile(tensors, targets, feeds, types)
                self._cache[key] = compiled
            if fast_key is not None:
                if len(self._fast) > 256:
                    self._fast.clear()
                self._fast[fast_key] = (compiled, [t.dtype.np for t in feeds], tensors, rebuild)
        low = compiled.lowered
        args = list(arrays)
        for var_op in low.var_reads:
            v = self._values.get(id(var_op))
            if v is None:
                raise FailedPreconditionError(
                    f"Attempting to use uninitialized value {var_op.name}\n\t [[node "
                    f"{var_op.name} (defined at {var_op.file}:{var_op.line}) ]]")
            args.append(v)
        if low.uses_rng:
            args.append(np.array(self._step, dtype=np.int64))
            self._step += 1
        if compiled.host_args and self._device_values:
            args = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in args]
        results = compiled.executable.run(args)
        nf = low.num_fetches
        # No array may be shared between the user and the variable store, or between two
        # variables: a backend may return an argument itself (identity) or a view of it.
        owned = {id(a) for a in args}
        values_store = self._values
        for var_op, val in zip(low.var_writes, results[nf:]):
            # an update written in place into the variable's own buffer stays as it is
            if val is not values_store.get(id(var_op)) and (id(val) in owned or val.base is not None):
                val = np.array(val)
            owned.add(id(val))
            values_store[id(var_op)] = val
            if type(val) is not np.ndarray:
                self._device_values = True      # e.g. a DeviceTensor of the cuda backend
        values = {}
        for i, (t, r) in enumerate(zip(tensors, results[:nf])):
            if (compiled.copy_results[i] or id(r) in owned or r.base is not None
                    or not r.flags.writeable):
                r = np.array(r)
            owned.add(id(r))
            values[id(t)] = r[()] if r.ndim == 0 else r
        return rebuild(values)

    def _flatten(self, fetch: Any, flat: list, index: dict) -> Callable[[dict], Any]:
        if fetch is None:
            raise TypeError(f"Fetch argument None has invalid type {type(None)}")
        parts_of = getattr(fetch, "_fetch_parts", None)
        if parts_of is not None:      # a composite fetch (tf.summary): tensors + how to combine
            tensors, combine = parts_of()
            parts = [self._flatten(t, flat, index) for t in tensors]
            return lambda vals: combine([p(vals) for p in parts])
        if isinstance(fetch, (list, tuple)) and not hasattr(fetch, "_as_graph_element"):
            parts = [self._flatten(f, flat, index) for f in fetch]
            if hasattr(fetch, "_fields"):  # namedtuple
                return lambda vals: type(fetch)(*[p(vals) for p in parts])
            ctor = type(fetch) if type(fetch) in (list, tuple) else list
            return lambda vals: ctor(p(vals) for p in parts)
        if isinstance(fetch, dict):
            parts = {k: self._flatten(v, flat, index) for k, v in fetch.items()}
            ctor = type(fetch)
            return lambda vals: ctor((k, p(vals)) for k, p in parts.items())
        try:
            elem = self.graph.as_graph_element(fetch)
        except (TypeError, ValueError, KeyError) as e:
            raise type(e)(f"Fetch argument {fetch!r} cannot be interpreted as a Tensor. ({e})") from None
        if id(elem) not in index:
            index[id(elem)] = len(flat)
            flat.append(elem)
        if isinstance(elem, Operation):
            return lambda vals: None
        key = id(elem)
        return lambda vals: vals[key]

    def _feeds(self, feed_dict: Optional[dict]) -> tuple[list[Tensor], list[np.ndarray]]:
        if not feed_dict:
            return [], []
        feeds, arrays = [], []
        for k, v in feed_dict.items():
            if isinstance(k, str):
                try:
                    t = self.graph.get_tensor_by_name(k)
                except (KeyError, ValueError) as e:
                    raise TypeError(f"Cannot interpret feed_dict key as Tensor: {e}") from None
            else:
                conv = getattr(k, "_as_graph_element", None)
                t = conv() if conv is not None and not isinstance(k, Tensor) else k
                if not isinstance(t, Tensor):
                    raise TypeError(f"Cannot interpret feed_dict key as Tensor: {k!r} is a "
                                    f"{type(k).__name__}, not a Tensor")
            if t.graph is not self.graph:
                raise TypeError(f"Cannot interpret feed_dict key as Tensor: Tensor {t} is not an "
                                "element of this graph.")
            if t.op.type in ("Assign", "AssignAdd", "AssignSub"):
                # (a variable itself may be fed, as in TF1: its reads then see the fed value)
                var_name = t.op.inputs[0].op.name
                raise ValueError(f"Tensor {t.name} may not be fed: it is an update of variable "
                                 f"{var_name}; feed the assigned value instead (e.g. "
                                 f"'{var_name}/Assign' input 1) or use Saver.restore.")
            try:
                arr = np.asarray(v, dtype=t.dtype.np)
            except (TypeError, ValueError, OverflowError) as e:
                if isinstance(v, int) and not isinstance(v, bool):
                    raise TypeError(f"Type of feed value {v} with type {type(v)} is not compatible "
                                    f"with Tensor type {t.dtype.name} of '{t.name}'. Try "
                                    "explicitly setting the type of the feed tensor to a larger "
                                    "type (e.g. int64).") from None
                given = getattr(v, "dtype", None)
                given = type(v).__name__ if given is None else given
                raise ValueError(f"Cannot feed value of type {given} for Tensor '{t.name}', which "
                                 f"has dtype {t.dtype.name}: {e}") from None
            dims = t.shape.dims
            if dims is not None and (arr.ndim != len(dims) or any(
                    d is not None and d != s for d, s in zip(dims, arr.shape))):
                raise ValueError(f"Cannot feed value of shape {arr.shape} for Tensor '{t.name}', "
                                 f"which has shape '{t.shape}'")
            feeds.append(t)
            arrays.append(arr)
        return feeds, arrays

    @staticmethod
    def _signature(tensors, targets, feeds, arrays) -> tuple[tuple, list[TensorType]]:
        """Key: fetches, feeds, ranks and the equality pattern of run-time dims."""
        symbols: dict[int, str] = {}
        types, pattern = [], []
        for t, a in zip(feeds, arrays):
            static = t.shape.dims
            dims = []
            for i, n in enumerate(a.shape):
                if static is not None and static[i] is not None:
                    dims.append(n)
                else:
                    dims.append(symbols.setdefault(n, f"s{len(symbols)}"))
            types.append(TensorType(t.dtype, tuple(dims)))
            pattern.append((id(t), tuple(dims)))
        key = (tuple(id(t) for t in tensors), tuple(id(o) for o in targets), tuple(pattern))
        return key, types

    def _compile(self, tensors, targets, feeds, types) -> _Compiled:
        t0 = time.perf_counter()
        low = lower(f"run{len(self._cache)}", tensors, targets, feeds, types)
        placed = self._placed_backend(tensors, targets, feeds, low)
        if placed is None:          # no device scopes: the session's backend runs it all
            backend = self._backend
            pm = PassManager(pipeline_for(backend.name), record=bool(COMPILE_HOOKS))
            f = pm.run(low.function)
            low.function = f
            exe = backend.compile(f, **self._compile_options(low, pm, backend.name))
            backend_name = backend.name
        else:
            f, exe, backend_name, pm = placed
        secs = time.perf_counter() - t0
        _log_compile(f"compiled {f.name}: {len(tensors)} fetches, {len(targets)} targets, "
                     f"feeds {[str(t) for t in types]}, {len(f.ops)} ops on {backend_name} "
                     f"in {secs * 1e3:.1f} ms")
        compiled = _Compiled(low, exe, secs, host_args=backend_name not in ("cuda",) and
                             not backend_name.startswith("partitioned"))
        if COMPILE_HOOKS:
            event = CompileEvent(self, list(tensors), list(targets), f, pm.stages, exe,
                                 backend_name, secs, list(getattr(f, "fusion_log", [])))
            for hook in list(COMPILE_HOOKS):
                hook(event)
        return compiled

    def _placed_backend(self, tensors, targets, feeds, low: Lowered):
        """With ``tf.device`` scopes in the run (or placement logging on): place its ops
        (jitflow/runtime/placement.py) and compile for one device, or split the graph across
        devices. Returns None when the session's own backend should run everything."""
        from .lowering import needed_ops
        from .placement import (HostArgs, Placer, backend_for, compile_partitioned,
                                ops_by_device, parse_device, single_device)
        fops = needed_ops(tensors, targets, {id(t) for t in feeds})
        placer = Placer(self)
        explicit = any(parse_device(op.device) is not None for op in fops)
        if not explicit and not placer.log:
            return None
        names = placer.assign(self.graph, fops)
        if not explicit:
            return None
        early = [p for p in pipeline_for(self._backend.name)
                 if p.name not in ("fusion", "cuda-legalize")]
        pm = PassManager(early, record=bool(COMPILE_HOOKS))
        f = pm.run(low.function)
        low.function = f
        dev_of = ops_by_device(f, placer, names, self.graph)
        single, device = single_device(f, dev_of)
        if single:
            name = backend_for(device, placer) if device is not None else self._backend.name
            backend = self._backend if name == self._backend.name else get_backend(name)
            late = [p for p in pipeline_for(name) if p.name in ("fusion", "cuda-legalize")]
            f = PassManager(late).run(f)
            low.function = f
            exe = backend.compile(f, **self._compile_options(low, pm, name))
            if name != "cuda":
                exe = HostArgs(exe)
            return f, exe, name, pm
        exe = compile_partitioned(f, dev_of, placer, low.num_fetches, len(low.feeds))
        low.function = exe.function
        return exe.function, exe, "partitioned(" + ",".join(sorted(
            {backend_for(d, placer) for d in dev_of.values()})) + ")", pm

    def _compile_options(self, low: Lowered, pm: PassManager, backend_name: str = "") -> dict:
        """Backend extras: variable updates that may be written in place (result index ->
        parameter index) and the JITFLOW_DUMP directory for .ll/.s files."""
        backend_name = backend_name or self._backend.name
        if backend_name not in ("llvm", "cuda"):
            return {}
        nf, feeds = low.num_fetches, len(low.feeds)
        reads = {id(op): feeds + i for i, op in enumerate(low.var_reads)}
        donations = {nf + i: reads[id(op)] for i, op in enumerate(low.var_writes) if id(op) in reads}
        opts = {"donations": donations, "dump_dir": str(pm.last_dump) if pm.last_dump else None}
        if backend_name == "cuda":
            # fetched results come back as NumPy arrays, variable updates stay on the device;
            # fed scalars (and the run step) are passed to kernels as host values
            params = low.function.params
            opts.update(num_fetches=nf, num_feeds=feeds, scalar_params=[
                i for i, p in enumerate(params)
                if (i < feeds or p.name == "rng_step") and p.type.shape == ()])
        return opts

    # ------------------------------------------------------------------ variables --------
    def _load_variable(self, var: Any, value: Any) -> None:
        arr = np.asarray(value, dtype=var.dtype.np)
        if tuple(arr.shape) != tuple(var.shape.as_list()):
            raise ValueError(f"Cannot load value of shape {arr.shape} into variable {var.op.name} "
                             f"of shape {var.shape}")
        self._values[id(var.op)] = arr.copy()

    def _variable_value(self, var: Any) -> Optional[np.ndarray]:
        v = self._values.get(id(var.op))
        if v is not None and not isinstance(v, np.ndarray):
            v = np.asarray(v)      # a device-resident value (cuda backend): copy to the host
        return v


class InteractiveSession(Session):
    """A Session that installs itself as the default session on creation."""

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config: Any = None,
                 backend: Optional[str] = None) -> None:
        super().__init__(target, graph, config, backend)
        _default_session_stack().append(self)
        # as in TF1, an explicitly given graph also becomes the default graph until close()
        self._explicit_graph = graph
        if graph is not None:
            _graph_stack().append(graph)

    def close(self) -> None:
        stack = _default_session_stack()
        if self in stack:
            stack.remove(self)
        g = getattr(self, "_explicit_graph", None)
        if g is not None:
            gs = _graph_stack()
            for i in range(len(gs) - 1, -1, -1):
                if gs[i] is g:
                    del gs[i]
                    break
            self._explicit_graph = None
        super().close()


class GPUOptions:
    """Accepted for compatibility (``allow_growth``, ``per_process_gpu_memory_fraction``,
    ``visible_device_list``): the cuda backend allocates what a graph needs, per executable."""

    def __init__(self, **kwargs: Any) -> None:
        self.allow_growth = False
        self.per_process_gpu_memory_fraction = 0.0
        self.visible_device_list = ""
        self.__dict__.update(kwargs)


class ConfigProto:
    """``backend=`` selects a jitflow backend; ``allow_soft_placement`` and
    ``log_device_placement`` are honoured (jitflow/runtime/placement.py); the other TF fields
    are accepted."""

    def __init__(self, **kwargs: Any) -> None:
        self.allow_soft_placement = False
        self.log_device_placement = False
        self.gpu_options = GPUOptions()
        self.__dict__.update(kwargs)
        self.backend = kwargs.get("backend")


_ = collections
