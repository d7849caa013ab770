"""Datasets of datasets: ``flat_map`` and ``interleave``. Their function runs in Python on
each input element's values and returns a Dataset (e.g. ``tf.data.TFRecordDataset`` of a file
name); its structure is found by calling it once on a placeholder value (zeros / b"")."""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

import numpy as np

from ...errors import InvalidArgumentError
from .dataset import AUTOTUNE, Dataset, _Env
from .structure import Spec, flatten, pack_as, string


class FlatMap(Dataset):
    """``flat_map(fn)``: ``fn`` runs in Python on each element's values (packed as the
    structure) and returns a Dataset, whose elements are produced in turn."""

    def __init__(self, ds: Dataset, fn: Callable) -> None:
        self._children = (ds,)
        self._func = fn
        probe = fn(*_probe_args(ds._structure)) if isinstance(ds._structure, tuple) else \
            fn(_probe_args(ds._structure))
        if not isinstance(probe, Dataset):
            raise TypeError(f"flat_map: the function must return a Dataset, got {probe!r}")
        self._structure = probe._structure

    def _iter(self, env: _Env) -> Iterator[list]:
        for elem in self._children[0]._iter(env):
            args = pack_as(self._children[0]._structure, elem)
            inner = self._func(*args) if isinstance(args, tuple) else self._func(args)
            yield from inner._iter(_Env(env.session, {}))


class Interleave(FlatMap):
    """``interleave(fn, cycle_length, block_length)``: ``fn`` (Python, returning a Dataset)
    makes the inner datasets. TF's cycle: visit slots 0..cycle_length-1 in turn, taking
    ``block_length`` elements from each; an empty slot is filled with the next input's dataset
    when visited; an inner dataset that ends frees its slot and the cycle moves on."""

    def __init__(self, ds: Dataset, fn: Callable, cycle_length: Optional[int],
                 block_length: int) -> None:
        super().__init__(ds, fn)
        self._cycle = int(cycle_length) if cycle_length not in (None, AUTOTUNE) else 2
        self._block = int(block_length)
        if self._cycle <= 0 or self._block <= 0:
            raise InvalidArgumentError(f"interleave: cycle_length ({cycle_length}) and "
                                       f"block_length ({block_length}) must be positive")

    def _iter(self, env: _Env) -> Iterator[list]:
        outer = self._children[0]._iter(env)
        st = self._children[0]._structure
        slots: list = [None] * self._cycle
        ci = bi = n_open = 0
        end_of_input = False
        while not end_of_input or n_open > 0:
            cur = slots[ci]
            if cur is not None:
                elem = next(cur, None)
                if elem is not None:
                    bi += 1
                    if bi == self._block:
                        bi, ci = 0, (ci + 1) % self._cycle
                    yield elem
                    continue
                slots[ci] = None
                n_open -= 1
                bi, ci = 0, (ci + 1) % self._cycle
            elif not end_of_input:
                got = next(outer, None)
                if got is None:
                    end_of_input = True
                    continue
                args = pack_as(st, got)
                inner = self._func(*args) if isinstance(args, tuple) else self._func(args)
                slots[ci] = inner._iter(_Env(env.session, {}))
                n_open += 1
            else:
                bi, ci = 0, (ci + 1) % self._cycle


def _probe_args(structure: Any) -> Any:
    def probe(s: Spec) -> np.ndarray:
        shape = [d or 1 for d in (s.shape.dims or ())]
        if s.dtype is string:
            return np.full(shape, b"", dtype=object)
        return np.zeros(shape, dtype=s.dtype.np)
    return pack_as(structure, [probe(s) for s in flatten(structure)])
