"""``tf.contrib.layers`` regularizers: l1, l2, l1_l2, sum, apply_regularization."""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from . import math_ops as M
from .graph import GraphKeys, Tensor, get_default_graph
from .op_builder import convert_to_tensor


def _scale_tensor(scale: float, w: Any) -> Tensor:
    return convert_to_tensor(scale, dtype=w.dtype, name="scale")


def _check_scale(scale: Any, what: str) -> None:
    if isinstance(scale, (int, float, np.number)):
        if scale < 0.0:
            raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale}")


def l2_regularizer(scale: float, scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.l2_regularizer``: ``scale * sum(w**2) / 2`` (None for scale 0)."""
    _check_scale(scale, "l2")
    if isinstance(scale, (int, float)) and scale == 0.0:
        return lambda _: None

    def l2(weights: Any) -> Tensor:
        g = get_default_graph()
        with g.name_scope(scope or "l2_regularizer") as name:
            w = convert_to_tensor(weights)
            from . import nn as _nn
            l2_loss = getattr(_nn, "l2_loss", None)
            if l2_loss is not None:
                half_sq = l2_loss(w)
            else:
                half_sq = M.multiply(M.reduce_sum(M.square(w)), convert_to_tensor(0.5, w.dtype),
                                     name="L2Loss")
            return M.multiply(_scale_tensor(scale, w), half_sq, name=name)
    return l2


def l1_regularizer(scale: float, scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.l1_regularizer``: ``scale * sum(|w|)`` (None for scale 0)."""
    _check_scale(scale, "l1")
    if isinstance(scale, (int, float)) and scale == 0.0:
        return lambda _: None

    def l1(weights: Any) -> Tensor:
        g = get_default_graph()
        with g.name_scope(scope or "l1_regularizer") as name:
            w = convert_to_tensor(weights)
            return M.multiply(_scale_tensor(scale, w), M.reduce_sum(M.abs(w)), name=name)
    return l1


def l1_l2_regularizer(scale_l1: float = 1.0, scale_l2: float = 1.0,
                      scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.l1_l2_regularizer``: the sum of both."""
    return sum_regularizer([l1_regularizer(scale_l1), l2_regularizer(scale_l2)],
                           scope=scope or "l1_l2_regularizer")


def sum_regularizer(regularizer_list, scope: Optional[str] = None) -> Callable:
    """``tf.contrib.layers.sum_regularizer``."""
    regs = [r for r in regularizer_list if r is not None]

    def total(weights: Any) -> Optional[Tensor]:
        g = get_default_graph()
        with g.name_scope(scope or "sum_regularizer") as name:
            parts = [p for p in (r(weights) for r in regs) if p is not None]
            if not parts:
                return None
            return M.add_n(parts, name=name)
    return total


def apply_regularization(regularizer: Callable, weights_list=None) -> Tensor:
    """``tf.contrib.layers.apply_regularization``: sum of ``regularizer(w)`` over the weights
    (default: the WEIGHTS collection, else the trainable variables); added to
    REGULARIZATION_LOSSES."""
    g = get_default_graph()
    if weights_list is None:
        weights_list = g.get_collection("weights") or g.get_collection(
            GraphKeys.TRAINABLE_VARIABLES)
    if not weights_list:
        raise ValueError("No weights to regularize.")
    with g.name_scope("get_regularization_penalty") as scope:
        penalties = [p for p in (regularizer(w) for w in weights_list) if p is not None]
        if not penalties:
            from .op_builder import constant
            return constant(0.0)
        total = M.add_n(penalties, name=scope)
    g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, total)
    return total
