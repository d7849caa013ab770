"""``tf.profiler.ProfileOptionBuilder`` (TF's option dicts and builder methods) and the
parsed options the views read (TF's ``_build_options`` defaults and tfprof's ``Options``)."""
from __future__ import annotations

import copy
import re
from typing import Any, Optional

from ..errors import InvalidArgumentError

TRAINABLE_VARIABLES = "_trainable_variables"

#: tfprof's ``select`` attributes, in its kShown order
SHOWN = ("bytes", "micros", "params", "float_ops", "tensor_value", "device", "op_types",
         "occurrence", "input_shapes", "accelerator_micros", "cpu_micros", "peak_bytes",
         "residual_bytes", "output_bytes")
#: ``order_by`` attribute -> the total statistic it sorts by (descending; "name" ascending)
ORDER_BY = {"bytes": "total_requested_bytes", "peak_bytes": "total_peak_bytes",
            "residual_bytes": "total_residual_bytes", "output_bytes": "total_output_bytes",
            "micros": "total_exec_micros", "accelerator_micros": "total_accelerator_exec_micros",
            "cpu_micros": "total_cpu_exec_micros", "params": "total_parameters",
            "float_ops": "total_float_ops", "occurrence": "total_run_count"}
OUTPUTS = ("timeline", "stdout", "file", "pprof", "none")


def _base(**over: Any) -> dict:
    opts = {"max_depth": 10000, "min_bytes": 0, "min_micros": 0, "min_params": 0,
            "min_float_ops": 0, "min_occurrence": 0, "order_by": "name",
            "account_type_regexes": [".*"], "start_name_regexes": [".*"],
            "trim_name_regexes": [], "show_name_regexes": [".*"], "hide_name_regexes": [],
            "account_displayed_op_only": True, "select": ["micros"], "step": -1,
            "output": "stdout"}
    opts.update(over)
    return opts


class ProfileOptionBuilder:
    """Option builder for ``tf.profiler.profile`` and ``Profiler.profile_*`` (TF's)."""

    def __init__(self, options: Optional[dict] = None) -> None:
        if options is not None:
            self._options = copy.deepcopy(options)
        else:
            self._options = _base(max_depth=100, account_displayed_op_only=False)

    @staticmethod
    def trainable_variables_parameter() -> dict:
        """Options counting trainable variables' parameters (usually with the 'scope' view)."""
        return _base(account_type_regexes=[TRAINABLE_VARIABLES], select=["params"])

    @staticmethod
    def float_operation() -> dict:
        """Options counting float operations (TF's registered ``flops`` statistics)."""
        return _base(min_float_ops=1, order_by="float_ops", select=["float_ops"])

    @staticmethod
    def time_and_memory(min_micros: int = 1, min_bytes: int = 1, min_accelerator_micros: int = 0,
                        min_cpu_micros: int = 0, min_peak_bytes: int = 0,
                        min_residual_bytes: int = 0, min_output_bytes: int = 0) -> dict:
        """Options showing time and memory (from run metadata; jitflow records none)."""
        return _base(min_bytes=min_bytes, min_peak_bytes=min_peak_bytes,
                     min_residual_bytes=min_residual_bytes, min_output_bytes=min_output_bytes,
                     min_micros=min_micros, min_accelerator_micros=min_accelerator_micros,
                     min_cpu_micros=min_cpu_micros, order_by="micros",
                     select=["micros", "bytes"])

    def build(self) -> dict:
        return copy.deepcopy(self._options)

    def _set(self, **kv: Any) -> "ProfileOptionBuilder":
        self._options.update(kv)
        return self

    def with_max_depth(self, max_depth: int) -> "ProfileOptionBuilder":
        return self._set(max_depth=max_depth)

    def with_min_memory(self, min_bytes: int = 0, min_peak_bytes: int = 0,
                        min_residual_bytes: int = 0,
                        min_output_bytes: int = 0) -> "ProfileOptionBuilder":
        return self._set(min_bytes=min_bytes, min_peak_bytes=min_peak_bytes,
                         min_residual_bytes=min_residual_bytes, min_output_bytes=min_output_bytes)

    def with_min_execution_time(self, min_micros: int = 0, min_accelerator_micros: int = 0,
                                min_cpu_micros: int = 0) -> "ProfileOptionBuilder":
        return self._set(min_micros=min_micros, min_accelerator_micros=min_accelerator_micros,
                         min_cpu_micros=min_cpu_micros)

    def with_min_parameters(self, min_params: int) -> "ProfileOptionBuilder":
        return self._set(min_params=min_params)

    def with_min_occurrence(self, min_occurrence: int) -> "ProfileOptionBuilder":
        return self._set(min_occurrence=min_occurrence)

    def with_min_float_operations(self, min_float_ops: int) -> "ProfileOptionBuilder":
        return self._set(min_float_ops=min_float_ops)

    def with_accounted_types(self, account_type_regexes: list) -> "ProfileOptionBuilder":
        return self._set(account_type_regexes=copy.copy(account_type_regexes))

    def with_node_names(self, start_name_regexes: Optional[list] = None,
                        show_name_regexes: Optional[list] = None,
                        hide_name_regexes: Optional[list] = None,
                        trim_name_regexes: Optional[list] = None) -> "ProfileOptionBuilder":
        for k, v in (("start_name_regexes", start_name_regexes),
                     ("show_name_regexes", show_name_regexes),
                     ("hide_name_regexes", hide_name_regexes),
                     ("trim_name_regexes", trim_name_regexes)):
            if v is not None:
                self._options[k] = copy.copy(v)
        return self

    def account_displayed_op_only(self, is_true: bool) -> "ProfileOptionBuilder":
        return self._set(account_displayed_op_only=is_true)

    def with_empty_output(self) -> "ProfileOptionBuilder":
        return self._set(output="none")

    def with_stdout_output(self) -> "ProfileOptionBuilder":
        return self._set(output="stdout")

    def with_file_output(self, outfile: str) -> "ProfileOptionBuilder":
        return self._set(output=f"file:outfile={outfile}")

    def with_timeline_output(self, timeline_file: str) -> "ProfileOptionBuilder":
        return self._set(output=f"timeline:outfile={timeline_file}")

    def with_pprof_output(self, pprof_file: str) -> "ProfileOptionBuilder":
        return self._set(output=f"pprof:outfile={pprof_file}")

    def order_by(self, attribute: str) -> "ProfileOptionBuilder":
        return self._set(order_by=attribute)

    def select(self, attributes: list) -> "ProfileOptionBuilder":
        return self._set(select=copy.copy(attributes))

    def with_step(self, step: int) -> "ProfileOptionBuilder":
        return self._set(step=step)


_NAMES = ("max_depth", "min_bytes", "min_peak_bytes", "min_residual_bytes", "min_output_bytes",
          "min_micros", "min_accelerator_micros", "min_cpu_micros", "min_params",
          "min_float_ops", "min_occurrence", "step", "order_by", "account_type_regexes",
          "start_name_regexes", "trim_name_regexes", "show_name_regexes", "hide_name_regexes",
          "account_displayed_op_only", "select")


class Options:
    """The options a view reads: an option dict with TF's ``_build_options`` defaults, its
    ``output`` parsed into ``output_type`` and ``output_options``."""

    def __init__(self, options: dict) -> None:
        if not isinstance(options, dict):
            raise TypeError(f"profiler options must be a dict (ProfileOptionBuilder.build()), "
                            f"got {type(options).__name__}")
        g = options.get
        self.max_depth = int(g("max_depth", 10))
        for k in _NAMES[1:12]:
            setattr(self, k, int(g(k, -1 if k == "step" else 0)))
        self.order_by = str(g("order_by", "name"))
        for k in _NAMES[13:18]:
            setattr(self, k, [str(r) for r in g(k, [])])
        self.account_displayed_op_only = bool(g("account_displayed_op_only", False))
        self.select = sorted(set(g("select", [])))
        self.output_type, self.output_options = _parse_output(str(g("output", "stdout")))
        if g("dump_to_file", ""):
            self.output_type, self.output_options = "file", {"outfile": g("dump_to_file")}

    def selects(self, attr: str) -> bool:
        return attr in self.select

    def to_string(self) -> str:
        """tfprof's Options::ToString (the banner of stdout output)."""
        lines = []
        for k in _NAMES:
            v = getattr(self, k)
            if isinstance(v, list):
                v = ",".join(v)
            elif isinstance(v, bool):
                v = "true" if v else "false"
            lines.append(f"{'-' + k:<28}{v}")
        kv = ",".join(f"{a}={b}" for a, b in sorted(self.output_options.items()))
        lines.append(f"{'-output':<28}{self.output_type}:{kv}")
        return "\n".join(lines) + "\n"


def _parse_output(opt: str) -> tuple[str, dict]:
    """tfprof's ParseOutput: ``stdout``, ``none``, ``file:outfile=...``, ``timeline:...``."""
    if not opt:
        return "stdout", {}
    kind, _, rest = opt.partition(":")
    if kind not in OUTPUTS:
        raise InvalidArgumentError(f"Unknown output type: {kind}, valid types: "
                                   f"{','.join(sorted(OUTPUTS))}")
    kv = {}
    for item in filter(None, rest.split(",")):
        parts = [p for p in item.split("=") if p]
        if len(parts) != 2:
            raise InvalidArgumentError("Visualize format: -output "
                                       f"{kind}:key=value,key=value,..., got {opt!r}")
        kv[parts[0]] = parts[1]
    valid = {"timeline": {"outfile"}, "file": {"outfile"}, "pprof": {"outfile"}}.get(kind, set())
    bad = sorted(set(kv) - valid)
    if bad:
        raise InvalidArgumentError(f"Unrecognized options {bad[0]} for output_type: {kind}")
    if kind in valid and "outfile" not in kv:
        raise InvalidArgumentError(f"Missing required output_options for {kind}; "
                                   f"e.g. -output {kind}:outfile=...")
    return kind, kv


def full_match(regexes: list, name: str) -> bool:
    return any(re.fullmatch(r, name) is not None for r in regexes)


def match_all(regexes: list) -> bool:
    return regexes == [".*"]
