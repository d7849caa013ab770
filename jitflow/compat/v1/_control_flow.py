"""``tf.cond``, ``tf.case``, ``tf.while_loop``, ``tf.foldl``, ``tf.foldr``, ``tf.map_fn``,
``tf.scan``, ``tf.range`` (frontend/control_flow.py) and ``tf.TensorArray``
(frontend/tensor_array.py)."""
from ...frontend.control_flow import case, cond, foldl, foldr, map_fn, range, scan, while_loop
from ...frontend.tensor_array import TensorArray

__all__ = ["TensorArray", "case", "cond", "foldl", "foldr", "map_fn", "range", "scan",
           "while_loop"]
