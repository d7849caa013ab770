"""Runtime: Session (prune, graph -> IR, compile once per signature, cache, run), the one compile
entry (compile.py) and device placement."""
from .session import ConfigProto, InteractiveSession, Session, get_default_session

__all__ = ["ConfigProto", "InteractiveSession", "Session", "get_default_session"]
