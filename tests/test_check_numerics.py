"""check_numerics, add_check_numerics_ops and JITFLOW_CHECK_NUMERICS=1 on both backends."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jitflow.compat.v1 as tf
from jitflow.errors import InvalidArgumentError

BACKENDS = ["reference", "llvm"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_numerics_passes_finite_and_stops_nan(backend):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None])
        y = tf.check_numerics(tf.log(x), "log of x")
        z = y * 2.0
        with tf.Session(backend=backend) as sess:
            np.testing.assert_allclose(sess.run(z, {x: [1.0, np.e]}), [0.0, 2.0], rtol=1e-6)
            with pytest.raises(InvalidArgumentError, match="log of x"):
                sess.run(z, {x: [1.0, -1.0]})


@pytest.mark.parametrize("backend", BACKENDS)
def test_check_numerics_gradient_is_identity(backend):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [3])
        y = tf.reduce_sum(tf.debugging.check_numerics(x * x, "sq"))
        dx, = tf.gradients(y, x)
        with tf.Session(backend=backend) as sess:
            np.testing.assert_allclose(sess.run(dx, {x: [1.0, 2.0, 3.0]}), [2.0, 4.0, 6.0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_add_check_numerics_ops_names_the_tensor(backend):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2])
        y = tf.sqrt(x, name="root")
        check = tf.add_check_numerics_ops()
        with tf.Session(backend=backend) as sess:
            sess.run([y, check], {x: [4.0, 9.0]})
            with pytest.raises(InvalidArgumentError, match="root:0"):
                sess.run([y, check], {x: [4.0, -9.0]})


SCRIPT = textwrap.dedent("""
    import numpy as np
    import jitflow.compat.v1 as tf
    x = tf.placeholder(tf.float32, [None])
    a = x * 2.0
    b = tf.log(a - 4.0, name="bad_log")     # line 6: NaN for x < 2
    c = tf.reduce_sum(b * 3.0)
    with tf.Session() as sess:
        print(sess.run(c, {x: [3.0, 5.0]}))
        sess.run(c, {x: [3.0, 1.0]})
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_env_check_numerics_reports_first_bad_op(tmp_path, backend):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, JITFLOW_CHECK_NUMERICS="1", JITFLOW_BACKEND=backend)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    err = proc.stderr
    assert "InvalidArgumentError" in err
    assert "bad_log" in err and "prog.py:6" in err, err[-2000:]
    assert "inputs were finite" in err


@pytest.mark.parametrize("backend", BACKENDS)
def test_env_check_numerics_reports_non_finite_feed(tmp_path, backend):
    script = tmp_path / "prog.py"
    script.write_text(SCRIPT.replace("[3.0, 1.0]", "[3.0, float('nan')]"))
    env = dict(os.environ, JITFLOW_CHECK_NUMERICS="1", JITFLOW_BACKEND=backend)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "input Placeholder:0" in proc.stderr, proc.stderr[-2000:]
