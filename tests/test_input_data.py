"""``tensorflow.examples.tutorials.mnist.input_data`` on jitflow: loading (MNIST and
Fashion-MNIST from IDX folders), TF1's next_batch epoch rule, and the error cases."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jitflow.compat.v1.examples.tutorials.mnist import input_data
from jitflow.datasets.mnist import MnistDataError

import jitflow.compat.v1 as tf


def write_idx_folder(folder, n_train=30, n_test=10, seed=0, gz=True):
    rng = np.random.RandomState(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for stem, a in arrays.items():
        magic = 2051 if a.ndim == 3 else 2049
        data = struct.pack(">I", magic) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
        if gz:
            (folder / (stem + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return arrays


def test_read_data_sets_from_a_folder(tmp_path, capsys):
    arrays = write_idx_folder(tmp_path / "MNIST_data")
    m = input_data.read_data_sets(str(tmp_path / "MNIST_data"), one_hot=True, validation_size=5)
    assert "Extracting" in capsys.readouterr().out
    assert (m.train.num_examples, m.validation.num_examples, m.test.num_examples) == (25, 5, 10)
    assert m.train.images.shape == (25, 784) and m.train.images.dtype == np.float32
    np.testing.assert_allclose(m.validation.images[0],
                               arrays["train-images-idx3-ubyte"][0].reshape(-1) / 255.0, rtol=1e-6)
    assert m.train.labels.shape == (25, 10) and m.train.labels.dtype == np.float64
    assert m.train.labels.sum(axis=1).tolist() == [1.0] * 25
    raw = input_data.read_data_sets(str(tmp_path / "MNIST_data"), dtype=tf.uint8, reshape=False,
                                    validation_size=0)
    assert raw.train.images.shape == (30, 28, 28, 1) and raw.train.images.dtype == np.uint8
    assert raw.train.labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()


def test_validation_size_and_dtype_errors(tmp_path):
    write_idx_folder(tmp_path / "d", gz=False)
    with pytest.raises(ValueError, match="between 0 and 30. Received: 31"):
        input_data.read_data_sets(str(tmp_path / "d"), validation_size=31)
    with pytest.raises(TypeError, match="expected uint8 or float32"):
        input_data.read_data_sets(str(tmp_path / "d"), dtype=tf.int32, validation_size=0)


def test_fashion_mnist_is_read_from_its_folder_and_missing_one_is_explained(tmp_path, monkeypatch):
    write_idx_folder(tmp_path / "data" / "fashion", n_train=12, n_test=4, seed=5)
    f = input_data.read_data_sets(str(tmp_path / "data" / "fashion"), validation_size=2)
    assert (f.train.num_examples, f.test.num_examples) == (10, 4)
    monkeypatch.delenv("JITFLOW_FASHION_MNIST_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MnistDataError, match="Fashion-MNIST not found: looked for "
                                             "train-images-idx3-ubyte"):
        input_data.read_data_sets(str(tmp_path / "nowhere"),
                                  source_url="http://fashion-mnist.s3-website.eu-central-1"
                                             ".amazonaws.com/")


def test_a_corrupt_folder_names_the_file(tmp_path):
    write_idx_folder(tmp_path / "bad")
    (tmp_path / "bad" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(MnistDataError, match="t10k-labels-idx1-ubyte.gz"):
        input_data.read_data_sets(str(tmp_path / "bad"))


def model_next_batch(n, sizes, perms):
    """TF1's rule on indices: shuffle at the start of the first epoch and whenever a batch
    crosses the end; a crossing batch = rest of the epoch + start of the next."""
    order = list(perms.pop(0)) if perms else list(range(n))
    pos, epochs, out = 0, 0, []
    for b in sizes:
        if pos + b <= n:
            out.append(order[pos:pos + b])
            pos += b
        else:
            rest = order[pos:]
            epochs += 1
            order = list(perms.pop(0))
            need = b - len(rest)
            out.append(rest + order[:need])
            pos = need
    return out, epochs


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 20), sizes=st.lists(st.integers(1, 20), min_size=1, max_size=12),
       seed=st.integers(0, 2 ** 31 - 1))
def test_next_batch_follows_tf1_epoch_rule(n, sizes, seed):
    sizes = [min(s, n) for s in sizes]
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1)
    ds = input_data.DataSet(images, np.arange(n), dtype=tf.uint8)
    np.random.seed(seed)
    got = [ds.next_batch(b)[1].tolist() for b in sizes]
    # replay NumPy's global shuffles to build the expected order
    np.random.seed(seed)
    perms = []
    for _ in range(len(sizes) + 1):
        p = np.arange(n)
        np.random.shuffle(p)
        perms.append(p)
    # the DataSet permutes its current (already permuted) arrays: compose the permutations
    composed, cur = [], np.arange(n)
    for p in perms:
        cur = cur[p]
        composed.append(cur.copy())
    want, epochs = model_next_batch(n, sizes, composed)
    assert got == want
    assert ds.epochs_completed == epochs


def test_next_batch_without_shuffle_wraps_in_order():
    ds = input_data.DataSet(np.arange(5, dtype=np.uint8).reshape(5, 1, 1, 1), np.arange(5),
                            dtype=tf.uint8)
    got = [ds.next_batch(3, shuffle=False)[1].tolist() for _ in range(3)]
    assert got == [[0, 1, 2], [3, 4, 0], [1, 2, 3]]
    assert ds.epochs_completed == 1


def test_the_real_lookup_gives_full_mnist_or_the_sample():
    m = input_data.read_data_sets("MNIST_data/", one_hot=True)
    total = m.train.num_examples + m.validation.num_examples
    assert total in (60000, 4000)
    assert m.test.images.shape[1] == 784
    assert 0.0 <= m.test.images.min() and m.test.images.max() <= 1.0
