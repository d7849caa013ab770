"""MNIST for ``tf.keras.datasets.mnist.load_data()`` without a download."""
