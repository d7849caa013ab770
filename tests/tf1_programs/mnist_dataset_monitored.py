"""A TF1-style program: tf.data from arrays, MonitoredTrainingSession with hooks, flags."""
import numpy as np
import tensorflow as tf
from tensorflow.examples.tutorials.mnist import input_data

flags = tf.app.flags
flags.DEFINE_string("checkpoint_dir", "/tmp/mnist_mts", "where checkpoints go")
flags.DEFINE_integer("max_steps", 60, "global steps to train to")
flags.DEFINE_integer("batch_size", 64, "batch size")
FLAGS = flags.FLAGS


def main(_):
    tf.logging.set_verbosity(tf.logging.INFO)
    mnist = input_data.read_data_sets("MNIST_data/", one_hot=False)
    images = mnist.train.images[:2000]
    labels = mnist.train.labels[:2000].astype(np.int32)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.shuffle(1000, seed=1).repeat().batch(FLAGS.batch_size).prefetch(2)
    x, y = dataset.make_one_shot_iterator().get_next()
    global_step = tf.train.get_or_create_global_step()
    hidden = tf.layers.dense(x, 64, activation=tf.nn.relu)
    logits = tf.layers.dense(hidden, 10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    tf.summary.scalar("loss", loss)
    train_op = tf.train.AdamOptimizer(1e-3).minimize(loss, global_step=global_step)
    hooks = [tf.train.StopAtStepHook(last_step=FLAGS.max_steps),
             tf.train.NanTensorHook(loss),
             tf.train.LoggingTensorHook({"step": global_step, "loss": loss}, every_n_iter=20)]
    with tf.train.MonitoredTrainingSession(checkpoint_dir=FLAGS.checkpoint_dir, hooks=hooks,
                                           save_checkpoint_steps=25,
                                           save_summaries_steps=10) as sess:
        while not sess.should_stop():
            _, step, l = sess.run([train_op, global_step, loss])
    print("final step", step + 1, "loss", l)


if __name__ == "__main__":
    tf.app.run()
