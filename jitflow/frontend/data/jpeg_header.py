"""The frame header of a JPEG file, read without decoding it (``tf.image.extract_jpeg_shape``):
the markers after SOI are walked segment by segment to the first start-of-frame (SOF0-SOF15
but DHT, JPG and DAC), whose height, width and component count it gives."""
from __future__ import annotations

import struct

SOI = b"\xff\xd8\xff"
_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}                 # TEM, RST0-7
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


class JPEGHeaderError(ValueError):
    """The bytes hold no readable JPEG frame header."""


def is_jpeg(data: bytes) -> bool:
    return data[:3] == SOI


def shape(data: bytes) -> tuple[int, int, int]:
    """(height, width, components) from the first start-of-frame segment."""
    if not is_jpeg(data):
        raise JPEGHeaderError(f"not a JPEG image: the first bytes are {data[:3]!r}")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise JPEGHeaderError(f"expected a marker at byte {pos}, got 0x{data[pos]:02x}")
        marker = data[pos + 1]
        if marker == 0xFF:                              # fill byte
            pos += 1
            continue
        if marker in _NO_LENGTH:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            break                                       # EOI or scan before any frame
        length, = struct.unpack_from(">H", data, pos + 2)
        if marker in _SOF:
            if pos + 10 > len(data) or length < 8:
                break
            h, w = struct.unpack_from(">HH", data, pos + 5)
            return h, w, data[pos + 9]
        pos += 2 + length
    raise JPEGHeaderError("no start-of-frame segment: truncated or invalid JPEG data")
