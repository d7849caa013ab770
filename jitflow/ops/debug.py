"""Debugging ops: ``check_numerics`` passes its input through and fails the run with its
message when the input holds a NaN or an infinity (tf.debugging.check_numerics)."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from .common import require_dtype


def _check_infer(types, a):
    require_dtype(types[0], "f", "check_numerics input")
    return types[0]


def _check_ref(x, message):
    if not np.all(np.isfinite(x)):
        what = "NaN" if np.any(np.isnan(x)) else "Inf"
        raise InvalidArgumentError(f"{message} : Tensor had {what} values")
    return x


defop("check_numerics", kind="elementwise", infer=_check_infer, reference=_check_ref,
      grad=lambda b, op, g: [g[0]], attrs={"message": Attr("str")}, num_inputs=1, effectful=True,
      doc="identity that raises InvalidArgumentError(message) on NaN or Inf")
