"""Runtime: Session (prune, lower, compile, cache, run) and graph lowering."""
from .session import ConfigProto, InteractiveSession, Session, get_default_session

__all__ = ["ConfigProto", "InteractiveSession", "Session", "get_default_session"]
