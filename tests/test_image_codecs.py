"""tf.read_file and the image codecs (decode_png / encode_png against Pillow's files and
decoding, decode_jpeg against Pillow), their errors, a read -> decode -> convert -> resize
pipeline on the default (llvm) backend, and TF1's legacy bicubic resize against a NumPy
transcription of its kernel."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from _tfcheck import check_gradients, run

Image = pytest.importorskip("PIL.Image")     # Pillow writes the test files; jitflow's PNG codec
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
rng = np.random.RandomState(0)


def _pil_png(img, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _photo(h=23, w=19):
    """Smooth areas and noise, so Pillow's adaptive filtering uses all five filter types."""
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = np.stack([yy * 9, xx * 11, (yy + xx) * 5], axis=2) % 256
    noise = rng.randint(0, 256, (h, w, 3))
    return np.where((yy % 7 < 3)[..., None], smooth, noise).astype(np.uint8)


def _decode(data, **kw):
    tf.reset_default_graph()
    return run(tf.image.decode_png(data, **kw))


def _filters_used(data: bytes) -> set:
    """The filter types of a non-interlaced 8-bit PNG's rows (to show the test covers them)."""
    w, h, depth, ctype = struct.unpack(">IIBB", data[16:26])
    ch = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    pos, idat = 8, b""
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 1 + (w * ch * depth + 7) // 8
    return {raw[r * stride] for r in range(h)}


# ------------------------------------------------------------------ PNG ---------------------

@SETTINGS
@given(h=st.integers(1, 9), w=st.integers(1, 9), c=st.integers(1, 4),
       dtype=st.sampled_from([np.uint8, np.uint16]), level=st.integers(-1, 9),
       seed=st.integers(0, 2**16))
def test_png_round_trip(h, w, c, dtype, level, seed):
    x = np.random.RandomState(seed).randint(0, np.iinfo(dtype).max + 1, (h, w, c)).astype(dtype)
    tf.reset_default_graph()
    enc = tf.image.encode_png(tf.constant(x), compression=level)
    dec = tf.image.decode_png(enc, channels=c, dtype=tf.as_dtype(dtype))
    assert dec.shape.as_list() == [None, None, c]
    data, got = run([enc, dec])
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, x)
    if dtype == np.uint8:                        # Pillow (which checks the CRCs) reads it too
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))).reshape(x.shape),
                                      x)


@pytest.mark.parametrize("mode, channels", [("RGB", 3), ("RGBA", 4), ("L", 1), ("LA", 2)])
def test_decode_png_of_pillow_files(mode, channels):
    x = _photo()
    arr = {"RGB": x, "RGBA": np.dstack([x, x[..., :1]]), "L": x[..., 0],
           "LA": np.dstack([x[..., 0], x[..., 1]])}[mode]
    data = _pil_png(Image.fromarray(arr, mode))
    if mode == "RGB":
        assert len(_filters_used(data)) >= 3
    got = _decode(data)
    assert got.shape == (23, 19, channels) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, arr.reshape(got.shape))


def test_decode_png_palette_low_depth_and_16_bit():
    x = _photo()
    pal = Image.fromarray(x).quantize(12)
    np.testing.assert_array_equal(_decode(_pil_png(pal)), np.asarray(pal.convert("RGB")))
    data = _pil_png(pal, transparency=3)                          # tRNS -> RGBA
    with_alpha = _decode(data)
    np.testing.assert_array_equal(with_alpha,
                                  np.asarray(Image.open(io.BytesIO(data)).convert("RGBA")))
    assert (with_alpha[..., 3] == 0).any()
    bits = Image.fromarray(x[..., 0] > 120).convert("1")          # 1-bit gray -> 0/255
    np.testing.assert_array_equal(_decode(_pil_png(bits))[..., 0], np.asarray(bits.convert("L")))
    g16 = rng.randint(0, 65536, (11, 13)).astype(np.uint16)
    data = _pil_png(Image.fromarray(g16))
    np.testing.assert_array_equal(_decode(data, dtype=tf.uint16)[..., 0], g16)
    np.testing.assert_array_equal(_decode(data)[..., 0], g16 >> 8)    # libpng's strip_16
    np.testing.assert_array_equal(_decode(_pil_png(Image.fromarray(x[..., 0])), dtype=tf.uint16),
                                  x[..., :1].astype(np.uint16) * 257)


def test_decode_png_transparent_colour_of_gray_and_rgb():
    x = _photo()
    x[:3, :4] = [10, 20, 30]
    rgb = _pil_png(Image.fromarray(x), transparency=(10, 20, 30))
    assert _decode(rgb).shape[2] == 3                  # TF: the file's 3 channels
    want = np.asarray(Image.open(io.BytesIO(rgb)).convert("RGBA"))
    assert (want[:3, :4, 3] == 0).all()
    np.testing.assert_array_equal(_decode(rgb, channels=4), want)
    g = x[..., 0].copy()
    gray = _pil_png(Image.fromarray(g), transparency=int(g[0, 0]))
    np.testing.assert_array_equal(_decode(gray, channels=2),
                                  np.asarray(Image.open(io.BytesIO(gray)).convert("LA")))


def test_decode_png_channel_conversions():
    x = _photo().astype(np.int64)
    data = _pil_png(Image.fromarray(x.astype(np.uint8)))
    gray = (9798 * x[..., 0] + 19235 * x[..., 1] + 3735 * x[..., 2] + 16384) >> 15
    g1 = _decode(data, channels=1)[..., 0]
    np.testing.assert_array_equal(g1, gray)
    pil_l = np.asarray(Image.fromarray(x.astype(np.uint8)).convert("L"), np.int64)  # ITU-R 601
    assert np.abs(g1 - pil_l).max() <= 1
    ga = _decode(data, channels=2)
    np.testing.assert_array_equal(ga[..., 0], gray)
    assert (ga[..., 1] == 255).all()
    rgba = _decode(data, channels=4)
    np.testing.assert_array_equal(rgba[..., :3], x)
    assert (rgba[..., 3] == 255).all()
    g = _pil_png(Image.fromarray(x[..., 0].astype(np.uint8)))
    np.testing.assert_array_equal(_decode(g, channels=3), np.repeat(x[..., :1], 3, axis=2))
    a = _pil_png(Image.fromarray(np.dstack([x, x[..., :1]]).astype(np.uint8), "RGBA"))
    np.testing.assert_array_equal(_decode(a, channels=3), x)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _filtered_png(img: np.ndarray, depth: int = 8) -> bytes:
    """An RGB PNG whose row r is written with filter type r % 5 (the PNG spec's encoders)."""
    h, w, _ = img.shape
    rows = img.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8)
    bpp = 3 * depth // 8
    raw, prior = b"", np.zeros(rows.shape[1], np.int64)
    for r in range(h):
        cur, ft = rows[r].astype(np.int64), r % 5
        left = np.concatenate([np.zeros(bpp, np.int64), cur[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prior[:-bpp]])
        if ft == 4:
            p = left + prior - upleft
            pa, pb, pc = abs(p - left), abs(p - prior), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prior, upleft))
        else:
            pred = [0 * cur, left, prior, (left + prior) // 2][ft]
        raw += bytes([ft]) + ((cur - pred) % 256).astype(np.uint8).tobytes()
        prior = cur
    ihdr = struct.pack(">IIBBBBB", w, h, depth, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw))
            + _chunk(b"IEND", b""))


@pytest.fixture(params=["python", "numba"])
def unfilter(request, monkeypatch):
    """The row unfiltering by the Python loop (small images) or the Numba kernel (large)."""
    from jitflow.frontend.data import png
    monkeypatch.setattr(png, "NUMBA_BYTES", 1 << 40 if request.param == "python" else 0)
    return request.param


@pytest.mark.parametrize("depth", [8, 16])
def test_decode_png_all_five_filters(depth, unfilter):
    x = _photo(11, 6).astype(np.uint16) * (257 if depth == 16 else 1)
    data = _filtered_png(x, depth)
    assert _filters_used(data) == {0, 1, 2, 3, 4} or depth == 16
    if depth == 8:          # Pillow agrees that the file holds x
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), x)
    np.testing.assert_array_equal(_decode(data, dtype=tf.uint16 if depth == 16 else tf.uint8),
                                  x)


def _adam7_png(img: np.ndarray) -> bytes:
    """A gray 8-bit interlaced PNG, written pass by pass (filter 0)."""
    h, w = img.shape
    raw = b""
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                           (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = img[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 1))
            + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b""))


def test_decode_png_interlaced(unfilter):
    img = rng.randint(0, 256, (11, 7)).astype(np.uint8)
    data = _adam7_png(img)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), img)  # a valid file
    np.testing.assert_array_equal(_decode(data)[..., 0], img)


def test_corrupt_png_errors(unfilter):
    good = _pil_png(Image.fromarray(_photo()))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    bad_filter = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
                  _chunk(b"IDAT", zlib.compress(b"\0\1\2\7\3\4")) + _chunk(b"IEND", b""))
    with pytest.raises(tf.errors.InvalidArgumentError, match="filter type 7 in row 1"):
        _decode(bad_filter)
    with pytest.raises(tf.errors.InvalidArgumentError, match="PNG signature"):
        _decode(b"GIF89a" + good[6:])
    bad = bytearray(good)
    bad[45] ^= 0xFF                                 # a byte of the first IDAT's data
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad CRC in PNG chunk b'IDAT'"):
        _decode(bytes(bad))
    with pytest.raises(tf.errors.InvalidArgumentError, match="truncated PNG"):
        _decode(good[:len(good) // 2])
    with pytest.raises(ValueError, match="channels"):
        tf.image.decode_png(good, channels=5)
    with pytest.raises(ValueError, match="scalar string"):
        tf.image.decode_png(tf.constant([good, good]))
    with pytest.raises(TypeError, match="uint8 or uint16"):
        tf.image.encode_png(tf.constant(np.zeros((2, 2, 3), np.float32)))


def test_read_file_decode_image_and_missing_file(tmp_path):
    x = _photo(9, 8)
    p, j = tmp_path / "a.png", tmp_path / "b.jpg"
    Image.fromarray(x).save(p)
    Image.fromarray(x).save(j, quality=95)
    tf.reset_default_graph()
    a, b, raw = run([tf.image.decode_image(tf.io.read_file(str(p))),
                     tf.image.decode_image(tf.read_file(str(j)), channels=3),
                     tf.read_file(str(p))])
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, np.asarray(Image.open(j)))
    assert raw == p.read_bytes()
    # TF's decode_image is convert_image_dtype of the uint8 JPEG: uint16 is times 256
    tf.reset_default_graph()
    w, conv = run([tf.image.decode_image(tf.read_file(str(j)), dtype=tf.uint16),
                   tf.image.convert_image_dtype(tf.image.decode_jpeg(tf.read_file(str(j))),
                                                tf.uint16)])
    np.testing.assert_array_equal(w, conv)
    np.testing.assert_array_equal(w, np.asarray(Image.open(j)).astype(np.uint16) * 256)
    tf.reset_default_graph()
    with pytest.raises(tf.errors.NotFoundError, match="nothere.png"):
        run(tf.image.decode_png(tf.read_file(str(tmp_path / "nothere.png"))))


# ------------------------------------------------------------------ JPEG --------------------

def _jpeg(arr, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", **kw)
    return buf.getvalue()


def test_decode_jpeg_matches_pillow():
    x = _photo(24, 32)
    data = _jpeg(x, quality=90)
    gdata = _jpeg(x[..., 0])
    tf.reset_default_graph()
    rgb_t = tf.image.decode_jpeg(data, dct_method="INTEGER_ACCURATE")
    assert rgb_t.shape.as_list() == [None, None, None]
    rgb, gray, g0, half = run([rgb_t, tf.image.decode_jpeg(data, channels=1),
                               tf.io.decode_jpeg(gdata), tf.image.decode_jpeg(data, ratio=2)])
    np.testing.assert_array_equal(rgb, np.asarray(Image.open(io.BytesIO(data))))
    np.testing.assert_array_equal(g0[..., 0], np.asarray(Image.open(io.BytesIO(gdata))))
    # channels=1 is libjpeg's Y channel, decoded as such (TF asks for JCS_GRAYSCALE): the Y
    # of Pillow's YCbCr decoding, close to the luma of the RGB decoding (which clamps)
    ycc = Image.open(io.BytesIO(data))
    ycc.draft("YCbCr", ycc.size)
    assert ycc.mode == "YCbCr"
    np.testing.assert_array_equal(gray[..., 0], np.asarray(ycc)[..., 0])
    luma = rgb.astype(np.float64) @ [0.299, 0.587, 0.114]
    assert gray.shape == (24, 32, 1) and np.abs(gray[..., 0] - luma).mean() < 1
    assert half.shape == (12, 16, 3)
    yy, xx = np.mgrid[0:24, 0:32]
    smooth = _jpeg(np.stack([yy * 10, xx * 7, 255 - xx * 7], axis=2).astype(np.uint8))
    tf.reset_default_graph()
    full, half = run([tf.image.decode_jpeg(smooth), tf.image.decode_jpeg(smooth, ratio=4)])
    blocks = full.astype(np.float64).reshape(6, 4, 8, 4, 3).mean(axis=(1, 3))
    assert half.shape == (6, 8, 3) and np.abs(half - blocks).max() < 6
    with pytest.raises(tf.errors.InvalidArgumentError, match="decode_jpeg"):
        tf.reset_default_graph()
        run(tf.image.decode_jpeg(data[:20] + b"\0" * 50))
    with pytest.raises(ValueError, match="ratio"):
        tf.image.decode_jpeg(data, ratio=3)


# ------------------------------------------------------------------ bicubic -----------------

def _tf_bicubic_ref(x, oh, ow, align):
    """TF1's legacy ResizeBicubic (resize_bicubic_op.cc) on NHWC: a 1025-entry table of Keys'
    kernel (a = -0.75) looked up at lrint(delta * 1024), taps clamped to the image."""
    A, T = -0.75, 1024
    table = np.zeros((T + 1, 2))
    for i in range(T + 1):
        t = i / T
        table[i, 0] = ((A + 2) * t - (A + 3)) * t * t + 1
        t += 1
        table[i, 1] = ((A * t - 5 * A) * t + 8 * A) * t - 4 * A

    def taps(d, o, n):              # the coordinates in float32, as TF computes them
        f = np.float32
        scale = f(n - 1) / f(o - 1) if align and o > 1 else f(n) / f(o)
        src = f(d) * scale
        i = int(np.floor(src))
        off = int(np.rint((src - i) * T))
        w = [table[off, 1], table[off, 0], table[T - off, 0], table[T - off, 1]]
        return [min(max(i + k, 0), n - 1) for k in (-1, 0, 1, 2)], w
    n, h, w, c = x.shape
    out = np.zeros((n, oh, ow, c))
    for y in range(oh):
        ys, wy = taps(y, oh, h)
        for xx in range(ow):
            xs, wx = taps(xx, ow, w)
            for a in range(4):
                for b in range(4):
                    out[:, y, xx] += wy[a] * wx[b] * x[:, ys[a], xs[b]]
    return out


@pytest.mark.parametrize("size", [(9, 11), (2, 3), (4, 5), (1, 7)])
@pytest.mark.parametrize("align", [False, True])
def test_resize_bicubic_matches_tf_formula(size, align):
    x = rng.rand(2, 4, 5, 3)
    tf.reset_default_graph()
    got = run(tf.image.resize_bicubic(x, size, align_corners=align))
    # float32 coordinates and weights (TF's), float64 image: agreement to float32 rounding
    np.testing.assert_allclose(got, _tf_bicubic_ref(x, *size, align), rtol=1e-6, atol=1e-6)


def test_resize_images_bicubic_gradient_and_llvm():
    x = rng.rand(5, 6, 2).astype(np.float32)
    tf.reset_default_graph()
    y = tf.image.resize_images(x, [8, 3], method=tf.image.ResizeMethod.BICUBIC)
    assert y.shape.as_list() == [8, 3, 2]
    ref = run(y)
    np.testing.assert_allclose(ref, _tf_bicubic_ref(x[None].astype(np.float64), 8, 3, False)[0],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(y, backend="llvm"), ref, rtol=1e-6, atol=1e-6)
    check_gradients(lambda t: tf.image.resize_bicubic(t, [5, 3], align_corners=True),
                    [rng.rand(1, 3, 4, 2)])
    check_gradients(lambda t: tf.image.resize_bicubic(t, [7, 6]), [rng.rand(1, 3, 4, 1)])


# ------------------------------------------------------------------ pipeline ----------------

def _bilinear_ref(x, oh, ow):
    h, w = x.shape[:2]
    out = np.zeros((oh, ow, x.shape[2]))
    for y in range(oh):
        for xx in range(ow):
            fy, fx = np.float32(y) * np.float32(h / oh), np.float32(xx) * np.float32(w / ow)
            y0, x0 = int(fy), int(fx)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ly, lx = fy - y0, fx - x0
            top = x[y0, x0] * (1 - lx) + x[y0, x1] * lx
            bot = x[y1, x0] * (1 - lx) + x[y1, x1] * lx
            out[y, xx] = top * (1 - ly) + bot * ly
    return out


def test_read_decode_convert_resize_pipeline_on_llvm(tmp_path):
    x = _photo(12, 10)
    path = tmp_path / "img.png"
    Image.fromarray(x).save(path)
    tf.reset_default_graph()
    fname = tf.placeholder(tf.string, [])
    img = tf.image.decode_png(tf.read_file(fname), channels=3)
    f = tf.image.convert_image_dtype(img, tf.float32)       # [?, ?, 3]: sizes at run time
    small = tf.image.resize_images(f, [5, 7])
    cubic = tf.image.resize_bicubic(f[None], [6, 4])[0]
    with tf.Session() as s:                          # the default backend (llvm)
        assert s._backend.name == "llvm"
        got, gc = s.run([small, cubic], {fname: str(path)})
    xf = x.astype(np.float64) / 255
    np.testing.assert_allclose(got, _bilinear_ref(xf, 5, 7), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gc, _tf_bicubic_ref(xf[None], 6, 4, False)[0], rtol=1e-5,
                               atol=1e-5)


def test_decode_in_a_dataset_map(tmp_path):
    paths = []
    for i, hw in enumerate([(4, 5), (7, 3), (6, 6)]):      # files of different sizes
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full(hw + (3,), 40 * i + 3, np.uint8)).save(p)
        paths.append(str(p))

    def parse(f):
        img = tf.image.decode_png(tf.read_file(f), channels=3)
        return tf.image.resize_bicubic(tf.image.convert_image_dtype(img, tf.float32)[None],
                                       [2, 3])[0]
    tf.reset_default_graph()
    nxt = tf.data.Dataset.from_tensor_slices(paths).map(parse).batch(3) \
        .make_one_shot_iterator().get_next()
    with tf.Session() as s:
        got = s.run(nxt)
    # a constant image stays constant: the legacy kernel's 4 weights sum to 1
    np.testing.assert_allclose(got, np.broadcast_to(
        (40 * np.arange(3) + 3)[:, None, None, None] / 255, (3, 2, 3, 3)), rtol=1e-6)


def test_decode_jpeg_without_pillow_names_the_package(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "PIL", None)
    tf.reset_default_graph()
    with pytest.raises(ImportError, match="Pillow"):
        tf.image.decode_jpeg(b"\xff\xd8\xff")


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
def test_resize_of_a_dynamic_size_equals_the_static_one(method, align):
    """A decoded image's height and width are known only at run time: the taps are then
    computed in the graph, in float32 like the static ones, on the llvm backend."""
    fn = {"nearest": tf.image.resize_nearest_neighbor, "bilinear": tf.image.resize_bilinear,
          "bicubic": tf.image.resize_bicubic}[method]
    tf.reset_default_graph()
    ph = tf.placeholder(tf.float32, [None, None, None, 2])
    y = fn(ph, [6, 5], align_corners=align)
    assert y.shape.as_list() == [None, 6, 5, 2]
    g, = tf.gradients(tf.reduce_sum(y * y), [ph])
    with tf.Session() as s:
        for shape in [(1, 4, 7, 2), (2, 9, 3, 2), (1, 6, 5, 2)]:
            x = rng.rand(*shape).astype(np.float32)
            got, gg = s.run([y, g], {ph: x})
            sp = tf.placeholder(tf.float32, shape)
            sy = fn(sp, [6, 5], align_corners=align)
            sg, = tf.gradients(tf.reduce_sum(sy * sy), [sp])
            want, want_g = run([sy, sg], {sp: x})
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(gg, want_g, rtol=1e-5, atol=1e-5)


def test_write_file_of_encode_png_with_fed_image_and_name(tmp_path):
    tf.reset_default_graph()
    x = tf.placeholder(tf.uint8, [3, 4, 3])
    fname = tf.placeholder(tf.string, [])
    w = tf.io.write_file(fname, tf.image.encode_png(x, compression=9))
    v = rng.randint(0, 256, (3, 4, 3)).astype(np.uint8)
    with tf.Session() as s:
        assert s.run(w, {x: v, fname: str(tmp_path / "o.png")}) is None
        s.run(tf.write_file(str(tmp_path / "t.txt"), "hello"))
        with pytest.raises(tf.errors.NotFoundError, match="directory"):
            s.run(w, {x: v, fname: str(tmp_path / "no" / "o.png")})
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o.png")), v)
    assert (tmp_path / "t.txt").read_bytes() == b"hello"
