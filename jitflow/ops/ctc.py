"""Connectionist temporal classification: ``ctc_loss`` (TF1's CTCLoss) and
``ctc_greedy_decode`` (CTCGreedyDecoder).

``ctc_loss(logits [T, B, C], labels_indices int64 [N, 2], labels_values int32 [N],
seq_len int32 [B]) -> (loss [B], grad [T, B, C])``: the negative log-likelihood of each
example's label sequence under the softmax of its logits (blank = the last class C - 1), by
the forward-backward recursion in log space, and its gradient w.r.t. the logits, as TF's
CTCLossCalculator (``preprocess_collapse_repeated`` merges repeated labels first;
``ctc_merge_repeated=False`` makes every emitted frame a separate label; an example whose
labels need more frames than its ``seq_len`` is an InvalidArgumentError, or loss 0 and grad 0
with ``ignore_longer_outputs_than_inputs``; frames past ``seq_len`` get grad 0). The gradient
rule scales ``grad`` by the loss's incoming gradient, as TF's _CTCLossGrad.

No native backend has kernels for them (a data-dependent dynamic program per example): a
Session places them on the host device (runtime/placement.py), where the reference
interpreter runs them between the backend's native segments."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import int64
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_dtype

_NO_KERNEL = ("a CTC forward-backward kernel is not written yet: a Session runs the op on the "
              "host (reference interpreter) between native segments")
_UNLOWERED = {"llvm": _NO_KERNEL, "cuda": _NO_KERNEL}


def _rank(t: TensorType, r: int, what: str) -> None:
    if t.shape is not None and t.rank != r:
        raise ShapeMismatch(f"{what} must have rank {r}, got shape {list(t.shape)}")


def _ctc_infer(types, attrs) -> list:
    logits, idx, vals, seq = types
    require_dtype(logits, "f", "ctc_loss inputs")
    require_dtype(idx, "i", "ctc_loss labels indices")
    require_dtype(vals, "i", "ctc_loss labels values")
    require_dtype(seq, "i", "ctc_loss sequence_length")
    _rank(logits, 3, "ctc_loss inputs ([max_time, batch, num_classes])")
    _rank(idx, 2, "ctc_loss labels indices")
    _rank(vals, 1, "ctc_loss labels values")
    _rank(seq, 1, "ctc_loss sequence_length")
    batch = None if logits.shape is None else logits.shape[1]
    if seq.shape is not None and isinstance(seq.shape[0], int):
        if isinstance(batch, int) and batch != seq.shape[0]:
            raise ShapeMismatch(f"ctc_loss: len(sequence_length) != batch_size: "
                                f"{seq.shape[0]} vs. {batch} (inputs shape "
                                f"{list(logits.shape)})")
        batch = seq.shape[0]
    return [TensorType(logits.dtype, (batch,)), logits]


def _logsumexp(*xs: np.ndarray) -> np.ndarray:
    a = np.stack(xs)
    m = np.max(a, axis=0)
    safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return safe + np.log(np.sum(np.exp(a - safe), axis=0))


def _labels_per_example(idx: np.ndarray, vals: np.ndarray, batch: int) -> list:
    if idx.shape[0] != vals.shape[0]:
        raise InvalidArgumentError(f"ctc_loss: labels indices ({idx.shape[0]} rows) and values "
                                   f"({vals.shape[0]}) must have the same length")
    order = np.lexsort((idx[:, 1], idx[:, 0])) if len(idx) else np.zeros(0, np.intp)
    out: list = [[] for _ in range(batch)]
    for r in order:
        b = int(idx[r, 0])
        if not 0 <= b < batch:
            raise InvalidArgumentError(f"ctc_loss: labels batch index {b} is outside "
                                       f"[0, {batch})")
        out[b].append(int(vals[r]))
    return out


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    """``a`` moved k places right (left for k < 0), filled with log 0."""
    out = np.full_like(a, -np.inf)
    if k > 0:
        out[k:] = a[:-k]
    else:
        out[:k] = a[-k:]
    return out


def ctc_example(logp: np.ndarray, label: list, merge: bool) -> tuple:
    """(-log p(label | x), d(-log p)/d logits) for one example: logp [T, C] log-softmax."""
    T, C = logp.shape
    blank = C - 1
    lp = [blank]
    for c in label:
        lp += [c, blank]
    U = len(lp)
    lp = np.asarray(lp)
    y = logp[:, lp]                                  # [T, U]
    skip = np.zeros(U, bool)                         # u - 2 -> u allowed
    for u in range(2, U):
        skip[u] = lp[u] != blank and not (merge and lp[u] == lp[u - 2])
    stay = np.ones(U, bool) if merge else (lp == blank)
    neg = -np.inf
    alpha = np.full((T, U), neg)
    alpha[0, 0] = y[0, 0]
    if U > 1:
        alpha[0, 1] = y[0, 1]
    for t in range(1, T):
        a = alpha[t - 1]
        s = np.where(stay, a, neg)
        s1 = _shift(a, 1)
        s2 = np.where(skip, _shift(a, 2), neg)
        alpha[t] = _logsumexp(s, s1, s2) + y[t]
    beta = np.full((T, U), neg)                      # beta excludes frame t's emission
    beta[T - 1, U - 1] = 0.0
    if U > 1:
        beta[T - 1, U - 2] = 0.0
    skip_next = np.r_[skip[2:], np.zeros(min(U, 2), bool)]     # u -> u + 2 allowed
    for t in range(T - 2, -1, -1):
        nb = beta[t + 1] + y[t + 1]
        s = np.where(stay, nb, neg)
        s1 = _shift(nb, -1)
        s2 = np.where(skip_next, _shift(nb, -2), neg)
        beta[t] = _logsumexp(s, s1, s2)
    ab = alpha + beta
    log_p = _logsumexp(*[ab[T - 1, u] for u in range(U)])
    if not np.isfinite(log_p):
        return np.inf, np.zeros_like(logp)
    occ = np.zeros((T, C))
    post = np.exp(ab - log_p)                        # [T, U]
    for u in range(U):
        occ[:, lp[u]] += post[:, u]
    return -log_p, np.exp(logp) - occ


def _ctc_ref(logits, idx, vals, seq, preprocess_collapse_repeated, ctc_merge_repeated,
             ignore_longer_outputs_than_inputs):
    T, B, C = logits.shape
    if seq.shape != (B,):
        raise InvalidArgumentError(f"ctc_loss: len(sequence_length) != batch_size: "
                                   f"{seq.shape} vs. {B}")
    labels = _labels_per_example(np.asarray(idx), np.asarray(vals), B)
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    logp = x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
    loss = np.zeros(B)
    grad = np.zeros((T, B, C))
    for b in range(B):
        n = int(seq[b])
        if not 0 <= n <= T:
            raise InvalidArgumentError(f"ctc_loss: sequence_length({b}) = {n} must be in "
                                       f"[0, max_time = {T}]")
        lab = labels[b]
        for c in lab:
            if not 0 <= c < C - 1:
                raise InvalidArgumentError(f"ctc_loss: label value {c} of example {b} is "
                                           f"outside [0, num_classes - 1 = {C - 1}) (the last "
                                           f"class is the blank)")
        if preprocess_collapse_repeated:
            lab = [c for i, c in enumerate(lab) if i == 0 or c != lab[i - 1]]
        need = len(lab) + (sum(lab[i] == lab[i - 1] for i in range(1, len(lab)))
                           if ctc_merge_repeated else 0)
        if need > n:
            if ignore_longer_outputs_than_inputs:
                continue
            raise InvalidArgumentError(
                f"Not enough time for target transition sequence (required: {need}, available:"
                f" {n}){b}You can turn this error into a warning by using the flag "
                f"ignore_longer_outputs_than_inputs")
        if n == 0:
            continue
        loss[b], grad[:n, b] = ctc_example(logp[:n, b], lab, ctc_merge_repeated)
    return loss.astype(logits.dtype), grad.astype(logits.dtype)


def _ctc_grad(b, op, g):
    """TF's _CTCLossGrad: ``grad * g_loss[None, :, None]``; no gradient through ``grad``."""
    g_loss = g[0]
    if g_loss is None:
        return [b.zeros_like(op.operands[0]), None, None, None]
    scale = b.expand_dims(b.expand_dims(g_loss, axis=0), axis=-1)
    return [b.mul(op.results[1], scale), None, None, None]


defop("ctc_loss", kind="library", cost="expensive", num_inputs=4,
      attrs={"preprocess_collapse_repeated": Attr("bool", False),
             "ctc_merge_repeated": Attr("bool", True),
             "ignore_longer_outputs_than_inputs": Attr("bool", False)},
      infer=_ctc_infer, reference=_ctc_ref, grad=_ctc_grad, unlowered_on=_UNLOWERED,
      doc="tf.nn.ctc_loss: operands (logits [T, B, C], labels indices [N, 2], labels values "
          "[N], seq_len [B]); results (loss [B], grad [T, B, C] w.r.t. the logits); blank = "
          "C - 1")


def _greedy_infer(types, attrs) -> list:
    logits, seq = types
    require_dtype(logits, "f", "ctc_greedy_decoder inputs")
    require_dtype(seq, "i", "ctc_greedy_decoder sequence_length")
    _rank(logits, 3, "ctc_greedy_decoder inputs ([max_time, batch, num_classes])")
    batch = None if logits.shape is None else logits.shape[1]
    return [TensorType(int64, (None, 2)), TensorType(int64, (None,)), TensorType(int64, (2,)),
            TensorType(logits.dtype, (batch, 1))]


def _greedy_ref(logits, seq, merge_repeated):
    T, B, C = logits.shape
    blank = C - 1
    idx, vals, score = [], [], np.zeros((B, 1))
    longest = 0
    for b in range(B):
        n = int(seq[b])
        if not 0 <= n <= T:
            raise InvalidArgumentError(f"ctc_greedy_decoder: sequence_length({b}) = {n} must "
                                       f"be in [0, max_time = {T}]")
        best = np.argmax(logits[:n, b], axis=-1)
        score[b, 0] = -np.sum(np.max(logits[:n, b], axis=-1))
        out, prev = [], -1
        for k in best:
            if k != blank and not (merge_repeated and k == prev):
                out.append(int(k))
            prev = k
        idx += [(b, i) for i in range(len(out))]
        vals += out
        longest = max(longest, len(out))
    return (np.asarray(idx, np.int64).reshape(-1, 2), np.asarray(vals, np.int64),
            np.asarray([B, longest], np.int64), score.astype(logits.dtype))


defop("ctc_greedy_decode", kind="library", cost="expensive", num_inputs=2,
      attrs={"merge_repeated": Attr("bool", True)}, infer=_greedy_infer, reference=_greedy_ref,
      differentiable=False, unlowered_on=_UNLOWERED,
      doc="tf.nn.ctc_greedy_decoder: best class per frame, repeats merged (merge_repeated), "
          "blanks (C - 1) removed; results (indices [N, 2], values [N], dense_shape [2], "
          "neg_sum_logits [B, 1])")
