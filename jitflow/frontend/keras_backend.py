"""``tf.keras.backend``'s session in TF1 graph mode: the default session when one is
registered (``with sess.as_default():``), else one Keras session per graph, made on first
use. Either way the variables not yet initialized in it are initialized first, as Keras's
``get_session()`` does."""
from __future__ import annotations

import weakref
from typing import Any, Optional

from .default_session import get_default_session, new_session
from .graph import GraphKeys, get_default_graph

__all__ = ["get_session", "set_session", "clear_session"]

_sessions: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def _initialize_missing(sess: Any) -> None:
    from .variables import variables_initializer
    missing = [v for v in sess.graph.get_collection(GraphKeys.GLOBAL_VARIABLES)
               if sess._variable_value(v) is None]
    if missing:
        sess.run(variables_initializer(missing))


def get_session(graph: Optional[Any] = None) -> Any:
    """The session Keras runs in (see the module docstring), its variables initialized."""
    sess = get_default_session()
    g = graph or get_default_graph()
    if sess is None or sess.graph is not g:
        sess = _sessions.get(g)
        if sess is None or getattr(sess, "_closed", False):
            sess = _sessions[g] = new_session(graph=g)
    _initialize_missing(sess)
    return sess


def set_session(session: Any) -> None:
    """``tf.keras.backend.set_session``: Keras runs in ``session`` for its graph."""
    _sessions[session.graph] = session


def clear_session() -> None:
    """``tf.keras.backend.clear_session``: forgets the Keras session of the default graph and
    starts a new default graph."""
    from .graph import reset_default_graph
    _sessions.pop(get_default_graph(), None)
    reset_default_graph()
