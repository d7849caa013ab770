"""Top-level ``tf.*`` ops beyond the core set (argmax, one_hot, concat, split, gather, pad,
tile, clip_by_value, ...). Every name in ``__all__`` is exported by ``jitflow.compat.v1``."""
__all__: list = []
