"""GIF decoding with NumPy and a pure-Python LZW decoder (the codec behind
``tf.image.decode_gif``).

It reads the header (GIF87a/GIF89a), the logical screen and its global colour table, every
image descriptor with its optional local colour table, interlacing (the four passes) and the
LZW-coded raster, and each image's graphic control extension (its transparent index); other
extensions are skipped. The frames are composed as TF's decoder (gif_io.cc, over giflib's
``DGifSlurp``) composes them:

* frame ``k`` starts as a copy of frame ``k - 1`` (frame 0: all zeros, black) and its image
  is painted over it at (left, top), clipped to the canvas;
* a pixel whose index is the frame's transparent index keeps the canvas' pixel;
* the disposal method is ignored, as TF ignores it: "restore to background" (2) and "restore
  to previous" (3) frames are composed like the others, so a GIF relying on them decodes
  as TF decodes it, not as a browser shows it;
* an index beyond the colour table in use (local, else global) is an error, as is a frame
  with no colour table.

The result is [num_frames, height, width, 3] uint8. Corrupt data raises :class:`GIFError`
(a ValueError).
"""
from __future__ import annotations

import struct

import numpy as np

SIGNATURES = (b"GIF87a", b"GIF89a")
_INTERLACE = ((0, 8), (4, 8), (2, 4), (1, 2))         # first row, step of the four passes


class GIFError(ValueError):
    """The bytes are not a valid GIF image."""


def is_gif(data: bytes) -> bool:
    return data[:6] in SIGNATURES


def lzw_decode(data: bytes, min_size: int, count: int) -> bytes:
    """The first ``count`` colour indices of GIF-flavoured LZW ``data`` (codes of growing
    width packed from the least significant bit, clear and end codes after the literals)."""
    if not 1 <= min_size <= 11:
        raise GIFError(f"invalid LZW minimum code size {min_size} (expected 1 to 11)")
    clear, end = 1 << min_size, (1 << min_size) + 1
    base = [bytes((i,)) for i in range(clear)] + [b"", b""]
    table = list(base)
    size, mask = min_size + 1, (1 << (min_size + 1)) - 1
    out = bytearray()
    prev = None
    buf = nbits = 0
    for byte in data:
        buf |= byte << nbits
        nbits += 8
        while nbits >= size:
            code = buf & mask
            buf >>= size
            nbits -= size
            if code == clear:
                table = list(base)
                size, mask = min_size + 1, (1 << (min_size + 1)) - 1
                prev = None
                continue
            if code == end:
                return _enough(out, count)
            if code < len(table):
                entry = table[code]
                if prev is not None and len(table) < 4096:
                    table.append(prev + entry[:1])
            elif code == len(table) and prev is not None:
                entry = prev + prev[:1]
                if len(table) < 4096:
                    table.append(entry)
            else:
                raise GIFError(f"invalid LZW code {code} (the table has {len(table)} entries)")
            out += entry
            prev = entry
            if len(table) == mask + 1 and size < 12:
                size += 1
                mask = (1 << size) - 1
            if len(out) >= count:
                return bytes(out[:count])
    return _enough(out, count)


def _enough(out: bytearray, count: int) -> bytes:
    if len(out) < count:
        raise GIFError(f"truncated image data: {len(out)} of {count} pixels")
    return bytes(out[:count])


def _sub_blocks(data: bytes, pos: int) -> tuple[bytes, int]:
    """The concatenated data sub-blocks from ``pos`` and the position after their end."""
    parts = []
    while True:
        if pos >= len(data):
            raise GIFError("truncated GIF: a data block runs past the end")
        n = data[pos]
        pos += 1
        if n == 0:
            return b"".join(parts), pos
        if pos + n > len(data):
            raise GIFError("truncated GIF: a data block runs past the end")
        parts.append(data[pos:pos + n])
        pos += n


def _color_table(data: bytes, pos: int, flags: int) -> tuple[np.ndarray, int]:
    n = 2 << (flags & 7)
    if pos + 3 * n > len(data):
        raise GIFError("truncated GIF: the colour table runs past the end")
    return np.frombuffer(data, np.uint8, 3 * n, pos).reshape(n, 3), pos + 3 * n


def _frame(data: bytes, pos: int) -> tuple[dict, int]:
    """One image descriptor, its colour table and its indices from ``data[pos:]``."""
    if pos + 9 > len(data):
        raise GIFError("truncated GIF: an image descriptor runs past the end")
    left, top, w, h, flags = struct.unpack_from("<HHHHB", data, pos)
    pos += 9
    table = None
    if flags & 0x80:
        table, pos = _color_table(data, pos, flags)
    if pos >= len(data):
        raise GIFError("truncated GIF: no image data")
    min_size = data[pos]
    raw, pos = _sub_blocks(data, pos + 1)
    idx = np.frombuffer(lzw_decode(raw, min_size, w * h), np.uint8).reshape(h, w)
    if flags & 0x40 and h > 1:                              # interlaced: the rows of 4 passes
        rows = np.concatenate([np.arange(r0, h, step) for r0, step in _INTERLACE])
        out = np.empty_like(idx)
        out[rows] = idx
        idx = out
    return {"box": (left, top, w, h), "table": table, "index": idx,
            "interlaced": bool(flags & 0x40)}, pos


def read(data: bytes) -> tuple[int, int, list]:
    """(width, height, frames) of GIF ``data``: each frame a dict of its ``box`` (left, top,
    width, height), colour ``table`` ([n, 3] uint8, None for the global one),
    ``transparent`` index (or None), ``interlaced`` flag and de-interlaced ``index`` rows.
    The global table is ``frames``' ``"global"`` entry of the first frame."""
    data = bytes(data)
    if not is_gif(data):
        raise GIFError(f"not a GIF image: the first 6 bytes are {data[:6]!r}, expected GIF87a "
                       "or GIF89a")
    if len(data) < 13:
        raise GIFError("truncated GIF: no logical screen descriptor")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13
    global_table = None
    if flags & 0x80:
        global_table, pos = _color_table(data, pos, flags)
    frames, transparent = [], None
    while pos < len(data):                                  # a missing trailer is tolerated
        kind = data[pos]
        if kind == 0x3B:
            break
        if kind == 0x21:
            if pos + 1 >= len(data):
                raise GIFError("truncated GIF: an extension runs past the end")
            label = data[pos + 1]
            body, pos = _sub_blocks(data, pos + 2)
            if label == 0xF9 and len(body) >= 4:
                transparent = body[3] if body[0] & 1 else None
        elif kind == 0x2C:
            frame, pos = _frame(data, pos + 1)
            frame["transparent"] = transparent
            frame["global"] = global_table
            frames.append(frame)
            transparent = None                              # a control block is for one image
        else:
            raise GIFError(f"invalid GIF block type 0x{kind:02x} at byte {pos}")
    if not frames:
        raise GIFError("the GIF file does not contain any image")
    return width, height, frames


def decode(data: bytes) -> np.ndarray:
    """All frames of GIF ``data`` as [num_frames, height, width, 3] uint8 (see the module doc
    for how they are composed)."""
    width, height, frames = read(data)
    return _compose(frames, height, width)


def _compose(frames: list, height: int, width: int) -> np.ndarray:
    out = np.zeros((len(frames), height, width, 3), np.uint8)
    for k, f in enumerate(frames):
        if k > 0:
            out[k] = out[k - 1]
        table = f["table"] if f["table"] is not None else f["global"]
        if table is None:
            raise GIFError(f"frame {k}: missing color map (no local or global colour table)")
        left, top, w, h = f["box"]
        idx = f["index"][:max(0, height - top), :max(0, width - left)]
        if idx.size == 0:
            continue
        keep = idx == f["transparent"] if f["transparent"] is not None else None
        top_index = int(idx.max() if keep is None else np.where(keep, 0, idx).max())
        if top_index >= len(table):                 # a transparent index may lie beyond it
            raise GIFError(f"frame {k}: found color index {top_index} outside of color map "
                           f"range {len(table)}")
        view = out[k, top:top + idx.shape[0], left:left + idx.shape[1]]
        paint = table[np.minimum(idx, len(table) - 1)]
        if keep is not None:
            paint[keep] = view[keep]
        view[...] = paint
    return out
