"""A TF1 tutorial-style program: `import tensorflow as tf`, linear regression by gradient
descent. Run it with `jitflow run tests/programs/tf1_linear_regression.py [steps]`."""
import sys

import numpy as np
import tensorflow as tf

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
rng = np.random.RandomState(0)
train_X = rng.uniform(-1, 1, size=50).astype(np.float32)
train_Y = 3.0 * train_X + 0.5

X = tf.placeholder("float")
Y = tf.placeholder("float")
W = tf.Variable(rng.randn(), name="weight", dtype=tf.float32)
b = tf.Variable(rng.randn(), name="bias", dtype=tf.float32)
pred = tf.add(tf.multiply(X, W), b)
cost = tf.reduce_sum(tf.pow(pred - Y, 2)) / (2 * 50)
optimizer = tf.train.GradientDescentOptimizer(0.5).minimize(cost)
init = tf.global_variables_initializer()

with tf.Session() as sess:
    sess.run(init)
    first = sess.run(cost, feed_dict={X: train_X, Y: train_Y})
    for _ in range(steps):
        sess.run(optimizer, feed_dict={X: train_X, Y: train_Y})
    last, w, bias = sess.run([cost, W, b], feed_dict={X: train_X, Y: train_Y})
    print(f"cost {first:.4f} -> {last:.6f} W={w:.4f} b={bias:.4f}")
    print("version", tf.__version__)
