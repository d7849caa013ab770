"""The names ``_surface`` adds to the ``tf`` module and its namespaces."""
from __future__ import annotations

import types
from typing import Any, Callable

from ...frontend import array_extra as A
from ...frontend import array_ops as _array_ops
from ...frontend import assert_ops as _asserts
from ...frontend import nn3d as _nn3d
from ...frontend import nn_extra as _nn_extra
from ...frontend import composite_ops as C
from ...frontend import distributions as _dist
from ...frontend import host_ops as _host
from ...frontend import math_extra as X
from ...frontend import math_unary as U
from ...frontend import image as _image
from ...frontend import image_color as _color
from ...frontend import image_area as _area
from ...frontend import image_crop as _crop
from ...frontend import image_filters as _filters
from ...frontend import image_ssim as _ssim
from ...frontend import image_detection as _detection
from ...frontend import image_jpeg as _jpeg
from ...frontend import image_patches as _patches
from ...frontend import image_glimpse as _glimpse
from ...frontend import keras_layers as _keras_layers
from ...frontend import linalg_ops as _la
from ...frontend import linalg_decomp as _ld
from ...frontend import candidate_sampling as _cs
from ...frontend import sampled_losses as _sl
from ...frontend import random_samplers as _rs
from ...frontend import metrics as _metrics
from ...frontend import schedules as _schedules
from ...frontend import sort_ops as S
from ...frontend import train as _train
from ...frontend import train_sync as _train_sync
from ...frontend.contrib import layers as _contrib_layers
from ...frontend.data import image_codecs as _codecs
from ...frontend.contrib import layers_more as _contrib_more
from ...frontend.contrib import opt as _contrib_opt
from ...frontend.graph import GraphKeys as _GraphKeys
from . import _hparams
from ._namespace import wrap


class GraphKeys(_GraphKeys):
    """``tf.GraphKeys`` with the collections of metrics and moving averages."""
    METRIC_VARIABLES = _metrics.METRIC_VARIABLES
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"


def _set(ns: object, **names: object) -> None:
    """Set the names missing from ``ns``; SimpleNamespaces become TFNamespaces."""
    prefix = vars(ns).get("_tf_name", "tf")
    for k, v in names.items():
        if k not in vars(ns):
            setattr(ns, k, wrap(f"{prefix}.{k}", v) if isinstance(v, types.SimpleNamespace)
                    else v)


def install(tf: types.ModuleType, ns: Callable) -> None:
    """Add the frontend's TF1 names to ``tf``; ``ns(tf, "image")`` gives (or makes)
    the namespace ``tf.image``."""
    tf.GraphKeys = GraphKeys
    top = {n: getattr(C, n) for n in (
        "norm", "clip_by_average_norm", "eye", "linspace", "lin_space",
        "broadcast_to", "meshgrid", "sequence_mask", "tensordot", "einsum",
        "tuple", "identity_n", "make_template")}
    _set(tf, **top, random_crop=_image.random_crop,
         extract_image_patches=_patches.extract_image_patches)
    _set(tf, py_func=_host.py_func, numpy_function=_host.numpy_function, Print=_host.Print,
         print=_host.print_, boolean_mask=_host.boolean_mask, unique=_host.unique,
         unique_with_counts=_host.unique_with_counts,
         dynamic_partition=_host.dynamic_partition, dynamic_stitch=_host.dynamic_stitch,
         setdiff1d=_host.setdiff1d)
    _set(ns(tf, "math"), unique=_host.unique)
    asserts = {n: getattr(_asserts, n) for n in _asserts.__all__}
    _set(tf, **asserts)
    _set(ns(tf, "debugging"), **asserts)

    # TF1 spells softsign and selu under tf.nn only (tf.math.softsign too)
    _set(tf, **{n: getattr(U, n) for n in U.__all__ if n not in ("softsign", "selu")})
    _set(ns(tf, "math"), **{n: getattr(U, n) for n in U.__all__ if n != "selu"})
    _set(ns(tf, "nn"), softsign=U.softsign, selu=U.selu, crelu=C.crelu,
         l2_normalize=C.l2_normalize,
         weighted_cross_entropy_with_logits=C.weighted_cross_entropy_with_logits)
    _set(ns(tf, "math"), l2_normalize=C.l2_normalize, reduce_logsumexp=tf.reduce_logsumexp,
         reduce_any=tf.reduce_any, reduce_all=tf.reduce_all, argmax=tf.argmax,
         argmin=tf.argmin)
    _set(ns(tf, "linalg"), eye=C.eye, norm=C.norm, tensordot=C.tensordot, einsum=C.einsum,
         matmul=tf.matmul, l2_normalize=C.l2_normalize, transpose=tf.transpose)
    _set(ns(tf, "random"), random_crop=_image.random_crop)
    _set(tf, random_gamma=_rs.random_gamma, random_poisson=_rs.random_poisson)
    _set(ns(tf, "random"), gamma=_rs.random_gamma, poisson=_rs.random_poisson)
    _set(ns(tf, "image"), sample_distorted_bounding_box=_rs.sample_distorted_bounding_box,
         sample_distorted_bounding_box_v2=_rs.sample_distorted_bounding_box_v2)
    _set(tf, **{n: getattr(A, n) for n in A.__all__}, matrix_diag_part=_ld.matrix_diag_part)
    _set(ns(tf, "math"), **{n: getattr(A, n) for n in (
        "confusion_matrix", "cumsum", "cumprod", "count_nonzero")})
    _set(tf, matrix_inverse=_la.matrix_inverse, matrix_determinant=_la.matrix_determinant,
         cholesky=_la.cholesky, matrix_solve=_la.matrix_solve)
    from ...frontend import ctc_ops as _ctc
    _set(ns(tf, "nn"), **{n: getattr(_ctc, n) for n in _ctc.__all__})
    from ...frontend import sparse_ops as _sparse
    _set(tf, sparse_placeholder=_sparse.sparse_placeholder, edit_distance=_sparse.edit_distance,
         sparse_tensor_to_dense=_sparse.sparse_tensor_to_dense)
    _set(tf, sparse_reduce_sum=_sparse.sparse_reduce_sum,
         sparse_reduce_sum_sparse=_sparse.sparse_reduce_sum_sparse,
         sparse_tensor_dense_matmul=_sparse.sparse_tensor_dense_matmul)
    _set(ns(tf, "sparse"), placeholder=_sparse.sparse_placeholder,
         to_dense=_sparse.sparse_tensor_to_dense, reduce_sum=_sparse.sparse_reduce_sum,
         reduce_sum_sparse=_sparse.sparse_reduce_sum_sparse,
         sparse_dense_matmul=_sparse.sparse_tensor_dense_matmul,
         matmul=_sparse.sparse_tensor_dense_matmul)
    from ...frontend import embedding_ops as _emb
    _set(ns(tf, "nn"), embedding_lookup_sparse=_emb.embedding_lookup_sparse,
         safe_embedding_lookup_sparse=_emb.safe_embedding_lookup_sparse)
    _set(ns(tf, "nn"), nce_loss=_sl.nce_loss, sampled_softmax_loss=_sl.sampled_softmax_loss,
         **{n: getattr(_cs, n) for n in _cs.__all__})
    _set(ns(tf, "random"), **{n: getattr(_cs, n) for n in _cs.__all__})
    _set(ns(tf, "linalg"), inv=_la.matrix_inverse, det=_la.matrix_determinant,
         cholesky=_la.cholesky, solve=_la.matrix_solve)
    _set(ns(tf, "linalg"), diag=A.matrix_diag, diag_part=_ld.matrix_diag_part,
         band_part=A.matrix_band_part)
    _set(tf, matrix_triangular_solve=_ld.matrix_triangular_solve,
         self_adjoint_eig=_ld.self_adjoint_eig, self_adjoint_eigvals=_ld.self_adjoint_eigvals,
         svd=_ld.svd, qr=_ld.qr, matrix_solve_ls=_ld.matrix_solve_ls, trace=_ld.trace,
         matrix_set_diag=_ld.matrix_set_diag, matrix_transpose=_ld.adjoint,
         cholesky_solve=_ld.cholesky_solve)
    _set(ns(tf, "linalg"), triangular_solve=_ld.matrix_triangular_solve,
         eigh=_ld.self_adjoint_eig, eigvalsh=_ld.self_adjoint_eigvals, svd=_ld.svd, qr=_ld.qr,
         lstsq=_ld.matrix_solve_ls, logdet=_ld.logdet, slogdet=_ld.slogdet, trace=_ld.trace,
         set_diag=_ld.matrix_set_diag, adjoint=_ld.adjoint, matrix_transpose=_ld.adjoint,
         cholesky_solve=_ld.cholesky_solve, expm=_ld.expm)
    _set(ns(tf, "nn"), **{n: getattr(_nn_extra, n) for n in (
        "conv1d", "atrous_conv2d", "depthwise_conv2d", "separable_conv2d", "lrn",
        "max_pool_with_argmax",
        "local_response_normalization")})
    _set(ns(tf, "layers"), conv1d=_nn_extra.conv1d_layer, Conv1D=_nn_extra.Conv1D,
         MaxPooling1D=_nn_extra.MaxPooling1D, AveragePooling1D=_nn_extra.AveragePooling1D,
         max_pooling1d=_nn_extra.max_pooling1d, average_pooling1d=_nn_extra.average_pooling1d,
         SeparableConv2D=_nn_extra.SeparableConv2D,
         separable_conv2d=_nn_extra.separable_conv2d_layer, conv3d=_nn3d.conv3d_layer,
         Conv3D=_nn3d.Conv3D, MaxPooling3D=_nn3d.MaxPooling3D,
         AveragePooling3D=_nn3d.AveragePooling3D, max_pooling3d=_nn3d.max_pooling3d,
         average_pooling3d=_nn3d.average_pooling3d)
    _set(ns(tf, "nn"), conv3d=_nn3d.conv3d, max_pool3d=_nn3d.max_pool3d,
         avg_pool3d=_nn3d.avg_pool3d)
    seg = {n: getattr(S, n) for n in S.__all__ if "segment" in n}
    _set(tf, sort=S.sort, argsort=S.argsort, random_shuffle=S.random_shuffle,
         multinomial=S.multinomial, **seg)
    _set(ns(tf, "math"), top_k=S.top_k, **seg)
    _set(ns(tf, "nn"), top_k=S.top_k)
    _set(ns(tf, "random"), shuffle=S.random_shuffle, categorical=S.categorical,
         multinomial=S.multinomial)
    _set(tf, complex=X.complex, real=X.real, imag=X.imag, conj=X.conj,
         saturate_cast=_color.saturate_cast, where_v2=_array_ops.where_v2)
    _set(ns(tf, "math"), real=X.real, imag=X.imag, conj=X.conj)
    _set(ns(tf, "dtypes"), saturate_cast=_color.saturate_cast)
    _set(tf, div_no_nan=X.div_no_nan, logical_xor=X.logical_xor,
         accumulate_n=X.accumulate_n, scalar_mul=X.scalar_mul, shape_n=X.shape_n)
    _set(ns(tf, "math"), div_no_nan=X.div_no_nan, logical_xor=X.logical_xor,
         reduce_std=X.reduce_std, reduce_variance=X.reduce_variance,
         accumulate_n=X.accumulate_n, scalar_mul=X.scalar_mul)
    _set(ns(tf, "nn"), swish=X.swish, zero_fraction=X.zero_fraction,
         weighted_moments=X.weighted_moments)
    _set(ns(tf, "image"), transpose_image=X.transpose_image, rot90=X.rot90,
         total_variation=X.total_variation, psnr=X.psnr, resize_area=_area.resize_area,
         crop_and_resize=_crop.crop_and_resize,
         **{n: getattr(_detection, n) for n in _detection.__all__},
         adjust_jpeg_quality=_jpeg.adjust_jpeg_quality,
         random_jpeg_quality=_jpeg.random_jpeg_quality,
         extract_image_patches=_patches.extract_image_patches,
         extract_patches=_patches.extract_image_patches,
         extract_glimpse=_glimpse.extract_glimpse,
         resize_image_with_pad=_crop.resize_image_with_pad,
         resize_with_crop_or_pad=_image.resize_image_with_crop_or_pad,
         **{n: getattr(_filters, n) for n in _filters.__all__},
         **{n: getattr(_ssim, n) for n in _ssim.__all__},
         **{n: getattr(_color, n) for n in _color.__all__})
    files = ("read_file", "write_file")
    codecs = {n: getattr(_codecs, n) for n in _codecs.__all__ if n not in files}
    _set(ns(tf, "image"), **codecs)
    _set(ns(tf, "io"), **codecs, read_file=_codecs.read_file, write_file=_codecs.write_file)
    _set(tf, read_file=_codecs.read_file, write_file=_codecs.write_file)
    dist = {n: getattr(_dist, n) for n in _dist.__all__}
    _set(ns(tf, "distributions"), **dist)

    metrics = ns(tf, "metrics")
    object.__setattr__(metrics, "_base", _metrics)
    image = ns(tf, "image")
    object.__setattr__(image, "_base", _image)

    train = ns(tf, "train")
    _set(train, **{n: getattr(_schedules, n) for n in _schedules.__all__})
    _set(train, AdadeltaOptimizer=_train.AdadeltaOptimizer, FtrlOptimizer=_train.FtrlOptimizer,
         ProximalGradientDescentOptimizer=_train.ProximalGradientDescentOptimizer,
         ProximalAdagradOptimizer=_train.ProximalAdagradOptimizer,
         ExponentialMovingAverage=_train.ExponentialMovingAverage,
         SyncReplicasOptimizer=_train_sync.SyncReplicasOptimizer)

    contrib = ns(tf, "contrib")
    if "layers" not in vars(contrib):
        contrib.layers = type(contrib)("tf.contrib.layers")
    _set(contrib.layers, **{n: getattr(_contrib_layers, n) for n in _contrib_layers.__all__})
    _set(contrib.layers, **{n: getattr(_contrib_more, n) for n in _contrib_more.__all__})
    _set(contrib.layers, safe_embedding_lookup_sparse=_emb.contrib_safe_embedding_lookup_sparse)
    _set(contrib, training=_hparams.training, distributions=tf.distributions)
    if "opt" not in vars(contrib):
        contrib.opt = type(contrib)("tf.contrib.opt")
    _set(contrib.opt, **{n: getattr(_contrib_opt, n) for n in _contrib_opt.__all__})

    keras = ns(tf, "keras")
    if "layers" not in vars(keras):
        keras.layers = type(keras)("tf.keras.layers")
    _set(keras.layers, **{n: getattr(_keras_layers, n) for n in _keras_layers.__all__
                          if n[0].isupper()})
    from ...frontend import keras_rnn as _keras_rnn
    _set(keras.layers, LSTM=_keras_rnn.LSTM, GRU=_keras_rnn.GRU, SimpleRNN=_keras_rnn.SimpleRNN,
         Bidirectional=_keras_rnn.Bidirectional)
    from ...frontend.keras_mask import Masking as _Masking
    _set(keras.layers, Masking=_Masking)
    from ...frontend import keras_layers_act as _keras_act
    from ...frontend import keras_layers_more as _keras_more
    from ...frontend import keras_merge as _keras_merge
    for mod in (_keras_more, _keras_act, _keras_merge):
        _set(keras.layers, **{n: getattr(mod, n) for n in mod.__all__ if n != "keras_relu"})
    K = _keras_layers
    acts = {n: K.get_activation(n) or (lambda x: x) for n in (
        "relu", "sigmoid", "tanh", "softmax", "elu", "softplus", "selu", "softsign", "linear",
        "exponential", "hard_sigmoid")}
    for sub in ("activations", "initializers", "regularizers"):
        if sub not in vars(keras):
            setattr(keras, sub, type(keras)(f"tf.keras.{sub}"))
    _set(keras.activations, get=K.get_activation, **acts)
    inits = {n: (lambda n=n: K.get_initializer(n)) for n in (
        "glorot_uniform", "glorot_normal", "zeros", "ones", "he_normal", "he_uniform",
        "lecun_normal", "random_normal", "random_uniform", "truncated_normal", "orthogonal")}
    from ...frontend import initializers as _I
    _set(keras.initializers, get=K.get_initializer, GlorotUniform=_I.GlorotUniform,
         GlorotNormal=_I.GlorotNormal, Zeros=_I.Zeros, Ones=_I.Ones, Constant=_I.Constant,
         RandomNormal=_I.RandomNormal, RandomUniform=_I.RandomUniform,
         TruncatedNormal=_I.TruncatedNormal, VarianceScaling=_I.VarianceScaling,
         Orthogonal=_I.Orthogonal, **inits)
    if not hasattr(tf, "orthogonal_initializer"):
        _set(tf, orthogonal_initializer=_I.Orthogonal)
    _set(keras.regularizers, l1=K.keras_l1, l2=K.keras_l2, l1_l2=K.keras_l1_l2)
    if "backend" not in vars(keras):
        keras.backend = type(keras)("tf.keras.backend")
    from ...frontend import keras_backend as _KB
    _set(keras.backend, clear_session=_KB.clear_session, get_session=_KB.get_session,
         set_session=_KB.set_session)
    _keras_models(tf, keras)
    from . import _surface_misc
    _surface_misc.install(tf, ns, _set)


def _keras_models(tf: Any, keras: Any) -> None:
    """tf.keras.Sequential / Model / Input, the losses, metrics and optimizers compile takes."""
    from ...frontend import keras_losses as _KL
    from ...frontend import keras_models as _KM
    for sub in ("models", "losses", "metrics", "optimizers", "utils"):
        if sub not in vars(keras):
            setattr(keras, sub, type(keras)(f"tf.keras.{sub}"))
    _set(keras, Sequential=_KM.Sequential, Model=_KM.Model, Input=_KM.Input)
    _set(keras.models, Sequential=_KM.Sequential, Model=_KM.Model)
    from ...frontend import keras_base as _KBase
    _set(keras.layers, Input=_KM.Input, InputLayer=_KM.InputLayer, Layer=_KBase.Layer)
    _set(keras.losses, **{n: getattr(_KL, n) for n in (
        "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
        "mean_squared_error", "mean_absolute_error", "SparseCategoricalCrossentropy",
        "CategoricalCrossentropy", "BinaryCrossentropy", "MeanSquaredError")},
        mse=_KL.mean_squared_error, mae=_KL.mean_absolute_error)
    _set(keras.metrics, **{n: getattr(_KL, n) for n in (
        "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")})
    _set(keras.utils, to_categorical=_KL.to_categorical)
    from ...frontend import keras_callbacks as _KC
    if "callbacks" not in vars(keras):
        keras.callbacks = type(keras)("tf.keras.callbacks")
    _set(keras.callbacks, **{n: getattr(_KC, n) for n in _KC.__all__ if n != "CallbackList"})
    _set(keras.optimizers, SGD=_KL.SGD, Adam=_KL.Adam, RMSprop=_KL.RMSprop,
         Adagrad=_KL.Adagrad, Adadelta=_KL.Adadelta)
