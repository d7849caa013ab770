"""`import tensorflow.compat.v1 as tf` + tf.disable_v2_behavior(): a small classifier with
tf.layers.dense, dropout on a bool placeholder, Adam, tf.metrics.accuracy."""
import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
tf.set_random_seed(1)
rng = np.random.RandomState(1)
xs = rng.randn(200, 4).astype(np.float32)
ys = (xs[:, 0] + xs[:, 1] > 0).astype(np.int32)

X = tf.placeholder(tf.float32, shape=(None, 4), name="X")
y = tf.placeholder(tf.int32, shape=(None,), name="y")
training = tf.placeholder_with_default(False, shape=(), name="training")
with tf.name_scope("dnn"):
    h = tf.layers.dense(X, 16, activation=tf.nn.relu, name="hidden1")
    h = tf.layers.dropout(h, rate=0.1, training=training)
    logits = tf.layers.dense(h, 2, name="outputs")
loss = tf.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
train_op = tf.train.AdamOptimizer(0.05).minimize(loss)
acc, acc_update = tf.metrics.accuracy(labels=y, predictions=tf.argmax(logits, 1))

with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
    for _ in range(60):
        sess.run(train_op, {X: xs, y: ys, training: True})
    sess.run(acc_update, {X: xs, y: ys})
    print(f"accuracy {sess.run(acc):.3f}")
