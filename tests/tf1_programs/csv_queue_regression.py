"""A TF1-style program: linear regression from a CSV file through queue runners."""
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf

out_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
csv_path = os.path.join(out_dir, "points.csv")
rng = np.random.RandomState(0)
with open(csv_path, "w") as f:
    f.write("x1,x2,y\n")
    for _ in range(200):
        a, b = rng.uniform(-1, 1, 2)
        f.write("%f,%f,%f\n" % (a, b, 2.0 * a - 3.0 * b + 0.5))

filename_queue = tf.train.string_input_producer([csv_path], num_epochs=20, shuffle=False)
reader = tf.TextLineReader(skip_header_lines=1)
key, value = reader.read(filename_queue)
x1, x2, y = tf.decode_csv(value, record_defaults=[[0.0], [0.0], [0.0]])
features = tf.stack([x1, x2])
feature_batch, label_batch = tf.train.shuffle_batch([features, y], batch_size=20, capacity=200,
                                                    min_after_dequeue=50, seed=3)
w = tf.Variable(tf.zeros([2, 1]))
b = tf.Variable(0.0)
pred = tf.squeeze(tf.matmul(feature_batch, w), 1) + b
loss = tf.reduce_mean(tf.square(pred - label_batch))
train_op = tf.train.GradientDescentOptimizer(0.2).minimize(loss)

with tf.Session() as sess:
    sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
    coord = tf.train.Coordinator()
    threads = tf.train.start_queue_runners(sess=sess, coord=coord)
    steps = 0
    try:
        while not coord.should_stop():
            sess.run(train_op)
            steps += 1
    except tf.errors.OutOfRangeError:
        print("Done training -- epoch limit reached")
    finally:
        coord.request_stop()
    coord.join(threads)
    print("steps", steps)
    print("w", sess.run(w).ravel().tolist(), "b", float(sess.run(b)))
