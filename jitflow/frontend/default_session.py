"""The default-session stack (TF1 keeps it beside the default graph, in its graph module).

The frontend owns it so that ``Tensor.eval()``, ``Operation.run()``, ``Variable.load()`` and
friends find the session of an enclosing ``with sess.as_default():`` without importing the
runtime: the Session (jitflow/runtime/session.py) pushes and pops itself here. Thread-local, as
in TF1: each thread has its own default session.
"""
from __future__ import annotations

import threading
from typing import Any, Optional

_local = threading.local()


def default_session_stack() -> list:
    """This thread's stack of default sessions (innermost last)."""
    s = getattr(_local, "sessions", None)
    if s is None:
        s = _local.sessions = []
    return s


def get_default_session() -> Optional[Any]:
    """``tf.get_default_session()``: the innermost default session of this thread, or None."""
    s = default_session_stack()
    return s[-1] if s else None


def session_for(session: Optional[Any], what: str) -> Any:
    """``session`` if given, else the default session; a clear error naming ``what`` (e.g.
    ``"eval()"``) when there is none."""
    if session is not None:
        return session
    s = get_default_session()
    if s is None:
        kind = "tensor using `eval()`" if what == "eval()" else f"operation using `{what}`"
        raise ValueError(f"Cannot evaluate {kind}: No default session is registered. Use `with "
                         f"sess.as_default()` or pass an explicit session to `{what[:-2]}(session=sess)`")
    return s


#: the Session class, registered by jitflow/runtime/session.py when it is imported (the
#: frontend makes sessions for host-side work -- tf.data map functions, training loops --
#: without importing the runtime above it)
_session_class: list = []


def register_session_class(cls: type) -> None:
    """Called once by the runtime: the class :func:`new_session` instantiates."""
    _session_class[:] = [cls]


def new_session(*args: Any, **kwargs: Any) -> Any:
    """A new ``tf.Session(*args, **kwargs)``."""
    if not _session_class:      # (importing jitflow imports the runtime, which registers it)
        raise RuntimeError("no Session class registered: import jitflow.runtime first")
    return _session_class[0](*args, **kwargs)
