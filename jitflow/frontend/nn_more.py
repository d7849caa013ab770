"""TF1 names built from existing ops: ``tf.nn.fused_batch_norm``,
``tf.contrib.rnn.stack_bidirectional_dynamic_rnn`` and ``tf.contrib.rnn.LSTMBlockCell``."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from .graph import name_scope
from .op_builder import convert_to_tensor
from .rnn_cell import LSTMCell


def fused_batch_norm(x: Any, scale: Any, offset: Any = None, mean: Any = None,
                     variance: Any = None, epsilon: float = 0.001, data_format: str = "NHWC",
                     is_training: bool = True, name: Optional[str] = None,
                     exponential_avg_factor: float = 1.0) -> tuple:
    """``(y, batch_mean, batch_variance)`` of a 4-D input, as TF's FusedBatchNorm: training
    normalizes by the batch's moments (``mean``/``variance`` are ignored) and returns its
    variance with Bessel's correction (n / (n - 1): what the layers feed their moving
    variance); inference uses ``mean`` and ``variance`` and returns them. float16 inputs are
    normalized in float32, as TF's kernel does."""
    from . import math_ops as M
    from .array_ops import reshape, shape, zeros_like
    from .math_ops import cast, rsqrt
    from .nn import moments
    if data_format not in ("NHWC", "NCHW"):
        raise ValueError(f"fused_batch_norm: data_format must be 'NHWC' or 'NCHW', got "
                         f"{data_format!r}")
    if exponential_avg_factor != 1.0:
        raise NotImplementedError("fused_batch_norm(exponential_avg_factor != 1) is not "
                                  "implemented in jitflow yet")
    with name_scope(name, "FusedBatchNorm"):
        x = convert_to_tensor(x, name="x")
        if x.shape.ndims not in (None, 4):
            raise ValueError(f"fused_batch_norm: x must be 4-D, got shape {x.shape}")
        axes = [0, 1, 2] if data_format == "NHWC" else [0, 2, 3]
        bshape = [1, 1, 1, -1] if data_format == "NHWC" else [1, -1, 1, 1]
        scale = convert_to_tensor(scale, name="scale")
        offset = zeros_like(scale) if offset is None else convert_to_tensor(offset, name="offset")
        xc = cast(x, "float32") if x.dtype.name in ("float16", "bfloat16") else x
        if is_training:
            m, v = moments(xc, axes)
            dims = x.shape.dims
            if dims is not None and all(dims[a] is not None for a in axes):
                n = dims[axes[0]] * dims[axes[1]] * dims[axes[2]]
                batch_var = M.multiply(v, n / (n - 1) if n > 1 else 1.0)
            else:
                sh = shape(xc)
                count = cast(sh[axes[0]] * sh[axes[1]] * sh[axes[2]], xc.dtype)
                batch_var = M.multiply(v, M.divide(count, M.maximum(count - 1, 1)))
        else:
            if mean is None or variance is None:
                raise ValueError("fused_batch_norm: inference (is_training=False) needs mean "
                                 "and variance")
            m = convert_to_tensor(mean, name="mean")
            v = batch_var = convert_to_tensor(variance, name="variance")
        inv = M.multiply(rsqrt(M.add(v, epsilon)), scale)
        y = M.add(M.multiply(M.subtract(xc, reshape(m, bshape)), reshape(inv, bshape)),
                  reshape(offset, bshape))
        return (cast(y, x.dtype) if xc is not x else y), m, batch_var


class LSTMBlockCell(LSTMCell):
    """``tf.contrib.rnn.LSTMBlockCell``: the LSTM of TF's fused LSTMBlock kernel, the same
    equations and weights (``lstm_cell/kernel`` [input + units, 4 * units] in gate order
    i, j, f, o; ``lstm_cell/bias``; peepholes ``w_i_diag``/``w_f_diag``/``w_o_diag``) as
    LSTMCell without projection, so its checkpoints read into either."""

    def __init__(self, num_units: int, forget_bias: float = 1.0, cell_clip: Any = None,
                 use_peephole: bool = False, dtype: Any = None, reuse: Any = None,
                 name: str = "lstm_cell") -> None:
        clip = None if cell_clip is None or cell_clip < 0 else cell_clip  # TF: -1 = no clip
        super().__init__(num_units, use_peepholes=use_peephole, cell_clip=clip,
                         forget_bias=forget_bias, reuse=reuse, name=name, dtype=dtype)


def stack_bidirectional_dynamic_rnn(cells_fw: Sequence, cells_bw: Sequence, inputs: Any,
                                    initial_states_fw: Optional[Sequence] = None,
                                    initial_states_bw: Optional[Sequence] = None,
                                    dtype: Any = None, sequence_length: Any = None,
                                    parallel_iterations: Any = None, time_major: bool = False,
                                    scope: Any = None, swap_memory: bool = False) -> tuple:
    """``(outputs, output_states_fw, output_states_bw)``: layer i is a
    bidirectional_dynamic_rnn (scope ``stack_bidirectional_rnn/cell_<i>``) over the previous
    layer's forward and backward outputs concatenated, as TF's contrib function."""
    from .extra_ops import concat
    from .rnn import bidirectional_dynamic_rnn
    from .variables import variable_scope
    if not cells_fw or not cells_bw:
        raise ValueError("stack_bidirectional_dynamic_rnn needs at least one cell each way")
    if len(cells_fw) != len(cells_bw):
        raise ValueError(f"Forward and Backward cells must have the same depth, got "
                         f"{len(cells_fw)} and {len(cells_bw)}")
    for what, st in (("initial_states_fw", initial_states_fw),
                     ("initial_states_bw", initial_states_bw)):
        if st is not None and len(st) != len(cells_fw):
            raise ValueError(f"{what} should be a list of the same length as cells_fw")
    states_fw, states_bw = [], []
    prev = inputs
    with variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (fw, bw) in enumerate(zip(cells_fw, cells_bw)):
            s_fw = initial_states_fw[i] if initial_states_fw else None
            s_bw = initial_states_bw[i] if initial_states_bw else None
            with variable_scope(f"cell_{i}"):
                (o_fw, o_bw), (st_fw, st_bw) = bidirectional_dynamic_rnn(
                    fw, bw, prev, sequence_length=sequence_length, initial_state_fw=s_fw,
                    initial_state_bw=s_bw, dtype=dtype, time_major=time_major)
                prev = concat([o_fw, o_bw], 2)
            states_fw.append(st_fw)
            states_bw.append(st_bw)
    return prev, tuple(states_fw), tuple(states_bw)


__all__ = ["LSTMBlockCell", "fused_batch_norm", "stack_bidirectional_dynamic_rnn"]
