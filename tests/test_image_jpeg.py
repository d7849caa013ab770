"""tf.image.encode_jpeg (Pillow's libjpeg on the host), adjust_jpeg_quality and
random_jpeg_quality: the encoded files' properties (quality, chroma subsampling, progressive,
density) read back by Pillow, and the round trips against the same pipeline in NumPy + Pillow
(TF's convert_image_dtype rule: float -> uint8 is ``x * 255.5`` truncated)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

import jitflow.compat.v1 as tf
from _tfcheck import run

YY, XX = np.mgrid[0:24, 0:32]
IMG = np.stack([YY * 9, XX * 7, (YY + XX) * 4], -1).astype(np.uint8)     # smooth


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG"
    return im


def _psnr(a, b):
    with np.errstate(divide="ignore"):                   # identical: infinite
        return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_encode_jpeg_options_reach_the_file():
    tf.reset_default_graph()
    hi, lo, full, prog, gray = run([
        tf.image.encode_jpeg(IMG, quality=95), tf.image.encode_jpeg(IMG, quality=20),
        tf.image.encode_jpeg(IMG, chroma_downsampling=False, x_density=72, y_density=144),
        tf.image.encode_jpeg(IMG, progressive=True, optimize_size=True),
        tf.image.encode_jpeg(IMG[..., :1])])
    ih, il = _open(hi), _open(lo)
    assert ih.size == (32, 24) and ih.mode == "RGB"
    assert _psnr(np.asarray(ih), IMG) > 35 and _psnr(np.asarray(ih), IMG) > _psnr(
        np.asarray(il), IMG)
    assert len(lo) < len(hi)
    assert JpegImagePlugin.get_sampling(ih) == 2                 # 4:2:0 by default
    f = _open(full)
    assert JpegImagePlugin.get_sampling(f) == 0 and f.info["dpi"] == (72, 144)
    assert b"\xff\xc2" in prog and b"\xff\xc2" not in hi          # SOF2: progressive
    g = _open(gray)
    assert g.mode == "L" and _psnr(np.asarray(g), IMG[..., 0]) > 35


def test_encode_jpeg_quality_tensor_and_errors():
    tf.reset_default_graph()
    q = tf.placeholder(tf.int32, [])
    e = tf.image.encode_jpeg(IMG, quality=q)
    fixed = {k: tf.image.encode_jpeg(IMG, quality=k) for k in (10, 90)}
    with tf.Session() as s:
        for k in (10, 90):
            assert s.run(e, {q: k}) == s.run(fixed[k])
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"quality must be in \[0,100\]"):
            s.run(e, {q: 101})
    with pytest.raises(TypeError, match="uint8"):
        tf.image.encode_jpeg(IMG.astype(np.float32))
    with pytest.raises(ValueError, match="format"):
        tf.image.encode_jpeg(IMG, format="cmyk")


def _round_trip(x, quality):
    """TF's adjust_jpeg_quality on a float image, in NumPy and Pillow."""
    u8 = (x * np.float32(255.5)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(u8).save(buf, format="JPEG", quality=quality, subsampling=2)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())))
    return back.astype(np.float32) * np.float32(1 / 255)


def test_adjust_and_random_jpeg_quality():
    x = IMG.astype(np.float32) / 255
    tf.reset_default_graph()
    adj = tf.image.adjust_jpeg_quality(x, 40)
    assert adj.shape.as_list() == [24, 32, 3] and adj.dtype == tf.float32
    np.testing.assert_allclose(run(adj), _round_trip(x, 40), atol=1e-7)
    tf.reset_default_graph()
    r = tf.image.random_jpeg_quality(x, 5, 9, seed=3)
    wants = {k: _round_trip(x, k) for k in range(5, 9)}
    seen = set()
    with tf.Session() as s:
        for _ in range(12):
            out = s.run(r)
            hits = [k for k, w in wants.items() if np.allclose(out, w, atol=1e-7)]
            assert hits, "the result is no round trip at a quality in [5, 9)"
            seen.add(hits[0])
    assert len(seen) >= 2
    with pytest.raises(ValueError, match="less than"):
        tf.image.random_jpeg_quality(x, 50, 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        tf.image.random_jpeg_quality(x, 50, 150)


def _jpeg(arr, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", **kw)
    return buf.getvalue()


def test_extract_jpeg_shape_is_jpeg_and_decode_and_crop():
    rgb = _jpeg(IMG, quality=90, progressive=True, exif=b"Exif\x00\x00" + b"\x00" * 40)
    gray = _jpeg(IMG[..., 0])
    png = io.BytesIO()
    Image.fromarray(IMG).save(png, format="PNG")
    tf.reset_default_graph()
    win = tf.placeholder(tf.int32, [4])
    full = tf.image.decode_jpeg(tf.constant(rgb))
    crop = tf.image.decode_and_crop_jpeg(tf.constant(rgb), win)
    fetches = [tf.image.extract_jpeg_shape(tf.constant(rgb)),
               tf.image.extract_jpeg_shape(tf.constant(gray), output_type=tf.int64),
               tf.image.is_jpeg(tf.constant(rgb)), tf.io.is_jpeg(tf.constant(png.getvalue())),
               full, crop]
    with tf.Session() as s:
        sh, shg, yes, no, fv, cv = s.run(fetches, {win: [3, 5, 10, 12]})
        assert sh.tolist() == [24, 32, 3] and sh.dtype == np.int32
        assert shg.tolist() == [24, 32, 1] and shg.dtype == np.int64
        assert yes and not no
        np.testing.assert_array_equal(cv, fv[3:13, 5:17])
        with pytest.raises(tf.errors.InvalidArgumentError, match="crop window"):
            s.run(crop, {win: [20, 0, 10, 5]})
    tf.reset_default_graph()
    with pytest.raises(tf.errors.InvalidArgumentError, match="no start-of-frame"):
        run(tf.image.extract_jpeg_shape(tf.constant(rgb[:20])))
