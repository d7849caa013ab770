"""Golden graph 3: softmax cross-entropy and its gradient with respect to the logits
(tf.gradients, reductions, constant folding)."""
import numpy as np

import jitflow.compat.v1 as tf

logits = tf.placeholder(tf.float32, [None, 5], name="logits")
labels = tf.placeholder(tf.int32, [None], name="labels")
xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
loss = tf.reduce_mean(xent, name="loss")
grad = tf.gradients(loss, logits)[0]
with tf.Session() as sess:
    sess.run([loss, grad], feed_dict={logits: np.zeros((3, 5), np.float32),
                                      labels: np.array([0, 1, 2], np.int32)})
