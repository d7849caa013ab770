"""Device placement: ``tf.device`` scopes, soft placement, placement logging, and graphs split
across the CPU and the GPU.

Every frontend op records the device scope it was built in (``op.device``). At compile time
the Session asks ``Placer`` where each op of the run goes:

* an explicit ``/gpu:N`` (``/device:GPU:N``, ``/job:.../device:GPU:N``) needs a GPU: a real one,
  or Numba's CUDA simulator when ``NUMBA_ENABLE_CUDASIM=1`` (so tests can place on it);
  ``/cpu:0`` is always there;
* an unsatisfiable request is an InvalidArgumentError as in TF, unless the session's
  ``ConfigProto(allow_soft_placement=True)`` moves the op to a device that exists;
* ops without a scope go to the session's device: the GPU when the session's backend is
  ``cuda`` (the default when a GPU is present, or ``JITFLOW_BACKEND=cuda``), else the CPU;
* gradient ops (named ``<gradients scope>/<op>_grad``) follow the device scope that was active
  where ``tf.gradients``/``minimize`` was called, as TF1 does by default;
* ``log_device_placement=True`` prints each op's device as TF does
  (``name: (Type): /job:localhost/replica:0/task:0/device:GPU:0``) the first time it runs.

Host callbacks (ops of kind ``host``: ``py_call`` for tf.py_func and tf.Print) always go to
the ``host`` device: host memory like the CPU (no copies between the two), run by the reference
interpreter between the compiled segments around it. So does a library op whose record
declares no lowering on the backend its device would use (``unlowered_on``: the dense linear
algebra of ops/linalg_solve.py): only that op runs on the reference interpreter, the segments
around it stay native (llvm and cuda alike).

When a run's ops all land on one device the Session compiles one executable with that
device's backend. Otherwise ``compile_partitioned`` splits the (autodiffed, simplified)
Function: ``copy_to_device`` / ``copy_to_host`` IR ops are inserted on every edge between
ops of different devices (one per value and target device), then the ops are scheduled into
segments of one device each (a ready op of the current device runs before the device
switches, which keeps segments few), each segment becomes its own sub-Function compiled by its
device's backend (after that backend's fusion), and ``PartitionedExecutable`` runs them in
order, executing the copies between them. Variables and feeds enter whichever segment reads
them (a GPU segment uploads a host array, a CPU segment downloads a device-resident one);
fetched values come back as NumPy arrays, variable updates stay where they were computed.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.builder import Builder
from ..ir.core import Function, Op, Value
from ..ir.opdef import OPS

_DEV_RE = re.compile(r"(?:^|/)(?:device:)?(cpu|gpu|xla_cpu|xla_gpu)(?::(\d+|\*))?$", re.I)


@dataclass(frozen=True)
class Device:
    kind: str        # "cpu" | "gpu"
    index: int = 0

    @property
    def full_name(self) -> str:
        return f"/job:localhost/replica:0/task:0/device:{self.kind.upper()}:{self.index}"

    @property
    def short(self) -> str:
        return f"/device:{self.kind.upper()}:{self.index}"


CPU = Device("cpu", 0)
GPU0 = Device("gpu", 0)
#: where host callbacks (``py_call``: tf.py_func, tf.Print) run: host memory like the CPU, run
#: by the reference interpreter, never compiled
HOST = Device("host", 0)


def is_host_op(opname: str) -> bool:
    return OPS[opname].kind == "host"


def host_fallback(opname: str, backend: str) -> bool:
    """A library op that ``backend`` has no lowering for: placed on the host device, run by
    the reference interpreter between the backend's compiled segments."""
    d = OPS[opname]
    return d.kind == "library" and backend in d.unlowered_on


def parse_device(spec: Any) -> Optional[Device]:
    """The device a ``tf.device`` string asks for, or None when it names none."""
    if not spec:
        return None
    s = str(spec).strip()
    if not s:
        return None
    last = None
    for part in s.split("/"):
        m = _DEV_RE.search(part) if part else None
        if m:
            last = m
    if last is None:
        m = re.search(r"(cpu|gpu)(?::(\d+))?", s, re.I)
        if not m:
            return None
        last = m
    kind = last.group(1).lower().replace("xla_", "")
    idx = last.group(2)
    return Device(kind, int(idx) if idx and idx != "*" else 0)


def gpu_count() -> int:
    from ..backends.cuda.device import device_count
    return device_count()


class Placer:
    def __init__(self, session) -> None:
        cfg = session._config
        self.soft = bool(getattr(cfg, "allow_soft_placement", False))
        self.log = bool(getattr(cfg, "log_device_placement", False))
        self.default = GPU0 if session.backend_name == "cuda" else CPU
        self.cpu_backend = session.backend_name if session.backend_name != "cuda" else "llvm"
        self._gpus: Optional[int] = None
        self._logged: set[int] = session._placement_logged

    @property
    def gpus(self) -> int:
        if self._gpus is None:
            self._gpus = gpu_count()
        return self._gpus

    def device_of(self, op) -> Device:
        want = parse_device(getattr(op, "device", ""))
        if want is None:
            return self.default
        if want.kind == "cpu":
            return CPU if want.index == 0 or self.soft else self._fail(op, want)
        if want.index < self.gpus:
            return want
        if self.soft:
            return GPU0 if self.gpus else CPU
        return self._fail(op, want)

    def _fail(self, op, want: Device) -> Device:
        avail = [CPU.full_name] + [Device("gpu", i).full_name for i in range(self.gpus)]
        raise InvalidArgumentError(
            f"Cannot assign a device for operation {op.name}: Operation was explicitly assigned "
            f"to {want.full_name} but available devices are [ {', '.join(avail)} ]. Make sure "
            f"the device specification refers to a valid device. (Set "
            f"ConfigProto(allow_soft_placement=True) to place it elsewhere.)\n\t [[node "
            f"{op.name} (defined at {op.file}:{op.line}) ]]")

    def assign(self, graph, frontend_ops) -> dict[str, Device]:
        """op name -> device for the ops of a run; logs new placements when asked."""
        names: dict[str, Device] = {}
        for op in frontend_ops:
            names[op.name] = self.device_of(op)
        if self.log:
            for op in frontend_ops:
                if id(op) not in self._logged:
                    self._logged.add(id(op))
                    print(f"{op.name}: ({op.type}): {names[op.name].full_name}", file=sys.stderr)
        return names

    def ir_device(self, op: Op, names: dict[str, Device], graph) -> Device:
        """The device of an IR op: its frontend op's, or (gradient ops) that of the device
        scope of the ``gradients`` op that created it."""
        if is_host_op(op.opname):
            return HOST
        dev = self._ir_device(op, names, graph)
        return HOST if host_fallback(op.opname, backend_for(dev, self)) else dev

    def _ir_device(self, op: Op, names: dict[str, Device], graph) -> Device:
        t = op.loc.tf_name
        if t in names:
            return names[t]
        if t:
            parts = t.split("/")
            for k in range(len(parts) - 1, 0, -1):
                prefix = "/".join(parts[:k])
                if prefix in names:
                    return names[prefix]
                try:
                    fop = graph.get_operation_by_name(prefix)
                except (KeyError, ValueError):
                    continue
                return self.device_of(fop)
        return self.default


def backend_for(device: Device, placer: Placer) -> str:
    if device.kind == "host":
        return "reference"
    return "cuda" if device.kind == "gpu" else placer.cpu_backend


def _host_memory(d: Device) -> bool:
    return d.kind in ("cpu", "host")


def log_device_mapping(session) -> None:
    """TF1's "Device mapping" lines at session creation (log_device_placement=True)."""
    lines = [f"{CPU.full_name} -> device: 0, name: CPU"]
    try:
        n = gpu_count()
    except Exception:  # noqa: BLE001
        n = 0
    for i in range(n):
        from ..backends.cuda.device import simulator_requested
        what = "Numba CUDA simulator" if simulator_requested() else "CUDA GPU"
        lines.append(f"{Device('gpu', i).full_name} -> device: {i}, name: {what}")
    print("Device mapping:\n" + "\n".join(lines), file=sys.stderr)


# ==================================================================== splitting ==============

@dataclass
class Segment:
    device: Device
    ops: list
    inputs: list          # outer Values read
    outputs: list         # outer Values defined here and read later (or returned)
    executable: Any = None
    function: Optional[Function] = None


@dataclass
class Transfer:
    op: Op                # a copy_to_device / copy_to_host op of the partitioned Function


def insert_copies(f: Function, dev_of: dict[int, Device]) -> Function:
    """Insert a copy op on every data edge between ops placed on different devices."""
    new_ops: list[Op] = []
    copies: dict[tuple[int, Device], Value] = {}
    where: dict[int, Device] = {}
    for op in f.ops:
        d = dev_of[id(op)]
        if op.opname == "constant":
            new_ops.append(op)
            continue
        ops_in = []
        for v in op.operands:
            p = v.producer
            src = where.get(id(v)) if p is not None and p.opname != "constant" else None
            if src is None or src == d or (_host_memory(src) and _host_memory(d)):
                ops_in.append(v)
                continue
            key = (id(v), d)
            if key not in copies:
                b = Builder(new_ops, op.loc)
                name = "copy_to_device" if d.kind == "gpu" else "copy_to_host"
                c = b.op(name, v, device=d.short)
                dev_of[id(c.producer)] = d
                where[id(c)] = d
                copies[key] = c
            ops_in.append(copies[key])
        op.operands = ops_in
        new_ops.append(op)
        for r in op.results:
            where[id(r)] = d
    f.ops = new_ops
    return f


def schedule(f: Function, dev_of: dict[int, Device]) -> list:
    """Steps in a valid order: Segments (ops of one device) and Transfers."""
    producer_pos = {id(r): n for n, op in enumerate(f.ops) for r in op.results}
    done: set[int] = {id(p) for p in f.params}
    remaining = [op for op in f.ops if op.opname != "constant"]
    consts = {id(op.result) for op in f.ops if op.opname == "constant"}
    done |= consts
    steps: list = []
    current: Optional[Device] = None
    seg_ops: list[Op] = []

    def ready(op: Op) -> bool:
        return all(id(v) in done for v in op.operands)

    def flush():
        nonlocal seg_ops
        if seg_ops:
            steps.append(Segment(current, seg_ops, [], []))
        seg_ops = []

    while remaining:
        progressed = False
        for i, op in enumerate(remaining):
            if not ready(op):
                continue
            if op.opname in ("copy_to_device", "copy_to_host"):
                flush()
                steps.append(Transfer(op))
            elif current is None or dev_of[id(op)] == current:
                current = dev_of[id(op)]
                seg_ops.append(op)
            else:
                continue
            done.update(id(r) for r in op.results)
            del remaining[i]
            progressed = True
            break
        if not progressed:
            flush()
            nxt = next(op for op in remaining if ready(op))
            current = dev_of[id(nxt)]
    flush()
    del producer_pos
    return steps


def _segment_function(seg: Segment, f: Function, later_reads: set[int], results: set[int],
                      idx: int) -> Function:
    """A sub-Function for the segment: outer values it reads become parameters (constants are
    cloned in), values read later or returned become results."""
    sub = Function(f"{f.name}_seg{idx}_{seg.device.kind}")
    env: dict[int, Value] = {}
    inputs: list[Value] = []
    b = Builder(sub.ops)
    defined = {id(r) for op in seg.ops for r in op.results}
    for op in seg.ops:
        for v in op.operands:
            if id(v) in env or id(v) in defined:
                continue
            p = v.producer
            if p is not None and p.opname == "constant":
                b.loc = p.loc
                env[id(v)] = b.op("constant", value=p.attrs["value"])
                continue
            env[id(v)] = sub.add_param(v.type, v.name if p is None else "")
            inputs.append(v)
    for op in seg.ops:
        new = Op(op.opname, [env.get(id(v), v) for v in op.operands], op.attrs,
                 [r.type for r in op.results], op.loc, op.regions)   # regions are closed
        sub.ops.append(new)
        for r, nr in zip(op.results, new.results):
            env[id(r)] = nr
    outputs = [r for op in seg.ops for r in op.results
               if id(r) in later_reads or id(r) in results]
    sub.set_results([env[id(r)] for r in outputs])
    seg.inputs, seg.outputs = inputs, outputs
    return sub


class HostArgs:
    """A CPU executable fed host arrays: device-resident arguments (variables updated on the
    GPU by earlier runs) are copied to the host first."""

    def __init__(self, executable) -> None:
        self.executable = executable
        self.function = executable.function

    def run(self, args):
        from ..backends.cuda.device import DeviceTensor
        return self.executable.run([a.numpy() if isinstance(a, DeviceTensor) else a
                                    for a in args])

    def close(self) -> None:
        c = getattr(self.executable, "close", None)
        if c is not None:
            c()


class PartitionedExecutable:
    """Runs the segments and transfers of a graph split across devices."""

    def __init__(self, function: Function, steps: list, num_fetches: int) -> None:
        self.function = function
        self.steps = steps
        self.num_fetches = num_fetches

    def run(self, args):
        from ..backends.cuda.device import DeviceTensor, to_host, upload
        env: dict[int, Any] = {id(p): a for p, a in zip(self.function.params, args)}
        consts = {id(op.result): op.attrs["value"] for op in self.function.ops
                  if op.opname == "constant"}
        for st in self.steps:
            if isinstance(st, Transfer):
                v = st.op.operands[0]
                x = env[id(v)] if id(v) in env else consts[id(v)]
                if st.op.opname == "copy_to_host":
                    env[id(st.op.result)] = to_host(x)
                else:
                    if isinstance(x, DeviceTensor):
                        env[id(st.op.result)] = x
                    else:
                        h = np.asarray(x)
                        env[id(st.op.result)] = DeviceTensor(upload(h, st.op.loc.tf_name or
                                                                    "copy_to_device"),
                                                             h.shape, h.dtype)
                continue
            ins = []
            for v in st.inputs:
                x = env[id(v)]
                if _host_memory(st.device) and isinstance(x, DeviceTensor):
                    x = x.numpy()
                ins.append(x)
            outs = st.executable.run(ins)
            for v, o in zip(st.outputs, outs):
                env[id(v)] = o
        results = []
        for i, v in enumerate(self.function.results):
            x = env[id(v)] if id(v) in env else consts[id(v)]
            if i < self.num_fetches:
                x = to_host(x)
            results.append(x)
        return results

    def close(self) -> None:
        for st in self.steps:
            c = getattr(getattr(st, "executable", None), "close", None)
            if c is not None:
                c()


def pre_placement_passes(backend: str) -> list:
    """``backend``'s pipeline up to placement (autodiff and simplification)."""
    from ..passes.manager import pipeline_for
    return [p for p in pipeline_for(backend) if not p.per_device]


def device_passes(backend: str) -> list:
    """The passes of ``backend``'s pipeline that depend on the device (``Pass.per_device``:
    legalization, fusion), run on each device's part after placement."""
    from ..passes.manager import pipeline_for
    return [p for p in pipeline_for(backend) if p.per_device]


def compile_partitioned(f: Function, dev_of: dict[int, Device], placer: Placer,
                        num_fetches: int, num_feeds: int):
    """Split ``f`` (already autodiffed and simplified) by device and compile each part."""
    from ..backends import get_backend
    from ..backends.base import CompileOptions
    from ..passes.manager import PassManager
    f = insert_copies(f, dev_of)
    steps = schedule(f, dev_of)
    # which values each later step (or the results) reads
    results = {id(v) for v in f.results}
    reads_after: list[set[int]] = [set() for _ in steps]
    acc: set[int] = set()
    for k in range(len(steps) - 1, -1, -1):
        reads_after[k] = set(acc)
        st = steps[k]
        ops = st.ops if isinstance(st, Segment) else [st.op]
        for op in ops:
            acc.update(id(v) for v in op.operands)
    for k, st in enumerate(steps):
        if not isinstance(st, Segment):
            continue
        sub = _segment_function(st, f, reads_after[k], results, k)
        name = backend_for(st.device, placer)
        sub = PassManager(device_passes(name)).run(sub)
        st.function = sub
        # a segment's results stay where they are made; its parameters are all "fed"
        st.executable = get_backend(name).compile(
            sub, CompileOptions(num_fetches=0, num_feeds=len(sub.params)))
    return PartitionedExecutable(f, steps, num_fetches)


def ops_by_device(f: Function, placer: Placer, names: dict[str, Device], graph) -> dict:
    dev_of = {}
    for op in f.ops:
        dev_of[id(op)] = placer.ir_device(op, names, graph)
    return dev_of


def single_device(f: Function, dev_of: dict[int, Device]) -> tuple[bool, Optional[Device]]:
    """(True, device) when every non-constant op is on one device (device None: no ops)."""
    devs = {dev_of[id(op)] for op in f.ops if op.opname != "constant"}
    if len(devs) <= 1:
        return True, (next(iter(devs)) if devs else None)
    return False, None


