"""``gather_tree``: TF's GatherTree (``tf.contrib.seq2seq.gather_tree``), the backtracking
that turns a beam search's per-step ids and parent beams into whole beams.

``(step_ids [T, B, K], parent_ids [T, B, K], max_sequence_lengths [B], end_token []) ->
beams [T, B, K]`` (int32). For batch b and beam k, with ``L = min(T, max_sequence_lengths[b])``:
``beams[L-1, b, k] = step_ids[L-1, b, k]``, then level by level down to 0 the parent of the
level above is followed (``beams[t, b, k] = step_ids[t, b, p]``, ``p = parent_ids[t, b, p]``);
positions from L on are ``end_token``, and so is every position after the first
``end_token`` of a beam. A parent id outside ``[0, K]`` is TF's InvalidArgumentError (its CPU
kernel's check, which lets ``K`` itself through; here ``K`` is refused too, since it would
read past the beam).

Why an op on the host and not a composite: the backtracking is a chase of pointers down the
time axis, run once after the decoding loop, O(T * B * K) scalar steps on a few kilobytes of
ids. A composite would be a second (reverse) loop whose trips each do a few tiny gathers and
could not raise TF's error for a broken trajectory; the NumPy kernel does the whole thing in
one vectorized pass per level with TF's checks, and a Session runs it on the host device
between the native segments (host and CPU share memory: no copies)."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import defop
from ..ir.types import ShapeMismatch, TensorType

_NO_KERNEL = ("gather_tree is a host op by design (a pointer chase run once after the decode "
              "loop): a Session runs it on the host (reference interpreter) between native "
              "segments")


def _static(d) -> bool:
    return isinstance(d, int)


def _infer(types, attrs) -> list:
    step, parent, lens, end = types
    for t, what in ((step, "step_ids"), (parent, "parent_ids"),
                    (lens, "max_sequence_lengths"), (end, "end_token")):
        if t.dtype.name != "int32":
            raise TypeError(f"gather_tree: {what} must be int32, got {t.dtype.name}")
    for t, r, what in ((step, 3, "step_ids"), (parent, 3, "parent_ids"),
                       (lens, 1, "max_sequence_lengths"), (end, 0, "end_token")):
        if t.shape is not None and t.rank != r:
            raise ShapeMismatch(f"gather_tree: {what} must have rank {r}, got shape "
                                f"{list(t.shape)}")
    shape = step.shape
    if shape is not None and parent.shape is not None:
        for i, (a, b) in enumerate(zip(shape, parent.shape)):
            if _static(a) and _static(b) and a != b:
                raise ShapeMismatch(f"gather_tree: step_ids.shape must match parent_ids.shape:"
                                    f" {list(shape)} vs. {list(parent.shape)}")
        shape = tuple(a if _static(a) or not _static(b) else b
                      for a, b in zip(shape, parent.shape))
    elif shape is None:
        shape = parent.shape
    if shape is not None and lens.shape is not None:
        a, b = shape[1], lens.shape[0]
        if _static(a) and _static(b) and a != b:
            raise ShapeMismatch(f"gather_tree: step_ids.shape[1] (batch) must match "
                                f"max_sequence_lengths.shape[0]: {list(shape)} vs. "
                                f"{list(lens.shape)}")
    return [TensorType(step.dtype, shape)]


def _ref(step, parent, lens, end):
    step, parent, lens = np.asarray(step), np.asarray(parent), np.asarray(lens)
    if step.ndim != 3:
        raise InvalidArgumentError(f"step_ids must be a 3-tensor, saw shape: {list(step.shape)}")
    if lens.ndim != 1:
        raise InvalidArgumentError(f"max_sequence_lengths must be a vector, saw shape: "
                                   f"{list(lens.shape)}")
    if np.ndim(end) != 0:
        raise InvalidArgumentError(f"end_token must be a scalar, saw shape: "
                                   f"{list(np.shape(end))}")
    if parent.shape != step.shape:
        raise InvalidArgumentError(f"step_ids.shape must match parent_ids.shape.  but shapes "
                                   f"are: {list(step.shape)} and {list(parent.shape)}")
    T, B, K = step.shape
    if lens.shape[0] != B:
        raise InvalidArgumentError(f"batch size dimensions step_ids.shape[1] and "
                                   f"max_sequence_lengths.shape[0] must match.  but shapes "
                                   f"are: {list(step.shape)} and {list(lens.shape)}")
    end = int(end)
    out = np.full(step.shape, end, np.int32)
    cols = np.arange(K)
    for b in range(B):
        n = min(T, int(lens[b]))
        if n <= 0:
            continue
        out[n - 1, b] = step[n - 1, b]
        cur = parent[n - 1, b].copy()
        for level in range(n - 2, -1, -1):
            bad = (cur < 0) | (cur >= K)
            if bad.any():
                k = int(cols[bad][0])
                raise InvalidArgumentError(f"Saw invalid parent id {int(cur[k])} at (batch, "
                                           f"time, beam) == ({b}, {level}, {k})")
            out[level, b] = step[level, b, cur]
            cur = parent[level, b, cur]
        # after a beam's first end_token, every later position is end_token
        seen = np.cumsum(out[:n, b] == end, axis=0) - (out[:n, b] == end) > 0
        out[:n, b][seen] = end
    return out


defop("gather_tree", kind="library", cost="expensive", num_inputs=4,
      infer=_infer, reference=_ref, differentiable=False,
      unlowered_on={"llvm": _NO_KERNEL, "cuda": _NO_KERNEL},
      doc="tf.contrib.seq2seq.gather_tree: beams [T, B, K] backtracked from the last step "
          "through parent_ids; end_token from max_sequence_lengths[b] on and after a beam's "
          "first end_token")
