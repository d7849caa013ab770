"""tf.image.decode_bmp (jitflow/frontend/data/bmp.py) on bitmaps Pillow writes (24-bit RGB,
32-bit BGRA, 8-bit gray; every row padding), top-down files, and errors; decode_image on
BMPs."""
from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import jitflow.compat.v1 as tf
from _tfcheck import run

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _bmp(arr: np.ndarray, mode: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, "BMP")
    return buf.getvalue()


def _decode(data: bytes, **kw) -> np.ndarray:
    tf.reset_default_graph()
    return run(tf.image.decode_bmp(tf.constant(data), **kw))


@SETTINGS
@given(mode=st.sampled_from(["RGB", "RGBA", "L"]), h=st.integers(1, 9), w=st.integers(1, 9),
       seed=st.integers(0, 99))
def test_decode_bmp_matches_pillow(mode, h, w, seed):
    ch = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    arr = np.random.RandomState(seed).randint(0, 256, (h, w, ch)).astype(np.uint8)
    data = _bmp(arr if ch > 1 else arr[..., 0], mode)
    assert struct.unpack_from("<H", data, 28)[0] == 8 * ch
    got = _decode(data)
    assert got.dtype == np.uint8 and got.shape == (h, w, ch)
    np.testing.assert_array_equal(got, arr)
    # Pillow reads a 32-bit BI_RGB pixel's 4th byte as padding (RGBX); TF as alpha
    pil = np.asarray(Image.open(io.BytesIO(data)).convert("RGB" if ch == 4 else mode))
    np.testing.assert_array_equal(got[..., :3], pil.reshape(h, w, -1))


def test_top_down_bitmap_and_channels():
    arr = np.random.RandomState(1).randint(0, 256, (4, 5, 3)).astype(np.uint8)
    data = bytearray(_bmp(arr, "RGB"))
    offset, = struct.unpack_from("<I", data, 10)
    row = (24 * 5 + 31) // 32 * 4
    rows = [bytes(data[offset + i * row:offset + (i + 1) * row]) for i in range(4)]
    struct.pack_into("<i", data, 22, -4)                    # negative height: top-down rows
    data[offset:offset + 4 * row] = b"".join(rows[::-1])
    np.testing.assert_array_equal(_decode(bytes(data)), arr)
    np.testing.assert_array_equal(_decode(bytes(data), channels=3), arr)
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not match bits per pixel"):
        _decode(bytes(data), channels=4)


def test_corrupt_bitmaps_are_invalid_argument():
    good = _bmp(np.zeros((3, 3, 3), np.uint8), "RGB")
    for data, msg in [(good[:-10], "Invalid bitmap"), (b"PK" + good[2:], "not a BMP"),
                      (good[:20], "truncated"),
                      (good[:28] + struct.pack("<H", 16) + good[30:], "must be 1, 3 or 4")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
            _decode(data)


def test_decode_image_and_io_alias_take_bitmaps(tmp_path):
    arr = np.random.RandomState(2).randint(0, 256, (6, 7, 4)).astype(np.uint8)
    p = tmp_path / "a.bmp"
    p.write_bytes(_bmp(arr, "RGBA"))
    tf.reset_default_graph()
    contents = tf.read_file(str(p))
    a, b, c = run([tf.image.decode_image(contents), tf.io.decode_bmp(contents),
                   tf.image.decode_image(contents, channels=3, dtype=tf.uint16)])
    np.testing.assert_array_equal(a, arr)
    np.testing.assert_array_equal(b, arr)
    np.testing.assert_array_equal(c, arr.astype(np.uint16) * 256)   # its own 4 channels, as TF
    tf.reset_default_graph()
    with pytest.raises(tf.errors.InvalidArgumentError, match="channels must be None, 0 or 3"):
        run(tf.image.decode_image(tf.read_file(str(p)), channels=1))
    tf.reset_default_graph()        # a 3-D result promises 3 channels: a 4-channel file is refused
    with pytest.raises(tf.errors.InvalidArgumentError, match="has 4 channels"):
        run(tf.image.decode_image(tf.read_file(str(p)), channels=3, expand_animations=False))
