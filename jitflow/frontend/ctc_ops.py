"""``tf.nn.ctc_loss`` (TF1 signature), ``tf.nn.ctc_greedy_decoder`` and
``tf.nn.ctc_beam_search_decoder`` (with TF 1.14's ``_v2``): one IR op each (``ops/ctc.py``,
``ops/ctc_beam.py``); the blank is the last class."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import math_ops as M
from .array_ops import transpose
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op

__all__ = ["ctc_loss", "ctc_greedy_decoder", "ctc_beam_search_decoder",
           "ctc_beam_search_decoder_v2"]


def _sparse_parts(labels: Any) -> tuple:
    if not (hasattr(labels, "indices") and hasattr(labels, "values")):
        raise TypeError(f"ctc_loss: expected labels to be a SparseTensor (indices [N, 2], "
                        f"values int32 [N]), got {type(labels).__name__}")
    idx = M.cast(convert_to_tensor(labels.indices), "int64")
    vals = convert_to_tensor(labels.values)
    if not vals.dtype.is_integer:
        raise TypeError(f"ctc_loss: labels values must be int32, got {vals.dtype.name}")
    return idx, M.cast(vals, "int32")


def ctc_loss(labels: Any, inputs: Any = None, sequence_length: Any = None,
             preprocess_collapse_repeated: bool = False, ctc_merge_repeated: bool = True,
             ignore_longer_outputs_than_inputs: bool = False, time_major: bool = True,
             logits: Any = None) -> Tensor:
    """The CTC loss [batch] of ``labels`` (a SparseTensor of int32 class ids; blank =
    num_classes - 1) given the unnormalized ``inputs`` [max_time, batch, num_classes]
    ([batch, max_time, num_classes] with ``time_major=False``); ``logits`` is TF 1.15's alias
    of ``inputs``."""
    if (inputs is None) == (logits is None):
        raise ValueError("ctc_loss: give exactly one of inputs and logits")
    x = convert_to_tensor(inputs if inputs is not None else logits)
    if sequence_length is None:
        raise ValueError("ctc_loss: sequence_length is required (int32 [batch])")
    with name_scope("CTCLoss"):
        if not time_major:
            x = transpose(x, [1, 0, 2])
        idx, vals = _sparse_parts(labels)
        seq = M.cast(convert_to_tensor(sequence_length), "int32")
        attrs = {"preprocess_collapse_repeated": bool(preprocess_collapse_repeated),
                 "ctc_merge_repeated": bool(ctc_merge_repeated),
                 "ignore_longer_outputs_than_inputs": bool(ignore_longer_outputs_than_inputs)}
        return make_op("CTCLoss", "ctc_loss", [x, idx, vals, seq], attrs).outputs[0]


def ctc_greedy_decoder(inputs: Any, sequence_length: Any, merge_repeated: bool = True,
                       name: Optional[str] = None) -> tuple:
    """``([decoded], neg_sum_logits)``: per frame the best class, repeats merged
    (``merge_repeated``) and blanks removed; ``decoded`` is a SparseTensor (int64 values,
    dense_shape [batch, longest]); ``neg_sum_logits`` [batch, 1] is minus the sum of the
    frames' best logits. ``inputs`` is [max_time, batch, num_classes]."""
    from .data.string_format import SparseTensor
    x = convert_to_tensor(inputs)
    seq = M.cast(convert_to_tensor(sequence_length), "int32")
    op = make_op("CTCGreedyDecoder", "ctc_greedy_decode", [x, seq],
                 {"merge_repeated": bool(merge_repeated)}, name)
    idx, vals, shape, score = op.outputs
    return [SparseTensor(idx, vals, shape)], score


def _positive_int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"ctc_beam_search_decoder: {what} must be an int >= 1, got {v!r}")
    return int(v)


def ctc_beam_search_decoder(inputs: Any, sequence_length: Any, beam_width: int = 100,
                            top_paths: int = 1, merge_repeated: bool = True,
                            name: Optional[str] = None) -> tuple:
    """``(decoded, log_probabilities)``: TF's prefix beam search over the per-frame softmax of
    ``inputs`` [max_time, batch, num_classes] (blank = num_classes - 1). ``decoded`` is a list
    of ``top_paths`` SparseTensors (int64 values, dense_shape [batch, longest]), best first;
    ``log_probabilities`` [batch, top_paths] are the beams' log-probabilities.
    ``merge_repeated`` collapses repeated labels in the returned beams (TF's behaviour: two
    beams may then decode to the same labeling). ``top_paths > beam_width`` is an
    InvalidArgumentError when the op runs, as in TF."""
    from .data.string_format import SparseTensor
    attrs = {"beam_width": _positive_int(beam_width, "beam_width"),
             "top_paths": _positive_int(top_paths, "top_paths"),
             "merge_repeated": bool(merge_repeated)}
    x = convert_to_tensor(inputs)
    seq = M.cast(convert_to_tensor(sequence_length), "int32")
    op = make_op("CTCBeamSearchDecoder", "ctc_beam_search_decode", [x, seq], attrs, name)
    k = attrs["top_paths"]
    out = op.outputs
    decoded = [SparseTensor(out[j], out[k + j], out[2 * k + j]) for j in range(k)]
    return decoded, out[3 * k]


def ctc_beam_search_decoder_v2(inputs: Any, sequence_length: Any, beam_width: int = 100,
                               top_paths: int = 1, name: Optional[str] = None) -> tuple:
    """TF 2's signature (in tf.nn of TF 1.14+): ``ctc_beam_search_decoder`` with
    ``merge_repeated=False``."""
    return ctc_beam_search_decoder(inputs, sequence_length, beam_width, top_paths,
                                   merge_repeated=False, name=name)
