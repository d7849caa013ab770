"""The protocol-buffer wire format (https://protobuf.dev/programming-guides/encoding/), for
the few small messages jitflow encodes itself (the checkpoint bundle's ``BundleHeaderProto``,
``BundleEntryProto``, ``TensorShapeProto``, ``TensorSliceProto``).

Decoding is bounded: every length is checked against the bytes that remain, varints are at
most 10 bytes, and nested messages are decoded only by the caller's explicit schema (there is
no recursion on untrusted data). Errors raise :class:`WireError`.
"""
from __future__ import annotations

import struct
from typing import Iterator, Union

__all__ = ["WireError", "varint", "read_varint", "field_varint", "field_bytes", "field_fixed32",
           "fields", "zigzag"]

Value = Union[int, bytes]


class WireError(ValueError):
    """Malformed protocol-buffer bytes."""


def varint(n: int) -> bytes:
    """``n`` as a base-128 varint (negative numbers as their 64-bit two's complement)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode a varint at ``buf[pos:end]``: (value, next position)."""
    result = shift = 0
    for i in range(10):
        if pos >= end:
            raise WireError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & ((1 << 64) - 1), pos
        shift += 7
    raise WireError("varint longer than 10 bytes")


def signed(n: int) -> int:
    """A decoded 64-bit varint as a signed int64."""
    return n - (1 << 64) if n >= 1 << 63 else n


def zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _key(field: int, wire: int) -> bytes:
    return varint((field << 3) | wire)


def field_varint(field: int, n: int) -> bytes:
    return _key(field, 0) + varint(int(n))


def field_bytes(field: int, data: bytes) -> bytes:
    return _key(field, 2) + varint(len(data)) + bytes(data)


def field_fixed32(field: int, n: int) -> bytes:
    return _key(field, 5) + struct.pack("<I", n & 0xFFFFFFFF)


def fields(buf: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, Value]]:
    """(field number, wire type, value) for each field of the message ``buf[start:end]``:
    varints and fixed-width values as ints, length-delimited ones as bytes."""
    end = len(buf) if end is None else end
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise WireError("field number 0")
        if wire == 0:
            v, pos = read_varint(buf, pos, end)
        elif wire == 1:
            if pos + 8 > end:
                raise WireError("truncated fixed64")
            v = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 5:
            if pos + 4 > end:
                raise WireError("truncated fixed32")
            v = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        elif wire == 2:
            n, pos = read_varint(buf, pos, end)
            if n > end - pos:
                raise WireError(f"length {n} exceeds the {end - pos} bytes left")
            v = bytes(buf[pos:pos + n])
            pos += n
        else:
            raise WireError(f"unsupported wire type {wire} (field {field})")
        yield field, wire, v
