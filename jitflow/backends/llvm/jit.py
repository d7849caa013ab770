"""llvmlite plumbing: the host target machine, O3 pipeline, MCJIT engine, external symbols
(OpenBLAS from NumPy's wheel, libm) and a compile cache in memory and on disk.

The caches (``diskcache.py`` on disk: ``~/.cache/jitflow`` or ``JITFLOW_CACHE_DIR``) hold
object code and its ``PlanRecord`` (``cached.py``) under ``module_key``: a hash of what the
code generator reads, computed before it runs, so a hit generates no LLVM IR (the Function's
text, the donations, the code generator's own source files, the CPU, the versions and the
settings compiled in: see ``codegen_inputs``). Disk entries are authenticated with a per-user
secret key (HMAC-SHA256) before the JIT loads them, and anything that fails is rebuilt: never
a crash, never a wrong result.
"""
from __future__ import annotations

import ctypes
import glob
import hashlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Optional

import llvmlite
import llvmlite.binding as llvm
import numpy as np

from . import diskcache, parts, threads, vecmath

_lock = threading.RLock()
_state: dict = {}
MAGIC = diskcache.MAGIC


def _init() -> dict:
    with _lock:
        if _state:
            return _state
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        cpu = llvm.get_host_cpu_name()
        features = llvm.get_host_cpu_features().flatten()
        tm = target.create_target_machine(cpu=cpu, features=features, opt=3, jit=True)
        _state.update(target=target, tm=tm, cpu=cpu, features=features,
                      triple=llvm.get_process_triple())
        _register_symbols()
        return _state


def host_info() -> dict:
    s = _init()
    return {"cpu": s["cpu"], "features": s["features"], "triple": s["triple"],
            "blas": _state.get("blas_path"), "blas_core": _state.get("blas_core")}


def _register_symbols() -> None:
    """Make OpenBLAS (NumPy's ILP64 build) and libm visible to generated code."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs",
                                  "libscipy_openblas64_*.so*"))
    libs += glob.glob(os.path.join(os.path.dirname(np.__file__), ".libs", "libscipy_openblas64_*.so*"))
    _state["blas_path"] = None
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            for ours, theirs in (("jf_cblas_sgemm", "scipy_cblas_sgemm64_"),
                                 ("jf_cblas_dgemm", "scipy_cblas_dgemm64_")):
                llvm.add_symbol(ours, ctypes.cast(getattr(lib, theirs), ctypes.c_void_p).value)
            _state["blas_path"] = path
            try:   # the kernel set OpenBLAS chose (OPENBLAS_CORETYPE can force one)
                lib.scipy_openblas_get_corename64_.restype = ctypes.c_char_p
                _state["blas_core"] = lib.scipy_openblas_get_corename64_().decode()
            except (AttributeError, UnicodeDecodeError):
                _state["blas_core"] = None
            setter = lib.scipy_openblas_set_num_threads64_
            setter.argtypes = [ctypes.c_int]
            # the parallel convolutions run OpenBLAS single-threaded inside their own threads
            try:
                getter = lib.scipy_openblas_get_num_threads64_
                llvm.add_symbol("jf_blas_set_threads", ctypes.cast(setter, ctypes.c_void_p).value)
                llvm.add_symbol("jf_blas_get_threads", ctypes.cast(getter, ctypes.c_void_p).value)
                _state["blas_threads"] = True
            except AttributeError:
                _state["blas_threads"] = False
            try:
                start = int(lib.scipy_openblas_get_num_threads64_())
            except AttributeError:
                start = 0
            threads.set_blas_setter(setter, start)   # runs choose the count (llvm/threads.py)
            break
        except (OSError, AttributeError):
            continue
    try:   # OpenMP runtime for kernels split over cores (GOMP_parallel)
        # threads sleep between kernels instead of spinning: the machine is shared with
        # OpenBLAS's own pool and with the Python thread
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        llvm.load_library_permanently("libgomp.so.1")
        _state["openmp"] = True
    except RuntimeError:
        _state["openmp"] = False
    llvm.add_symbol("jf_num_threads", ctypes.addressof(threads.NUM_THREADS))
    threads.apply(threads.most_threads())
    libm = ctypes.CDLL("libm.so.6")
    for name in ("exp", "log", "tanh", "pow", "powf", "fmod", "fmodf", "expm1", "log1p"):
        llvm.add_symbol(f"jf_{name}", ctypes.cast(getattr(libm, name), ctypes.c_void_p).value)
    vecmath.register(llvm.add_symbol, _state["features"])


def have_openmp() -> bool:
    _init()
    return _state["openmp"] and threads.most_threads() > 1


def blas_threads_settable() -> bool:
    """Whether generated code can set OpenBLAS's thread count (jf_blas_set_threads)."""
    return have_blas() and _state.get("blas_threads", False)


def have_blas() -> bool:
    _init()
    return _state["blas_path"] is not None


#: the O3 pipeline's loop unroller (runtime and partial unrolling of loops; full unrolling only
#: where a loop's metadata asks): off. The vectorizer still interleaves its vector loops; the
#: unroller multiplied their bodies again, costing a third of a cold compile (the MNIST CNN
#: train step: ~0.3 of 1.2 s in LLVM, mostly Loop Strength Reduction on the unrolled bodies)
#: for no measured step time.
LOOP_UNROLLING = False


def _pass_builder(tm):
    """The module pipeline on ``tm``: O3 with loop and SLP vectorization (``LOOP_UNROLLING``)."""
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pto.loop_unrolling = LOOP_UNROLLING
    return llvm.create_pass_builder(tm, pto)


def optimize(mod) -> None:
    s = _init()
    pb = _pass_builder(s["tm"])
    pb.getModulePassManager().run(mod, pb)


def _machine(s: dict):
    return s["target"].create_target_machine(cpu=s["cpu"], features=s["features"], opt=3, jit=True)


def _optimized(ir_text: str, emit: str) -> str:
    """The parts of ``ir_text`` (parts.py) optimized, as IR (``emit="ir"``) or assembly."""
    s = _init()
    ctxs, mods = parts.parse_all(parts.split(ir_text), verify=False)
    for mod in mods:
        optimize(mod)
    text = parts.each_text(mods, str if emit == "ir" else s["tm"].emit_assembly)
    parts.close_all(ctxs, mods)
    return text


def cache_dir() -> Path:
    return diskcache.cache_dir()


#: the packages whose source the generated code depends on (the key hashes their files)
CODEGEN_PACKAGES = ("ir", "ops", "kernels", "passes", "backends/llvm")
#: JITFLOW_* variables that change nothing in the generated code (every other one is keyed:
#: a new tunable of the code generator is then safe by default)
RUN_TIME_ENV = frozenset(f"JITFLOW_{n}" for n in (
    "BACKEND", "CACHE_DIR", "NO_DISK_CACHE", "CACHE_MAX_BYTES", "MEMORY_CACHE_BYTES", "DUMP",
    "LOG", "PROGRESS", "PROGRESS_INTERVAL", "NUM_THREADS", "VERIFY_EACH_PASS",
    "CHECK_CACHE_KEYS", "CHECK_NUMERICS", "TEST_EXAMPLES", "MNIST_DIR", "FASHION_MNIST_DIR",
    "DATA_DIR", "WORKLOADS", "UPDATE_GOLDEN", "TRACE_CACHE_SIZE", "DOT", "SAVER_TEST_PAUSE",
    "MAIN", "DISABLE_GPU"))
KEY_FORMAT = "jfmod1"


def source_fingerprint(root: Optional[Path] = None) -> str:
    """Path, size and modification time of every source file of ``CODEGEN_PACKAGES`` under
    ``root`` (default: this jitflow, read once per process): an edited code generator never
    loads code made by the old one."""
    if root is None:
        with _lock:
            fp = _state.get("source_fingerprint")
        if fp is None:
            fp = source_fingerprint(Path(__file__).resolve().parents[2])
            with _lock:
                _state["source_fingerprint"] = fp
        return fp
    h = hashlib.sha256()
    for pkg in CODEGEN_PACKAGES:
        stack = [root / pkg]
        while stack:
            d = stack.pop()
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                continue
            for e in entries:
                if e.is_dir(follow_symlinks=False) and e.name != "__pycache__":
                    stack.append(Path(e.path))
                elif e.name.endswith(".py"):
                    st = e.stat()
                    h.update(f"{os.path.relpath(e.path, root)}\0{st.st_size}\0"
                             f"{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


#: the modules whose upper-case scalar settings (``IM2COL_BYTES``, ``COLUMN_BLOCK``, ...) are
#: keyed by value: a benchmark or test that sets one compiles new code
SETTING_MODULES = ("jitflow.backends.llvm", "jitflow.kernels")


def module_settings() -> str:
    """The code generator's module-level scalar settings as they are now."""
    import sys
    parts = []
    for name in sorted(n for n in list(sys.modules) if n.startswith(SETTING_MODULES)):
        for k, v in sorted(vars(sys.modules[name]).items()):
            if k.isupper() and type(v) in (int, float, str, bool):
                parts.append(f"{name}.{k}={v!r}")
    return "\n".join(parts)


def codegen_inputs() -> list[str]:
    """Everything besides the Function and its donations that the generated code (and the
    run-time parameters of its plan) depends on. A code generator that starts reading
    another setting must add it here (or read a ``JITFLOW_*`` variable, keyed as a whole)."""
    s = _init()
    from ... import __version__
    env = sorted(f"{k}={v}" for k, v in os.environ.items()
                 if k.startswith("JITFLOW_") and k not in RUN_TIME_ENV
                 and not k.startswith("JITFLOW_CUDA_"))
    return [KEY_FORMAT, s["cpu"], s["features"], s["triple"], __version__,
            llvmlite.__version__, source_fingerprint(), f"openmp={s['openmp']}",
            f"threads={threads.most_threads()}", f"blas={s['blas_path'] is not None}",
            f"vecmath={vecmath.fingerprint()}", module_settings(), *env]


def module_key(function_text: str, donations: dict) -> str:
    """The cache key of the module generated for a Function (its printed text, name aside)
    with ``donations`` (result index -> parameter index)."""
    h = hashlib.sha256()
    for part in (function_text, repr(sorted(donations.items())), *codegen_inputs()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


class Compiled:
    """A loaded module: function addresses plus the texts for JITFLOW_DUMP. Its native code
    lives as long as this object (or until ``close()``): whoever calls into it keeps it."""

    def __init__(self, engine, ir_text: str, source: str, seconds: float, key: str = "",
                 record=None, keep_optimized: bool = True):
        self.engine = engine
        self.ir_text = ir_text                  # "" for a hit (no IR generated)
        self.key = key
        self.record = record                    # its PlanRecord (cached.py), if known
        self._optimized: Optional[str] = None if keep_optimized else ""
        self.source = source                    # "memory", "disk" or "compiled"
        self.from_cache = source != "compiled"
        self.seconds = seconds
        _live.add(self)

    def address(self, name: str) -> int:
        if self.engine is None:
            raise RuntimeError("this compiled module was closed: its native code is released")
        return self.engine.get_function_address(name)

    def close(self) -> None:
        """Release the native code now (the engine frees its memory); addresses taken from
        it must not be called afterwards."""
        self.engine = None

    @property
    def optimized_ir(self) -> str:
        """The optimized LLVM IR (for dumps and tests): optimized again from ``ir_text`` on
        first use, not kept by the compile (printing it costs a cold compile ~3%); "" while
        the IR is unknown (a cache hit before generation) or for ``keep_optimized=False``."""
        if self._optimized is None and self.ir_text:
            self._optimized = _optimized(self.ir_text, "ir")
        return self._optimized or ""

    def assembly(self) -> str:
        """The assembly of the module's parts (generated again from ``ir_text``)."""
        return _optimized(self.ir_text, "asm")


#: every Compiled still alive (weak): its engine holds native code
_live: "weakref.WeakSet[Compiled]" = weakref.WeakSet()


def live_engines() -> int:
    """How many compiled modules still hold native code in this process."""
    return sum(1 for c in list(_live) if c.engine is not None)


class _ObjectCache:
    """Object code (and its PlanRecord) by cache key, in memory, least recently used out first
    beyond ``JITFLOW_MEMORY_CACHE_BYTES`` (default 32 MiB; 0 disables it): compiling a
    Function seen before in this process (another Session, a re-traced function) loads it
    instead of generating and optimizing again, with or without the disk cache. Holds bytes
    and records only, never an engine."""

    def __init__(self) -> None:
        self.entries: "OrderedDict[str, list]" = OrderedDict()   # key -> [obj, record]
        self.nbytes = 0

    @staticmethod
    def limit() -> int:
        raw = os.environ.get("JITFLOW_MEMORY_CACHE_BYTES", "")
        try:
            return max(int(raw), 0) if raw.strip() else 32 << 20
        except ValueError:
            return 32 << 20

    def get(self, key: str) -> Optional[list]:
        """[object code, record or None] if cached."""
        if not self.limit():         # disabled (JITFLOW_MEMORY_CACHE_BYTES=0): nothing is kept
            self.clear()
            return None
        hit = self.entries.get(key)
        if hit is not None:
            self.entries.move_to_end(key)
        return hit

    def put(self, key: str, obj: bytes, record=None) -> None:
        limit = self.limit()
        if len(obj) > limit:
            return
        old = self.entries.pop(key, None)
        if old is not None:
            self.nbytes -= len(old[0])
            record = record or old[1]
        self.entries[key] = [obj, record]
        self.nbytes += len(obj)
        while self.nbytes > limit:
            _, (o, _r) = self.entries.popitem(last=False)
            self.nbytes -= len(o)

    def set_record(self, key: str, record) -> None:
        hit = self.entries.get(key)
        if hit is not None:
            hit[1] = record

    def clear(self) -> None:
        self.entries.clear()
        self.nbytes = 0


memory_cache = _ObjectCache()


def _load(s: dict, obj: bytes):
    """A fresh engine holding ``obj``; raises on object code llvm cannot load. The engine
    takes ownership of its target machine (disposing the engine deletes it), so each gets
    its own, never the shared ``s["tm"]``."""
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _machine(s))
    for part in parts.unpack(obj):
        engine.add_object_file(llvm.ObjectFileRef.from_data(part))
    engine.finalize_object()
    return engine


def lookup(key: str, use_disk_cache: bool = True) -> Optional[Compiled]:
    """The module cached under ``key`` (memory, then disk), loaded, with its PlanRecord when
    one is cached (``record`` None otherwise); None on a miss."""
    from .cached import PlanRecord
    t0 = time.perf_counter()
    s = _init()
    with _lock:
        use_disk_cache = use_disk_cache and diskcache.enabled()
        hit = memory_cache.get(key)
        obj, record, source = (*hit, "memory") if hit else (None, None, "")
        if obj is None and use_disk_cache:
            obj, source = diskcache.read(key), "disk"
        if obj is None:
            return None
        if record is None and use_disk_cache:
            data = diskcache.read(key, ".plan")
            record = PlanRecord.from_bytes(data) if data is not None else None
        try:
            engine = _load(s, obj)
        except Exception:  # noqa: BLE001 - unloadable object code: rebuild it
            return None
        memory_cache.put(key, obj, record=record)
        return Compiled(engine, "", source, time.perf_counter() - t0, key, record)


def save_record(key: str, record, use_disk_cache: bool = True) -> None:
    """Keep ``record`` with the module of ``key`` (in memory and on disk)."""
    with _lock:
        memory_cache.set_record(key, record)
        if use_disk_cache and diskcache.enabled():
            diskcache.write(key, record.to_bytes(), ".plan")


def compile_ir(ir_text: str, key: str, use_disk_cache: bool = True,
               keep_optimized: bool = True) -> Compiled:
    """Native code for LLVM IR text, optimized and stored in the caches under ``key``
    (``module_key``; ``keep_optimized``: the optimized IR text may be asked for, for dumps)."""
    t0 = time.perf_counter()
    s = _init()
    with _lock:
        use_disk_cache = use_disk_cache and diskcache.enabled()
        # a context per module: types and constants are uniqued in (and owned by) the
        # context, so in the global one every distinct graph's would stay forever
        texts = parts.split(ir_text)
        ctxs, mods = parts.parse_all(texts)
        machines = [s["tm"]] if len(texts) == 1 else [_machine(s) for _ in texts]
        objs = parts.compile_all(mods, machines, [_pass_builder(tm) for tm in machines],
                                 threads.available_cpus())
        parts.close_all(ctxs, mods)
        obj = parts.pack(objs)
        engine = _load(s, obj)
        memory_cache.put(key, obj)
        if use_disk_cache:
            diskcache.write(key, obj)
        return Compiled(engine, ir_text, "compiled", time.perf_counter() - t0, key,
                        keep_optimized=keep_optimized)
