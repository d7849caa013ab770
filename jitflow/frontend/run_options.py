"""``tf.RunOptions`` and ``tf.RunMetadata``: the option and metadata messages
``Session.run(options=..., run_metadata=...)`` takes. jitflow accepts them and records no
trace: ``run_metadata.step_stats.dev_stats`` stays empty whatever ``trace_level`` says (a
compiled run has no per-op kernels to time; ``JITFLOW_KERNEL_PROFILE`` is its profiler)."""
from __future__ import annotations

from typing import Any


class RunOptions:
    """TF's RunOptions message: trace level and run settings (accepted, not acted on)."""
    NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3
    _FIELDS = {"trace_level": 0, "timeout_in_ms": 0, "inter_op_thread_pool": 0,
               "output_partition_graphs": False, "report_tensor_allocations_upon_oom": False}

    class TraceLevel:
        NO_TRACE, SOFTWARE_TRACE, HARDWARE_TRACE, FULL_TRACE = 0, 1, 2, 3

    def __init__(self, **fields: Any) -> None:
        bad = sorted(set(fields) - set(self._FIELDS))
        if bad:
            raise ValueError(f"RunOptions has no field(s) {bad}; fields: {sorted(self._FIELDS)}")
        for k, v in {**self._FIELDS, **fields}.items():
            setattr(self, k, v)
        if self.trace_level not in (0, 1, 2, 3):
            raise ValueError(f"RunOptions.trace_level must be one of NO_TRACE..FULL_TRACE "
                             f"(0-3), got {self.trace_level!r}")

    def __repr__(self) -> str:
        return f"RunOptions(trace_level={self.trace_level})"


class StepStats:
    """Per-device step statistics: ``dev_stats`` (empty in jitflow)."""

    def __init__(self) -> None:
        self.dev_stats: list = []

    def SerializeToString(self) -> bytes:  # noqa: N802 - TF's name
        return b""


class RunMetadata:
    """TF's RunMetadata message: ``step_stats``, ``cost_graph``, ``partition_graphs``."""

    def __init__(self) -> None:
        self.step_stats = StepStats()
        self.cost_graph = None
        self.partition_graphs: list = []

    def SerializeToString(self) -> bytes:  # noqa: N802 - TF's name
        return b""
