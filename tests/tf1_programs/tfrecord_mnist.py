"""A TF1-style program: MNIST to TFRecords, then training from TFRecordDataset."""
import os
import sys
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow.examples.tutorials.mnist import input_data

out_dir = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
mnist = input_data.read_data_sets("MNIST_data/", dtype=tf.uint8, reshape=False)
path = os.path.join(out_dir, "train.tfrecords")
with tf.python_io.TFRecordWriter(path) as writer:
    for i in range(1000):
        image = mnist.train.images[i]
        example = tf.train.Example(features=tf.train.Features(feature={
            "height": tf.train.Feature(int64_list=tf.train.Int64List(value=[image.shape[0]])),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(mnist.train.labels[i])])),
            "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()]))}))
        writer.write(example.SerializeToString())


def decode(serialized):
    features = tf.parse_single_example(serialized, features={
        "image_raw": tf.FixedLenFeature([], tf.string),
        "label": tf.FixedLenFeature([], tf.int64)})
    image = tf.decode_raw(features["image_raw"], tf.uint8)
    image.set_shape([784])
    image = tf.cast(image, tf.float32) * (1.0 / 255)
    label = tf.cast(features["label"], tf.int32)
    return image, label


dataset = tf.data.TFRecordDataset([path]).map(decode).shuffle(500, seed=7).batch(50)
iterator = dataset.make_initializable_iterator()
images, labels = iterator.get_next()
logits = tf.layers.dense(images, 10)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
train_op = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
correct = tf.reduce_sum(tf.cast(tf.nn.in_top_k(logits, labels, 1), tf.int32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for epoch in range(3):
        sess.run(iterator.initializer)
        n = 0
        while True:
            try:
                sess.run(train_op)
                n += 1
            except tf.errors.OutOfRangeError:
                break
        print("epoch", epoch, "batches", n)
    sess.run(iterator.initializer)
    right = total = 0
    while True:
        try:
            c, l = sess.run([correct, labels])
        except tf.errors.OutOfRangeError:
            break
        right, total = right + c, total + len(l)
    print("train accuracy %.3f" % (right / total))
