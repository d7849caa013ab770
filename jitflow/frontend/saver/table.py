"""The sorted string table of a TensorFlow checkpoint's ``.index`` file.

Spec followed: LevelDB's table format, as TensorFlow forks it in
``tensorflow/core/lib/io/table_format.txt`` (``table_builder.cc``, ``block_builder.cc``,
``format.cc``). A file is::

    <data block 1> ... <data block N> <metaindex block> <index block> <footer>

Each block is ``contents + type (1 byte, 0 = uncompressed) + masked CRC-32C (fixed32 LE) of
contents+type``. A block's contents are its entries -- ``shared key bytes (varint32),
unshared key bytes (varint32), value length (varint32), key suffix, value`` with keys
prefix-compressed against the previous entry -- then the restart offsets (fixed32 each) and
their count (fixed32). The index block maps, for every data block, a key >= its last key to
its handle (``offset varint64, size varint64``; size excludes the 5-byte trailer). The 48-byte
footer holds the metaindex and index handles, zero padding to 40 bytes, and the magic number
``0xdb4775248b80fb57`` (fixed64 LE). TensorFlow writes bundles uncompressed; a compressed
block is refused.

Reading checks the magic, every handle against the file size, every block's checksum and
every entry's lengths before slicing, so a truncated or corrupted file raises
:class:`TableError` (with the file named by the caller) and never allocates more than the file.
"""
from __future__ import annotations

import struct

from ...interop.crc32c import masked_crc32c
from ...interop.protowire import WireError, read_varint, varint

MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
TRAILER_SIZE = 5
BLOCK_SIZE = 256 * 1024        # a data block's target size (TF's table_options.h default)
RESTART_INTERVAL = 16


class TableError(ValueError):
    """A malformed or corrupted table."""


# ------------------------------------------------------------------ writing ----------------

def _block(entries: list[tuple[bytes, bytes]], restart_interval: int) -> bytes:
    out = bytearray()
    restarts = []
    prev = b""
    for i, (k, v) in enumerate(entries):
        if i % restart_interval == 0:
            restarts.append(len(out))
            shared = 0
        else:
            shared = 0
            for a, b in zip(prev, k):
                if a != b:
                    break
                shared += 1
        out += varint(shared) + varint(len(k) - shared) + varint(len(v)) + k[shared:] + v
        prev = k
    if not restarts:
        restarts = [0]
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def _with_trailer(contents: bytes) -> bytes:
    return contents + b"\0" + struct.pack("<I", masked_crc32c(contents + b"\0"))


def build_table(items: list[tuple[bytes, bytes]]) -> bytes:
    """The table bytes for ``items`` (keys strictly increasing, as bytes)."""
    for (a, _), (b, _) in zip(items, items[1:]):
        if not a < b:
            raise ValueError(f"table keys must be strictly increasing: {a!r} then {b!r}")
    out = bytearray()
    index: list[tuple[bytes, bytes]] = []
    start = 0
    while start < len(items) or not index:
        size, stop = 0, start
        while stop < len(items) and (stop == start or size < BLOCK_SIZE):
            size += len(items[stop][0]) + len(items[stop][1]) + 8
            stop += 1
        contents = _block(items[start:stop], RESTART_INTERVAL)
        handle = varint(len(out)) + varint(len(contents))
        out += _with_trailer(contents)
        index.append((items[stop - 1][0] if stop > start else b"", handle))
        start = stop
        if start >= len(items):
            break
    meta = _block([], 1)
    meta_handle = varint(len(out)) + varint(len(meta))
    out += _with_trailer(meta)
    idx = _block(index, 1)
    idx_handle = varint(len(out)) + varint(len(idx))
    out += _with_trailer(idx)
    footer = meta_handle + idx_handle
    footer += b"\0" * (FOOTER_SIZE - 8 - len(footer)) + struct.pack("<Q", MAGIC)
    out += footer
    return bytes(out)


# ------------------------------------------------------------------ reading ----------------

def _read_handle(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    off, pos = read_varint(buf, pos, end)
    size, pos = read_varint(buf, pos, end)
    return off, size, pos


def _block_contents(data: bytes, off: int, size: int, what: str) -> bytes:
    if off + size + TRAILER_SIZE > len(data) - FOOTER_SIZE:
        raise TableError(f"{what} block at offset {off} (size {size}) runs past the end of the "
                         f"file ({len(data)} bytes): truncated")
    contents = data[off:off + size]
    kind = data[off + size]
    stored = struct.unpack_from("<I", data, off + size + 1)[0]
    if masked_crc32c(data[off:off + size + 1]) != stored:
        raise TableError(f"checksum mismatch in the {what} block at offset {off}: corrupted")
    if kind != 0:
        raise TableError(f"{what} block at offset {off} is compressed (type {kind}); "
                         "jitflow reads uncompressed tables only (TensorFlow writes those)")
    return contents


def _block_entries(block: bytes, what: str) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise TableError(f"{what} block too short ({len(block)} bytes)")
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * n_restarts
    if n_restarts > len(block) // 4 or limit < 0:
        raise TableError(f"{what} block has a bad restart count {n_restarts}")
    out = []
    pos, key = 0, b""
    while pos < limit:
        shared, pos = read_varint(block, pos, limit)
        unshared, pos = read_varint(block, pos, limit)
        vlen, pos = read_varint(block, pos, limit)
        if shared > len(key) or unshared + vlen > limit - pos:
            raise TableError(f"{what} block has an entry with bad lengths at byte {pos}")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def read_table(data: bytes) -> list[tuple[bytes, bytes]]:
    """All (key, value) entries of the table ``data``, in order, every checksum verified."""
    try:
        if len(data) < FOOTER_SIZE:
            raise TableError(f"file too short for a table footer ({len(data)} bytes): "
                             "truncated")
        foot = len(data) - FOOTER_SIZE
        if struct.unpack_from("<Q", data, len(data) - 8)[0] != MAGIC:
            raise TableError("not a TensorFlow table (bad magic number): truncated or not a "
                             "checkpoint index")
        _, _, pos = _read_handle(data, foot, foot + 40)
        ioff, isize, _ = _read_handle(data, pos, foot + 40)
        index = _block_entries(_block_contents(data, ioff, isize, "index"), "index")
        out: list[tuple[bytes, bytes]] = []
        for _, handle in index:
            off, size, _ = _read_handle(handle, 0, len(handle))
            out.extend(_block_entries(_block_contents(data, off, size, "data"), "data"))
        for (a, _), (b, _) in zip(out, out[1:]):
            if not a < b:
                raise TableError(f"keys out of order ({a!r} then {b!r})")
        return out
    except WireError as e:
        raise TableError(f"malformed table: {e}") from None
