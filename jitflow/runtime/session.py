"""``tf.Session``: prunes the graph to what a run needs, lowers it to an ``ir.Function``, runs
the backend's pass pipeline, compiles once per signature and owns the variables' values.

The compile cache key is the run's signature: fetched elements, fed tensors, their ranks and
which run-time dims are equal (so a new batch size reuses the compiled code).
"""
from __future__ import annotations

from dataclasses import dataclass
import itertools
import operator
import sys
import threading
import time
from typing import Any, Callable, Optional

import numpy as np

from ..backends import default_backend_name, get_backend
from ..backends.base import CompileOptions
from ..errors import FailedPreconditionError
from ..frontend.default_session import default_session_stack as _default_session_stack
from ..frontend.default_session import get_default_session  # noqa: F401  (re-exported)
from ..frontend.default_session import register_session_class
from ..frontend.default_session import session_for as _session_for  # noqa: F401
from ..frontend.data.hostfeed import StringTensor as _StringTensor
from ..frontend.graph import Graph, Operation, Tensor, get_default_graph
from ..frontend.graph import _stack as _graph_stack
from ..frontend.graph_to_ir import GraphFunction, graph_to_ir
from ..ir.types import TensorType
from ..passes.manager import pipeline_for
from .compile import COMPILE_HOOKS, CompileEvent, compile_function, log_compile  # noqa: F401
from . import progress as _progress

_log_compile = log_compile     # the name tracing and older tools import


def _fetches_strings(fetches: Any) -> bool:
    """Whether a fetch structure holds a host string tensor."""
    if isinstance(fetches, _StringTensor):
        return True
    parts_of = getattr(fetches, "_fetch_parts", None)
    if parts_of is not None:        # a composite (a SparseTensor of strings)
        return _fetches_strings(list(parts_of()[0]))
    if isinstance(fetches, (list, tuple)):
        return any(_fetches_strings(f) for f in fetches)
    if isinstance(fetches, dict):
        return any(_fetches_strings(f) for f in fetches.values())
    return False


def _expand_composite_feeds(feed_dict: dict) -> dict:
    """A fed composite key (a SparseTensor: ``tf.sparse_placeholder``) becomes its parts, fed
    from a ``SparseTensorValue`` or an ``(indices, values, dense_shape)`` tuple."""
    out: dict = {}
    for k, v in feed_dict.items():
        parts_of = getattr(k, "_fetch_parts", None)
        if parts_of is None:
            out[k] = v
            continue
        parts = list(parts_of()[0])
        vals = list(v) if isinstance(v, (tuple, list)) else None
        if vals is None or len(vals) != len(parts):
            raise TypeError(f"Feeding a {type(k).__name__} needs a SparseTensorValue or an "
                            f"(indices, values, dense_shape) tuple, got {type(v).__name__}")
        out.update(zip(parts, vals))
    return out


class _Compiled:
    __slots__ = ("lowered", "executable", "copy_results", "compile_seconds", "host_args",
                 "write_locks", "read_ids", "write_ids", "num_fetches", "uses_rng", "direct",
                 "read_values")

    def __init__(self, lowered: GraphFunction, executable, compile_seconds: float,
                 host_args: bool = False, write_locks: tuple = ()) -> None:
        self.lowered = lowered
        # the locks of the variables the run assigns, in the session's global lock order
        self.write_locks = write_locks
        self.executable = executable
        # a CPU executable: variables held on the GPU (DeviceTensor) are copied to the host
        self.host_args = host_args
        params = {id(p) for p in lowered.function.params}
        self.copy_results = [id(v) in params for v in lowered.function.results[:lowered.num_fetches]]
        self.compile_seconds = compile_seconds
        # the variable store's keys, in parameter and result order (every run looks them up)
        self.read_ids = [id(op) for op in lowered.var_reads]
        self.write_ids = [id(op) for op in lowered.var_writes]
        self.num_fetches = lowered.num_fetches
        self.uses_rng = lowered.uses_rng
        # store -> the values of the variables read, in parameter order (KeyError: one has none)
        ids = self.read_ids
        self.read_values: Callable[[dict], Any] = (
            operator.itemgetter(*ids) if len(ids) > 1 else
            (lambda store, k=ids[0]: (store[k],)) if ids else (lambda store: ()))
        self.direct = _direct_results(lowered, executable)


def _direct_results(low: GraphFunction, executable) -> bool:
    """Whether every result can be used as the executable returns it: each fetch a fresh
    array nothing else references, each variable update fresh or the variable's own array
    updated in place (``fresh_results``/``inplace_results``, which the llvm executable
    declares). Then a run stores and returns the results without the checks of
    ``Session._execute`` (an argument returned, a view, two results sharing an array)."""
    fresh = getattr(executable, "fresh_results", None)
    inplace = getattr(executable, "inplace_results", None)
    nf = low.num_fetches
    if fresh is None or inplace is None or len(fresh) != nf + len(low.var_writes):
        return False
    own = {id(op): len(low.feeds) + i for i, op in enumerate(low.var_reads)}
    return all(fresh[:nf]) and all(fresh[nf + i] or inplace.get(nf + i, -1) == own.get(id(op))
                                   for i, op in enumerate(low.var_writes))


class _FastRun:
    """A run identical to a validated earlier one (``Session._fast``): its compiled code,
    its feeds' dtypes (None: every feed an array of its placeholder's dtype, passed as is),
    the fetched tensors, and how the fetch structure is rebuilt: ``form`` 0 a single
    Operation, 1 a single Tensor, 2 a list and 3 a tuple of them (``picks``: each element's
    tensor index, -1 for an Operation), -1 anything else (``rebuild``)."""
    __slots__ = ("compiled", "dtypes", "tensors", "rebuild", "form", "picks")

    def __init__(self, compiled: _Compiled, dtypes: Optional[list], tensors: list,
                 rebuild: Callable[[dict], Any], fetches: Any) -> None:
        self.compiled, self.dtypes, self.tensors, self.rebuild = compiled, dtypes, tensors, rebuild
        self.picks: tuple = ()
        t = type(fetches)
        if t is Operation:
            self.form = 0
        elif t is Tensor:
            self.form = 1
        elif t is list or t is tuple:
            index = {id(e): j for j, e in enumerate(tensors)}
            self.form = 2 if t is list else 3
            self.picks = tuple(-1 if type(e) is Operation else index[id(e)] for e in fetches)
        else:
            self.form = -1


_FETCH_TYPES = (Tensor, Operation)
_SCALAR_FEEDS = (float, int, bool)
_NDARRAY = np.ndarray
_GENERIC = np.generic


def _fast_key(fetches: Any, feed_dict: Optional[dict]) -> Optional[tuple]:
    """A key for runs identical to an earlier one (same fetch objects, feed keys, and feed
    shapes/dtypes), so a training loop skips re-validation; None when not applicable (a feed
    value that is not an ndarray or a scalar, e.g. a list or a composite's tuple).

    One flat tuple: the fetch part, then per feed its key's id and its value's type, and for
    an ndarray its shape and dtype (a type is never equal to a shape, so no two feed
    patterns give the same tuple)."""
    t = type(fetches)
    if t is Operation or t is Tensor:
        fk: Any = id(fetches)
    elif t is list or t is tuple:
        for e in fetches:
            if type(e) not in _FETCH_TYPES:
                return None
        fk = (t, *map(id, fetches))
    elif hasattr(fetches, "_as_graph_element") and not isinstance(fetches, (list, tuple, dict,
                                                                           str)):
        fk = id(fetches)
    else:
        return None
    if not feed_dict:
        return (fk,)
    key = [fk]
    for k, v in feed_dict.items():
        tv = type(v)
        if tv is _NDARRAY:
            key += (id(k), v.shape, v.dtype)
        elif tv in _SCALAR_FEEDS or isinstance(v, _GENERIC):
            key += (id(k), tv)      # Python and NumPy scalars: rank 0, fixed dtype
        else:
            return None
    return tuple(key)


class Session:
    """Runs fetches of one graph. Variable values live here, not in the graph.

    Thread-safe, as TF1's: a run that assigns variables holds those variables' locks from
    reading their values to storing the updates, so concurrent training steps (Hogwild-style
    threads) never lose an update; runs that only read take no lock and proceed in parallel
    (an executable serializes its own concurrent calls). A signature missed by two threads at
    once is compiled once.
    """

    def __init__(self, target: str = "", graph: Optional[Graph] = None, config: Any = None,
                 backend: Optional[str] = None) -> None:
        self.graph = graph or get_default_graph()
        self._closed = False
        self._values: dict[int, np.ndarray] = {}     # id(VariableV2 op) -> value
        self._cache: dict[tuple, _Compiled] = {}
        self._fast: dict[tuple, tuple] = {}          # exact-run key -> (compiled, ...)
        self._steps = itertools.count()              # the run step of random ops
        self._compile_lock = threading.RLock()       # one compilation at a time
        self._var_locks: dict[int, threading.Lock] = {}   # id(VariableV2 op) -> its lock
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

    @property
    def graph_def(self) -> Any:
        """The session's graph as TF's ``GraphDef`` protocol buffer."""
        return self.graph.as_graph_def()

    # ------------------------------------------------------------------ run --------------
    def run(self, fetches: Any, feed_dict: Optional[dict] = None, options: Any = None,
            run_metadata: Any = None) -> Any:
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        host_feed = getattr(self.graph, "_host_feed", None)
        if host_feed is not None:   # extension point: tf.data / queues (frontend/data/hostfeed.py)
            if feed_dict and any(hasattr(k, "_fetch_parts") for k in feed_dict):
                feed_dict = _expand_composite_feeds(feed_dict)
            if _fetches_strings(fetches):
                return self._run_with_strings(fetches, feed_dict)
            feed_dict = host_feed(self, fetches, feed_dict)
        fast_key = _fast_key(fetches, feed_dict)
        hit = self._fast.get(fast_key) if fast_key is not None else None
        if hit is None:
            return self._run_validated(fetches, feed_dict, host_feed, fast_key)
        # the same fetches, feed keys, feed shapes and dtypes as a validated earlier run
        # (a composite key never hits: its value is a tuple, which has no fast key)
        compiled = hit.compiled
        dtypes = hit.dtypes
        if not feed_dict:
            args = []
        elif dtypes is None:     # every feed an ndarray of its placeholder's dtype
            args = [*feed_dict.values()]
        else:
            args = [np.asarray(v, dtype=dt) for v, dt in zip(feed_dict.values(), dtypes)]
        if not compiled.direct:
            return hit.rebuild(self._execute_locked(compiled, args, hit.tensors))
        results = self._execute_locked(compiled, args, None)   # used as they are
        form = hit.form
        if form == 0:
            return None
        if form == 1:
            r = results[0]
            return r[()] if r.ndim == 0 else r
        if form < 0:
            return hit.rebuild({id(t): r[()] if r.ndim == 0 else r
                                for t, r in zip(hit.tensors, results)})
        out = [None if j < 0 else results[j] for j in hit.picks]
        for i, r in enumerate(out):
            if r is not None and r.ndim == 0:
                out[i] = r[()]
        return out if form == 2 else tuple(out)

    def _run_validated(self, fetches: Any, feed_dict: Optional[dict], host_feed: Any,
                       fast_key: Optional[tuple]) -> Any:
        """A run that is not a fast hit: fetches and feeds validated, the signature looked
        up (compiled on a miss) and, when the run has a fast key, recorded as a fast run."""
        if host_feed is None and feed_dict and any(hasattr(k, "_fetch_parts")
                                                   for k in feed_dict):
            feed_dict = _expand_composite_feeds(feed_dict)
            fast_key = _fast_key(fetches, feed_dict)
        flat: list = []
        index: dict[int, int] = {}
        rebuild = self._flatten(fetches, flat, index)
        feeds, arrays = self._feeds(feed_dict)
        tensors = [e for e in flat if isinstance(e, Tensor)]
        targets = [e for e in flat if isinstance(e, Operation)]
        key, types = self._signature(tensors, targets, feeds, arrays)
        compiled = self._cache.get(key)
        if compiled is None:
            with self._compile_lock:
                compiled = self._cache.get(key)      # another thread may have compiled it
                if compiled is None:
                    compiled = self._compile(tensors, targets, feeds, types)
                    self._cache[key] = compiled
        if fast_key is not None:
            if len(self._fast) > 256:
                self._fast.clear()
            dts = [t.dtype.np for t in feeds]
            # feeds given as arrays of the placeholders' dtypes are passed as they are
            # (np.asarray would return them unchanged): the key pins their dtypes
            same = all(type(v) is _NDARRAY and v.dtype == dt
                       for v, dt in zip(feed_dict.values(), dts)) if feed_dict else True
            self._fast[fast_key] = _FastRun(compiled, None if same else dts, tensors, rebuild,
                                            fetches)
        return rebuild(self._execute_locked(compiled, list(arrays), tensors))

    def _execute_locked(self, compiled: _Compiled, args: list, tensors: Optional[list]) -> Any:
        """One call of the executable holding the write locks of the variables the run
        assigns; ``args`` (a list of the feeds the call may extend) gets the variables'
        values, the random ops' step, host arrays for a store holding device values. With
        ``tensors`` None (``compiled.direct``: ``_direct_results``) the results are stored
        and returned as the executable gives them, else ``_execute`` checks them."""
        locks = compiled.write_locks
        for lock in locks:
            lock.acquire()
        try:
            store = self._values
            try:
                args += compiled.read_values(store)
            except KeyError:
                self._uninitialized(compiled)
            if compiled.uses_rng:
                args.append(np.array(next(self._steps), dtype=np.int64))
            if compiled.host_args and self._device_values:
                args = [a if isinstance(a, np.ndarray) else np.asarray(a) for a in args]
            if tensors is None:
                values = compiled.executable.run(args)
                if compiled.write_ids:
                    store.update(zip(compiled.write_ids, values[compiled.num_fetches:]))
            else:
                values = self._execute(compiled, args, tensors)
        finally:
            for lock in reversed(locks):
                lock.release()
        if _progress.enabled:       # JITFLOW_PROGRESS: count the run (runtime/progress.py)
            _progress.run_done()
        return values

    def _uninitialized(self, compiled: _Compiled) -> None:
        """Raise TF's error for the first variable the run reads that has no value."""
        for var_op, vid in zip(compiled.lowered.var_reads, compiled.read_ids):
            if vid not in self._values:
                raise FailedPreconditionError(
                    f"Attempting to use uninitialized value {var_op.name}\n\t [[node "
                    f"{var_op.name} (defined at {var_op.file}:{var_op.line}) ]]")

    def _execute(self, compiled: _Compiled, args: list, tensors: list) -> dict:
        """The executable called on ``args`` (``_execute_locked`` made them), updates stored,
        fetched values out (keyed by id of the fetched tensor), no array shared between the
        user and the store. The caller holds the write locks."""
        values_store = self._values
        results = compiled.executable.run(args)
        nf = compiled.num_fetches
        # No array may be shared between the user and the variable store, or between two
        # variables: a backend may return an argument itself (identity) or a view of it.
        owned = set(map(id, args))
        for vid, val in zip(compiled.write_ids, results[nf:]):
            # an update written in place into the variable's own buffer stays as it is
            if val is not values_store.get(vid) and (id(val) in owned or val.base is not None):
                val = np.array(val)
            owned.add(id(val))
            values_store[vid] = val
            if type(val) is not _NDARRAY:
                self._device_values = True      # e.g. a DeviceTensor of the cuda backend
        if not nf:
            return {}
        values = {}
        for i, (t, r) in enumerate(zip(tensors, results[:nf])):
            if (compiled.copy_results[i] or id(r) in owned or r.base is not None
                    or not r.flags.writeable):
                r = np.array(r)
            owned.add(id(r))
            values[id(t)] = r[()] if r.ndim == 0 else r
        return values

    def _run_with_strings(self, fetches: Any, feed_dict: Optional[dict]) -> Any:
        """A run fetching host string tensors (``tf.constant("Hello")``, a record): every
        value from one host evaluation (frontend/data/hostfeed.py), the numeric ones through
        a normal run."""
        from ..frontend.data.hostfeed import registry_for
        flat: list = []
        rebuild = self._flatten(fetches, flat, {})
        values = registry_for(self.graph).evaluate(self, flat, feed_dict)
        return rebuild({id(e): v if not isinstance(v, np.ndarray) or v.ndim else v[()]
                        for e, v in zip(flat, values)})

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
        try:   # (host string tensors reach here only from _run_with_strings)
            elem = fetch if isinstance(fetch, _StringTensor) else self.graph.as_graph_element(fetch)
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
        low = graph_to_ir(f"run{len(self._cache)}", tensors, targets, feeds, types)
        placed = self._placed_backend(tensors, targets, feeds, low, t0)
        if placed is None:          # no device scopes: the session's backend runs it all
            c = compile_function(low.function, self._backend.name, self._compile_options(low),
                                 session=self, fetches=tensors, targets=targets, start=t0)
            low.function, exe, backend_name = c.function, c.executable, c.backend
            host_args = getattr(self._backend, "device", "cpu") == "cpu"
        else:
            exe, backend_name, host_args = placed
        f = low.function
        secs = time.perf_counter() - t0
        log_compile(f"compiled {f.name}: {len(tensors)} fetches, {len(targets)} targets, "
                    f"feeds {[str(t) for t in types]}, {len(f.ops)} ops on {backend_name} "
                    f"in {secs * 1e3:.1f} ms")
        if _progress.enabled:       # JITFLOW_PROGRESS: report the compilation
            _progress.compile_done(f.name, len(f.ops), backend_name, secs)
        for var_op in low.var_writes:
            self._var_locks.setdefault(id(var_op), threading.Lock())
        locks = tuple(self._var_locks[k] for k in sorted({id(op) for op in low.var_writes}))
        return _Compiled(low, exe, secs, host_args=host_args, write_locks=locks)

    def _placed_backend(self, tensors, targets, feeds, low: GraphFunction, t0: float):
        """With ``tf.device`` scopes in the run (or placement logging on): place its ops
        (jitflow/runtime/placement.py) and compile for one device, or split the graph across
        devices. Returns (executable, backend name, host_args), or None when the session's
        own backend should run everything."""
        from .compile import Compiled, fire_compile_hooks, run_pipeline
        from .placement import (HostArgs, Placer, backend_for, compile_partitioned,
                                device_passes, host_fallback, is_host_op, ops_by_device,
                                parse_device,
                                pre_placement_passes, single_device)
        fops = low.graph_ops        # needed_ops(tensors, targets, fed): computed by graph_to_ir
        placer = Placer(self)
        explicit = any(parse_device(op.device) is not None for op in fops)
        # host callbacks (tf.py_func, tf.Print) split the run like a device scope does
        explicit = explicit or any(op.ir_op is not None and is_host_op(op.ir_op) for op in fops)
        # so do library ops the backend does not lower (run on the host between its segments)
        explicit = explicit or any(op.ir_op is not None and host_fallback(op.ir_op, b)
                                   for op in fops for b in (self._backend.name,))
        if not explicit and not placer.log:
            return None
        names = placer.assign(self.graph, fops)
        if not explicit:
            return None
        f, pm = run_pipeline(low.function, self._backend.name,
                             pre_placement_passes(self._backend.name))
        low.function = f
        dev_of = ops_by_device(f, placer, names, self.graph)
        single, device = single_device(f, dev_of)
        if single:
            name = backend_for(device, placer) if device is not None else self._backend.name
            c = compile_function(f, name, self._compile_options(low), passes=device_passes(name),
                                 start=t0)
            c.passes = pm          # the stages from the frontend to placement
            low.function = c.function
            fire_compile_hooks(c, self, tensors, targets)
            backend = get_backend(name)
            on_cpu = getattr(backend, "device", "cpu") == "cpu"
            return (HostArgs(c.executable) if on_cpu else c.executable), c.backend, on_cpu
        exe = compile_partitioned(f, dev_of, placer, low.num_fetches, len(low.feeds))
        low.function = exe.function
        name = "partitioned(" + ",".join(sorted({backend_for(d, placer)
                                                  for d in dev_of.values()})) + ")"
        fire_compile_hooks(Compiled(exe.function, exe, name, time.perf_counter() - t0, pm),
                           self, tensors, targets)
        return exe, name, False

    @staticmethod
    def _compile_options(low: GraphFunction) -> CompileOptions:
        """What the backend may assume: variable updates that may be written in place (result
        index -> parameter index) and how many results are fetches, parameters feeds."""
        nf, feeds = low.num_fetches, len(low.feeds)
        reads = {id(op): feeds + i for i, op in enumerate(low.var_reads)}
        donations = {nf + i: reads[id(op)] for i, op in enumerate(low.var_writes) if id(op) in reads}
        return CompileOptions(donations=donations, num_fetches=nf, num_feeds=feeds)

    # ------------------------------------------------------------------ variables --------
    def _load_variable(self, var: Any, value: Any) -> None:
        arr = np.asarray(value, dtype=var.dtype.np)
        if tuple(arr.shape) != tuple(var.shape.as_list()):
            raise ValueError(f"Cannot load value of shape {arr.shape} into variable {var.op.name} "
                             f"of shape {var.shape}")
        lock = self._var_locks.get(id(var.op))
        if lock is None:
            self._values[id(var.op)] = arr.copy()
        else:
            with lock:
                self._values[id(var.op)] = arr.copy()

    def _variable_value(self, var: Any) -> Optional[np.ndarray]:
        v = self._values.get(id(var.op))
        if v is not None and not isinstance(v, np.ndarray):
            v = np.asarray(v)      # a device-resident value (cuda backend): copy to the host
        return v


register_session_class(Session)


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

