"""Wires the RNN API into the TF1 namespaces: ``tf.nn.rnn_cell``, ``tf.nn.dynamic_rnn`` & co.,
``tf.contrib.rnn`` (also importable: ``from jitflow.compat.v1.contrib import rnn``),
``tf.contrib.seq2seq`` (sequence_loss, helpers, BasicDecoder, dynamic_decode,
BeamSearchDecoder, gather_tree, attention) and ``tf.contrib.crf`` (the linear-chain CRF,
frontend/contrib/crf.py)."""
from __future__ import annotations

import sys
import types

from ...frontend import nn as _nn
from ...frontend import nn_more as _nn_more
from ...frontend import raw_rnn as _raw_rnn
from ...frontend import rnn as _rnn
from ...frontend import rnn_cell as _cell
from ...frontend import rnn_cell_wrappers as _wrap
from ...frontend import seq2seq_attention as _attn
from ...frontend import seq2seq_beam as _beam
from ...frontend import seq2seq_decoder as _dec
from ...frontend import seq2seq_helpers as _helpers
from ...frontend.contrib import crf as _crf
from ...frontend.seq2seq import sequence_loss

_CELLS = {
    "RNNCell": _cell.RNNCell, "BasicRNNCell": _cell.BasicRNNCell,
    "BasicLSTMCell": _cell.BasicLSTMCell, "LSTMCell": _cell.LSTMCell, "GRUCell": _cell.GRUCell,
    "MultiRNNCell": _cell.MultiRNNCell, "LSTMStateTuple": _cell.LSTMStateTuple,
    "DropoutWrapper": _wrap.DropoutWrapper, "ResidualWrapper": _wrap.ResidualWrapper,
    "DeviceWrapper": _wrap.DeviceWrapper,
}
_FUNCS = {
    "dynamic_rnn": _rnn.dynamic_rnn, "static_rnn": _rnn.static_rnn,
    "bidirectional_dynamic_rnn": _rnn.bidirectional_dynamic_rnn,
    "static_bidirectional_rnn": _rnn.static_bidirectional_rnn,
}


def _module(name: str, attrs: dict, doc: str) -> types.ModuleType:
    mod = types.ModuleType(name, doc)
    for k, v in attrs.items():
        setattr(mod, k, v)
    sys.modules[name] = mod
    return mod


def install(package: types.ModuleType) -> None:
    """Sets the RNN names on ``package`` (jitflow.compat.v1) and its ``nn``/``contrib``."""
    rnn_cell = _module(f"{package.__name__}.nn.rnn_cell", _CELLS, "tf.nn.rnn_cell")
    _nn.rnn_cell = rnn_cell
    for k, v in _FUNCS.items():
        setattr(_nn, k, v)
    _nn.raw_rnn = _raw_rnn.raw_rnn       # tf.nn only (not tf.contrib.rnn), as in TF 1.15
    contrib = package.contrib
    prefix = f"{package.__name__}.contrib"
    contrib.rnn = _module(f"{prefix}.rnn", dict(
        _CELLS, **_FUNCS, OutputProjectionWrapper=_wrap.OutputProjectionWrapper,
        LSTMBlockCell=_nn_more.LSTMBlockCell,
        stack_bidirectional_dynamic_rnn=_nn_more.stack_bidirectional_dynamic_rnn),
                          "tf.contrib.rnn")
    seq2seq = {"sequence_loss": sequence_loss}
    seq2seq.update({n: getattr(_dec, n) for n in _dec.__all__})
    seq2seq.update({n: getattr(_helpers, n) for n in _helpers.__all__})
    seq2seq.update({n: getattr(_attn, n) for n in _attn.__all__})
    seq2seq.update({n: getattr(_beam, n) for n in _beam.__all__})
    contrib.seq2seq = _module(f"{prefix}.seq2seq", seq2seq, "tf.contrib.seq2seq")
    contrib.crf = _module(f"{prefix}.crf", {n: getattr(_crf, n) for n in _crf.__all__},
                          "tf.contrib.crf")
    # ``from <package>.contrib import rnn``: the import system finds the namespace here
    sys.modules.setdefault(prefix, contrib)


install(sys.modules[__name__.rsplit(".", 1)[0]])
