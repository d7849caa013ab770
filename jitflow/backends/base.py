"""The backend interface: ``compile(Function) -> Executable``; ``Executable.run(args)``."""
from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np

from ..ir.core import Function


class Executable(Protocol):
    function: Function

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run on one array per parameter; return one array per result."""


class Backend(Protocol):
    name: str

    def compile(self, f: Function) -> Executable:
        ...
