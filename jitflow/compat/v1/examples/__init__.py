"""TF1 ``tensorflow.examples``: the tutorials' input_data module."""
