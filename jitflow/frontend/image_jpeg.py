"""``tf.image.adjust_jpeg_quality`` and ``random_jpeg_quality`` as TF 1.15 composes them: the
image converted to uint8 (convert_image_dtype), JPEG-encoded at the quality and decoded again
on the host (``data/image_codecs.py``: Pillow's libjpeg), converted back to its dtype. The
result keeps the input's static shape (a JPEG round trip keeps the size)."""
from __future__ import annotations

from typing import Any, Optional

from ..ir.dtypes import float32, int32, uint8
from . import math_ops as M
from . import math_unary as U
from .graph import Tensor, name_scope
from .image_color import convert_image_dtype
from .op_builder import convert_to_tensor
from .random_ops import random_uniform

__all__ = ["adjust_jpeg_quality", "random_jpeg_quality"]


def adjust_jpeg_quality(image: Any, jpeg_quality: Any, name: Optional[str] = None) -> Tensor:
    """The image after a JPEG round trip at ``jpeg_quality`` (0-100, an int or a scalar
    tensor); an [height, width, 1 or 3] image of any dtype convert_image_dtype takes."""
    from .data.image_codecs import decode_jpeg, encode_jpeg
    with name_scope(name, "adjust_jpeg_quality"):
        x = convert_to_tensor(image, name="image")
        if x.shape.ndims is not None and x.shape.ndims != 3:
            raise ValueError(f"adjust_jpeg_quality: image must be [height, width, channels], "
                             f"got shape {x.shape}")
        q = int(jpeg_quality) if isinstance(jpeg_quality, (int, float)) else jpeg_quality
        if isinstance(q, int) and not 0 <= q <= 100:
            raise ValueError(f"jpeg_quality must be in [0, 100], got {q}")
        u8 = convert_image_dtype(x, uint8)
        out = decode_jpeg(encode_jpeg(u8, quality=q))
        out.set_shape(x.shape)
        return convert_image_dtype(out, x.dtype)


def random_jpeg_quality(image: Any, min_jpeg_quality: int, max_jpeg_quality: int,
                        seed: Optional[int] = None) -> Tensor:
    """``adjust_jpeg_quality`` at a quality drawn uniformly from [min, max) each run."""
    lo, hi = int(min_jpeg_quality), int(max_jpeg_quality)
    if not (0 <= lo <= 100 and 0 <= hi <= 100):
        raise ValueError(f"jpeg encoding range must be between 0 and 100, got [{lo}, {hi})")
    if lo >= hi:
        raise ValueError(f"`min_jpeg_quality` must be less than `max_jpeg_quality`, got "
                         f"{lo} and {hi}")
    # jitflow's random_uniform draws floats: the integer is their floor (below hi)
    u = random_uniform([], float(lo), float(hi), dtype=float32, seed=seed)
    q = M.minimum(M.cast(U.floor(u), int32), hi - 1)
    return adjust_jpeg_quality(image, q)
