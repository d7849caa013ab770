"""Tracing plain Python functions into compiled graphs: ``@jitflow.function``, ``make_ir``,
``grad`` and ``value_and_grad`` (the ``tf.function`` / ``jax.jit`` of jitflow).

A traced function is called with NumPy arrays. On the first call for an input *signature* its
Python body runs once with symbolic tensors (placeholders of a private ``tf.Graph``), so the
TF1 ops (``tf.matmul``, ``tf.nn.relu``, ``tf.reduce_sum``, ``tf.gradients``, ...) record a
graph; the graph is lowered to an ``ir.Function``, optimized by the backend's pass pipeline,
compiled, and cached under the signature. Later calls with the same signature only run the
compiled code.

The signature of a call
-----------------------
* the argument structure: nested tuples, lists, dicts and namedtuples are walked; every other
  object is a *leaf*;
* for each array leaf (``np.ndarray``, NumPy scalar or anything with ``__array__``): its dtype,
  its rank and its dims. Every dim is static except the **leading (batch) dim**, which stays
  symbolic so that a new batch size does not retrace (as a TF1 ``placeholder`` with a ``None``
  batch dim). Two leading dims of the same size share one symbol (so ``x + y`` of two
  batches knows they match); sizes 0 and 1 stay static (a size-1 dim broadcasts, so it is
  specialized, as PyTorch's dynamic shapes do). Inside the traced body the leading dim is
  unknown (``x.shape[0].value is None``, ``x.shape.dims[0] is None``); use ``tf.shape(x)``
  or ``-1`` in ``tf.reshape``.
  ``symbolic_batch=False`` keeps every dim static; ``symbolic_batch=("x", 2)`` only those
  arguments' (by name or position);
* every other leaf (Python ``int``/``float``/``bool``/``str``/``None``, any hashable object) is
  part of the signature **by value**: it is a compile-time constant of the trace, and a new
  value retraces. Pass ``np.float32(v)`` / ``np.asarray(v)`` to make a scalar a run-time input.

Supported array dtypes are jitflow's (``ir/dtypes.py``: float16, bfloat16, float32, float64,
int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool, complex64, complex128); any
other dtype (float128, strings, objects) raises a ``TypeError`` naming the argument.

Results
-------
The Python function may return a tensor, a nested tuple/list/dict/namedtuple of tensors, None
leaves or constants. The call returns the same structure with NumPy arrays in place of the
tensors. A rank-0 result is a **NumPy scalar** (``np.float32``, ...), as ``Session.run``
returns it. Every returned array is owned by the caller (never an alias of an argument).

Side effects
------------
Python code in the body runs **only while tracing**: a ``print``, ``list.append``, a counter
or reading a global happens once per new signature, not on every call; NumPy values and
globals the body reads are frozen into the trace as constants. Only the graph the body builds
runs on every call. ``trace_count`` says how many times the body ran.

What else to know
-----------------
* The backend is ``backend=`` or the default (``JITFLOW_BACKEND``, else llvm), resolved at the
  first call. Each signature compiles to one executable: forward (and, for ``grad``, backward)
  pass in one native call.
* A traced function is pure: ``tf.Variable`` / ``tf.get_variable`` / ``tf.layers`` inside it
  raise a ``ValueError`` (pass parameters as arguments, or use a ``tf.Session``). Random ops
  (``tf.random_uniform``, ...) draw new numbers on every call, the same on every backend.
* A traced function called with tensors (from inside another trace) runs inline.
* ``make_ir(f)(*args)`` gives the traced ``ir.Function`` without compiling;
  ``grad``/``value_and_grad`` trace ``tf.gradients`` of a scalar result.

Logging
-------
``JITFLOW_LOG=compile`` prints one line per trace to stderr, in the format of the Session's
compile log: the function, its signature, the number of ops, the backend and the time, and for
a retrace what changed from the previous signature.
"""
from __future__ import annotations

import collections
import functools
import inspect
import itertools
import os
import re
import threading
import time
from types import MethodType
from typing import Any, Callable, Iterable, Optional, Sequence, Union

import numpy as np

from .backends import available_backends, default_backend_name
from .frontend import overloads as _overloads  # noqa: F401  (Tensor operators)
from .frontend.array_ops import placeholder
from .frontend.gradients import gradients as _tf_gradients
from .frontend.graph import Graph, Operation, Tensor
from .frontend.op_builder import convert_to_tensor
from .ir.core import Function
from .ir.dtypes import ALL as _SUPPORTED_DTYPES
from .ir.parser import parse_function
from .ir.printer import print_function
from .ir.types import TensorType, format_type
from .frontend.graph_to_ir import graph_to_ir
from .passes.manager import PassManager, pipeline_for
from .runtime.compile import compile_function, log_compile

__all__ = ["ConcreteFunction", "TracedFunction", "function", "grad", "make_ir", "value_and_grad"]

_CALLS = itertools.count()     # call clock: the least recently called trace is evicted first
_SUPPORTED_NAMES = ", ".join(d.name for d in _SUPPORTED_DTYPES)
_NP_TO_DTYPE = {d.np: d for d in _SUPPORTED_DTYPES}


# ============================================================== argument structures ===========

class _Leaf:
    """Marker in an input tree: the ``index``-th array leaf."""
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __eq__(self, other: Any) -> bool:
        return type(other) is _Leaf and other.index == self.index

    def __hash__(self) -> int:
        return hash(("leaf", self.index))


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, np.generic)) or (
        hasattr(x, "__array__") and not isinstance(x, (str, bytes, Tensor)))


def _flatten_inputs(obj: Any, path: str, leaves: list, paths: list, statics: list) -> Any:
    """A hashable tree for ``obj``: containers are tuples tagged with their kind, array leaves
    are ``_Leaf`` markers (the arrays are appended to ``leaves``), other leaves are kept by
    value (static) and must be hashable."""
    if type(obj) is np.ndarray:
        leaves.append(obj)
        paths.append(path)
        return _Leaf(len(leaves) - 1)
    if _is_namedtuple(obj):
        return ("namedtuple", type(obj), tuple(
            _flatten_inputs(v, f"{path}/{k}", leaves, paths, statics)
            for k, v in zip(obj._fields, obj)))
    if isinstance(obj, (tuple, list)):
        return ("tuple" if isinstance(obj, tuple) else "list", tuple(
            _flatten_inputs(v, f"{path}/{i}", leaves, paths, statics) for i, v in enumerate(obj)))
    if isinstance(obj, dict):
        keys = tuple(obj)
        return ("dict", keys, tuple(
            _flatten_inputs(obj[k], f"{path}/{k}", leaves, paths, statics) for k in keys))
    if isinstance(obj, Tensor) or _is_array(obj):
        leaves.append(obj)
        paths.append(path)
        return _Leaf(len(leaves) - 1)
    if isinstance(obj, float) and obj != obj:
        obj_key: Any = ("nan", type(obj))
    else:
        obj_key = obj
    try:
        hash(obj_key)
    except TypeError:
        raise TypeError(f"argument {path!r} is a {type(obj).__name__}, which is neither an array "
                        "nor a hashable value: jitflow.function treats non-array arguments as "
                        "compile-time constants keyed by value. Pass arrays as np.ndarray, or "
                        "make the value hashable.") from None
    statics.append((path, obj))
    # the type is part of the key: f(x, 1) and f(x, True) and f(x, 1.0) are different traces
    return ("static", type(obj), obj_key)


def _unflatten_inputs(tree: Any, leaves: Sequence[Any], statics: Iterable) -> Any:
    it = iter(statics)

    def build(t: Any) -> Any:
        if type(t) is _Leaf:
            return leaves[t.index]
        kind = t[0]
        if kind == "static":
            return next(it)[1]
        if kind == "namedtuple":
            return t[1](*[build(c) for c in t[2]])
        if kind == "tuple":
            return tuple(build(c) for c in t[1])
        if kind == "list":
            return [build(c) for c in t[1]]
        if kind == "dict":
            return {k: build(c) for k, c in zip(t[1], t[2])}
        raise AssertionError(kind)
    return build(tree)


def _flatten_outputs(obj: Any, tensors: list, index: dict, where: str) -> Callable[[list], Any]:
    """A rebuild function for the traced result: tensors become fetches (each once)."""
    if obj is None:
        return lambda vals: None
    if _is_namedtuple(obj):
        parts = [_flatten_outputs(v, tensors, index, where) for v in obj]
        cls = type(obj)
        return lambda vals: cls(*[p(vals) for p in parts])
    if isinstance(obj, (tuple, list)):
        parts = [_flatten_outputs(v, tensors, index, where) for v in obj]
        ctor = tuple if isinstance(obj, tuple) else list
        return lambda vals: ctor(p(vals) for p in parts)
    if isinstance(obj, dict):
        items = [(k, _flatten_outputs(v, tensors, index, where)) for k, v in obj.items()]
        cls = type(obj)
        if isinstance(obj, collections.defaultdict):
            factory = obj.default_factory
            return lambda vals: cls(factory, ((k, p(vals)) for k, p in items))
        return lambda vals: cls((k, p(vals)) for k, p in items)
    if isinstance(obj, Operation):
        raise TypeError(f"{where} returned the Operation {obj.name!r}: a traced function returns "
                        "values (tensors, arrays, numbers) and nested tuples/lists/dicts of them")
    if isinstance(obj, Tensor) or hasattr(obj, "_as_tensor") or hasattr(obj, "_as_graph_element"):
        t = convert_to_tensor(obj) if not isinstance(obj, Tensor) else obj
        if id(t) not in index:
            index[id(t)] = len(tensors)
            tensors.append(t)
            i = index[id(t)]
            return lambda vals: vals[i]
        # the same tensor returned again: its own copy, so the caller owns each result
        i = index[id(t)]
        return lambda vals: vals[i].copy()
    try:
        const = np.array(obj)
    except Exception:  # noqa: BLE001
        const = None
    if const is None or const.dtype == object:
        raise TypeError(f"{where} returned a {type(obj).__name__} ({obj!r}); a traced function "
                        "returns tensors, arrays, numbers and nested tuples/lists/dicts of them")
    # a constant result: a fresh copy on each call, scalars as NumPy scalars
    return lambda vals: const[()] if const.ndim == 0 else const.copy()


def _name_component(s: Any) -> str:
    s = re.sub(r"[^\w.\-]", "_", str(s))
    return s if s and s[0] not in "_-" else f"arg{s}"


def _placeholder_name(path: str) -> str:
    return "/".join(_name_component(p) for p in path.split("/") if p != "")


def _function_name(fn: Any) -> str:
    name = getattr(fn, "__name__", None) or type(fn).__name__
    name = re.sub(r"[^\w.\-]", "", name) or "fn"
    return name


# ============================================================== concrete functions ============

class ConcreteFunction:
    """One trace of a ``TracedFunction``: its input signature, the IR and the executable."""

    def __init__(self, name: str, backend: str, signature: list, input_types: list[TensorType],
                 ir_text: str, function: Optional[Function], executable: Any,
                 trace_seconds: float, compile_seconds: float, num_results: int,
                 copy_results: list[bool], uses_rng: bool, rebuild: Callable) -> None:
        self.name = name
        self.backend = backend
        self.last_call = next(_CALLS)
        #: [(argument path, "f32[s0,3]" for an array or the repr of a static value)]
        self.signature = signature
        #: the IR types of the array arguments, in the order of the Function's parameters
        self.input_types = input_types
        #: the traced ir.Function as text, right after lowering (before any pass)
        self.ir_text = ir_text
        #: the ir.Function the backend compiled (after the pass pipeline); None if no results
        self.function = function
        self.executable = executable
        self.trace_seconds = trace_seconds
        self.compile_seconds = compile_seconds
        self.num_results = num_results
        self.copy_results = copy_results
        self.uses_rng = uses_rng
        self._rebuild = rebuild
        self.calls = 0

    @property
    def ir(self) -> Function:
        """A fresh copy of the traced ``ir.Function`` (after lowering, before the passes)."""
        return parse_function(self.ir_text)

    def signature_str(self) -> str:
        return ", ".join(f"{p}: {d}" for p, d in self.signature)

    def __repr__(self) -> str:
        return f"<ConcreteFunction {self.name}({self.signature_str()}) on {self.backend}>"


def _signature_diff(old: list, new: list) -> str:
    """What changed between two signatures, for the retrace log."""
    o, n = dict(old), dict(new)
    parts = []
    for p, d in new:
        if p not in o:
            parts.append(f"new argument {p}: {d}")
        elif o[p] != d:
            parts.append(f"{p}: {o[p]} -> {d}")
    parts.extend(f"argument {p} gone" for p in o if p not in n)
    return "; ".join(parts) or "structure changed"


# ============================================================== the decorator =================

SymbolicBatch = Union[bool, Iterable[Union[int, str]]]


class TracedFunction:
    """A Python function compiled per input signature; see the module docstring.

    Attributes: ``python_function``, ``backend`` (None: the default backend at trace time),
    ``trace_count`` (how many times the Python body has run), ``concrete_functions`` (the
    cached traces, oldest first; each a ``ConcreteFunction`` with ``.signature``, ``.ir``,
    ``.function``, ``.executable`` and timings).
    """

    def __init__(self, fn: Callable, backend: Optional[str] = None,
                 symbolic_batch: SymbolicBatch = True, name: Optional[str] = None,
                 _preprocess: Optional[Callable] = None) -> None:
        if not callable(fn):
            raise TypeError(f"jitflow.function needs a callable, got {type(fn).__name__}")
        if backend is not None and backend not in available_backends():
            raise ValueError(f"unknown backend {backend!r}; available: "
                             f"{', '.join(available_backends())}")
        self.python_function = fn
        self.backend = backend
        if isinstance(symbolic_batch, bool):
            self._batch_all, self._batch_args = symbolic_batch, frozenset()
        else:
            self._batch_all, self._batch_args = False, frozenset(symbolic_batch)
        self.symbolic_batch = symbolic_batch
        self.name = name or _function_name(fn)
        self._preprocess = _preprocess
        self._resolved_backend: Optional[str] = None
        self._cache: dict[tuple, ConcreteFunction] = {}
        self._lock = threading.RLock()
        self.trace_count = 0
        self._rng_step = 0
        try:
            self._sig: Optional[inspect.Signature] = inspect.signature(fn)
        except (TypeError, ValueError):
            self._sig = None
        self._pos_names: Optional[list[str]] = None
        if self._sig is not None:
            ps = list(self._sig.parameters.values())
            if all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in ps):
                self._pos_names = [p.name for p in ps]       # the common case: f(x, w, b)
        functools.update_wrapper(self, fn)

    # ------------------------------------------------------------------ inspection -------
    @property
    def concrete_functions(self) -> list[ConcreteFunction]:
        return list(self._cache.values())

    def clear_cache(self) -> None:
        """Forget every trace (``trace_count`` keeps counting)."""
        with self._lock:
            self._cache.clear()

    def __repr__(self) -> str:
        return (f"<jitflow.function {self.name}: {len(self._cache)} trace(s) on "
                f"{self.backend or 'default backend'}>")

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        # a method: ``self`` is a static argument (keyed by its hash/equality)
        return MethodType(self, instance)

    # ------------------------------------------------------------------ calling ----------
    def _default_backend(self) -> str:
        # resolved at the first call (JITFLOW_BACKEND or llvm), then fixed, as a Session's
        if self._resolved_backend is None:
            self._resolved_backend = default_backend_name()
        return self._resolved_backend

    def _bind(self, args: tuple, kwargs: dict) -> tuple[dict, Optional[inspect.BoundArguments]]:
        if self._preprocess is not None:
            args = self._preprocess(args)
        if not kwargs and self._pos_names is not None and len(args) == len(self._pos_names):
            return dict(zip(self._pos_names, args)), None
        if self._sig is None:
            d = {f"arg{i}": a for i, a in enumerate(args)}
            d.update(kwargs)
            return d, None
        try:
            bound = self._sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.name}(): {e}") from None
        bound.apply_defaults()
        return dict(bound.arguments), bound

    def _call_python(self, arguments: dict, bound: Optional[inspect.BoundArguments]) -> Any:
        if bound is not None:
            bound.arguments.update(arguments)
            return self.python_function(*bound.args, **bound.kwargs)
        if self._pos_names is not None and list(arguments) == self._pos_names:
            return self.python_function(*arguments.values())
        pos = [v for k, v in arguments.items() if k.startswith("arg") and k[3:].isdigit()]
        kw = {k: v for k, v in arguments.items() if not (k.startswith("arg") and k[3:].isdigit())}
        return self.python_function(*pos, **kw)

    def _signature_key(self, arguments: dict, backend: str):
        """(key, tree, arrays, specs, statics, paths); key None when a leaf is a Tensor (a call
        from inside another trace). ``specs`` are (DType, dims) per array, dims with symbols."""
        leaves: list = []
        paths: list[str] = []
        statics: list = []
        tree = _flatten_inputs(arguments, "", leaves, paths, statics)
        arrays, specs = [], []
        symbols: dict[int, str] = {}
        batch = self._batch_all
        for a, path in zip(leaves, paths):
            if type(a) is np.ndarray:
                arr = a
            elif isinstance(a, Tensor):
                return None, tree, leaves, None, statics, paths
            else:
                arr = np.asarray(a)
            dt = _NP_TO_DTYPE.get(arr.dtype)
            if dt is None:
                arr, dt = self._check_dtype(arr, path)
            shape = arr.shape
            if shape and shape[0] > 1 and (batch or self._batch_arg(path, arguments)):
                # one symbol per distinct size, named after the first leaf with that size so
                # the names stay put when another argument changes
                shape = (symbols.setdefault(shape[0], f"s{len(arrays)}"),) + shape[1:]
            arrays.append(arr)
            specs.append((dt, shape))
        return (backend, tree, tuple(specs)), tree, arrays, specs, statics, paths

    def _check_dtype(self, arr: np.ndarray, path: str):
        if arr.dtype.byteorder not in "=|":               # e.g. big-endian data from a file
            native = arr.dtype.newbyteorder("=")
            if native in _NP_TO_DTYPE:
                return arr.astype(native), _NP_TO_DTYPE[native]
        arg = path.lstrip("/")
        raise TypeError(
            f"{self.name}(): argument {arg!r} has dtype {arr.dtype}, which jitflow does not "
            f"support (supported: {_SUPPORTED_NAMES}); convert it first, e.g. "
            f"{arg.split('/')[0]}.astype(np.float32)")

    def _batch_arg(self, path: str, arguments: dict) -> bool:
        if not self._batch_args:
            return False
        top = path.split("/")[1]
        return top in self._batch_args or list(arguments).index(top) in self._batch_args

    @staticmethod
    def _describe(specs, paths, statics) -> tuple[list[TensorType], list]:
        types = [TensorType(dt, tuple(dims)) for dt, dims in specs]
        descr = [(p.lstrip("/"), format_type(t)) for p, t in zip(paths, types)]
        descr += [(p.lstrip("/"), repr(v)) for p, v in statics]
        return types, descr

    def _lookup(self, arguments, bound, key, tree, specs, statics, paths, backend):
        with self._lock:
            cf = self._cache.get(key)
            if cf is None:
                types, descr = self._describe(specs, paths, statics)
                cf = self._trace_and_compile(arguments, bound, tree, types, statics, descr,
                                             backend)
                self._cache[key] = cf
                self._evict()
        return cf

    def _evict(self) -> None:
        """Keep at most JITFLOW_TRACE_CACHE_SIZE (default 64) traces: the least recently
        called go, and their native code with them (nothing else holds it)."""
        try:
            limit = max(1, int(os.environ.get("JITFLOW_TRACE_CACHE_SIZE", "64")))
        except ValueError:
            limit = 64
        while len(self._cache) > limit:
            old = min(self._cache, key=lambda k: self._cache[k].last_call)
            cf = self._cache.pop(old)
            log_compile(f"evicted trace of {self.name}: signature ({cf.signature_str()}) "
                        f"(JITFLOW_TRACE_CACHE_SIZE={limit})")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        arguments, bound = self._bind(args, kwargs)
        backend = self.backend or self._default_backend()
        key, tree, arrays, specs, statics, paths = self._signature_key(arguments, backend)
        if key is None:
            # called from inside another trace with tensors: inline the body
            return self._call_python(arguments, bound)
        cf = self._cache.get(key)
        if cf is None:
            cf = self._lookup(arguments, bound, key, tree, specs, statics, paths, backend)
        cf.last_call = next(_CALLS)
        return self._run(cf, arrays)

    def get_concrete_function(self, *args: Any, **kwargs: Any) -> ConcreteFunction:
        """The cached trace for these arguments (tracing and compiling it if needed), without
        running it."""
        arguments, bound = self._bind(args, kwargs)
        backend = self.backend or self._default_backend()
        key, tree, arrays, specs, statics, paths = self._signature_key(arguments, backend)
        if key is None:
            raise TypeError(f"{self.name}: get_concrete_function needs arrays, not tensors")
        return self._lookup(arguments, bound, key, tree, specs, statics, paths, backend)

    def _run(self, cf: ConcreteFunction, arrays: list) -> Any:
        cf.calls += 1
        if cf.executable is None:
            return cf._rebuild([])
        args = list(arrays)
        if cf.uses_rng:
            with self._lock:
                step = self._rng_step
                self._rng_step += 1
            args.append(np.array(step, dtype=np.int64))
        results = cf.executable.run(args)
        owned = {id(a) for a in args}
        vals = []
        for r, must_copy in zip(results, cf.copy_results):
            if (must_copy or id(r) in owned or r.base is not None or not r.flags.writeable):
                r = np.array(r)
            owned.add(id(r))
            vals.append(r[()] if r.ndim == 0 else r)
        return cf._rebuild(vals)

    # ------------------------------------------------------------------ tracing ----------
    def _trace(self, arguments: dict, bound, tree, types: list[TensorType], statics: list,
               name: Optional[str] = None):
        """Run the Python body on placeholders; return (lowered, rebuild, seconds)."""
        t0 = time.perf_counter()
        g = Graph()
        leaves_paths: list = []
        _flatten_inputs(arguments, "", [], leaves_paths, [])
        with g.as_default():
            phs = []
            for path, ty in zip(leaves_paths, types):
                shape = [d if isinstance(d, int) else None for d in ty.shape]
                phs.append(placeholder(ty.dtype, shape, name=_placeholder_name(path) or "arg"))
            traced_args = _unflatten_inputs(tree, phs, statics)
            out = self._call_python(traced_args, bound)
            tensors: list[Tensor] = []
            rebuild = _flatten_outputs(out, tensors, {}, f"{self.name}()")
        for t in tensors:
            if t.graph is not g:
                raise ValueError(
                    f"{self.name}() returned {t.name}, a tensor of another graph (a tensor "
                    "captured from outside the function?); build every tensor inside the "
                    "traced function or pass its value as an argument")
        low = graph_to_ir(name or self.name, tensors, [], phs, types)
        if low.var_reads or low.var_writes:
            names = sorted({op.name for op in low.var_reads + low.var_writes})
            raise ValueError(
                f"{self.name}() uses variables {names}: a traced function is pure (it has no "
                "state between calls). Pass parameters as array arguments, or build a graph "
                "with tf.Variable and run it in a tf.Session.")
        return low, rebuild, time.perf_counter() - t0

    def _trace_and_compile(self, arguments, bound, tree, types, statics, descr,
                           backend_name: str) -> ConcreteFunction:
        previous = list(self._cache.values())
        self.trace_count += 1
        low, rebuild, trace_secs = self._trace(arguments, bound, tree, types, statics)
        f = low.function
        ir_text = print_function(f)
        t0 = time.perf_counter()
        exe, final = None, None
        num = low.num_fetches
        if num:
            c = compile_function(f, backend_name, fetches=low.fetches, start=t0)
            final, exe = c.function, c.executable
            params = {id(p) for p in final.params}
            copy = [id(v) in params for v in final.results]
        else:
            copy = []
        compile_secs = time.perf_counter() - t0
        cf = ConcreteFunction(self.name, backend_name, descr, list(types), ir_text, final, exe,
                              trace_secs, compile_secs, num, copy, low.uses_rng, rebuild)
        why = "" if not previous else f"; retrace #{len(previous)}: " + _signature_diff(
            previous[-1].signature, descr)
        n_ops = len(final.ops) if final is not None else 0
        log_compile(f"compiled function {self.name}: signature ({cf.signature_str()}), "
                     f"{num} results, {n_ops} ops on {backend_name} in "
                     f"{(trace_secs + compile_secs) * 1e3:.1f} ms (trace "
                     f"{trace_secs * 1e3:.1f} ms, compile {compile_secs * 1e3:.1f} ms){why}")
        return cf

    def _lowered_ir(self, args: tuple, kwargs: dict) -> Function:
        """Trace without compiling or caching (``make_ir``)."""
        arguments, bound = self._bind(args, kwargs)
        backend = self.backend or self._default_backend()
        key, tree, arrays, specs, statics, paths = self._signature_key(arguments, backend)
        if key is None:
            raise TypeError(f"make_ir({self.name}) needs example arrays, not tensors")
        types, _ = self._describe(specs, paths, statics)
        low, _, _ = self._trace(arguments, bound, tree, types, statics)
        return low.function


def function(func: Optional[Callable] = None, *, backend: Optional[str] = None,
             symbolic_batch: SymbolicBatch = True, name: Optional[str] = None) -> Any:
    """Compile a Python function of NumPy arrays through the TF1 graph compiler.

    Usable as ``@jitflow.function``, ``jitflow.function(f)`` or
    ``@jitflow.function(backend="reference")``.

    On the first call for each input signature (argument structure, the dtype, rank and static
    dims of each array, and the value of each non-array argument) the body runs once with
    symbolic tensors, so TF1 ops (``tf.matmul``, ``tf.nn.relu``, ``tf.reduce_sum``, ...) build a
    graph; it is compiled on ``backend`` (default: ``JITFLOW_BACKEND`` or llvm) and cached.
    The leading (batch) dim of each array argument stays symbolic, so a new batch size reuses
    the compiled code (sizes 0 and 1 are specialized); ``symbolic_batch=False`` makes every
    dim static, or name the arguments that have a batch dim: ``symbolic_batch=("x",)``.

    Python side effects in the body (``print``, ``list.append``, reading globals) happen only
    while tracing, once per new signature, never on a cached call. ``.trace_count`` counts
    traces; ``.concrete_functions`` lists them. Results keep the returned structure (nested
    tuples, lists, dicts) with NumPy arrays; a rank-0 result is a NumPy scalar.
    ``JITFLOW_LOG=compile`` logs each trace with its signature and time to stderr.
    """
    def wrap(f: Callable) -> TracedFunction:
        if isinstance(f, TracedFunction):          # re-wrapping: new options, same body
            return TracedFunction(f.python_function, backend=backend or f.backend,
                                  symbolic_batch=symbolic_batch, name=name or f.name,
                                  _preprocess=f._preprocess)
        return TracedFunction(f, backend=backend, symbolic_batch=symbolic_batch, name=name)
    return wrap if func is None else wrap(func)


# ============================================================== make_ir =======================

def make_ir(f: Callable, *, stage: Optional[str] = None, backend: Optional[str] = None,
            symbolic_batch: Optional[SymbolicBatch] = None) -> Callable[..., Function]:
    """``make_ir(f)(*example_args)`` traces ``f`` on the example arguments (as
    ``jitflow.function`` would; the body's Python side effects run) and returns the
    ``ir.Function``; ``str()`` of it is the IR text (``jitflow.ir.parse`` reads it back).

    ``stage``: None or ``"frontend"`` (default): right after lowering, before any pass (a
    ``tf.gradients`` call is still one ``gradients`` op); a pass name of the backend's pipeline
    (``"autodiff"``, ``"canonicalize"``, ``"constant-fold"``, ``"cse"``, ``"licm"``, ``"dce"``,
    ``"fusion"``): the IR after the first run of that pass; ``"final"``: after the whole
    pipeline, as the backend compiles it. Nothing is compiled or cached.
    ``f`` may be a ``jitflow.function`` (its backend and options are used) or a plain function.
    """
    if isinstance(f, TracedFunction):
        tf_ = f
        if backend is not None or symbolic_batch is not None:
            tf_ = TracedFunction(f.python_function, backend=backend or f.backend,
                                 symbolic_batch=(f.symbolic_batch if symbolic_batch is None
                                                 else symbolic_batch),
                                 name=f.name, _preprocess=f._preprocess)
    else:
        tf_ = TracedFunction(f, backend=backend,
                             symbolic_batch=True if symbolic_batch is None else symbolic_batch)

    def build(*args: Any, **kwargs: Any) -> Function:
        fn = tf_._lowered_ir(args, kwargs)
        if stage in (None, "frontend", "input", "lowered"):
            return fn
        be = tf_.backend or tf_._default_backend()
        passes = pipeline_for(be)
        names = [p.name for p in passes]
        if stage == "final":
            return PassManager(passes).run(fn)
        if stage not in names:
            raise ValueError(f"unknown stage {stage!r} for backend {be}; choose one of "
                             f"'frontend', {', '.join(repr(n) for n in names)}, 'final'")
        return PassManager(passes[:names.index(stage) + 1]).run(fn)

    functools.update_wrapper(build, tf_.python_function)
    return build


# ============================================================== grad ==========================

def _argnums_tuple(argnums: Union[int, Sequence[int]]) -> tuple[int, ...]:
    if isinstance(argnums, int):
        return (argnums,)
    nums = tuple(argnums)
    if not nums or not all(isinstance(i, int) for i in nums):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    return nums


def _make_grad(f: Callable, argnums, has_aux: bool, with_value: bool, backend,
               symbolic_batch) -> TracedFunction:
    nums = _argnums_tuple(argnums)
    single = isinstance(argnums, int)
    fname = f.name if isinstance(f, TracedFunction) else _function_name(f)
    if isinstance(f, TracedFunction):
        backend = backend or f.backend
        symbolic_batch = f.symbolic_batch if symbolic_batch is None else symbolic_batch
        f = f.python_function
    what = "value_and_grad" if with_value else "grad"

    def preprocess(args: tuple) -> tuple:
        # Python floats at differentiated positions become float32 scalars (TF1's dtype for a
        # Python float), so they are run-time inputs instead of compile-time constants.
        if max(nums) >= len(args):
            raise TypeError(f"{what}({fname}) differentiates positional argument(s) {nums}, but "
                            f"only {len(args)} positional argument(s) were given; pass the "
                            "differentiated arguments positionally")
        args = list(args)
        for i in nums:
            args[i] = _floats_to_arrays(args[i])
        return tuple(args)

    def body(*args: Any, **kwargs: Any) -> Any:
        out = f(*args, **kwargs)
        if has_aux:
            if not (isinstance(out, (tuple, list)) and len(out) == 2):
                raise TypeError(f"{what}({fname}, has_aux=True): the function must return a "
                                f"pair (scalar, aux), got {type(out).__name__}")
            y, aux = out
        else:
            y, aux = out, None
        grads, xs = [], []
        for i in nums:
            leaves: list = []
            paths: list = []
            statics: list = []
            tree = _flatten_inputs(args[i], f"argument {i}", leaves, paths, statics)
            if statics:
                p, v = statics[0]
                raise TypeError(f"{what}({fname}): {p!r} is {v!r}, a {type(v).__name__}, which "
                                "jitflow.function treats as a compile-time constant; only array "
                                "(and Python float) arguments can be differentiated")
            for t, p in zip(leaves, paths):
                if not t.dtype.is_floating:
                    raise TypeError(f"{what}({fname}) requires float inputs to differentiate, but "
                                    f"{p!r} has dtype {t.dtype.name}")
            xs.append((tree, leaves))
        y = _scalar_output(y, fname, what)
        for tree, leaves in xs:
            gs = _tf_gradients(y, leaves, unconnected_gradients="zero") if leaves else []
            grads.append(_unflatten_inputs(tree, gs, []))
        g = grads[0] if single else tuple(grads)
        if with_value:
            return ((y, aux), g) if has_aux else (y, g)
        return (g, aux) if has_aux else g

    functools.update_wrapper(body, f)
    return TracedFunction(body, backend=backend,
                          symbolic_batch=True if symbolic_batch is None else symbolic_batch,
                          name=f"{what}_{fname}", _preprocess=preprocess)


def _floats_to_arrays(x: Any) -> Any:
    if isinstance(x, float):
        return np.float32(x)
    if _is_namedtuple(x):
        return type(x)(*[_floats_to_arrays(v) for v in x])
    if isinstance(x, (tuple, list)):
        return type(x)(_floats_to_arrays(v) for v in x)
    if isinstance(x, dict):
        return {k: _floats_to_arrays(v) for k, v in x.items()}
    return x


def _scalar_output(y: Any, fname: str, what: str) -> Tensor:
    if isinstance(y, (float, int, np.floating)) and not isinstance(y, bool):
        y = convert_to_tensor(np.float32(y) if isinstance(y, (float, int)) else y)
    if not isinstance(y, Tensor):
        raise TypeError(f"{what}({fname}): the function must return a scalar float tensor, got "
                        f"{type(y).__name__}")
    if not y.dtype.is_floating or y.shape.dims != ():
        raise TypeError(f"{what}({fname}): the function must return a scalar (rank-0) float, got "
                        f"a {y.dtype.name} tensor of shape {y.shape}; reduce it first, e.g. "
                        "with tf.reduce_sum or tf.reduce_mean")
    return y


def grad(f: Callable, argnums: Union[int, Sequence[int]] = 0, *, has_aux: bool = False,
         backend: Optional[str] = None,
         symbolic_batch: Optional[SymbolicBatch] = None) -> TracedFunction:
    """The gradient of ``f`` (which returns a scalar float tensor) with respect to the
    positional argument(s) ``argnums``, as a traced, cached function of the same arguments.

    ``argnums`` an int: the result has the structure of that argument (an array, or a nested
    tuple/list/dict of arrays); a tuple: a tuple of such results. The gradient is built by
    ``tf.gradients`` and expanded by the autodiff pass, so it compiles with the forward pass
    as one graph. Differentiated arguments must be float arrays; a Python float there is
    taken as a float32 scalar input (elsewhere, Python numbers are compile-time constants).
    An argument the result does not depend on gets zeros. ``has_aux=True``: ``f`` returns
    ``(scalar, aux)`` and the result is ``(gradient, aux)``.
    """
    return _make_grad(f, argnums, has_aux, False, backend, symbolic_batch)


def value_and_grad(f: Callable, argnums: Union[int, Sequence[int]] = 0, *,
                   has_aux: bool = False, backend: Optional[str] = None,
                   symbolic_batch: Optional[SymbolicBatch] = None) -> TracedFunction:
    """Like ``grad``, but the traced function returns ``(value, gradient)`` (with
    ``has_aux=True``: ``((value, aux), gradient)``), computed in one compiled graph."""
    return _make_grad(f, argnums, has_aux, True, backend, symbolic_batch)

