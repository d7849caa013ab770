"""Issue #14's names: ``tf.bincount`` & co, ``tf.RunOptions`` / ``tf.RunMetadata``,
``tf.profiler``, ``tf.nn.fused_batch_norm``, ``tf.contrib.framework``'s global step, and
gradient customization (``tf.custom_gradient``, ``tf.RegisterGradient``); the fake
quantization ops of ``tf.quantization`` (and their TF1 top-level names)."""
from __future__ import annotations

import types
from typing import Callable

from ...frontend import count_ops as _count
from ...frontend import custom_gradient as _cg
from ...frontend import fake_quant_ops as _fq
from ...frontend import run_options as _run
from ...frontend import nn_more as _nn_more
from ...frontend import profiler as _prof
from ...frontend import train as _train


def install(tf: types.ModuleType, ns: Callable, set_names: Callable) -> None:
    """Add the names to ``tf`` (``set_names`` sets only the missing ones)."""
    set_names(tf, bincount=_count.bincount, searchsorted=_count.searchsorted,
              histogram_fixed_width=_count.histogram_fixed_width,
              unravel_index=_count.unravel_index, bitcast=_count.bitcast,
              RunOptions=_run.RunOptions, RunMetadata=_run.RunMetadata,
              custom_gradient=_cg.custom_gradient, RegisterGradient=_cg.RegisterGradient,
              no_gradient=_cg.no_gradient, NoGradient=_cg.no_gradient,
              NotDifferentiable=_cg.no_gradient)
    set_names(ns(tf, "math"), bincount=_count.bincount)
    fake_quant = {n: getattr(_fq, n) for n in _fq.__all__}
    set_names(tf, **fake_quant)                  # TF1's deprecated top-level endpoints
    set_names(ns(tf, "quantization"), **fake_quant)
    set_names(ns(tf, "nn"), fused_batch_norm=_nn_more.fused_batch_norm)
    set_names(ns(tf, "profiler"), **{n: getattr(_prof, n) for n in _prof.__all__
                                     if n != "OpLogEntry"})
    contrib = ns(tf, "contrib")
    if "framework" not in vars(contrib):
        contrib.framework = type(contrib)("tf.contrib.framework")
    set_names(contrib.framework,
              get_or_create_global_step=_train.get_or_create_global_step,
              get_global_step=_train.get_global_step,
              create_global_step=_train.create_global_step)
