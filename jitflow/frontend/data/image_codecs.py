"""Image files on the host: ``tf.read_file``, ``tf.write_file``, ``tf.image.decode_png`` / ``encode_png`` (the
zlib + NumPy codec of :mod:`.png`), ``decode_gif`` (the LZW + NumPy codec of :mod:`.gif`),
``decode_bmp`` (:mod:`.bmp`), ``decode_jpeg`` / ``encode_jpeg`` (Pillow) and ``decode_image``.

Like the other string ops (:mod:`.string_ops`) each adds a HostNode: a decoder takes a scalar
tf.string tensor and its image is a host-fed placeholder of static shape
``[None, None, channels or None]`` that compiled ops consume; ``encode_png`` reads its image
by a nested run (``GraphValue``) and gives a StringTensor. Corrupt data raises
``tf.errors.InvalidArgumentError``; a missing file ``tf.errors.NotFoundError``.
"""
from __future__ import annotations

import io
from typing import Any, Optional

import numpy as np

from ...errors import InvalidArgumentError, NotFoundError
from ..graph import Tensor
from ..op_builder import convert_to_tensor
from . import bmp, gif, jpeg_header, png
from .hostfeed import HostNode, StringTensor, registry_for
from .string_format import GraphValue
from .string_ops import _outputs, _scalar_bytes, _string_input, _where
from .structure import string, to_dtype

__all__ = ["read_file", "write_file", "decode_png", "encode_png", "decode_gif", "decode_bmp",
           "decode_jpeg", "encode_jpeg", "decode_and_crop_jpeg", "extract_jpeg_shape", "is_jpeg",
           "decode_image"]


def _bytes_of(v: Any, what: str) -> bytes:
    raw = _scalar_bytes(v)
    if isinstance(raw, np.ndarray):
        raise InvalidArgumentError(f"{what}: contents must be a scalar string, got shape "
                                   f"{list(raw.shape)}")
    return raw.encode() if isinstance(raw, str) else bytes(raw)


def _channels(channels: Any, allowed: tuple, what: str) -> int:
    c = 0 if channels is None else int(channels)
    if c not in allowed:
        raise ValueError(f"{what}: channels must be one of {list(allowed)}, got {channels}")
    return c


def _scalar(s: StringTensor, what: str) -> StringTensor:
    if s.shape.ndims not in (None, 0):
        raise ValueError(f"{what}: contents must be a scalar string (one file's bytes), got "
                         f"shape {s.shape}")
    return s


def _host_image(fn: Any, s: StringTensor, dtype: Any, shape: list, name: str) -> Tensor:
    node = HostNode(fn, [s], name=name)
    return _outputs(node, s.graph, [(dtype, shape)], name)[0]


def read_file(filename: Any, name: Optional[str] = None) -> StringTensor:
    """``tf.read_file`` / ``tf.io.read_file``: the whole file's bytes as a scalar string."""
    s = _string_input(filename, "read_file")

    def fn(sess: Any, v: Any) -> tuple:
        path = _bytes_of(v, "read_file").decode()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFoundError(f"{path}; No such file or directory") from None
        except OSError as e:
            raise InvalidArgumentError(f"read_file: cannot read {path}: {e}") from None
        return (np.asarray(data, dtype=object),)
    op = name or "ReadFile"
    node = HostNode(fn, [s], name=op)
    return registry_for(s.graph).output(node, 0, string, (), op)


def write_file(filename: Any, contents: Any, name: Optional[str] = None) -> Any:
    """``tf.write_file`` / ``tf.io.write_file``: an op that, run, writes the scalar string
    ``contents`` to ``filename`` (replacing it)."""
    f = _string_input(filename, "write_file")
    c = _string_input(contents, "write_file")
    reg = registry_for(f.graph)

    def act(session: Any, feed_dict: Any) -> None:
        path_v, data_v = reg.evaluate(session, [f, c], feed_dict)
        path = _bytes_of(path_v, "write_file").decode()
        try:
            with open(path, "wb") as out:
                out.write(_bytes_of(data_v, "write_file"))
        except FileNotFoundError:
            raise NotFoundError(f"write_file: {path}: the directory does not exist") from None
        except OSError as e:
            raise InvalidArgumentError(f"write_file: cannot write {path}: {e}") from None
    return reg.action(act, name or "WriteFile")


# ------------------------------------------------------------------ PNG ---------------------

def _png_dtype(dtype: Any) -> Any:
    dt = to_dtype(dtype)
    if dt.name not in ("uint8", "uint16"):
        raise TypeError(f"decode_png: dtype must be tf.uint8 or tf.uint16, got {dt.name}")
    return dt


def _decode_png_value(v: Any, channels: int, dt: Any, what: str) -> np.ndarray:
    try:
        return png.decode(_bytes_of(v, what), channels, dt.name)
    except png.PNGError as e:
        raise InvalidArgumentError(f"{what}: {e}{_where(_scalar_bytes(v))}") from None


def decode_png(contents: Any, channels: int = 0, dtype: Any = "uint8",
               name: Optional[str] = None) -> Tensor:
    """``tf.image.decode_png``: [height, width, channels] uint8 (or uint16) pixels;
    ``channels`` 0 keeps the file's (a palette gives RGB, or RGBA with transparency), 1 gray,
    2 gray+alpha, 3 RGB, 4 RGBA."""
    s = _scalar(_string_input(contents, "decode_png"), "decode_png")
    c = _channels(channels, (0, 1, 2, 3, 4), "decode_png")
    dt = _png_dtype(dtype)
    return _host_image(lambda sess, v: (_decode_png_value(v, c, dt, "decode_png"),), s, dt,
                       [None, None, c or None], name or "DecodePng")


def encode_png(image: Any, compression: int = -1, name: Optional[str] = None) -> StringTensor:
    """``tf.image.encode_png``: a [height, width, channels] uint8/uint16 image (1-4 channels)
    as PNG bytes, zlib level ``compression`` (-1: the default)."""
    x = convert_to_tensor(image, name="image")
    if x.dtype.name not in ("uint8", "uint16"):
        raise TypeError(f"encode_png: image must be uint8 or uint16, got {x.dtype.name}")
    if x.shape.ndims is not None and x.shape.ndims != 3:
        raise ValueError(f"encode_png: image must be 3-dimensional [height, width, channels], "
                         f"got shape {x.shape}")
    if not -1 <= int(compression) <= 9:
        raise ValueError(f"encode_png: compression should be in [-1,9], got {compression}")

    def fn(sess: Any, v: Any) -> tuple:
        try:
            return (np.asarray(png.encode(np.asarray(v), int(compression)), dtype=object),)
        except ValueError as e:
            raise InvalidArgumentError(f"encode_png: {e}") from None
    op = name or "EncodePng"
    node = HostNode(fn, [GraphValue(x)], name=op)
    return registry_for(x.graph).output(node, 0, string, (), op)


# ------------------------------------------------------------------ GIF ---------------------

def _decode_gif_value(v: Any, what: str) -> np.ndarray:
    try:
        return gif.decode(_bytes_of(v, what))
    except gif.GIFError as e:
        raise InvalidArgumentError(f"{what}: {e}{_where(_scalar_bytes(v))}") from None


def decode_gif(contents: Any, name: Optional[str] = None) -> Tensor:
    """``tf.image.decode_gif`` / ``tf.io.decode_gif``: every frame, [num_frames, height,
    width, 3] uint8, composed as TF's decoder composes them (each frame over the previous
    one, transparent pixels keeping it, disposal methods ignored: :mod:`.gif`)."""
    s = _scalar(_string_input(contents, "decode_gif"), "decode_gif")
    from ...ir.dtypes import uint8
    return _host_image(lambda sess, v: (_decode_gif_value(v, "decode_gif"),), s, uint8,
                       [None, None, None, 3], name or "DecodeGif")


# ------------------------------------------------------------------ BMP ---------------------

def _decode_bmp_value(v: Any, channels: int, what: str) -> np.ndarray:
    try:
        return bmp.decode(_bytes_of(v, what), channels)
    except bmp.BMPError as e:
        raise InvalidArgumentError(f"{what}: {e}{_where(_scalar_bytes(v))}") from None


def decode_bmp(contents: Any, channels: int = 0, name: Optional[str] = None) -> Tensor:
    """``tf.image.decode_bmp`` / ``tf.io.decode_bmp``: [height, width, channels] uint8 of an
    uncompressed 8/24/32-bit bitmap; ``channels`` 0 keeps the file's, 3 or 4 must match it."""
    s = _scalar(_string_input(contents, "decode_bmp"), "decode_bmp")
    c = _channels(channels, (0, 3, 4), "decode_bmp")
    from ...ir.dtypes import uint8
    return _host_image(lambda sess, v: (_decode_bmp_value(v, c, "decode_bmp"),), s, uint8,
                       [None, None, c or None], name or "DecodeBmp")


# ------------------------------------------------------------------ JPEG (Pillow) -----------

def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("tf.image.decode_jpeg needs Pillow (the 'Pillow' package, imported "
                          "as PIL): pip install Pillow") from None
    return Image


_JPEG_MODES = {0: None, 1: "L", 3: "RGB"}


def _decode_jpeg_value(v: Any, channels: int, ratio: int, what: str) -> np.ndarray:
    Image = _pil()
    data = _bytes_of(v, what)
    try:
        img = Image.open(io.BytesIO(data))
        if img.format != "JPEG":
            raise InvalidArgumentError(f"{what}: not a JPEG image (Pillow reads it as "
                                       f"{img.format}){_where(_scalar_bytes(v))}")
        mode = _JPEG_MODES[channels] or ("L" if img.mode == "L" else "RGB")
        w, h = img.size
        # libjpeg decodes to the wanted colour space (gray: the Y channel, as TF asks it) and
        # scales by the DCT (ceil(size / ratio))
        img.draft(mode, (-(-w // ratio), -(-h // ratio)))
        img = img.convert(mode) if img.mode != mode else img
        arr = np.asarray(img, dtype=np.uint8)
    except InvalidArgumentError:
        raise
    except Exception as e:  # noqa: BLE001 - Pillow's decode errors (OSError, SyntaxError, ...)
        raise InvalidArgumentError(f"{what}: invalid JPEG data or crop window: "
                                   f"{type(e).__name__}: {e}{_where(_scalar_bytes(v))}") from None
    return np.ascontiguousarray(arr.reshape(arr.shape[0], arr.shape[1], -1))


def decode_jpeg(contents: Any, channels: int = 0, ratio: int = 1, fancy_upscaling: bool = True,
                try_recover_truncated: bool = False, acceptable_fraction: float = 1,
                dct_method: str = "", name: Optional[str] = None) -> Tensor:
    """``tf.image.decode_jpeg`` through Pillow: [height, width, channels] uint8; ``channels``
    0 keeps the file's (gray or RGB), 1 gray, 3 RGB; ``ratio`` 1/2/4/8 downscales while
    decoding (libjpeg's DCT scaling). ``dct_method`` and the recovery options are accepted;
    Pillow decodes with libjpeg's accurate integer DCT."""
    s = _scalar(_string_input(contents, "decode_jpeg"), "decode_jpeg")
    c = _channels(channels, (0, 1, 3), "decode_jpeg")
    if int(ratio) not in (1, 2, 4, 8):
        raise ValueError(f"decode_jpeg: ratio must be 1, 2, 4 or 8, got {ratio}")
    r = int(ratio)
    _pil()
    from ...ir.dtypes import uint8
    return _host_image(lambda sess, v: (_decode_jpeg_value(v, c, r, "decode_jpeg"),), s, uint8,
                       [None, None, c or None], name or "DecodeJpeg")


def decode_and_crop_jpeg(contents: Any, crop_window: Any, channels: int = 0, ratio: int = 1,
                         fancy_upscaling: bool = True, try_recover_truncated: bool = False,
                         acceptable_fraction: float = 1, dct_method: str = "",
                         name: Optional[str] = None) -> Tensor:
    """``tf.image.decode_and_crop_jpeg``: ``decode_jpeg`` then the window ``crop_window``
    = [y, x, height, width] (an int32 tensor, read per run), which must lie in the image."""
    s = _scalar(_string_input(contents, "decode_and_crop_jpeg"), "decode_and_crop_jpeg")
    c = _channels(channels, (0, 1, 3), "decode_and_crop_jpeg")
    if int(ratio) not in (1, 2, 4, 8):
        raise ValueError(f"decode_and_crop_jpeg: ratio must be 1, 2, 4 or 8, got {ratio}")
    r = int(ratio)
    win = convert_to_tensor(crop_window, name="crop_window")
    if win.shape.ndims is not None and win.shape.as_list() not in ([4], [None]):
        raise ValueError(f"decode_and_crop_jpeg: crop_window must be [4] (y, x, height, "
                         f"width), got shape {win.shape}")
    _pil()

    def fn(sess: Any, v: Any, w: Any) -> tuple:
        img = _decode_jpeg_value(v, c, r, "decode_and_crop_jpeg")
        y, x, h, wd = (int(t) for t in np.asarray(w).reshape(-1)[:4])
        if min(y, x) < 0 or h <= 0 or wd <= 0 or y + h > img.shape[0] or x + wd > img.shape[1]:
            raise InvalidArgumentError(f"decode_and_crop_jpeg: Invalid JPEG data or crop window: "
                                       f"window [{y}, {x}, {h}, {wd}] of a {img.shape[0]}x"
                                       f"{img.shape[1]} image")
        return (np.ascontiguousarray(img[y:y + h, x:x + wd]),)
    from ...ir.dtypes import uint8
    node = HostNode(fn, [s, GraphValue(win)], name=name or "DecodeAndCropJpeg")
    return _outputs(node, s.graph, [(uint8, [None, None, c or None])],
                    name or "DecodeAndCropJpeg")[0]


def extract_jpeg_shape(contents: Any, output_type: Any = "int32",
                       name: Optional[str] = None) -> Tensor:
    """``tf.image.extract_jpeg_shape``: [height, width, channels] of a JPEG from its frame
    header, without decoding it (:mod:`.jpeg_header`)."""
    s = _scalar(_string_input(contents, "extract_jpeg_shape"), "extract_jpeg_shape")
    dt = to_dtype(output_type)
    if dt.name not in ("int32", "int64"):
        raise TypeError(f"extract_jpeg_shape: output_type must be int32 or int64, got {dt.name}")

    def fn(sess: Any, v: Any) -> tuple:
        try:
            return (np.asarray(jpeg_header.shape(_bytes_of(v, "extract_jpeg_shape")), dt.np),)
        except jpeg_header.JPEGHeaderError as e:
            raise InvalidArgumentError(f"extract_jpeg_shape: {e}"
                                       f"{_where(_scalar_bytes(v))}") from None
    return _host_image(fn, s, dt, [3], name or "ExtractJpegShape")


def is_jpeg(contents: Any, name: Optional[str] = None) -> Tensor:
    """``tf.image.is_jpeg`` / ``tf.io.is_jpeg``: whether the bytes start with JPEG's
    signature ``\\xff\\xd8\\xff`` (a scalar bool)."""
    s = _scalar(_string_input(contents, "is_jpeg"), "is_jpeg")
    from ...ir.dtypes import bool_
    return _host_image(lambda sess, v: (np.asarray(jpeg_header.is_jpeg(_bytes_of(v, "is_jpeg"))),),
                       s, bool_, [], name or "IsJpeg")


def _encode_jpeg_value(img: np.ndarray, quality: int, opts: dict) -> bytes:
    Image = _pil()
    if img.ndim != 3 or img.shape[2] not in (1, 3):
        raise InvalidArgumentError(f"encode_jpeg: image must be [height, width, 1 or 3], got "
                                   f"shape {list(img.shape)}")
    if not 0 <= quality <= 100:
        raise InvalidArgumentError(f"encode_jpeg: quality must be in [0,100], got {quality}")
    if img.shape[2] == 1 or opts["format"] == "grayscale":
        if img.shape[2] != 1:
            raise InvalidArgumentError("encode_jpeg: format 'grayscale' needs a 1-channel image")
        pil = Image.fromarray(img[..., 0], "L")
    else:
        pil = Image.fromarray(np.ascontiguousarray(img), "RGB")
    kw = {"quality": quality, "progressive": opts["progressive"],
          "optimize": opts["optimize_size"], "subsampling": 2 if opts["chroma"] else 0}
    if opts["density_unit"] == "in":
        kw["dpi"] = (opts["x_density"], opts["y_density"])
    if opts["xmp"]:
        kw["xmp"] = opts["xmp"].encode() if isinstance(opts["xmp"], str) else opts["xmp"]
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", **kw)
    return buf.getvalue()


def encode_jpeg(image: Any, format: str = "", quality: Any = 95, progressive: bool = False,
                optimize_size: bool = False, chroma_downsampling: bool = True,
                density_unit: str = "in", x_density: int = 300, y_density: int = 300,
                xmp_metadata: str = "", name: Optional[str] = None) -> StringTensor:
    """``tf.image.encode_jpeg`` through Pillow (libjpeg): a [height, width, 1 or 3] uint8
    image as JPEG bytes at ``quality`` 0-100 (a Python int or a scalar tensor, read per run),
    4:2:0 chroma unless ``chroma_downsampling`` is False; ``progressive``, ``optimize_size``,
    the density (inches only: Pillow writes no centimetre unit) and ``xmp_metadata`` as TF.
    The bytes are libjpeg's through Pillow, not TF's own: they decode alike, not bit for
    bit."""
    x = convert_to_tensor(image, name="image")
    if x.dtype.name != "uint8":
        raise TypeError(f"encode_jpeg: image must be uint8, got {x.dtype.name}")
    if x.shape.ndims is not None and x.shape.ndims != 3:
        raise ValueError(f"encode_jpeg: image must be 3-dimensional [height, width, channels], "
                         f"got shape {x.shape}")
    if format not in ("", "grayscale", "rgb"):
        raise ValueError(f"encode_jpeg: format must be '', 'grayscale' or 'rgb', got {format!r}")
    if density_unit not in ("in", "cm"):
        raise ValueError(f"encode_jpeg: density_unit must be 'in' or 'cm', got {density_unit!r}")
    _pil()
    opts = {"format": format, "progressive": bool(progressive), "optimize_size":
            bool(optimize_size), "chroma": bool(chroma_downsampling), "density_unit":
            density_unit, "x_density": int(x_density), "y_density": int(y_density),
            "xmp": xmp_metadata}
    q_static = isinstance(quality, (int, np.integer))
    inputs = [GraphValue(x)] + ([] if q_static else
                                [GraphValue(convert_to_tensor(quality, name="quality"))])

    def fn(sess: Any, v: Any, q: Any = None) -> tuple:
        qv = int(quality) if q_static else int(np.asarray(q).reshape(()))
        return (np.asarray(_encode_jpeg_value(np.asarray(v), qv, opts), dtype=object),)
    op = name or "EncodeJpeg"
    node = HostNode(fn, inputs, name=op)
    return registry_for(x.graph).output(node, 0, string, (), op)


def decode_image(contents: Any, channels: Optional[int] = None, dtype: Any = "uint8",
                 name: Optional[str] = None, expand_animations: bool = True) -> Tensor:
    """``tf.image.decode_image`` for PNG, JPEG, GIF and BMP (told apart by their signatures): a
    [height, width, channels] image of ``dtype`` (uint8, or uint16: a PNG's own samples, a
    JPEG's or GIF's uint8 times 256, as TF's ``convert_image_dtype`` widens them). A GIF gives all its frames,
    [num_frames, height, width, 3], so with ``expand_animations`` (the default) the result's
    rank is unknown until run time, as TF's; ``expand_animations=False`` keeps a GIF's first
    frame and every result 3-D. A GIF takes channels None, 0 or 3 only, and so does a BMP,
    which keeps its own channels whatever they are (TF decodes it without them)."""
    s = _scalar(_string_input(contents, "decode_image"), "decode_image")
    c = _channels(channels, (0, 1, 3, 4), "decode_image")
    dt = to_dtype(dtype)
    if dt.name not in ("uint8", "uint16"):
        raise TypeError(f"decode_image: dtype must be tf.uint8 or tf.uint16 (convert with "
                        f"tf.image.convert_image_dtype), got {dt.name}")
    wide = (lambda img: img.astype(np.uint16) << 8) if dt.name == "uint16" else (lambda img: img)
    animations = bool(expand_animations)

    def fn(sess: Any, v: Any) -> tuple:
        data = _bytes_of(v, "decode_image")
        if png.is_png(data):
            return (_decode_png_value(v, c, dt, "decode_image"),)
        if data[:3] == b"\xff\xd8\xff":
            if c == 4:
                raise InvalidArgumentError("decode_image: channels=4 is not supported for JPEG")
            return (wide(_decode_jpeg_value(v, c, 1, "decode_image")),)
        if gif.is_gif(data):
            if c not in (0, 3):
                raise InvalidArgumentError(f"decode_image: channels must be None, 0 or 3 when "
                                           f"decoding GIF images, got {c}")
            frames = _decode_gif_value(v, "decode_image")
            return (wide(frames if animations else frames[0]),)
        if bmp.is_bmp(data):
            if c not in (0, 3):
                raise InvalidArgumentError(f"decode_image: channels must be None, 0 or 3 when "
                                           f"decoding BMP images, got {c}")
            img = _decode_bmp_value(v, 0, "decode_image")
            if c and img.shape[2] != c and not animations:
                raise InvalidArgumentError(f"decode_image: the BMP has {img.shape[2]} channels, "
                                           f"not the {c} its static shape promises (TF decodes "
                                           f"a BMP with its own channels)")
            return (wide(img),)
        raise InvalidArgumentError(f"decode_image: unknown image format (expected PNG, JPEG, "
                                   f"GIF or BMP), first bytes {data[:8]!r}"
                                   f"{_where(_scalar_bytes(v))}")
    return _host_image(fn, s, dt, None if animations else [None, None, c or None],
                       name or "DecodeImage")
