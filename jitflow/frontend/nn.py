"""``tf.nn``: activations and losses available so far."""
from __future__ import annotations

from .math_ops import relu, sigmoid, tanh  # noqa: F401
