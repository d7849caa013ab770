"""``tf.cond``, ``tf.case``, ``tf.while_loop``, ``tf.foldl``, ``tf.foldr`` (frontend/control_flow.py)."""
from ...frontend.control_flow import case, cond, foldl, foldr, while_loop

__all__ = ["case", "cond", "foldl", "foldr", "while_loop"]
