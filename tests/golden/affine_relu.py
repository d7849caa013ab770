"""Golden graph 1: a forward pass with a symbolic batch dim (tests/test_cli.py)."""
import numpy as np

import jitflow.compat.v1 as tf

x = tf.placeholder(tf.float32, [None, 3], name="x")
w = tf.Variable(np.ones((3, 4), np.float32), name="w")
b = tf.Variable(np.zeros(4, np.float32), name="b")
h = tf.nn.relu(tf.matmul(x, w) + b, name="h")
y = tf.reduce_mean(h * 2.0, axis=1, name="y")
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(y, feed_dict={x: np.ones((2, 3), np.float32)})
