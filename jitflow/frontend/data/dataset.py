"""``tf.data.Dataset`` with TF1's semantics, run on the host (see docs/input_pipelines.md).

A dataset is a description; iterating it (through an Iterator, in a Session) produces
elements, each a flat list of NumPy arrays packed into the dataset's structure. Source
tensors that are graph tensors (e.g. placeholders in ``from_tensor_slices``) are evaluated
when the iterator is initialized. Transformations run in Python over those arrays, except
``map``/``filter`` functions, which are traced into a graph and compiled once (mapfn.py).
``prefetch(n)`` moves everything upstream of it into a background thread.
"""
from __future__ import annotations

import itertools
import queue
import threading
from typing import Any, Callable, Iterator, Optional

import numpy as np

from ...errors import InvalidArgumentError
from ..graph import Tensor, TensorShape, get_default_graph
from .hostfeed import StringTensor
from .structure import Spec, array_of, flatten, pack_as, same_structure, string, to_dtype

AUTOTUNE = -1


class _Env:
    """One iteration's context: the Session, evaluated source tensors, per-dataset counters."""

    def __init__(self, session: Any, values: dict) -> None:
        self.session = session
        self.values = values
        self.counters: dict[int, int] = {}

    def value(self, x: Any) -> np.ndarray:
        return self.values[id(x)] if isinstance(x, (Tensor, StringTensor)) else x

    def count(self, ds: Any) -> int:
        k = self.counters.get(id(ds), 0)
        self.counters[id(ds)] = k + 1
        return k


def _spec_of(x: Any) -> Spec:
    if isinstance(x, Tensor):
        return Spec(x.dtype, x.shape)
    if getattr(x, "dtype", None) is string:
        return Spec(string, x.shape)
    return Spec(to_dtype(x.dtype), x.shape)


def _component(x: Any) -> Any:
    """A source component: a graph Tensor (evaluated at initialization) or an array."""
    if isinstance(x, (Tensor, StringTensor)):
        return x
    if hasattr(x, "_as_graph_element"):
        return x._as_graph_element()
    return array_of(x)


class Dataset:
    """Base of all datasets: ``_structure`` (Specs), ``_children``, ``_iter(env)``."""

    _structure: Any = None
    _children: tuple = ()

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

    def _sources(self) -> list:
        out = [c for c in getattr(self, "_components", ()) if isinstance(c, (Tensor, StringTensor))]
        for ch in self._children:
            out.extend(ch._sources())
        return out

    def _iter(self, env: _Env) -> Iterator[list]:
        raise NotImplementedError

    # ----------------------------------------------------------------- sources ------------
    @staticmethod
    def from_tensor_slices(tensors: Any) -> "Dataset":
        return _TensorSlices(tensors)

    @staticmethod
    def from_tensors(tensors: Any) -> "Dataset":
        return _Tensors(tensors)

    @staticmethod
    def range(*args: int, output_type: Any = None) -> "Dataset":
        return _Range(*args, output_type=output_type)

    @staticmethod
    def from_generator(generator: Callable, output_types: Any, output_shapes: Any = None,
                       args: Any = None) -> "Dataset":
        return _Generator(generator, output_types, output_shapes, args)

    @staticmethod
    def zip(datasets: Any) -> "Dataset":
        return _Zip(datasets)

    @staticmethod
    def list_files(file_pattern: Any, shuffle: Optional[bool] = None, seed: Optional[int] = None):
        import glob
        pats = [file_pattern] if isinstance(file_pattern, (str, bytes)) else list(file_pattern)
        files = sorted(f for p in pats for f in glob.glob(p.decode() if isinstance(p, bytes) else p))
        if not files:
            raise InvalidArgumentError(f"Expected 'file_pattern' {file_pattern!r} to match at "
                                       "least one file")
        ds = Dataset.from_tensor_slices(np.array([f.encode() for f in files], dtype=object))
        return ds.shuffle(len(files), seed=seed) if shuffle is None or shuffle else ds

    # ----------------------------------------------------------------- transformations ----
    def map(self, map_func: Callable, num_parallel_calls: Any = None) -> "Dataset":
        return _Map(self, map_func, "map")

    def filter(self, predicate: Callable) -> "Dataset":
        return _Filter(self, predicate)

    def flat_map(self, map_func: Callable) -> "Dataset":
        from .nested import FlatMap
        return FlatMap(self, map_func)

    def interleave(self, map_func: Callable, cycle_length: Optional[int] = None,
                   block_length: int = 1, num_parallel_calls: Any = None) -> "Dataset":
        from .nested import Interleave
        return Interleave(self, map_func, cycle_length, block_length)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        return _Batch(self, batch_size, drop_remainder)

    def padded_batch(self, batch_size: int, padded_shapes: Any = None, padding_values: Any = None,
                     drop_remainder: bool = False) -> "Dataset":
        return _PaddedBatch(self, batch_size, padded_shapes, padding_values, drop_remainder)

    def unbatch(self) -> "Dataset":
        return _Unbatch(self)

    def shuffle(self, buffer_size: int, seed: Optional[int] = None,
                reshuffle_each_iteration: bool = True) -> "Dataset":
        return _Shuffle(self, buffer_size, seed, reshuffle_each_iteration)

    def repeat(self, count: Optional[int] = None) -> "Dataset":
        return _Repeat(self, count)

    def take(self, count: int) -> "Dataset":
        return _Take(self, count)

    def skip(self, count: int) -> "Dataset":
        return _Skip(self, count)

    def prefetch(self, buffer_size: int) -> "Dataset":
        return _Prefetch(self, buffer_size)

    def cache(self, filename: str = "") -> "Dataset":
        return _Cache(self)

    def concatenate(self, dataset: "Dataset") -> "Dataset":
        return _Concatenate(self, dataset)

    def enumerate(self, start: int = 0) -> "Dataset":
        return Dataset.zip((Dataset.range(start, np.iinfo(np.int64).max), self))

    def apply(self, transformation_func: Callable) -> "Dataset":
        return transformation_func(self)

    # ----------------------------------------------------------------- iterators ----------
    def make_one_shot_iterator(self):
        from .iterator import Iterator
        return Iterator._one_shot(self)

    def make_initializable_iterator(self, shared_name: Optional[str] = None):
        from .iterator import Iterator
        return Iterator._initializable(self)

    def __iter__(self):
        raise RuntimeError("jitflow runs tf.data in TF1 graph mode: iterate a dataset with "
                           "make_one_shot_iterator()/make_initializable_iterator() and "
                           "Session.run(iterator.get_next())")

    def __repr__(self) -> str:
        return f"<{type(self).__name__.lstrip('_')}Dataset element_spec={self._structure}>"


DatasetV1 = Dataset


# ====================================================================== sources ================

class _TensorSlices(Dataset):
    def __init__(self, tensors: Any) -> None:
        if isinstance(tensors, Dataset):
            raise TypeError("from_tensor_slices takes tensors or arrays, not a Dataset")
        self._tree = tensors
        self._components = [_component(x) for x in flatten(tensors)]
        if not self._components:
            raise ValueError("from_tensor_slices needs at least one component")
        specs, lead = [], []
        for c in self._components:
            s = _spec_of(c)
            if s.shape.dims is not None and len(s.shape.dims) == 0:
                raise ValueError(f"from_tensor_slices: a component of shape () has no dimension "
                                 f"to slice (component {len(specs)})")
            lead.append(None if s.shape.dims is None else s.shape.dims[0])
            specs.append(Spec(s.dtype, s.shape[1:] if s.shape.dims is not None else None))
        known = {d for d in lead if d is not None}
        if len(known) > 1:
            raise ValueError(f"from_tensor_slices: all components must have the same size in "
                             f"dimension 0, got sizes {lead}")
        self._structure = pack_as(tensors, specs)

    def _iter(self, env: _Env) -> Iterator[list]:
        arrays = [env.value(c) for c in self._components]
        n = {len(a) for a in arrays}
        if len(n) != 1:
            raise InvalidArgumentError(f"from_tensor_slices: all components must have the same "
                                       f"size in dimension 0, got {[len(a) for a in arrays]}")
        if len(arrays) == 1:
            a = arrays[0]
            for i in range(len(a)):
                yield [a[i]]
            return
        for i in range(n.pop()):
            yield [a[i] for a in arrays]


class _Tensors(Dataset):
    def __init__(self, tensors: Any) -> None:
        self._components = [_component(x) for x in flatten(tensors)]
        self._structure = pack_as(tensors, [_spec_of(c) for c in self._components])

    def _iter(self, env: _Env) -> Iterator[list]:
        yield [env.value(c) for c in self._components]


class _Range(Dataset):
    def __init__(self, *args: int, output_type: Any = None) -> None:
        if not 1 <= len(args) <= 3:
            raise TypeError(f"Dataset.range takes 1 to 3 arguments (start, stop, step), got {len(args)}")
        self._args = slice(*args) if len(args) > 1 else slice(0, args[0])
        self._step = args[2] if len(args) == 3 else 1
        if self._step == 0:
            raise InvalidArgumentError("Dataset.range: step must be a non-zero integer")
        self._dtype = to_dtype(output_type or np.int64)
        self._structure = Spec(self._dtype, ())

    def _iter(self, env: _Env) -> Iterator[list]:
        npt = self._dtype.np.type
        for v in range(self._args.start, self._args.stop, self._step):
            yield [npt(v)]


class _Generator(Dataset):
    def __init__(self, generator: Callable, output_types: Any, output_shapes: Any,
                 args: Any) -> None:
        if not callable(generator):
            raise TypeError("from_generator: `generator` must be callable")
        types = flatten(output_types)
        shapes = ([None] * len(types) if output_shapes is None else
                  [TensorShape(s) for s in _flatten_shapes(output_shapes, output_types)])
        self._gen, self._args = generator, args
        self._types_tree = output_types
        self._structure = pack_as(output_types, [Spec(to_dtype(t), s) for t, s in zip(types, shapes)])

    def _iter(self, env: _Env) -> Iterator[list]:
        specs = flatten(self._structure)
        args = () if self._args is None else tuple(self._args)
        try:
            it = iter(self._gen(*args))
        except Exception as e:
            raise InvalidArgumentError(f"from_generator: calling the generator raised "
                                       f"{type(e).__name__}: {e}") from e
        for i in itertools.count():
            try:
                value = next(it)
            except StopIteration:
                return
            except Exception as e:
                raise InvalidArgumentError(f"from_generator: the generator raised "
                                           f"{type(e).__name__}: {e} while producing element {i}"
                                           ) from e
            yield _check_generated(value, self._types_tree, specs, i)


def _flatten_shapes(shapes: Any, types: Any) -> list:
    if isinstance(types, dict):
        return [s for k in sorted(types) for s in _flatten_shapes(shapes[k], types[k])]
    if isinstance(types, tuple):
        return [s for t, sh in zip(types, shapes) for s in _flatten_shapes(sh, t)]
    return [shapes]


def _check_generated(value: Any, types_tree: Any, specs: list, i: int) -> list:
    if isinstance(value, list) and isinstance(types_tree, tuple):
        value = tuple(value)
    if not same_structure(value, types_tree):
        raise InvalidArgumentError(f"from_generator: element {i} has structure {value!r}, which "
                                   f"does not match output_types {types_tree!r}")
    out = []
    for k, (v, s) in enumerate(zip(flatten(value), specs)):
        try:
            a = array_of(v, s.dtype)
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(f"from_generator: element {i} component {k} ({v!r}) "
                                       f"cannot be converted to {s.dtype!r}: {e}") from None
        if not s.shape.is_compatible_with(a.shape):
            raise InvalidArgumentError(f"from_generator: element {i} component {k} has shape "
                                       f"{list(a.shape)}, expected {s.shape}")
        out.append(a)
    return out


class _Zip(Dataset):
    def __init__(self, datasets: Any) -> None:
        self._tree = datasets
        self._children = tuple(flatten(datasets))
        for d in self._children:
            if not isinstance(d, Dataset):
                raise TypeError(f"Dataset.zip takes a (nested) tuple of Datasets, got {d!r}")
        self._structure = pack_as(datasets, [d._structure for d in self._children])

    def _iter(self, env: _Env) -> Iterator[list]:
        for parts in zip(*[d._iter(env) for d in self._children]):
            yield [x for p in parts for x in p]


class _Concatenate(Dataset):
    def __init__(self, a: Dataset, b: Dataset) -> None:
        sa, sb = flatten(a._structure), flatten(b._structure)
        if not same_structure(a._structure, b._structure) or \
                any(x.dtype is not y.dtype for x, y in zip(sa, sb)):
            raise TypeError(f"concatenate: datasets have different types: {a._structure} vs "
                            f"{b._structure}")
        self._children = (a, b)
        self._structure = pack_as(a._structure, [Spec(x.dtype, _most_specific(x.shape, y.shape))
                                                 for x, y in zip(sa, sb)])

    def _iter(self, env: _Env) -> Iterator[list]:
        yield from self._children[0]._iter(env)
        yield from self._children[1]._iter(env)


def _most_specific(a: TensorShape, b: TensorShape) -> TensorShape:
    if a.dims is None or b.dims is None or len(a.dims) != len(b.dims):
        return TensorShape(None)
    return TensorShape([x if x == y else None for x, y in zip(a.dims, b.dims)])


# ====================================================================== transformations ========

def _graph_seed() -> Any:
    return get_default_graph().seed


class _Map(Dataset):
    def __init__(self, ds: Dataset, fn: Callable, what: str) -> None:
        from .mapfn import TracedFn
        self._children = (ds,)
        self._fn = TracedFn(fn, ds._structure, _graph_seed(), what)
        self._structure = self._fn.out_structure

    def _iter(self, env: _Env) -> Iterator[list]:
        fn = self._fn
        for i, elem in enumerate(self._children[0]._iter(env)):
            yield fn(elem)


class _Filter(Dataset):
    def __init__(self, ds: Dataset, predicate: Callable) -> None:
        from .mapfn import TracedFn
        self._children = (ds,)
        self._fn = TracedFn(predicate, ds._structure, _graph_seed(), "filter")
        out = flatten(self._fn.out_structure)
        if len(out) != 1 or out[0].dtype.name != "bool" or out[0].shape.dims not in (None, ()):
            raise ValueError(f"Dataset.filter: the predicate must return a scalar tf.bool "
                             f"tensor, got {self._fn.out_structure}")
        self._structure = ds._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        for elem in self._children[0]._iter(env):
            if bool(self._fn(elem)[0]):
                yield elem


def _stack(elems: list, k: int, first_index: int) -> np.ndarray:
    parts = [e[k] for e in elems]
    shape0 = np.shape(parts[0])
    for j, p in enumerate(parts):
        if np.shape(p) != shape0:
            raise InvalidArgumentError(
                f"Cannot batch tensors with different shapes in component {k}. First element "
                f"had shape {list(shape0)} and element {first_index + j} had shape "
                f"{list(np.shape(p))}.")
    return np.stack(parts)


class _RowIndices(Dataset):
    """Stands for a from_tensor_slices source in a batch's index chain: yields row numbers."""

    def __init__(self, src: "_TensorSlices") -> None:
        self._src, self._structure = src, src._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        n = len(env.value(self._src._components[0]))
        for i in range(n):
            yield [i]


_ROW_ORDER_ONLY = ()     # filled below: transformations that only select/reorder elements


def _index_chain(ds: Dataset) -> Optional[tuple]:
    """For ``slices -> (shuffle|repeat|take|skip)* -> batch``: (source, a copy of the chain
    that yields row numbers), so batch gathers rows with one fancy index per component
    instead of stacking elements. Same elements, same order (the copies keep the seeds)."""
    import copy
    chain = []
    while isinstance(ds, _ROW_ORDER_ONLY):
        chain.append(ds)
        ds = ds._children[0]
    if not isinstance(ds, _TensorSlices) or any(
            s.dtype is string for s in flatten(ds._structure)):
        return None
    node: Dataset = _RowIndices(ds)
    for t in reversed(chain):
        c = copy.copy(t)
        c._children = (node,)
        node = c
    return ds, node


class _Batch(Dataset):
    def __init__(self, ds: Dataset, batch_size: int, drop_remainder: bool) -> None:
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise InvalidArgumentError(f"Batch size must be greater than zero, got {batch_size}")
        self._children = (ds,)
        self._n, self._drop = batch_size, bool(drop_remainder)
        lead = batch_size if drop_remainder else None
        self._structure = pack_as(ds._structure, [
            Spec(s.dtype, TensorShape(None) if s.shape.dims is None else [lead, *s.shape.dims])
            for s in flatten(ds._structure)])
        self._rows = _index_chain(ds)

    def _iter(self, env: _Env) -> Iterator[list]:
        if self._rows is not None:
            yield from self._gather(env)
            return
        it = self._children[0]._iter(env)
        n, seen = self._n, 0
        while True:
            elems = list(itertools.islice(it, n))
            if not elems or (self._drop and len(elems) < n):
                return
            ncomp = len(elems[0])
            yield [_stack(elems, k, seen) for k in range(ncomp)]
            seen += len(elems)


    def _gather(self, env: _Env) -> Iterator[list]:
        src, chain = self._rows
        arrays = [env.value(c) for c in src._components]
        if len({len(a) for a in arrays}) != 1:
            raise InvalidArgumentError(f"from_tensor_slices: all components must have the same "
                                       f"size in dimension 0, got {[len(a) for a in arrays]}")
        it = chain._iter(env)
        n = self._n
        while True:
            rows = [e[0] for e in itertools.islice(it, n)]
            if not rows or (self._drop and len(rows) < n):
                return
            idx = np.asarray(rows, dtype=np.intp)
            yield [a[idx] for a in arrays]


class _PaddedBatch(Dataset):
    def __init__(self, ds: Dataset, batch_size: int, padded_shapes: Any, padding_values: Any,
                 drop_remainder: bool) -> None:
        self._children = (ds,)
        self._n, self._drop = int(batch_size), bool(drop_remainder)
        specs = flatten(ds._structure)
        if padded_shapes is None:
            shapes = [s.shape for s in specs]
        else:
            shapes = [TensorShape(p) for p in _flatten_shapes(padded_shapes, ds._structure)]
        for s, p in zip(specs, shapes):
            if p.dims is None or s.shape.dims is not None and len(p.dims) != len(s.shape.dims):
                raise ValueError(f"padded_batch: padded shape {p} does not match the "
                                 f"component shape {s.shape}")
        self._shapes = [[None if d in (None, -1) else d for d in p.dims] for p in shapes]
        if padding_values is None:
            self._pads = [b"" if s.dtype is string else 0 for s in specs]
        else:
            self._pads = flatten(padding_values)
        lead = self._n if drop_remainder else None
        self._structure = pack_as(ds._structure, [Spec(s.dtype, [lead, *p])
                                                  for s, p in zip(specs, self._shapes)])

    def _iter(self, env: _Env) -> Iterator[list]:
        it = self._children[0]._iter(env)
        seen = 0
        while True:
            elems = list(itertools.islice(it, self._n))
            if not elems or (self._drop and len(elems) < self._n):
                return
            out = []
            for k, (want, pad) in enumerate(zip(self._shapes, self._pads)):
                parts = [np.asarray(e[k]) for e in elems]
                full = [max(p.shape[d] for p in parts) if w is None else w
                        for d, w in enumerate(want)]
                arr = np.full([len(parts), *full], pad, dtype=parts[0].dtype)
                for j, p in enumerate(parts):
                    if any(a > b for a, b in zip(p.shape, full)):
                        raise InvalidArgumentError(
                            f"padded_batch: element {seen + j} component {k} has shape "
                            f"{list(p.shape)}, larger than the padded shape {want}")
                    arr[(j,) + tuple(slice(0, d) for d in p.shape)] = p
                out.append(arr)
            yield out
            seen += len(elems)


class _Unbatch(Dataset):
    def __init__(self, ds: Dataset) -> None:
        self._children = (ds,)
        self._structure = pack_as(ds._structure, [Spec(s.dtype, s.shape[1:] if s.shape.dims
                                                       else None) for s in flatten(ds._structure)])

    def _iter(self, env: _Env) -> Iterator[list]:
        for elem in self._children[0]._iter(env):
            for i in range(len(elem[0])):
                yield [c[i] for c in elem]


class _Shuffle(Dataset):
    """TF's buffer shuffle: fill ``buffer_size`` elements, then repeatedly emit a uniformly
    chosen buffer element and put the next input in its place."""

    def __init__(self, ds: Dataset, buffer_size: int, seed: Optional[int],
                 reshuffle: bool) -> None:
        buffer_size = int(buffer_size)
        if buffer_size <= 0:
            raise InvalidArgumentError(f"shuffle: buffer_size must be greater than zero, got "
                                       f"{buffer_size}")
        self._children = (ds,)
        self._size, self._reshuffle = buffer_size, bool(reshuffle)
        g = get_default_graph()
        if seed is None and g.seed is None:
            self._seeds = None
        else:
            from ..random_ops import get_seed
            self._seeds = get_seed(seed)
        self._structure = ds._structure

    def _rng(self, env: _Env) -> np.random.Generator:
        k = env.count(self)
        if self._seeds is None:
            return np.random.default_rng()
        return np.random.default_rng([*self._seeds, k if self._reshuffle else 0])

    def _iter(self, env: _Env) -> Iterator[list]:
        rng = self._rng(env)
        it = self._children[0]._iter(env)
        buf = list(itertools.islice(it, self._size))
        draws = rng.random(1024)
        d = 0
        for elem in it:
            if d == len(draws):
                draws, d = rng.random(1024), 0
            j = int(draws[d] * len(buf))
            d += 1
            yield buf[j]
            buf[j] = elem
        order = rng.permutation(len(buf))
        for j in order:
            yield buf[j]


class _Repeat(Dataset):
    def __init__(self, ds: Dataset, count: Optional[int]) -> None:
        self._children = (ds,)
        self._count = -1 if count is None else int(count)
        self._structure = ds._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        k = 0
        while self._count < 0 or k < self._count:
            produced = False
            for elem in self._children[0]._iter(env):
                produced = True
                yield elem
            k += 1
            if not produced:
                return          # an empty dataset repeated forever is empty


class _Take(Dataset):
    def __init__(self, ds: Dataset, count: int) -> None:
        self._children, self._count, self._structure = (ds,), int(count), ds._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        it = self._children[0]._iter(env)
        if self._count < 0:
            yield from it
        else:
            yield from itertools.islice(it, self._count)


class _Skip(Dataset):
    def __init__(self, ds: Dataset, count: int) -> None:
        self._children, self._count, self._structure = (ds,), int(count), ds._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        it = self._children[0]._iter(env)
        if self._count < 0:
            for _ in it:
                pass
            return
        yield from itertools.islice(it, self._count, None)


class _Cache(Dataset):
    """In memory: the first complete pass is recorded, later passes replay it (a file name is
    accepted and the cache still lives in memory)."""

    def __init__(self, ds: Dataset) -> None:
        self._children, self._structure = (ds,), ds._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        key = ("cache", id(self))
        done = env.values.get(key)
        if done is not None:
            yield from done
            return
        rec = []
        for elem in self._children[0]._iter(env):
            rec.append(elem)
            yield elem
        env.values[key] = rec


_ROW_ORDER_ONLY = (_Shuffle, _Repeat, _Take, _Skip)


def shuffle_and_repeat(buffer_size: int, count: Optional[int] = None,
                       seed: Optional[int] = None) -> Callable:
    """``tf.data.experimental.shuffle_and_repeat``: for ``dataset.apply``."""
    return lambda ds: ds.shuffle(buffer_size, seed=seed).repeat(count)


def map_and_batch(map_func: Callable, batch_size: int, num_parallel_batches: Any = None,
                  drop_remainder: bool = False, num_parallel_calls: Any = None) -> Callable:
    """``tf.data.experimental.map_and_batch``: for ``dataset.apply``."""
    return lambda ds: ds.map(map_func).batch(batch_size, drop_remainder)
_END = object()


class _Prefetch(Dataset):
    """Runs the upstream pipeline in a background thread, ``buffer_size`` elements ahead."""

    def __init__(self, ds: Dataset, buffer_size: int) -> None:
        self._children, self._structure = (ds,), ds._structure
        n = int(buffer_size)
        self._n = 2 if n == AUTOTUNE or n <= 0 else n

    def _iter(self, env: _Env) -> Iterator[list]:
        q: queue.Queue = queue.Queue(self._n)
        stop = threading.Event()
        upstream = self._children[0]._iter(env)

        def produce() -> None:
            try:
                for elem in upstream:
                    while not stop.is_set():
                        try:
                            q.put(elem, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                item: Any = _END
            except BaseException as e:      # forwarded to the consumer, raised there
                item = e
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        t = threading.Thread(target=produce, name="jitflow-prefetch", daemon=True)
        t.start()
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

