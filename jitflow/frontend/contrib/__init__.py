"""``tf.contrib`` pieces that are plain compositions of jitflow's frontend."""
