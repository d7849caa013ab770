"""What the cuda executable runs: a ``Step`` (one kernel of the plan, with ``bind`` giving
its launches for an input-shape signature) and a ``Launch`` (one kernel launch or a host
call)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from ...kernels import plan as kplan


@dataclass(eq=False)
class Step(kplan.Kernel):
    """A kernel of the plan as the cuda backend runs it: ``bind`` gives its launches."""
    bind: Optional[Callable] = None       # bind(shapes, plan) -> list[Launch]
    gen: Optional[object] = None      # the GroupGen of a generated kernel
    kernels: Optional[dict] = None


class Launch:
    """One kernel launch (``kernel[grid, block](*args)``) or a host callable ``fn(bufs, args)``.
    ``template``: (0, value) | (1, buffer index) | (2, param index: host scalar) | (3, err)."""

    __slots__ = ("kernel", "grid", "block", "template", "fn", "configured", "label")

    def __init__(self, kernel=None, grid=1, block=1, template=(), fn=None) -> None:
        self.kernel = kernel
        self.grid = grid
        self.block = block
        self.template = list(template)
        self.fn = fn
        self.configured = None       # a KernelLauncher (real GPU), made at the first launch
        self.label = ""              # the step's kind and ops (kernel timing)
