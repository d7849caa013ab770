"""``from tensorflow.examples.tutorials.mnist import input_data`` on jitflow.

``input_data.read_data_sets(train_dir, one_hot=False, dtype=tf.float32, reshape=True,
validation_size=5000, seed=None, source_url=...)`` returns ``.train``/``.validation``/``.test``
DataSets with ``next_batch(batch_size, shuffle=True)`` as in TF1. Nothing is ever downloaded;
jitflow/datasets/tutorial_mnist.py says where the data are looked for (Fashion-MNIST too,
when ``source_url`` or ``train_dir`` names it).
"""
from jitflow.datasets.tutorial_mnist import (DEFAULT_SOURCE_URL, DataSet, Datasets,  # noqa: F401
                                           dense_to_one_hot, extract_images, extract_labels,
                                           read_data_sets)
