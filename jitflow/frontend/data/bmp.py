"""BMP decoding with NumPy (the codec behind ``tf.image.decode_bmp``), as TF's decoder
(decode_bmp_op.cc) reads a file: the pixel data offset (byte 10), width (18), height (22:
negative for top-down rows) and bits per pixel (28) of an uncompressed bitmap of 8, 24 or 32
bits; rows padded to 4 bytes; BGR(A) to RGB(A), 8-bit samples as gray values (a palette is not
applied, as TF does not). Corrupt data raises :class:`BMPError` (a ValueError)."""
from __future__ import annotations

import struct

import numpy as np


class BMPError(ValueError):
    """The bytes are not a BMP image jitflow (and TF) can decode."""


def is_bmp(data: bytes) -> bool:
    return data[:2] == b"BM"


def decode(data: bytes, channels: int = 0) -> np.ndarray:
    """The image of BMP ``data`` as [height, width, channels] uint8; ``channels`` 0 keeps
    the file's, else it must be the file's (1, 3 or 4)."""
    data = bytes(data)
    if not is_bmp(data):
        raise BMPError(f"not a BMP image: the first 2 bytes are {data[:2]!r}, expected b'BM'")
    if len(data) < 30:
        raise BMPError(f"truncated BMP: {len(data)} bytes, the headers need 30")
    offset, = struct.unpack_from("<i", data, 10)
    width, height = struct.unpack_from("<ii", data, 18)
    bpp, = struct.unpack_from("<H", data, 28)
    file_channels = bpp // 8
    if channels and channels != file_channels:
        raise BMPError(f"channels attribute {channels} does not match bits per pixel from "
                       f"file {file_channels}")
    c = channels or file_channels
    if c not in (1, 3, 4):
        raise BMPError(f"Number of channels must be 1, 3 or 4, was {c} ({bpp} bits per pixel)")
    if width <= 0:
        raise BMPError(f"Width must be positive, got {width}")
    if height == 0:
        raise BMPError("Height must be nonzero")
    h = abs(height)
    row = (8 * c * width + 31) // 32 * 4
    if offset < 0 or offset + (h - 1) * row + width * c > len(data):
        raise BMPError(f"Invalid bitmap: {len(data)} bytes cannot hold {h} rows of {row} "
                       f"bytes from byte {offset}")
    need = h * row
    raw = np.frombuffer(data[offset:offset + need].ljust(need, b"\0"), np.uint8)
    px = raw.reshape(h, row)[:, :width * c].reshape(h, width, c)
    if height > 0:                                          # bottom-up rows
        px = px[::-1]
    if c >= 3:
        px = px[..., [2, 1, 0, 3][:c]]
    return np.ascontiguousarray(px)
