"""tf.RunOptions / tf.RunMetadata accepted by Session.run, and tf.contrib.framework's
global-step helpers (the same variable as tf.train's)."""
from __future__ import annotations

import numpy as np
import pytest

import jitflow.compat.v1 as tf


def test_session_run_accepts_options_and_metadata():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None])
        opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE, timeout_in_ms=1000)
        md = tf.RunMetadata()
        with tf.Session() as sess:
            got = sess.run(x * 2.0, {x: [1.0, 2.5]}, options=opts, run_metadata=md)
        np.testing.assert_array_equal(got, [2.0, 5.0])
        assert opts.trace_level == 3 == tf.RunOptions.TraceLevel.FULL_TRACE
        assert md.step_stats.dev_stats == [] and md.partition_graphs == []


def test_run_options_reject_unknown_fields_and_levels():
    with pytest.raises(ValueError, match="no field.*trace"):
        tf.RunOptions(trace=1)
    with pytest.raises(ValueError, match="trace_level.*7"):
        tf.RunOptions(trace_level=7)
    assert tf.RunOptions().trace_level == tf.RunOptions.NO_TRACE


def test_contrib_framework_global_step_is_train_global_step():
    with tf.Graph().as_default():
        assert tf.contrib.framework.get_global_step() is None
        gs = tf.contrib.framework.get_or_create_global_step()
        assert tf.train.get_global_step() is gs
        assert tf.contrib.framework.get_or_create_global_step() is gs
        inc = tf.assign_add(gs, 1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(inc)
            assert int(sess.run(gs)) == 1
