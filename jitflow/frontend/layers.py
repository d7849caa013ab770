"""``tf.layers``: dense, conv2d, pooling, flatten, dropout, batch_normalization."""
