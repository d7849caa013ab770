"""The llvm backend's pass pipeline: the shared simplifications, then fusion."""
from __future__ import annotations

from ...passes.manager import FUSION, SIMPLIFY, register_pipeline

PIPELINE = [*SIMPLIFY, FUSION]
register_pipeline("llvm", PIPELINE)
