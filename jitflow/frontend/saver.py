"""``tf.train.Saver`` and checkpoint files; meta graph export/import."""
