"""More of ``tf.contrib.layers``: conv2d_transpose, embed_sequence, repeat, stack and
optimize_loss (TF1 contrib semantics and variable names)."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..graph import GraphKeys, Tensor, get_default_graph, name_scope
from ..initializers import Zeros, xavier_initializer
from ..layer_base import _pair
from ..op_builder import convert_to_tensor
from ..variables import variable_scope
from .layers import _DEFAULT, _finish, _relu, _weights

__all__ = ["conv2d_transpose", "convolution2d_transpose", "embed_sequence", "repeat", "stack",
           "optimize_loss", "OPTIMIZER_CLS_NAMES"]


def conv2d_transpose(inputs: Any, num_outputs: int, kernel_size: Any, stride: Any = 1,
                     padding: str = "SAME", data_format: str = "NHWC",
                     activation_fn: Any = _DEFAULT, normalizer_fn: Optional[Callable] = None,
                     normalizer_params: Optional[dict] = None, weights_initializer: Any = None,
                     weights_regularizer: Any = None, biases_initializer: Any = _DEFAULT,
                     biases_regularizer: Any = None, reuse: Any = None,
                     variables_collections: Any = None, outputs_collections: Any = None,
                     trainable: bool = True, scope: Optional[str] = None) -> Tensor:
    """Transposed convolution with ``Conv2d_transpose/weights`` [kh, kw, out, in]; output
    size ``in * stride`` (SAME) or ``in * stride + max(k - stride, 0)`` (VALID)."""
    from ..array_ops import shape, stack as tf_stack
    from ..nn import conv2d_transpose as nn_conv2d_transpose
    if data_format != "NHWC":
        raise NotImplementedError("contrib conv2d_transpose: NHWC only")
    if activation_fn is _DEFAULT:
        activation_fn = _relu
    if biases_initializer is _DEFAULT:
        biases_initializer = Zeros()
    x = convert_to_tensor(inputs)
    dims = x.shape.dims
    if dims is None or len(dims) != 4 or None in dims[1:]:
        raise ValueError(f"contrib conv2d_transpose needs NHWC inputs with static H, W, C, got "
                         f"{x.shape}")
    (kh, kw), (sh, sw) = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    p = str(padding).upper()

    def length(n: int, k: int, s: int) -> int:
        return n * s if p == "SAME" else n * s + max(k - s, 0)
    oh, ow, out = length(dims[1], kh, sh), length(dims[2], kw, sw), int(num_outputs)
    with variable_scope(scope, default_name="Conv2d_transpose", reuse=reuse) as sc:
        w = _weights("weights", [kh, kw, out, dims[3]], x.dtype,
                     weights_initializer or xavier_initializer(), weights_regularizer,
                     trainable, variables_collections)
        out_shape = [dims[0], oh, ow, out] if dims[0] is not None else \
            tf_stack([shape(x)[0], oh, ow, out])
        y = nn_conv2d_transpose(x, w, out_shape, strides=[1, sh, sw, 1], padding=p)
        b = None
        if normalizer_fn is None and biases_initializer is not None:
            b = _weights("biases", [out], x.dtype, biases_initializer, biases_regularizer,
                         trainable, variables_collections)
        return _finish(y, b, normalizer_fn, normalizer_params, activation_fn,
                       outputs_collections, sc)


convolution2d_transpose = conv2d_transpose


def embed_sequence(ids: Any, vocab_size: Optional[int] = None, embed_dim: Optional[int] = None,
                   unique: bool = False, initializer: Any = None, regularizer: Any = None,
                   trainable: bool = True, scope: Optional[str] = None,
                   reuse: Any = None) -> Tensor:
    """``embedding_lookup`` of ``ids`` in ``EmbedSequence/embeddings`` [vocab_size,
    embed_dim]."""
    from ..nn import embedding_lookup
    if vocab_size is None or embed_dim is None:
        raise ValueError("Must specify vocab size and embedding dimension")
    with variable_scope(scope, default_name="EmbedSequence", reuse=reuse):
        from ..variables import get_variable
        emb = get_variable("embeddings", shape=[int(vocab_size), int(embed_dim)],
                           initializer=initializer, regularizer=regularizer,
                           trainable=trainable)
        return embedding_lookup(emb, ids)


def repeat(inputs: Any, repetitions: int, layer: Callable, *args: Any, **kwargs: Any) -> Any:
    """``layer`` applied ``repetitions`` times, in scopes ``<scope>/<scope>_1``, ..."""
    scope = kwargs.pop("scope", None)
    with variable_scope(scope, default_name="Repeat"):
        out = inputs
        base = getattr(layer, "__name__", "repeat")
        for i in range(int(repetitions)):
            kwargs["scope"] = f"{scope or base}_{i + 1}"
            out = layer(out, *args, **kwargs)
        return out


def stack(inputs: Any, layer: Callable, stack_args: list, **kwargs: Any) -> Any:
    """``layer`` applied once per entry of ``stack_args`` (a value or a tuple of positional
    arguments), in scopes ``<scope>/<scope>_1``, ..."""
    scope = kwargs.pop("scope", None)
    if not isinstance(stack_args, (list, tuple)):
        raise ValueError("stack_args need to be a list or tuple")
    with variable_scope(scope, default_name="Stack"):
        out = inputs
        base = getattr(layer, "__name__", "stack")
        for i, a in enumerate(stack_args):
            kwargs["scope"] = f"{scope or base}_{i + 1}"
            a = a if isinstance(a, (list, tuple)) else [a]
            out = layer(out, *a, **kwargs)
        return out


def _optimizers() -> dict:
    from .. import train as T
    return {"Adagrad": T.AdagradOptimizer, "Adam": T.AdamOptimizer, "Ftrl": T.FtrlOptimizer,
            "Momentum": lambda learning_rate: T.MomentumOptimizer(learning_rate, momentum=0.9),
            "RMSProp": T.RMSPropOptimizer, "SGD": T.GradientDescentOptimizer}


OPTIMIZER_CLS_NAMES = ("Adagrad", "Adam", "Ftrl", "Momentum", "RMSProp", "SGD")


def optimize_loss(loss: Any, global_step: Any, learning_rate: Any, optimizer: Any,
                  gradient_noise_scale: Any = None, gradient_multipliers: Any = None,
                  clip_gradients: Any = None, learning_rate_decay_fn: Optional[Callable] = None,
                  update_ops: Any = None, variables: Any = None, name: Optional[str] = None,
                  summaries: Any = None, colocate_gradients_with_ops: bool = False,
                  increment_global_step: bool = True) -> Tensor:
    """Build a training op (``OptimizeLoss`` scope): the optimizer by name, class or instance;
    optional LR decay and global-norm clipping; UPDATE_OPS run first; returns the loss after
    the update (as TF's ``train_op``)."""
    from ..array_ops import identity
    from ..extra_ops import clip_by_global_norm
    from ..train import get_global_step
    from ..variables import trainable_variables
    if gradient_noise_scale is not None or gradient_multipliers is not None:
        raise NotImplementedError("optimize_loss: gradient_noise_scale/gradient_multipliers")
    g = get_default_graph()
    loss = convert_to_tensor(loss)
    if global_step is None:
        global_step = get_global_step()
    with name_scope(name, "OptimizeLoss"):
        ups = list(g.get_collection(GraphKeys.UPDATE_OPS)) if update_ops is None else \
            list(update_ops)
        if ups:
            with g.control_dependencies(ups):
                loss = identity(loss)
        lr = learning_rate
        if learning_rate_decay_fn is not None:
            lr = learning_rate_decay_fn(convert_to_tensor(learning_rate, dtype="float32"),
                                        global_step)
        if isinstance(optimizer, str):
            table = _optimizers()
            if optimizer not in table:
                raise ValueError(f"Optimizer name should be one of [{', '.join(table)}], you "
                                 f"provided {optimizer}.")
            opt = table[optimizer](learning_rate=lr)
        elif isinstance(optimizer, type):
            opt = optimizer(learning_rate=lr)
        elif callable(optimizer) and not hasattr(optimizer, "compute_gradients"):
            opt = optimizer(lr)
        else:
            opt = optimizer
        var_list = trainable_variables() if variables is None else list(variables)
        gvs = opt.compute_gradients(loss, var_list)
        if clip_gradients is not None:
            if callable(clip_gradients):
                gvs = clip_gradients(gvs)
            else:
                grads, _ = clip_by_global_norm([gr for gr, _ in gvs], clip_gradients)
                gvs = list(zip(grads, [v for _, v in gvs]))
        step = global_step if increment_global_step else None
        train = opt.apply_gradients(gvs, global_step=step, name="train")
        with g.control_dependencies([train]):
            return identity(loss, name="train_op")

