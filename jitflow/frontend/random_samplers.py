"""``tf.random.gamma``, ``tf.random.poisson`` and ``tf.image.sample_distorted_bounding_box``:
seeded samplers the Session runs on the host (``ops/random_host.py``, ``ops/bbox_sample.py``),
with TF1's seed rules and output shapes."""
from __future__ import annotations

import secrets
from typing import Any, Optional, Sequence

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.dtypes import as_dtype, float16, float32, float64
from .dynamic_shape import known_dims, shape_vector
from .graph import Tensor, name_scope
from .op_builder import convert_to_tensor, make_op, static_value
from .random_ops import get_seed

__all__ = ["random_gamma", "random_poisson", "sample_distorted_bounding_box",
           "sample_distorted_bounding_box_v2"]


def _shape(shape: Any, what: str) -> tuple[Tensor, tuple]:
    vec = shape_vector(shape, what)
    return vec, known_dims(shape, vec.shape.dims[0])


def random_gamma(shape: Any, alpha: Any, beta: Any = None, dtype: Any = float32,
                 seed: Optional[int] = None, name: Optional[str] = None) -> Tensor:
    """Gamma samples of shape ``shape + broadcast(alpha, beta).shape``, ``beta`` the inverse
    scale (rate): ``max(tiny, standard_gamma(alpha) / beta)``, as TF. Differentiable in
    alpha (TF's RandomGammaGrad, the implicit reparameterization) and in beta."""
    from . import math_ops as M
    from .array_ops import zeros_like
    dt = as_dtype(dtype)
    if dt not in (float16, float32, float64):
        raise TypeError(f"tf.random.gamma: dtype must be float16, float32 or float64, got "
                        f"{dt.name}")
    with name_scope(name, "random_gamma") as scope:
        vec, known = _shape(shape, "tf.random.gamma")
        a = convert_to_tensor(alpha, dt, "alpha")
        b = convert_to_tensor(1 if beta is None else beta, dt, "beta")
        if a.shape.dims is None or b.shape.dims is None:
            raise ValueError(f"tf.random.gamma: alpha and beta need known ranks, got "
                             f"{a.shape} and {b.shape}")
        ad, bd = a.shape.as_list(), b.shape.as_list()
        covered = len(bd) <= len(ad) and all(
            y == 1 or (x is not None and x == y) for x, y in zip(ad[::-1], bd[::-1]))
        ab = a if covered else M.add(a, zeros_like(b))        # broadcast(alpha, beta)
        s1, s2 = get_seed(seed)
        sample = make_op("RandomGamma", "random_gamma", [vec, ab],
                         {"known": known, "seed": s1, "seed2": s2}, "RandomGamma",
                         rng=True).outputs[0]
        tiny = convert_to_tensor(np.finfo(dt.np).tiny, dt)
        return M.maximum(tiny, M.divide(sample, b), name=scope)


def random_poisson(lam: Any, shape: Any, dtype: Any = float32, seed: Optional[int] = None,
                   name: Optional[str] = None) -> Tensor:
    """Poisson samples of shape ``shape + lam.shape`` in ``dtype`` (float16/32/64, int32/64),
    ``lam`` of its own dtype (TF's RandomPoissonV2). Not differentiable, as in TF."""
    with name_scope(name, "random_poisson") as scope:
        lam_t = convert_to_tensor(lam, name="lam")
        vec, known = _shape(shape, "tf.random.poisson")
        s1, s2 = get_seed(seed)
        return make_op("RandomPoissonV2", "random_poisson", [vec, lam_t],
                       {"known": known, "seed": s1, "seed2": s2, "dtype": as_dtype(dtype)},
                       scope, rng=True).outputs[0]


def _pair(v: Optional[Sequence[float]], default: tuple, what: str) -> tuple[float, float]:
    if v is None:
        return default
    vals = [float(np.asarray(x)) for x in np.asarray(v, np.float64).reshape(-1)]
    if len(vals) != 2:
        raise InvalidArgumentError(f"{what} field must specify 2 dimensions, got {vals}")
    return vals[0], vals[1]


def sample_distorted_bounding_box(image_size: Any, bounding_boxes: Any,
                                  seed: Optional[int] = None, seed2: Optional[int] = None,
                                  min_object_covered: Any = 0.1,
                                  aspect_ratio_range: Optional[Sequence[float]] = None,
                                  area_range: Optional[Sequence[float]] = None,
                                  max_attempts: Optional[int] = None,
                                  use_image_if_no_bounding_boxes: Optional[bool] = None,
                                  name: Optional[str] = None):
    """TF1's ``tf.image.sample_distorted_bounding_box``: ``(begin, size, bboxes)`` of a random
    crop of an image of ``image_size`` ([height, width, channels]) covering at least
    ``min_object_covered`` of one of ``bounding_boxes`` ([batch, N, 4], [ymin, xmin, ymax,
    xmax] in [0, 1]); the whole image after ``max_attempts`` failed tries. ``seed``/``seed2``
    are the op's own pair, as TF1's (the graph seed is not used); both 0 or None: seeds drawn
    at graph build. Ranges default to TF's (0.75, 1.33), (0.05, 1.0), 100 attempts."""
    aspect = _pair(aspect_ratio_range, (0.75, 1.33), "Aspect ratio range")
    area = _pair(area_range, (0.05, 1.0), "Area range")
    if not (aspect[0] > 0 and aspect[1] > 0):
        raise InvalidArgumentError(f"Aspect ratio range must be non-negative: [{aspect[0]}, "
                                   f"{aspect[1]}]")
    if not (area[0] > 0 and area[1] > 0):
        raise InvalidArgumentError(f"Area range must be non-negative: [{area[0]}, {area[1]}]")
    if not (area[0] <= 1 and area[1] <= 1):
        raise InvalidArgumentError(f"Area range must be less then or equal to 1.0: "
                                   f"[{area[0]}, {area[1]}]")
    attempts = 100 if max_attempts is None else int(max_attempts)
    if attempts <= 0:
        raise InvalidArgumentError(f"Max attempts must be non-negative: {attempts}")
    s1, s2 = int(seed or 0), int(seed2 or 0)
    if s1 == 0 and s2 == 0:                 # TF: seeded at random
        s1, s2 = secrets.randbits(31), secrets.randbits(31)
    with name_scope(name, "sample_distorted_bounding_box") as scope:
        size = convert_to_tensor(image_size, name="image_size")
        boxes = convert_to_tensor(bounding_boxes, float32, "bounding_boxes")
        covered = convert_to_tensor(min_object_covered, float32, "min_object_covered")
        cv = static_value(covered)
        if cv is not None and not float(np.asarray(cv)) >= 0:
            raise InvalidArgumentError(f"Min object covered must be non-negative: "
                                       f"{float(np.asarray(cv))}")
        op = make_op("SampleDistortedBoundingBoxV2", "sample_distorted_bounding_box",
                     [size, boxes, covered],
                     {"seed": s1, "seed2": s2, "aspect_lo": aspect[0], "aspect_hi": aspect[1],
                      "area_lo": area[0], "area_hi": area[1], "max_attempts": attempts,
                      "use_image": bool(use_image_if_no_bounding_boxes)},
                     scope, rng=True)
        return tuple(op.outputs)


def sample_distorted_bounding_box_v2(image_size: Any, bounding_boxes: Any, seed: int = 0,
                                     min_object_covered: Any = 0.1,
                                     aspect_ratio_range: Optional[Sequence[float]] = None,
                                     area_range: Optional[Sequence[float]] = None,
                                     max_attempts: Optional[int] = None,
                                     use_image_if_no_bounding_boxes: Optional[bool] = None,
                                     name: Optional[str] = None):
    """TF2's signature: one ``seed`` that TF1's seed rule pairs with the graph seed (0: seeded
    at random)."""
    s1, s2 = get_seed(seed) if seed else (0, 0)
    return sample_distorted_bounding_box(image_size, bounding_boxes, s1, s2, min_object_covered,
                                         aspect_ratio_range, area_range, max_attempts,
                                         use_image_if_no_bounding_boxes, name)
