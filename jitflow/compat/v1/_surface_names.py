"""The names ``_surface`` adds to the ``tf`` module and its namespaces."""
from __future__ import annotations

import types
from typing import Callable


def install(tf: types.ModuleType, ns: Callable) -> None:
    """Add the frontend's TF1 names to ``tf``; ``ns(tf, "image")`` gives (or makes)
    the namespace ``tf.image``."""
