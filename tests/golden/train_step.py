"""Golden graph 2: one gradient-descent step of a linear regression (autodiff, fusion and
in-place variable updates)."""
import numpy as np

import jitflow.compat.v1 as tf

x = tf.placeholder(tf.float32, [None, 2], name="x")
t = tf.placeholder(tf.float32, [None, 1], name="t")
w = tf.Variable(np.zeros((2, 1), np.float32), name="w")
b = tf.Variable(np.zeros((1,), np.float32), name="b")
pred = tf.matmul(x, w) + b
loss = tf.reduce_mean(tf.square(pred - t), name="loss")
train = tf.train.GradientDescentOptimizer(0.5).minimize(loss, name="train")
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run([train, loss], feed_dict={x: np.ones((4, 2), np.float32), t: np.ones((4, 1), np.float32)})
