"""The TF1 API: ``import jitflow.compat.v1 as tf`` runs a TF1 graph program unchanged."""
from __future__ import annotations

import types as _types

from ... import errors  # noqa: F401
from ...frontend import overloads as _overloads  # noqa: F401  (installs Tensor operators)
from ...frontend import bitwise_ops as _bitwise
from ...frontend import initializers as _init
from ...frontend import nn  # noqa: F401
from ...frontend import layers, losses  # noqa: F401
from ...frontend import saver as _saver
from ...frontend.extra_ops import *  # noqa: F401,F403
from ...frontend import summary  # noqa: F401
from ...frontend import train as _train
from ...frontend.array_ops import (expand_dims, fill, identity, ones, ones_like, placeholder,  # noqa: F401
                                  placeholder_with_default, reshape, shape, squeeze, stack,
                                  stop_gradient, transpose, unstack, where, zeros, zeros_like)
from ...frontend.debug_ops import add_check_numerics_ops, check_numerics  # noqa: F401
from ...frontend.gradients import gradients  # noqa: F401
from ...frontend.graph import (Graph, GraphKeys, Operation, Tensor, TensorShape,  # noqa: F401
                              add_to_collection, add_to_collections, control_dependencies,
                              device, get_collection, get_collection_ref, get_default_graph,
                              name_scope, reset_default_graph)
from ...frontend.math_ops import (abs, add, add_n, cast, div, divide, equal, exp, floordiv,  # noqa: F401
                                 floormod, greater, greater_equal, less, less_equal, log,
                                 logical_and, logical_not, logical_or, matmul, maximum, minimum,
                                 mod, multiply, negative, not_equal, pow, reciprocal, reduce_max,
                                 reduce_mean, reduce_min, reduce_prod, reduce_sum, rsqrt, sigmoid,
                                 sign, sqrt, square, squared_difference, subtract, tanh, to_double,
                                 to_float, to_int32, to_int64, truediv)
from ...frontend.op_builder import constant, convert_to_tensor  # noqa: F401
from ...frontend.random_ops import (random_normal, random_uniform, set_random_seed,  # noqa: F401
                                   truncated_normal)
from ...frontend.variables import (AUTO_REUSE, Variable, VariableScope, all_variables,  # noqa: F401
                                  assign, assign_add, assign_sub, get_variable, get_variable_scope,
                                  global_variables, global_variables_initializer, group,
                                  initialize_all_variables, local_variables,
                                  local_variables_initializer, no_op, trainable_variables,
                                  variable_scope, variables_initializer)
from ...ir.dtypes import (DType, as_dtype, bfloat16, bool_ as bool, complex64,  # noqa: F401,A001
                          complex128, float16, float32, float64, int8, int16, int32, int64,
                          uint8, uint16, uint32, uint64)
from ...runtime.session import (ConfigProto, GPUOptions, InteractiveSession, Session,  # noqa: F401
                               get_default_session)

half = float16
newaxis = None
negative = negative
sub = subtract
mul = multiply
dtypes = _types.SimpleNamespace(float32=float32, float64=float64, int32=int32, int64=int64,
                                bool=bool, as_dtype=as_dtype, DType=DType, float16=float16,
                                half=float16, int8=int8, int16=int16, uint8=uint8,
                                uint16=uint16, uint32=uint32, uint64=uint64,
                                complex64=complex64, complex128=complex128, double=float64)
if bfloat16 is not None:
    dtypes.bfloat16 = bfloat16

# initializers
zeros_initializer = _init.Zeros
ones_initializer = _init.Ones
constant_initializer = _init.Constant
random_normal_initializer = _init.RandomNormal
random_uniform_initializer = _init.RandomUniform
truncated_normal_initializer = _init.TruncatedNormal
glorot_uniform_initializer = _init.GlorotUniform
glorot_normal_initializer = _init.GlorotNormal
variance_scaling_initializer = _init.VarianceScaling
initializers = _types.SimpleNamespace(
    zeros=_init.Zeros, ones=_init.Ones, constant=_init.Constant, random_normal=_init.RandomNormal,
    random_uniform=_init.RandomUniform, truncated_normal=_init.TruncatedNormal,
    glorot_uniform=_init.GlorotUniform, glorot_normal=_init.GlorotNormal,
    variance_scaling=_init.VarianceScaling, he_normal=_init.he_normal, he_uniform=_init.he_uniform,
    lecun_normal=_init.lecun_normal, global_variables=global_variables_initializer,
    variables=variables_initializer)

train = _types.SimpleNamespace(
    Optimizer=_train.Optimizer,
    GradientDescentOptimizer=_train.GradientDescentOptimizer,
    MomentumOptimizer=_train.MomentumOptimizer,
    AdamOptimizer=_train.AdamOptimizer,
    RMSPropOptimizer=_train.RMSPropOptimizer,
    AdagradOptimizer=_train.AdagradOptimizer,
    get_global_step=_train.get_global_step,
    create_global_step=_train.create_global_step,
    get_or_create_global_step=_train.get_or_create_global_step,
    global_step=_train.global_step,
    exponential_decay=_train.exponential_decay,
)
for _name in ("Saver", "latest_checkpoint", "get_checkpoint_state", "import_meta_graph",
              "export_meta_graph", "checkpoint_exists", "NewCheckpointReader", "list_variables",
              "load_variable", "load_checkpoint", "update_checkpoint_state", "remove_checkpoint"):
    if hasattr(_saver, _name):
        setattr(train, _name, getattr(_saver, _name))


def _keras_namespace():
    from ...datasets import mnist as _mnist
    datasets = _types.SimpleNamespace(mnist=_types.SimpleNamespace(
        load_data=getattr(_mnist, "load_data", None)))
    return _types.SimpleNamespace(datasets=datasets)


keras = _keras_namespace()

random = _types.SimpleNamespace(
    normal=random_normal, uniform=random_uniform, truncated_normal=truncated_normal,
    set_random_seed=set_random_seed)

math = _types.SimpleNamespace(
    abs=abs, add=add, add_n=add_n, divide=divide, equal=equal, exp=exp, floordiv=floordiv,
    floormod=floormod, greater=greater, greater_equal=greater_equal, less=less,
    less_equal=less_equal, log=log, logical_and=logical_and, logical_not=logical_not,
    logical_or=logical_or, maximum=maximum, minimum=minimum, multiply=multiply, negative=negative,
    not_equal=not_equal, pow=pow, reciprocal=reciprocal, reduce_max=reduce_max,
    reduce_mean=reduce_mean, reduce_min=reduce_min, reduce_prod=reduce_prod, reduce_sum=reduce_sum,
    rsqrt=rsqrt, sigmoid=sigmoid, sign=sign, sqrt=sqrt, square=square,
    squared_difference=squared_difference, subtract=subtract, tanh=tanh, truediv=truediv)


debugging = _types.SimpleNamespace(check_numerics=check_numerics)

bitwise = _types.SimpleNamespace(
    bitwise_and=_bitwise.bitwise_and, bitwise_or=_bitwise.bitwise_or,
    bitwise_xor=_bitwise.bitwise_xor, invert=_bitwise.invert, left_shift=_bitwise.left_shift,
    right_shift=_bitwise.right_shift)

contrib = _types.SimpleNamespace(layers=_types.SimpleNamespace(
    l1_regularizer=layers.l1_regularizer, l2_regularizer=layers.l2_regularizer,
    l1_l2_regularizer=layers.l1_l2_regularizer, sum_regularizer=layers.sum_regularizer,
    apply_regularization=layers.apply_regularization,
    xavier_initializer=_init.xavier_initializer,
    variance_scaling_initializer=_init.contrib_variance_scaling_initializer))


def disable_v2_behavior() -> None:
    """Accepted for compatibility: jitflow is always in TF1 graph mode."""


def disable_eager_execution() -> None:
    """Accepted for compatibility: jitflow is always in TF1 graph mode."""


def enable_eager_execution(*args, **kwargs) -> None:
    raise NotImplementedError("jitflow runs TF1 graph programs; eager execution is not supported")


def executing_eagerly() -> bool:
    return False


from ._interop import install as _install_interop  # noqa: E402
_install_interop(globals())
from . import _data  # noqa: F401,E402  (tf.data, queues, the tf.train loop, app/logging/gfile)
from . import _rnn  # noqa: E402,F401  (installs tf.nn.rnn_cell, dynamic_rnn, tf.contrib.rnn)
from ._control_flow import *  # noqa: E402,F401,F403  (tf.cond, tf.while_loop, ...)
from . import _surface  # noqa: E402,F401  (wider TF1 surface; missing names name the TF symbol)
