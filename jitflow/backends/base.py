"""The backend interface: ``compile(Function, CompileOptions) -> Executable``;
``Executable.run(args)``."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Protocol, Sequence

import numpy as np

from ..ir.core import Function


@dataclass(frozen=True)
class CompileOptions:
    """What a backend may assume about a Function beyond its IR; each backend uses what it
    needs and ignores the rest.

    ``donations``: result index -> parameter index whose buffer the result may overwrite (a
    variable's update written in place). ``num_fetches`` / ``num_feeds``: the first results are
    fetched values (returned to the host), the first parameters are fed values (the rest are
    variables and the run step). ``dump_dir``: where to write backend files (``module.ll``,
    ``module.s``, ``kernels.py``) for ``JITFLOW_DUMP``.
    """
    donations: dict = field(default_factory=dict)
    num_fetches: Optional[int] = None
    num_feeds: Optional[int] = None
    dump_dir: Optional[str] = None

    def replace(self, **changes) -> "CompileOptions":
        return dataclasses.replace(self, **changes)


class Executable(Protocol):
    function: Function

    def run(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run on one array per parameter; return one array per result."""


class Backend(Protocol):
    name: str

    def compile(self, f: Function, options: Optional[CompileOptions] = None) -> Executable:
        ...
