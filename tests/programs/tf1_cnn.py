"""A ch13-style TF1 CNN on tiny synthetic 8x8 images (`import tensorflow as tf`): a bool
training placeholder without a shape into tf.layers.dropout then tf.layers.conv2d,
tf.image augmentation, keras and contrib layers, a piecewise-constant learning rate on the
global step, Momentum, tf.metrics.accuracy and an assertion."""
import numpy as np
import tensorflow as tf

tf.reset_default_graph()
tf.set_random_seed(0)
rng = np.random.RandomState(0)
n = 64
labels = rng.randint(0, 2, n).astype(np.int32)
images = rng.rand(n, 8, 8, 1).astype(np.float32) * 0.2
images[labels == 1, 2:6, 2:6, 0] += 0.8          # class 1: a bright centre square

X = tf.placeholder(tf.float32, shape=[None, 8, 8, 1], name="X")
y = tf.placeholder(tf.int32, shape=[None], name="y")
training = tf.placeholder(tf.bool, name="training")          # unknown rank, as tutorials do
with tf.control_dependencies([tf.debugging.assert_non_negative(X)]):
    X_checked = tf.identity(X)
augmented = tf.image.random_flip_left_right(X_checked[0])
X_std = tf.image.per_image_standardization(X_checked)
dropped = tf.layers.dropout(X_std, rate=0.1, training=training)
conv = tf.layers.conv2d(dropped, filters=4, kernel_size=3, padding="SAME", activation=tf.nn.relu)
pool = tf.keras.layers.MaxPooling2D()(conv)
flat = tf.contrib.layers.flatten(pool)
logits = tf.keras.layers.Dense(2)(flat)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
global_step = tf.train.get_or_create_global_step()
lr = tf.train.piecewise_constant(global_step, [20], [0.1, 0.05])
train_op = tf.train.MomentumOptimizer(lr, 0.9).minimize(loss, global_step=global_step)
acc, acc_op = tf.metrics.accuracy(labels=y, predictions=tf.argmax(logits, 1))

with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
    for _ in range(40):
        sess.run(train_op, {X: images, y: labels, training: True})
    sess.run(acc_op, {X: images, y: labels, training: False})
    print("step", sess.run(global_step), "lr", sess.run(lr))
    print("flip shape", sess.run(augmented, {X: images}).shape)
    print(f"accuracy {sess.run(acc):.3f}")
    try:
        sess.run(loss, {X: -images, y: labels, training: False})
    except tf.errors.InvalidArgumentError as e:
        print("assertion:", str(e).splitlines()[0][:40])
