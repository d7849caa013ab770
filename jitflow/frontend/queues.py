"""TF1's queue-based input pipelines, on the host: ``FIFOQueue``/``RandomShuffleQueue``,
``QueueRunner`` + ``start_queue_runners``, ``string_input_producer``/``slice_input_producer``,
``TextLineReader``/``TFRecordReader``/``WholeFileReader``, ``tf.train.batch``/``shuffle_batch``.

A queue's contents live per Session in a Python queue; ``enqueue``/``close`` are host actions
and ``dequeue*`` outputs host-fed placeholders (frontend/data/hostfeed.py), so the compiled
step only ever sees finished batches. A QueueRunner's threads call ``sess.run(enqueue_op)``; a
``tf.errors.OutOfRangeError`` there (an input producer past ``num_epochs``, a reader out of
files) closes the queue, so the consumer gets OutOfRangeError once the queue is drained. Any
other error (a bad CSV line, a corrupt record) is passed to the Coordinator (``coord.join``
re-raises it) and cancels the queue. ``num_epochs`` needs no local-variable initializer here
(TF1 needs ``tf.local_variables_initializer()``; running it is harmless).
"""
from __future__ import annotations

import threading
import weakref
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import CancelledError, OutOfRangeError
from .data.hostfeed import HostNode, StringTensor, registry_for
from .data.structure import array_of, flatten, pack_as, string, to_dtype
from .data.tfrecord import _record, read_lines, read_records
from .graph import Tensor, TensorShape, get_default_graph
from .training.coordinator import Coordinator  # noqa: F401  (tf.train.Coordinator)

QUEUE_RUNNERS = "queue_runners"      # tf.GraphKeys.QUEUE_RUNNERS


class _HostQueue:
    """The per-Session contents of a queue: a bounded buffer of flat elements."""

    def __init__(self, name: str, capacity: int, min_after_dequeue: int = 0,
                 seed: Any = None, shuffle: bool = False) -> None:
        self.name, self.capacity = name, max(int(capacity), 1)
        self.min_after = int(min_after_dequeue)
        self.items: list = []
        self.closed = False
        self.cond = threading.Condition()
        self.rng = np.random.default_rng(seed) if shuffle else None

    def put(self, elems: list) -> None:
        with self.cond:
            for e in elems:
                while len(self.items) >= self.capacity and not self.closed:
                    self.cond.wait(0.1)
                if self.closed:
                    raise CancelledError(f"Queue '{self.name}' is closed.")
                self.items.append(e)
                self.cond.notify_all()

    def get(self, n: int, allow_smaller: bool) -> list:
        with self.cond:
            while not self.closed and len(self.items) < n + (self.min_after if self.rng is not None else 0):
                self.cond.wait(0.1)
            if len(self.items) < n and self.closed:
                if not (allow_smaller and self.items):
                    raise OutOfRangeError(f"{type(self).__name__.strip('_')} '{self.name}' is "
                                          f"closed and has insufficient elements (requested "
                                          f"{n}, current size {len(self.items)})")
                n = len(self.items)
            if self.rng is None:
                out, self.items = self.items[:n], self.items[n:]
            else:
                out = []
                for _ in range(n):
                    j = int(self.rng.integers(len(self.items)))
                    self.items[j], self.items[-1] = self.items[-1], self.items[j]
                    out.append(self.items.pop())
            self.cond.notify_all()
            return out

    def close(self, cancel: bool = False) -> None:
        """No more enqueues (pending ones fail); what is queued can still be dequeued."""
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def _seed(seed: Optional[int]) -> Any:
    g = get_default_graph()
    if seed is None and g.seed is None:
        return None
    from .random_ops import get_seed
    return list(get_seed(seed))


class QueueBase:
    """A TF1 queue of elements with component ``dtypes`` and ``shapes``."""

    def __init__(self, capacity: int, dtypes: Any, shapes: Any = None, names: Any = None,
                 name: str = "fifo_queue", min_after_dequeue: int = 0, seed: Any = None,
                 shuffle: bool = False) -> None:
        self._graph = get_default_graph()
        self._registry = registry_for(self._graph)
        dts = dtypes if isinstance(dtypes, (list, tuple)) else [dtypes]
        self._dtypes = [to_dtype(d) for d in dts]
        if shapes is None:
            self._shapes = [TensorShape(None)] * len(self._dtypes)
        else:
            self._shapes = [TensorShape(s) for s in shapes]
        self._names = list(names) if names else None
        self.name = self._graph.unique_name(name)
        self._capacity, self._min_after = capacity, min_after_dequeue
        self._seed, self._shuffle = _seed(seed), shuffle
        self._states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def dtypes(self) -> list:
        return list(self._dtypes)

    @property
    def shapes(self) -> list:
        return list(self._shapes)

    @property
    def names(self) -> Optional[list]:
        return self._names

    def _q(self, session: Any) -> _HostQueue:
        with self._lock:
            q = self._states.get(session)
            if q is None:
                q = self._states[session] = _HostQueue(self.name, self._capacity,
                                                       self._min_after, self._seed, self._shuffle)
            return q

    def _flat(self, vals: Any) -> list:
        if isinstance(vals, dict):
            if self._names is None:
                raise ValueError(f"Queue {self.name} has no names: enqueue a list, not a dict")
            return [vals[n] for n in self._names]
        flat = list(vals) if isinstance(vals, (list, tuple)) else [vals]
        if len(flat) != len(self._dtypes):
            raise ValueError(f"Queue {self.name} has {len(self._dtypes)} components, "
                             f"enqueue got {len(flat)}")
        return flat

    def _to_elements(self, values: list, many: bool) -> list:
        arrays = [array_of(v, dt) for v, dt in zip(values, self._dtypes)]
        for k, (a, s) in enumerate(zip(arrays, self._shapes)):
            shape = a.shape[1:] if many else a.shape
            if not s.is_compatible_with(shape):
                raise ValueError(f"Queue {self.name}: component {k} has shape {list(shape)}, "
                                 f"the queue holds {s}")
        if not many:
            return [arrays]
        return [[a[i] for a in arrays] for i in range(len(arrays[0]))]

    def _enqueue_op(self, vals: Any, many: bool, name: str) -> Any:
        flat = self._flat(vals)

        def run(sess: Any, feed_dict: Optional[dict]) -> None:
            got = self._registry.evaluate(sess, flat, feed_dict)
            self._q(sess).put(self._to_elements(got, many))
        return self._registry.action(run, name)

    def enqueue(self, vals: Any, name: Optional[str] = None) -> Any:
        return self._enqueue_op(vals, False, name or f"{self.name}_enqueue")

    def enqueue_many(self, vals: Any, name: Optional[str] = None) -> Any:
        return self._enqueue_op(vals, True, name or f"{self.name}_EnqueueMany")

    def _dequeue(self, n: Optional[int], allow_smaller: bool, name: str) -> Any:
        def fn(sess: Any) -> tuple:
            elems = self._q(sess).get(1 if n is None else n, allow_smaller)
            if n is None:
                return tuple(np.asarray(c) for c in elems[0])
            return tuple(np.stack([e[k] for e in elems]) for k in range(len(self._dtypes)))
        node = HostNode(fn, name=name)
        lead = [] if n is None else [None if allow_smaller else n]
        outs = [self._registry.output(node, i, dt, TensorShape(None) if s.dims is None else
                                      [*lead, *s.dims], f"{name}_{i}" if i else name)
                for i, (dt, s) in enumerate(zip(self._dtypes, self._shapes))]
        if self._names is not None:
            return dict(zip(self._names, outs))
        return outs[0] if len(outs) == 1 else outs

    def dequeue(self, name: Optional[str] = None) -> Any:
        return self._dequeue(None, False, name or f"{self.name}_Dequeue")

    def dequeue_many(self, n: int, name: Optional[str] = None) -> Any:
        return self._dequeue(int(n), False, name or f"{self.name}_DequeueMany")

    def dequeue_up_to(self, n: int, name: Optional[str] = None) -> Any:
        return self._dequeue(int(n), True, name or f"{self.name}_DequeueUpTo")

    def close(self, cancel_pending_enqueues: bool = False, name: Optional[str] = None) -> Any:
        return self._registry.action(
            lambda sess, fd: self._q(sess).close(cancel_pending_enqueues),
            name or f"{self.name}_Close")

    def size(self, name: Optional[str] = None) -> Tensor:
        node = HostNode(lambda sess: (np.int32(len(self._q(sess).items)),), name=name or "Size")
        return self._registry.output(node, 0, to_dtype(np.int32), (), name or f"{self.name}_Size")


class FIFOQueue(QueueBase):
    def __init__(self, capacity: int, dtypes: Any, shapes: Any = None, names: Any = None,
                 shared_name: Any = None, name: str = "fifo_queue") -> None:
        super().__init__(capacity, dtypes, shapes, names, name)


class PaddingFIFOQueue(FIFOQueue):
    pass


class RandomShuffleQueue(QueueBase):
    def __init__(self, capacity: int, min_after_dequeue: int, dtypes: Any, shapes: Any = None,
                 names: Any = None, seed: Optional[int] = None, shared_name: Any = None,
                 name: str = "random_shuffle_queue") -> None:
        super().__init__(capacity, dtypes, shapes, names, name, min_after_dequeue, seed, True)


# ====================================================================== runners ==============

class QueueRunner:
    """Threads that run ``enqueue_ops`` until the input ends (see the module docstring)."""

    def __init__(self, queue: Any = None, enqueue_ops: Any = None, close_op: Any = None,
                 cancel_op: Any = None, queue_closed_exception_types: Any = None) -> None:
        self.queue = queue
        self.enqueue_ops = list(enqueue_ops or [])
        self.close_op = close_op if close_op is not None else queue.close()
        self.cancel_op = cancel_op if cancel_op is not None else queue.close(True)
        self._closed_types = tuple(queue_closed_exception_types or (OutOfRangeError,))
        self.exceptions_raised: list = []

    @property
    def name(self) -> str:
        return self.queue.name

    def _run(self, sess: Any, op: Any, coord: Optional[Coordinator], counter: list,
             lock: threading.Lock) -> None:
        try:
            while not (coord is not None and coord.should_stop()):
                try:
                    sess.run(op)
                except self._closed_types:
                    break
                except CancelledError:
                    break
        except Exception as e:
            self.exceptions_raised.append(e)
            if coord is not None:
                coord.request_stop(e)
            try:
                sess.run(self.cancel_op)
            except Exception:
                pass
            if coord is None:
                raise
        finally:
            with lock:
                counter[0] -= 1
                last = counter[0] == 0
            if last:
                try:
                    sess.run(self.close_op)
                except Exception:
                    pass

    def _close_on_stop(self, sess: Any, coord: Coordinator) -> None:
        coord.wait_for_stop()
        try:
            sess.run(self.cancel_op)
        except Exception:
            pass

    def create_threads(self, sess: Any, coord: Optional[Coordinator] = None,
                       daemon: bool = False, start: bool = False) -> list:
        counter, lock = [len(self.enqueue_ops)], threading.Lock()
        threads = [threading.Thread(target=self._run, args=(sess, op, coord, counter, lock),
                                    name=f"QueueRunner-{self.name}", daemon=daemon)
                   for op in self.enqueue_ops]
        if coord is not None:
            threads.append(threading.Thread(target=self._close_on_stop, args=(sess, coord),
                                            name=f"QueueRunnerCloser-{self.name}", daemon=True))
        for t in threads:
            if coord is not None:
                coord.register_thread(t)
            if start:
                t.start()
        return threads


def add_queue_runner(qr: QueueRunner, collection: str = QUEUE_RUNNERS) -> None:
    get_default_graph().add_to_collection(collection, qr)


def start_queue_runners(sess: Any = None, coord: Optional[Coordinator] = None,
                        daemon: bool = True, start: bool = True,
                        collection: str = QUEUE_RUNNERS) -> list:
    """Start the threads of every QueueRunner in ``collection`` of the session's graph."""
    if sess is None:
        from .default_session import get_default_session
        sess = get_default_session()
        if sess is None:
            raise ValueError("Cannot start queue runners: No default session is registered. "
                             "Use `with sess.as_default()` or pass an explicit session to "
                             "tf.start_queue_runners(sess=sess)")
    raw = getattr(sess, "_sess", sess)      # a MonitoredSession: its raw Session
    threads = []
    for qr in raw.graph.get_collection(collection):
        threads.extend(qr.create_threads(raw, coord, daemon, start))
    return threads


# ====================================================================== producers ============

class _ListProducer(QueueBase):
    """The queue of an input producer: each epoch enqueues the (shuffled) list."""

    def __init__(self, values: list, dtypes: list, shapes: list, num_epochs: Optional[int],
                 shuffle: bool, seed: Any, capacity: int, name: str) -> None:
        super().__init__(capacity, dtypes, shapes, name=name)
        self._values = values
        self._epochs = num_epochs
        self._prod_seed = _seed(seed)
        self._prod_shuffle = shuffle
        self._counts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        op = self._registry.action(self._enqueue_epoch, f"{self.name}/enqueue_epoch")
        add_queue_runner(QueueRunner(self, [op]))

    def _enqueue_epoch(self, sess: Any, feed_dict: Optional[dict]) -> None:
        k = self._counts.get(sess, 0)
        if self._epochs is not None and k >= self._epochs:
            raise OutOfRangeError(f"{self.name}: reached num_epochs={self._epochs}")
        self._counts[sess] = k + 1
        n = len(self._values[0])
        order = np.arange(n)
        if self._prod_shuffle:
            rng = np.random.default_rng(None if self._prod_seed is None else [*self._prod_seed, k])
            order = rng.permutation(n)
        self._q(sess).put([[v[i] for v in self._values] for i in order])


def string_input_producer(string_tensor: Any, num_epochs: Optional[int] = None,
                          shuffle: bool = True, seed: Optional[int] = None, capacity: int = 32,
                          shared_name: Any = None, name: Optional[str] = None,
                          cancel_op: Any = None) -> QueueBase:
    """A queue of file names, refilled each epoch (shuffled unless ``shuffle=False``)."""
    names = array_of(list(string_tensor) if not isinstance(string_tensor, np.ndarray)
                     else string_tensor, string).reshape(-1)
    if names.size == 0:
        raise ValueError("string_input_producer requires a non-null input tensor")
    return _ListProducer([names], [string], [TensorShape(())], num_epochs, shuffle, seed,
                         capacity, name or "input_producer")


def slice_input_producer(tensor_list: Sequence[Any], num_epochs: Optional[int] = None,
                         shuffle: bool = True, seed: Optional[int] = None, capacity: int = 32,
                         shared_name: Any = None, name: Optional[str] = None) -> list:
    """One row of each array per dequeue (the arrays must be values, not graph tensors)."""
    arrays = [array_of(t) for t in tensor_list]
    if len({len(a) for a in arrays}) != 1:
        raise ValueError(f"slice_input_producer: arrays differ in length "
                         f"{[len(a) for a in arrays]}")
    dts = [to_dtype(a.dtype) for a in arrays]
    q = _ListProducer(arrays, dts, [TensorShape(a.shape[1:]) for a in arrays], num_epochs,
                      shuffle, seed, capacity, name or "input_producer")
    out = q.dequeue()
    return list(out) if isinstance(out, list) else [out]


def range_input_producer(limit: int, num_epochs: Optional[int] = None, shuffle: bool = True,
                         seed: Optional[int] = None, capacity: int = 32,
                         shared_name: Any = None, name: Optional[str] = None) -> QueueBase:
    return _ListProducer([np.arange(int(limit), dtype=np.int32)], [to_dtype(np.int32)],
                         [TensorShape(())], num_epochs, shuffle, seed, capacity,
                         name or "input_producer")


def match_filenames_once(pattern: Any, name: Optional[str] = None) -> list:
    """The files matching ``pattern`` (a glob or a list of them), as a sorted list, matched
    now (TF1 matches once when its local variable is initialized: the same for a program that
    does not create the files in between)."""
    import glob
    pats = [pattern] if isinstance(pattern, (str, bytes)) else list(pattern)
    return sorted({f for p in pats for f in glob.glob(p.decode() if isinstance(p, bytes) else p)})


# ====================================================================== readers ==============

class ReaderBase:
    """Reads records from the files named in a queue; ``read(queue)`` -> (key, value)."""

    def __init__(self, skip_header_lines: Optional[int] = None, name: Optional[str] = None) -> None:
        self._skip = int(skip_header_lines or 0)
        self._states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._reads = 0

    def _records(self, path: str) -> Any:
        raise NotImplementedError

    def _next(self, sess: Any, queue: QueueBase) -> tuple:
        with self._lock:
            it = self._states.get(sess)
            while True:
                if it is not None:
                    got = next(it, None)
                    if got is not None:
                        self._reads += 1
                        key, value = got
                        return (np.asarray(key.encode(), dtype=object),
                                np.asarray(value, dtype=object))
                name = queue._q(sess).get(1, False)[0][0]      # OutOfRange when exhausted
                name = name.decode() if isinstance(name, bytes) else str(name)
                it = self._states[sess] = iter(self._records(name))

    def read(self, queue: QueueBase, name: Optional[str] = None) -> tuple:
        g = get_default_graph()
        node = HostNode(lambda sess: self._next(sess, queue), name=name or "ReaderRead")
        key = StringTensor(node, 0, (), g, g.unique_name(name or "ReaderRead") + ":0")
        value = StringTensor(node, 1, (), g, key.name[:-2] + ":1")
        return key, value

    def num_records_produced(self) -> int:
        return self._reads


class TextLineReader(ReaderBase):
    """Lines of text files (line endings removed); key = "file:line N"."""

    def _records(self, path: str) -> Any:
        for where, line in read_lines(path, None, self._skip):
            yield where, _record(line, where)


class TFRecordReader(ReaderBase):
    def __init__(self, name: Optional[str] = None, options: Any = None) -> None:
        super().__init__(None, name)
        self._options = options

    def _records(self, path: str) -> Any:
        for r in read_records(path, self._options):
            yield r.where, r


class WholeFileReader(ReaderBase):
    def _records(self, path: str) -> Any:
        with open(path, "rb") as f:
            yield path, _record(f.read(), path)


# ====================================================================== batching =============

def _batch_queue(tensors: Any, batch_size: int, capacity: int, enqueue_many: bool,
                 shapes: Any, allow_smaller: bool, num_threads: int, shuffle: bool,
                 min_after: int, seed: Any, name: str) -> Any:
    single = not isinstance(tensors, (list, tuple, dict))
    flat = [tensors] if single else flatten(tensors) if isinstance(tensors, dict) else list(tensors)
    dts, shp = [], []
    for i, t in enumerate(flat):
        s = t.shape if isinstance(t, (Tensor, StringTensor)) else TensorShape(np.shape(t))
        dts.append(t.dtype if isinstance(t, (Tensor, StringTensor)) else to_dtype(np.asarray(t).dtype))
        s = TensorShape(shapes[i]) if shapes is not None else (s[1:] if enqueue_many and s.dims
                                                               else s)
        if s.dims is None or any(d is None for d in s.dims):
            raise ValueError(f"{name}: all shapes must be fully defined: component {i} has "
                             f"shape {s} (pass shapes= or set_shape)")
        shp.append(s)
    if shuffle and capacity < min_after + batch_size:
        raise ValueError(f"{name}: capacity {capacity} must be at least min_after_dequeue + "
                         f"batch_size = {min_after + batch_size}, or dequeues wait forever")
    q = (RandomShuffleQueue(capacity, min_after, dts, shp, seed=seed, name=name) if shuffle
         else FIFOQueue(capacity, dts, shp, name=name))
    op = q.enqueue_many(flat) if enqueue_many else q.enqueue(flat)
    add_queue_runner(QueueRunner(q, [op] * max(int(num_threads), 1)))
    out = q.dequeue_up_to(batch_size) if allow_smaller else q.dequeue_many(batch_size)
    if not isinstance(out, list):      # one component: a single tensor, as TF1 returns it
        return pack_as(tensors, [out]) if isinstance(tensors, dict) else out
    if isinstance(tensors, dict):
        return pack_as(tensors, out)
    return type(tensors)(out) if isinstance(tensors, tuple) else out


def batch(tensors: Any, batch_size: int, num_threads: int = 1, capacity: int = 32,
          enqueue_many: bool = False, shapes: Any = None, dynamic_pad: bool = False,
          allow_smaller_final_batch: bool = False, shared_name: Any = None,
          name: Optional[str] = None) -> Any:
    """``tf.train.batch``: batches of ``batch_size`` elements, in order."""
    if dynamic_pad:
        raise NotImplementedError("tf.train.batch(dynamic_pad=True) is not supported; use "
                                  "tf.data's padded_batch")
    return _batch_queue(tensors, batch_size, capacity, enqueue_many, shapes,
                        allow_smaller_final_batch, num_threads, False, 0, None, name or "batch")


def shuffle_batch(tensors: Any, batch_size: int, capacity: int, min_after_dequeue: int,
                  num_threads: int = 1, seed: Optional[int] = None, enqueue_many: bool = False,
                  shapes: Any = None, allow_smaller_final_batch: bool = False,
                  shared_name: Any = None, name: Optional[str] = None) -> Any:
    """``tf.train.shuffle_batch``: random batches from a buffer of at least
    ``min_after_dequeue`` elements (fewer once the input has ended)."""
    return _batch_queue(tensors, batch_size, capacity, enqueue_many, shapes,
                        allow_smaller_final_batch, num_threads, True, min_after_dequeue, seed,
                        name or "shuffle_batch")
