"""TF1-tutorial-style programs (tests/tf1_programs/, written for these tests) run unchanged
with ``import tensorflow`` mapped onto jitflow, each in its own process."""
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(prog, *args, timeout=300):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, os.path.join(HERE, "tf1_programs", "run_as_tensorflow.py"),
                        os.path.join(HERE, "tf1_programs", prog), *args],
                       capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout, p.stderr


def test_mnist_softmax_with_input_data_and_feed_dict():
    out, _ = run("mnist_softmax_feed.py")
    acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert acc > 0.8, out


def test_mnist_dataset_monitored_training_session_with_flags(tmp_path):
    out, err = run("mnist_dataset_monitored.py", f"--checkpoint_dir={tmp_path}", "--max_steps=40")
    assert "final step 40" in out
    assert "INFO:tensorflow:Saving checkpoints for 25" in err
    out2, err2 = run("mnist_dataset_monitored.py", f"--checkpoint_dir={tmp_path}", "--max_steps=50")
    assert "Restoring parameters from" in err2 and "model.ckpt-40" in err2
    assert "final step 50" in out2
    first = float(re.search(r"loss ([0-9.]+)", out).group(1))
    assert first < 2.3


def test_keras_sequential_mnist_compile_fit_evaluate():
    out, _ = run("keras_sequential_mnist.py")
    assert 'Model: "sequential"' in out and "Total params: 101,770" in out
    losses = [float(v) for v in re.search(r"train loss ([0-9. ]+)", out).group(1).split()]
    assert len(losses) == 2 and losses[1] < 0.7 * losses[0], out
    acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))
    assert acc > 0.8, out
    assert float(re.search(r"predict accuracy ([0-9.]+)", out).group(1)) == pytest.approx(acc)
    assert "weights dense/kernel:0 dense/bias:0 dense_1/kernel:0 dense_1/bias:0" in out


def test_csv_queue_regression_recovers_the_line(tmp_path):
    out, _ = run("csv_queue_regression.py", str(tmp_path))
    assert "epoch limit reached" in out and "steps 200" in out
    w = [float(v) for v in re.search(r"w \[([^\]]+)\]", out).group(1).split(",")]
    b = float(re.search(r" b ([-0-9.e]+)", out).group(1))
    assert w == pytest.approx([2.0, -3.0], abs=0.05) and b == pytest.approx(0.5, abs=0.05)


def test_tfrecord_mnist_conversion_and_training(tmp_path):
    out, _ = run("tfrecord_mnist.py", str(tmp_path))
    assert out.count("batches 20") == 3
    assert float(re.search(r"train accuracy ([0-9.]+)", out).group(1)) > 0.8
    assert os.path.getsize(tmp_path / "train.tfrecords") > 784 * 1000


def test_programs_run_under_jitflow_run_too(tmp_path):
    """The same program through ``jitflow run`` (the project's import hook)."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "jitflow", "run",
                        os.path.join(HERE, "tf1_programs", "csv_queue_regression.py"),
                        str(tmp_path)], capture_output=True, text=True, timeout=300, env=env,
                       cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "epoch limit reached" in p.stdout and "steps 200" in p.stdout
