"""``ctc_beam_search_decode``: TF's CTCBeamSearchDecoder (``tf.nn.ctc_beam_search_decoder``).

``(inputs [T, B, C], seq_len int32 [B]) -> (indices_0..k-1 int64 [N_j, 2], values_0..k-1
int64 [N_j], dense_shape_0..k-1 int64 [2], log_probability [B, k])`` for ``k = top_paths``:
TF's prefix beam search ("hibernating" beam search, Graves' thesis fig. 7.5) on the
log-softmax of each frame's logits, blank = the last class C - 1.

Each beam entry is a label prefix (a node of a prefix tree) with two log-probabilities over
the frames seen so far: the alignments ending in a blank and those ending in its last label.
A step extends every entry by a blank or its own last label (``stay``), and grows children by
every non-blank label: a child repeating its parent's last label continues only the parent's
blank-ending alignments. At most ``beam_width`` entries survive a step; the bookkeeping
follows TF's: the entries are visited best first, an entry continues its parent's mass only
while the parent is still in the beam, a candidate must beat the beam's current worst entry
(which it then evicts), and an evicted entry that comes back starts afresh. With a beam wide
enough to hold every prefix the search is exact: each returned log-probability is the
labeling's CTC log-likelihood. Ties between equal probabilities go to the earlier entry
(TF's heap may order exact ties differently).

``merge_repeated=True`` (TF1's default) then collapses repeated labels in each returned
prefix: TF's quirk, two different beams ("a" and "a a") may come back as the same labeling,
each with its own probability. An op on the host like ctc_loss (no native kernel)."""
from __future__ import annotations

import heapq
import math

import numpy as np

from ..errors import FailedPreconditionError, InvalidArgumentError
from ..ir.dtypes import int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_dtype

_NO_KERNEL = ("a CTC beam search kernel is not written yet: a Session runs the op on the "
              "host (reference interpreter) between native segments")
_NEG = -math.inf


def _lse(a: float, b: float) -> float:
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


class _Prefix:
    """A prefix-tree node: log P(blank-ending), P(label-ending), P(total) at t-1 and t."""
    __slots__ = ("parent", "label", "children", "ob", "ol", "ot", "nb", "nl", "nt")

    def __init__(self, parent: "_Prefix | None", label: int) -> None:
        self.parent, self.label, self.children = parent, label, {}
        self.ob = self.ol = self.ot = self.nb = self.nl = self.nt = _NEG

    def labels(self, merge_repeated: bool) -> list:
        out, node, prev = [], self, -1
        while node.parent is not None:
            if not (merge_repeated and node.label == prev):
                out.append(node.label)
            prev, node = node.label, node.parent
        return out[::-1]


class _Beam:
    """The surviving entries, a min-heap on the current total (the bottom is evicted)."""

    def __init__(self, width: int, root: _Prefix) -> None:
        self.width, self.count = width, 1
        self.heap = [(root.nt, 0, root)]

    def sorted(self) -> list:
        return [e for _, _, e in sorted(self.heap, key=lambda h: (-h[0], h[1]))]

    def refill(self, entries: list) -> None:
        self.heap = [(e.nt, self.count + i, e) for i, e in enumerate(entries)]
        self.count += len(entries)
        heapq.heapify(self.heap)

    def admits(self, total: float) -> bool:
        return total > _NEG and (len(self.heap) < self.width or total > self.heap[0][0])

    def bottom(self) -> float:
        return self.heap[0][0] if len(self.heap) >= self.width else _NEG

    def push(self, e: _Prefix) -> None:
        if len(self.heap) >= self.width:
            _, _, out = heapq.heappop(self.heap)
            out.nb = out.nl = out.nt = _NEG               # no longer in the search
        heapq.heappush(self.heap, (e.nt, self.count, e))
        self.count += 1


def _step(beam: _Beam, lp: np.ndarray, blank: int) -> None:
    """One frame: ``lp`` [C] is its log-softmax."""
    row = lp.tolist()
    branches = beam.sorted()
    for e in branches:
        e.ob, e.ol, e.ot = e.nb, e.nl, e.nt
    for e in branches:                                    # stay: a blank or the same label
        if e.parent is not None:
            p = e.parent
            if p.nt > _NEG:                               # the parent is still searched
                e.nl = _lse(e.nl, p.ob if e.label == p.label else p.ot)
            e.nl += row[e.label]
        e.nb = e.ot + row[blank]
        e.nt = _lse(e.nb, e.nl)
    beam.refill(branches)
    for e in branches:                                    # grow: one more label
        if not beam.admits(e.ot):
            continue
        tot = lp[:blank] + e.ot
        if 0 <= e.label < blank:
            tot[e.label] = lp[e.label] + e.ob
        for c in np.nonzero(tot > beam.bottom())[0].tolist():
            child = e.children.get(c)
            if child is not None and child.nt > _NEG:     # already in the beam
                continue
            t = float(tot[c])
            if not beam.admits(t):
                continue
            if child is None:
                child = e.children[c] = _Prefix(e, c)
            child.nb, child.nl, child.nt = _NEG, t, t
            beam.push(child)


def beam_search(logp: np.ndarray, beam_width: int, top_paths: int,
                merge_repeated: bool) -> tuple:
    """(top_paths label lists, their log-probabilities) for one example: ``logp`` [T, C]."""
    if top_paths > beam_width:
        raise InvalidArgumentError(f"requested more paths than the beam width. (top_paths = "
                                   f"{top_paths}, beam_width = {beam_width})")
    blank = logp.shape[1] - 1
    root = _Prefix(None, -1)
    root.nb = root.nt = 0.0
    beam = _Beam(beam_width, root)
    for t in range(logp.shape[0]):
        _step(beam, logp[t], blank)
    best = beam.sorted()
    if top_paths > len(best):
        raise InvalidArgumentError(f"Less leaves in the beam search than requested. (top_paths"
                                   f" = {top_paths}, {len(best)} prefixes in the beam after "
                                   f"{logp.shape[0]} frames)")
    best = best[:top_paths]
    return [e.labels(merge_repeated) for e in best], [e.nt for e in best]


def _rank(t: TensorType, r: int, what: str) -> None:
    if t.shape is not None and t.rank != r:
        raise ShapeMismatch(f"{what} must have rank {r}, got shape {list(t.shape)}")


def _infer(types, attrs) -> list:
    x, seq = types
    require_dtype(x, "f", "ctc_beam_search_decoder inputs")
    require_dtype(seq, "i", "ctc_beam_search_decoder sequence_length")
    _rank(x, 3, "ctc_beam_search_decoder inputs ([max_time, batch, num_classes])")
    _rank(seq, 1, "ctc_beam_search_decoder sequence_length ([batch])")
    for a in ("beam_width", "top_paths"):
        if attrs[a] < 1:
            raise ValueError(f"ctc_beam_search_decoder: {a} must be at least 1, got {attrs[a]}")
    batch = None if x.shape is None else x.shape[1]
    if seq.shape is not None and isinstance(seq.shape[0], int):
        if isinstance(batch, int) and batch != seq.shape[0]:
            raise ShapeMismatch(f"ctc_beam_search_decoder: len(sequence_length) != batch_size:"
                                f" {seq.shape[0]} vs. {batch} (inputs shape {list(x.shape)})")
        batch = seq.shape[0]
    k = attrs["top_paths"]
    return ([TensorType(int64, (None, 2))] * k + [TensorType(int64, (None,))] * k
            + [TensorType(int64, (2,))] * k + [TensorType(x.dtype, (batch, k))])


def _validate(x: np.ndarray, seq: np.ndarray) -> None:
    if x.ndim != 3:
        raise InvalidArgumentError(f"ctc_beam_search_decoder: inputs is not a 3-Tensor, got "
                                   f"shape {list(x.shape)}")
    if x.size == 0:
        raise InvalidArgumentError(f"ctc_beam_search_decoder: inputs must not be empty, got "
                                   f"shape {list(x.shape)}")
    if seq.shape != (x.shape[1],):
        raise FailedPreconditionError(f"ctc_beam_search_decoder: len(sequence_length) != "
                                      f"batch_size: sequence_length shape {list(seq.shape)}, "
                                      f"batch_size {x.shape[1]}")
    for b, n in enumerate(seq.tolist()):
        if not 0 <= n <= x.shape[0]:
            raise FailedPreconditionError(f"ctc_beam_search_decoder: sequence_length({b}) = "
                                          f"{n} must be in [0, max_time = {x.shape[0]}]")


def _ref(x, seq, beam_width, top_paths, merge_repeated):
    _validate(x, seq)
    T, B, C = x.shape
    z = x.astype(np.float64)
    m = z.max(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        logp = z - m - np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))
    paths = [[] for _ in range(top_paths)]
    score = np.zeros((B, top_paths))
    for b in range(B):
        labels, logps = beam_search(logp[:int(seq[b]), b], beam_width, top_paths,
                                    merge_repeated)
        for j in range(top_paths):
            paths[j].append(labels[j])
            score[b, j] = logps[j]
    idx, vals, shapes = [], [], []
    for j in range(top_paths):
        idx.append(np.asarray([(b, i) for b, p in enumerate(paths[j]) for i in range(len(p))],
                              np.int64).reshape(-1, 2))
        vals.append(np.asarray([c for p in paths[j] for c in p], np.int64))
        shapes.append(np.asarray([B, max(len(p) for p in paths[j])], np.int64))
    return tuple(idx + vals + shapes + [score.astype(x.dtype)])


defop("ctc_beam_search_decode", kind="library", cost="expensive", num_inputs=2,
      attrs={"beam_width": Attr("int", 100), "top_paths": Attr("int", 1),
             "merge_repeated": Attr("bool", True)},
      infer=_infer, reference=_ref, differentiable=False,
      unlowered_on={"llvm": _NO_KERNEL, "cuda": _NO_KERNEL},
      doc="tf.nn.ctc_beam_search_decoder: TF's prefix beam search on the log-softmax of "
          "(inputs [T, B, C], seq_len [B]), blank = C - 1; results (indices [N_j, 2] x k, "
          "values [N_j] x k, dense_shape [2] x k, log_probability [B, k]), k = top_paths")
