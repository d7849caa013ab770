"""tf.image.decode_gif (jitflow's own LZW decoder, jitflow/frontend/data/gif.py): files Pillow
writes (real LZW: palettes of 2-256 colours, interlaced, animations of partial frames, with
transparency) against Pillow's own decoding, and hand-built files (an uncompressed-LZW writer
below) for TF's composition rules: frame 0 on black, transparent pixels keep the canvas,
disposal ignored, frames clipped to the canvas, colour-table errors."""
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
from jitflow.frontend.data import gif

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode(data: bytes) -> np.ndarray:
    tf.reset_default_graph()
    return run(tf.image.decode_gif(tf.constant(data)))


def _pillow_frames(data: bytes, mode: str = "RGB") -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    out = []
    for k in range(getattr(im, "n_frames", 1)):
        im.seek(k)
        out.append(np.asarray(im.convert(mode)))
    return np.stack(out)


def _pillow_gif(frames, palettes, **kw) -> bytes:
    ims = []
    for f, p in zip(frames, palettes):
        im = Image.fromarray(f, "P")
        im.putpalette(p.ravel().tolist())
        ims.append(im)
    buf = io.BytesIO()
    ims[0].save(buf, "GIF", save_all=len(ims) > 1, append_images=ims[1:], **kw)
    return buf.getvalue()


@SETTINGS
@given(colors=st.integers(2, 256), interlace=st.booleans(), h=st.integers(16, 40),
       w=st.integers(16, 40), seed=st.integers(0, 99))
def test_single_frame_matches_pillow(colors, interlace, h, w, seed):
    rng = np.random.RandomState(seed)
    idx = rng.randint(0, colors, (h, w)).astype(np.uint8)
    pal = rng.randint(0, 256, (colors, 3)).astype(np.uint8)
    data = _pillow_gif([idx], [pal], interlace=interlace)
    assert gif.read(data)[2][0]["interlaced"] == interlace      # the file is what we meant
    got = _decode(data)
    assert got.dtype == np.uint8 and got.shape == (1, h, w, 3)
    np.testing.assert_array_equal(got, _pillow_frames(data))
    np.testing.assert_array_equal(got[0], pal[idx])


def test_large_noisy_image_fills_the_lzw_table():
    rng = np.random.RandomState(7)
    idx = rng.randint(0, 256, (120, 150)).astype(np.uint8)    # codes reach 12 bits, table full
    pal = rng.randint(0, 256, (256, 3)).astype(np.uint8)
    data = _pillow_gif([idx], [pal])
    np.testing.assert_array_equal(gif.decode(data)[0], pal[idx])


@pytest.mark.parametrize("disposal", [0, 1])
def test_animation_of_partial_frames_matches_pillow(disposal):
    rng = np.random.RandomState(disposal)
    pal = rng.randint(0, 256, (16, 3)).astype(np.uint8)
    frames = [rng.randint(0, 16, (24, 30)).astype(np.uint8)]
    for _ in range(4):
        f = frames[-1].copy()
        y, x = rng.randint(0, 18), rng.randint(0, 22)
        f[y:y + 5, x:x + 7] = rng.randint(0, 16, (5, 7))
        frames.append(f)
    data = _pillow_gif(frames, [pal] * 5, disposal=disposal, duration=40)
    boxes = [fr["box"] for fr in gif.read(data)[2]]
    assert len(boxes) == 5 and any(b[2:] != (30, 24) for b in boxes[1:])   # partial frames
    got = _decode(data)
    np.testing.assert_array_equal(got, _pillow_frames(data))
    np.testing.assert_array_equal(got, pal[np.stack(frames)])


def test_animation_with_local_palettes_and_transparency_matches_pillow():
    rng = np.random.RandomState(3)
    frames = [rng.randint(0, 8, (20, 20)).astype(np.uint8) for _ in range(3)]
    frames[0][:5] = 0                                   # transparent on frame 0: black
    pals = [rng.randint(0, 256, (8, 3)).astype(np.uint8) for _ in range(3)]
    data = _pillow_gif(frames, pals, transparency=0, disposal=1, duration=40)
    parsed = gif.read(data)[2]
    assert all(fr["transparent"] == 0 for fr in parsed)
    got = _decode(data)
    canvas = np.zeros((20, 20, 3), np.uint8)
    want = []
    for f, p in zip(frames, pals):                      # TF's rule, from the frames themselves
        canvas = np.where((f == 0)[..., None], canvas, p[f])
        want.append(canvas)
    np.testing.assert_array_equal(got, np.stack(want))
    rgba = _pillow_frames(data, "RGBA")                 # Pillow: never-painted pixels clear
    np.testing.assert_array_equal(got, np.where(rgba[..., 3:] == 0, 0, rgba[..., :3]))


# --------------------------------------------------------- hand-built files ----------------

def _lzw_uncompressed(idx: np.ndarray, min_size: int) -> bytes:
    """Literal codes only, a clear code before every 2**min_size - 2 of them (so the code
    width stays min_size + 1), then the end code; packed least significant bit first."""
    clear, width = 1 << min_size, min_size + 1
    codes, run_ = [], 2 ** min_size - 2
    flat = idx.ravel().tolist()
    for i in range(0, len(flat), run_):
        codes += [clear] + flat[i:i + run_]
    codes.append(clear + 1)
    acc = nbits = 0
    out = bytearray()
    for c in codes:
        acc |= c << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc)
    blocks = b"".join(bytes([len(out[i:i + 255])]) + bytes(out[i:i + 255])
                      for i in range(0, len(out), 255))
    return bytes([min_size]) + blocks + b"\x00"


def _table(pal: np.ndarray) -> tuple[int, bytes]:
    n = len(pal)
    assert n & (n - 1) == 0 and 2 <= n <= 256
    return n.bit_length() - 2, pal.astype(np.uint8).tobytes()


def _hand_gif(width, height, gct, frames) -> bytes:
    """frames: dicts of ``index``, ``left``, ``top`` and optional ``lct``, ``transparent``,
    ``disposal``, ``interlace``."""
    out = bytearray(b"GIF89a")
    flags, table = 0, b""
    if gct is not None:
        bits, table = _table(gct)
        flags = 0x80 | bits
    out += struct.pack("<HHBBB", width, height, flags, 0, 0) + table
    for f in frames:
        t = f.get("transparent")
        packed = (f.get("disposal", 0) << 2) | (1 if t is not None else 0)
        out += b"\x21\xf9\x04" + struct.pack("<BHB", packed, 0, t or 0) + b"\x00"
        idx = f["index"]
        h, w = idx.shape
        flags, table = 0, b""
        if f.get("lct") is not None:
            bits, table = _table(f["lct"])
            flags = 0x80 | bits
        rows = idx
        if f.get("interlace"):
            flags |= 0x40
            order = [r for r0, step in ((0, 8), (4, 8), (2, 4), (1, 2)) for r in range(r0, h, step)]
            rows = idx[order]
        out += b"\x2c" + struct.pack("<HHHHB", f["left"], f["top"], w, h, flags) + table
        out += _lzw_uncompressed(rows, max(2, int(idx.max()).bit_length()))
    return bytes(out + b"\x3b")


PAL4 = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], np.uint8)
PAL8 = np.random.RandomState(11).randint(0, 256, (8, 3)).astype(np.uint8)


def test_hand_built_frames_follow_tf_composition():
    rng = np.random.RandomState(5)
    a = rng.randint(0, 4, (3, 4)).astype(np.uint8)
    b = rng.randint(0, 8, (4, 3)).astype(np.uint8)
    b[0, 0] = 7                                      # transparent (and in the local table)
    c = rng.randint(0, 4, (4, 5)).astype(np.uint8)   # reaches past the canvas: clipped
    d = rng.randint(0, 4, (9, 6)).astype(np.uint8)
    data = _hand_gif(6, 5, PAL4, [
        {"index": a, "left": 1, "top": 1, "disposal": 2},         # restore-to-bg: ignored
        {"index": b, "left": 3, "top": 0, "lct": PAL8, "transparent": 7, "disposal": 3},
        {"index": c, "left": 3, "top": 2},
        {"index": d[:5], "left": 0, "top": 0, "interlace": True}])
    got = _decode(data)
    want = np.zeros((4, 5, 6, 3), np.uint8)
    want[0, 1:4, 1:5] = PAL4[a]                      # frame 0 on black
    want[1] = want[0]
    keep = b == 7
    want[1, 0:4, 3:6] = np.where(keep[..., None], want[1, 0:4, 3:6], PAL8[b])
    want[2] = want[1]
    want[2, 2:5, 3:6] = PAL4[c[:3, :3]]
    want[3] = PAL4[d[:5]]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(gif.decode(data), want)


def test_transparent_index_may_lie_outside_the_table_other_indices_may_not():
    idx = np.array([[0, 1], [5, 1]], np.uint8)
    ok = _hand_gif(2, 2, PAL4, [{"index": idx, "left": 0, "top": 0, "transparent": 5}])
    got = _decode(ok)[0]
    np.testing.assert_array_equal(got, [[PAL4[0], PAL4[1]], [[0, 0, 0], PAL4[1]]])
    bad = _hand_gif(2, 2, PAL4, [{"index": idx, "left": 0, "top": 0}])
    with pytest.raises(tf.errors.InvalidArgumentError, match="color index 5 outside"):
        _decode(bad)
    no_table = _hand_gif(2, 2, None, [{"index": idx % 2, "left": 0, "top": 0}])
    with pytest.raises(tf.errors.InvalidArgumentError, match="missing color map"):
        _decode(no_table)


def test_corrupt_data_is_invalid_argument():
    idx = np.arange(12, dtype=np.uint8).reshape(3, 4) % 4
    good = _hand_gif(4, 3, PAL4, [{"index": idx, "left": 0, "top": 0}])
    np.testing.assert_array_equal(gif.decode(good)[0], PAL4[idx])
    for data, msg in [(b"GIF89a" + good[6:30], "truncated"), (b"\x89PNG\r\n\x1a\n", "not a GIF"),
                      (good[:13 + 12] + b"\x3b", "does not contain any image"),
                      (good[:-8] + b"\x00\x3b", "truncated")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=msg):
            _decode(data)
    with pytest.raises(gif.GIFError, match="invalid LZW code"):
        gif.lzw_decode(bytes([0b00000100 | (7 << 3)]), 2, 4)   # clear, then code 7 of 6


def test_decode_image_and_io_alias_take_gifs(tmp_path):
    rng = np.random.RandomState(9)
    pal = rng.randint(0, 256, (4, 3)).astype(np.uint8)
    frames = [rng.randint(0, 4, (16, 17)).astype(np.uint8) for _ in range(2)]
    data = _pillow_gif(frames, [pal] * 2)
    p = tmp_path / "a.gif"
    p.write_bytes(data)
    tf.reset_default_graph()
    contents = tf.io.read_file(str(p))
    all_frames = tf.image.decode_image(contents)
    first = tf.image.decode_image(contents, expand_animations=False)
    wide = tf.image.decode_image(contents, dtype=tf.uint16, channels=3)
    alias = tf.io.decode_gif(contents)
    assert all_frames.shape.ndims is None and first.shape.as_list() == [None, None, None]
    assert alias.shape.as_list() == [None, None, None, 3]
    a, f, w, g = run([all_frames, first, wide, alias])
    want = pal[np.stack(frames)]
    np.testing.assert_array_equal(a, want)
    np.testing.assert_array_equal(f, want[0])
    np.testing.assert_array_equal(w, want.astype(np.uint16) * 256)   # convert_image_dtype's
    np.testing.assert_array_equal(g, want)
    tf.reset_default_graph()
    with pytest.raises(tf.errors.InvalidArgumentError, match="channels must be None, 0 or 3"):
        run(tf.image.decode_image(tf.constant(data), channels=1))
    tf.reset_default_graph()        # decoded frames feed compiled ops (here on llvm)
    x = tf.cast(tf.image.decode_gif(tf.constant(data)), tf.float32)
    np.testing.assert_allclose(run(tf.reduce_sum(x, [1, 2]), backend="llvm"),
                               want.astype(np.float64).sum((1, 2)))
