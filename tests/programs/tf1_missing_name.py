"""Reaches for a TF1 name jitflow lacks: the run stops with an error that names it."""
import sys

import tensorflow as tf

x = tf.placeholder(tf.float32, [None, 4])
which = sys.argv[1] if len(sys.argv) > 1 else "nn"
if which == "nn":
    tf.nn.quantized_conv2d(x, x)
elif which == "import":
    from tensorflow.contrib import learn  # noqa: F401
elif which == "dtype":
    tf.placeholder(tf.qint8, [2])
elif which == "exit":
    sys.exit(3)
