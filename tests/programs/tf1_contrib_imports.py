"""Imports a TF1 program makes besides `tensorflow`: tensorflow.contrib.layers as a module,
`from tensorflow.contrib import layers`, `from tensorflow.nn import relu`, a submodule of the
generic rule (tensorflow.<X> = jitflow.compat.v1.<X>), and hasattr() on missing names."""
import tensorflow as tf
import tensorflow.contrib.layers
from tensorflow.contrib import layers as contrib_layers
from tensorflow.nn import relu

assert tensorflow.contrib.layers is contrib_layers is tf.contrib.layers
assert relu is tf.nn.relu
import tensorflow.compat.v1 as tf1
assert tf1 is tf and tf.compat.v1 is tf
import tensorflow._surface_names as sn  # a real submodule of jitflow.compat.v1
assert sn.__name__ == "jitflow.compat.v1._surface_names"
assert not hasattr(tf.nn, "no_such_op") and not hasattr(tf, "no_such_symbol")
assert getattr(tf.contrib, "no_such_ns", 7) == 7

x = tf.placeholder(tf.float32, [None, 3])
h = contrib_layers.fully_connected(x, 2, activation_fn=relu,
                                   weights_initializer=contrib_layers.xavier_initializer(),
                                   weights_regularizer=contrib_layers.l2_regularizer(0.1))
reg = tf.losses.get_regularization_loss()
with tf.Session() as s:
    s.run(tf.global_variables_initializer())
    out, r = s.run([h, reg], {x: [[1.0, 2.0, 3.0]]})
    print("shape", out.shape, "reg>0", bool(r > 0))
try:
    from tensorflow.examples.tutorials.mnist import input_data
    print("input_data", input_data.__name__)
except ImportError as e:
    print("ImportError", e)
