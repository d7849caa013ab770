"""A TF1 variational autoencoder (`import tensorflow as tf`, tf.contrib.distributions,
tf.flags, tf.logging) on tiny synthetic data; prints the ELBO before and after training."""
import numpy as np
import tensorflow as tf

tf.flags.DEFINE_integer("steps", 150, "training steps")
FLAGS = tf.flags.FLAGS
tf.logging.set_verbosity(tf.logging.INFO)
tf.set_random_seed(0)
rng = np.random.RandomState(0)
data = (rng.rand(64, 8) < np.linspace(0.1, 0.9, 8)).astype(np.float32)

x = tf.placeholder(tf.float32, [None, 8])
h = tf.layers.dense(x, 16, tf.nn.relu)
mu = tf.layers.dense(h, 2)
sigma = tf.nn.softplus(tf.layers.dense(h, 2)) + 1e-4
q = tf.contrib.distributions.Normal(mu, sigma)
z = q.sample()
prior = tf.distributions.Normal(tf.zeros_like(mu), tf.ones_like(sigma))
logits = tf.layers.dense(tf.layers.dense(z, 16, tf.nn.relu), 8)
px = tf.distributions.Bernoulli(logits=logits)
elbo = tf.reduce_mean(tf.reduce_sum(px.log_prob(x), 1) -
                      tf.reduce_sum(tf.distributions.kl_divergence(q, prior), 1))
train = tf.train.AdamOptimizer(0.02).minimize(-elbo)
with tf.Session() as s:
    s.run(tf.global_variables_initializer())
    first = np.mean([s.run(elbo, {x: data}) for _ in range(5)])
    for i in range(FLAGS.steps):
        s.run(train, {x: data})
    last = np.mean([s.run(elbo, {x: data}) for _ in range(5)])
    tf.logging.info("elbo %.3f -> %.3f", first, last)
    print(f"elbo {first:.3f} {last:.3f}")
