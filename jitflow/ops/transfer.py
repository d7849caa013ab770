"""Device transfers: ``copy_to_device(x)`` and ``copy_to_host(x)`` mark where a value placed on
one device is read on another (``jitflow/runtime/placement.py`` inserts them when it splits a
graph across the CPU and the GPU). The runtime executes them between the per-device
executables; as values they are the identity (so the reference backend runs them as such)."""
from __future__ import annotations

from ..ir.opdef import Attr, defop

_ATTRS = {"device": Attr("str", "")}

defop("copy_to_device", kind="view", infer=lambda types, a: types[0], reference=lambda x, device: x,
      attrs=_ATTRS, num_inputs=1, differentiable=False,
      doc="host -> device copy (device: the target, e.g. '/device:GPU:0')")
defop("copy_to_host", kind="view", infer=lambda types, a: types[0], reference=lambda x, device: x,
      attrs=_ATTRS, num_inputs=1, differentiable=False,
      doc="device -> host copy (device: the target, e.g. '/device:CPU:0')")
