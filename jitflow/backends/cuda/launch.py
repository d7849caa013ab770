"""Kernel launches with less host overhead than ``dispatcher[grid, block](*args)``.

A training step is a few dozen small kernels, so on a real GPU the step time is mostly the host
time spent launching them. Numba's configured dispatcher types every argument and resolves the
overload on every call (tens of microseconds). A plan's launches always pass arguments of the
same types, so a :class:`KernelLauncher` resolves the compiled kernel once and then

* ``kernel`` mode: calls the compiled kernel's ``launch`` directly (no typing, no dispatch);
* ``packed`` mode (the default): also keeps the marshalled argument list of the last launch and
  reuses it while the arguments are the same objects (a plan's arena views, the device-resident
  variables, the same scalars: the steady state of a training loop), so a launch is one call
  into ``cuda.core``.

``JITFLOW_CUDA_LAUNCH=dispatch|kernel|packed`` chooses (``dispatch`` is Numba's own path, and the
only one under the simulator). Anything unexpected in Numba's internals (another numba-cuda
version) falls back to the next safer mode, once, with a warning.
"""
from __future__ import annotations

import os
import warnings
from typing import Any, Optional

MODES = ("dispatch", "kernel", "packed")
_UNRESOLVED = object()          # the overload could not be identified: dispatch
_state: dict[str, Any] = {}


def launch_mode(simulated: bool) -> str:
    """The launch mode for this process (``dispatch`` under the simulator)."""
    if simulated:
        return "dispatch"
    if "mode" not in _state:
        m = os.environ.get("JITFLOW_CUDA_LAUNCH", "packed").strip().lower() or "packed"
        if m not in MODES:
            raise ValueError(f"JITFLOW_CUDA_LAUNCH must be one of {', '.join(MODES)}; "
                             f"got {m!r}")
        _state["mode"] = m
    return _state["mode"]


def _downgrade(to: str, why: Exception) -> None:
    if MODES.index(to) < MODES.index(_state.get("mode", "packed")):
        warnings.warn(f"jitflow cuda: falling back to '{to}' kernel launches "
                      f"({type(why).__name__}: {why})", RuntimeWarning, stacklevel=3)
        _state["mode"] = to


def _core() -> Optional[tuple]:
    """``(launch, LaunchConfig, new_style)`` as numba-cuda's ``_Kernel.launch`` uses them."""
    if "core" not in _state:
        try:
            from numba.cuda import dispatcher as d
            new_style = bool(getattr(d, "CUDA_CORE_GE_1_0", True))
            _state["core"] = (d.launch, d.LaunchConfig, new_style)
        except (ImportError, AttributeError):
            _state["core"] = None
    return _state["core"]


class KernelLauncher:
    """Launches one Numba CUDA kernel with a fixed grid and block (see the module docstring)."""

    __slots__ = ("configured", "kernel", "key", "packed", "sig")

    def __init__(self, dispatcher, grid, block) -> None:
        self.configured = dispatcher[grid, block]
        self.kernel = None          # the compiled overload, once resolved
        self.key: Optional[tuple] = None       # the arguments ``packed`` was made for
        self.packed: Optional[tuple] = None    # (stream, config, cufunc kernel, kernelargs)
        self.sig = None

    def __call__(self, vals: tuple) -> None:
        if self.key is not None and self.key == vals:     # identity per array: same objects
            p = self.packed
            p[0](p[1], p[2], p[3], *p[4])
            return
        mode = _state.get("mode", "dispatch")
        k = self.kernel
        if k is None or k is _UNRESOLVED or mode == "dispatch":
            self.configured(*vals)
            if mode != "dispatch" and k is None:
                self._resolve(vals)
            return
        if mode == "packed":
            try:
                if self._pack(vals):
                    p = self.packed
                    p[0](p[1], p[2], p[3], *p[4])
                    return
            except Exception as e:  # noqa: BLE001 - Numba internals differ: a safer mode
                self.key = self.packed = None
                _downgrade("kernel", e)
        c = self.configured
        try:
            k.launch(list(vals), c.griddim, c.blockdim, c.stream, c.sharedmem)
        except (AttributeError, TypeError) as e:
            _downgrade("dispatch", e)
            self.configured(*vals)

    def _resolve(self, vals: tuple) -> None:
        """The overload the dispatcher just compiled and ran for these argument types."""
        self.kernel = _UNRESOLVED          # unless found: this launcher keeps dispatching
        try:
            disp = self.configured.dispatcher
            sig = tuple(disp.typeof_pyval(v) for v in vals)
            k = disp.overloads.get(sig)
            if k is not None and not getattr(k, "debug", False) and hasattr(k, "launch"):
                self.kernel, self.sig = k, sig
        except Exception as e:  # noqa: BLE001
            _downgrade("dispatch", e)

    def _pack(self, vals: tuple) -> bool:
        core = _core()
        if core is None:
            raise RuntimeError("numba.cuda.dispatcher has no cuda.core launch")
        launch, LaunchConfig, new_style = core
        k, c = self.kernel, self.configured
        stream = c.stream
        retr: list = []
        kernelargs: list = []
        for t, v in zip(k.argument_types, vals):
            k._prepare_args(t, v, stream, retr, kernelargs)
        if retr:                    # host arrays copied per launch: nothing to keep
            return False
        coop = bool(getattr(k, "cooperative", False))
        if new_style:
            config = LaunchConfig(grid=c.griddim, block=c.blockdim, shmem_size=c.sharedmem,
                                  is_cooperative=coop)
        else:
            config = LaunchConfig(grid=c.griddim, block=c.blockdim, shmem_size=c.sharedmem,
                                  cooperative_launch=coop)
        fn = k._codelibrary.get_cufunc().kernel
        self.packed = (launch, stream, config, fn, kernelargs)
        self.key = vals
        return True
