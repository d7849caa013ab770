"""PNG decoding and encoding with zlib and NumPy (the codec behind ``tf.image.decode_png`` /
``encode_png``).

Decoding reads the signature, checks every chunk's CRC, takes IHDR, PLTE, tRNS and the
concatenated IDAT, inflates it and undoes the five row filters (None, Sub, Up, Average,
Paeth), for bit depths 1/2/4/8/16, colour types gray, gray+alpha, RGB, RGBA and palette,
non-interlaced or Adam7. The ``channels`` conversions are libpng's as TF sets them up
(png_io.cc): a palette expands to RGB (RGBA with tRNS), gray of 1/2/4 bits scales to 8, the
tRNS colour of a gray or RGB image is transparent when alpha is asked for (channels 2 or 4),
gray -> RGB repeats the channel, colour -> gray is libpng's fixed-point
``(9798 R + 19235 G + 3735 B + 16384) >> 15``, a missing alpha is filled opaque, an unwanted
one is dropped. 16-bit samples become 8-bit by their high byte (png_set_strip_16), 8-bit
ones become 16-bit times 257. Corrupt data raises :class:`PNGError` (a ValueError).
"""
from __future__ import annotations

import struct
import zlib
from typing import Optional

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}            # colour type -> samples per pixel
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))                              # x0, y0, dx, dy of the 7 passes


class PNGError(ValueError):
    """The bytes are not a valid PNG image."""


def is_png(data: bytes) -> bool:
    return data[:8] == SIGNATURE


def _chunks(data: bytes):
    if not is_png(data):
        raise PNGError(f"not a PNG image: the first 8 bytes are {data[:8]!r}, expected the "
                       f"PNG signature {SIGNATURE!r}")
    pos = 8
    while pos < len(data):
        if pos + 8 > len(data):
            raise PNGError(f"truncated PNG: a chunk header at byte {pos} is cut off")
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = data[pos + 8 + n:pos + 12 + n]
        if len(body) != n or len(crc) != 4:
            raise PNGError(f"truncated PNG: chunk {kind!r} at byte {pos} declares {n} bytes, "
                           f"{max(len(data) - pos - 12, 0)} remain")
        want = zlib.crc32(kind + body) & 0xFFFFFFFF
        got = struct.unpack(">I", crc)[0]
        if got != want:
            raise PNGError(f"bad CRC in PNG chunk {kind!r} at byte {pos}: stored {got:#010x}, "
                           f"computed {want:#010x}")
        yield kind, body
        if kind == b"IEND":
            return
        pos += 12 + n
    raise PNGError("truncated PNG: no IEND chunk")


#: images of more scanline bytes than this are unfiltered by a Numba kernel (the Python loop
#: of the Average and Paeth filters takes ~0.3 s a megabyte; the kernel's compilation ~1 s
#: once per process, less from Numba's cache)
NUMBA_BYTES = 1 << 19
_KERNEL = None


def _numba_kernel():
    global _KERNEL
    if _KERNEL is None:
        import numba

        @numba.njit(cache=True, nogil=True)
        def unfilter(raw, pos, rows, stride, bpp, out):      # pragma: no cover - compiled
            for r in range(rows):
                ft = raw[pos]
                pos += 1
                for i in range(stride):
                    v = np.int32(raw[pos + i])
                    a = np.int32(out[r, i - bpp]) if i >= bpp else np.int32(0)
                    b = np.int32(out[r - 1, i]) if r > 0 else np.int32(0)
                    c = np.int32(out[r - 1, i - bpp]) if r > 0 and i >= bpp else np.int32(0)
                    if ft == 1:
                        v += a
                    elif ft == 2:
                        v += b
                    elif ft == 3:
                        v += (a + b) >> 1
                    elif ft == 4:
                        p = a + b - c
                        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                        v += a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                    elif ft != 0:
                        return -1 - r
                    out[r, i] = v & 0xFF
                pos += stride
            return pos
        _KERNEL = unfilter
    return _KERNEL


def _unfilter(raw: memoryview, pos: int, rows: int, stride: int, bpp: int) -> tuple[np.ndarray, int]:
    """Undo the row filters of ``rows`` scanlines of ``stride`` bytes from ``raw[pos:]``."""
    if rows * stride > NUMBA_BYTES:
        try:
            kernel = _numba_kernel()
        except ImportError:
            kernel = None
        if kernel is not None:
            need = pos + rows * (stride + 1)
            if need > len(raw):
                raise PNGError(f"PNG image data is too short: {len(raw) - pos} bytes for {rows} "
                               f"rows of {stride + 1}")
            out = np.zeros((rows, stride), np.uint8)
            arr = np.frombuffer(raw, np.uint8)
            end = kernel(arr, pos, rows, stride, bpp, out)
            if end < 0:
                r = -1 - end
                bad = arr[pos + r * (stride + 1)]
                raise PNGError(f"invalid PNG filter type {bad} in row {r} (expected 0-4)")
            return out, end
    out = np.zeros((rows, stride), np.uint8)
    prior = np.zeros(stride, np.int32)
    for r in range(rows):
        if pos + 1 + stride > len(raw):
            raise PNGError(f"PNG image data is too short: row {r} of {rows} is cut off")
        ftype = raw[pos]
        line = np.frombuffer(raw[pos + 1:pos + 1 + stride], np.uint8).astype(np.int32)
        pos += 1 + stride
        if ftype == 0:
            cur = line
        elif ftype == 1:                                  # Sub: running sum per byte lane
            cur = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) & 0xFF
        elif ftype == 2:                                  # Up
            cur = (line + prior) & 0xFF
        elif ftype in (3, 4):                             # Average, Paeth: sequential
            cur_l = line.tolist()
            up = prior.tolist()
            for i in range(stride):
                a = cur_l[i - bpp] if i >= bpp else 0
                if ftype == 3:
                    cur_l[i] = (cur_l[i] + ((a + up[i]) >> 1)) & 0xFF
                    continue
                b = up[i]
                c = up[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur_l[i] = (cur_l[i] + pred) & 0xFF
            cur = np.asarray(cur_l, np.int32)
        else:
            raise PNGError(f"invalid PNG filter type {ftype} in row {r} (expected 0-4)")
        out[r] = cur
        prior = cur
    return out, pos


def _samples(rows: np.ndarray, width: int, ch: int, depth: int) -> np.ndarray:
    """Scanline bytes -> [h, w, ch] samples (uint8 or uint16)."""
    h = rows.shape[0]
    if depth == 16:
        return rows[:, :width * ch * 2].reshape(h, -1).view(">u2").astype(np.uint16) \
            .reshape(h, width, ch)
    if depth == 8:
        return rows[:, :width * ch].reshape(h, width, ch)
    bits = np.unpackbits(rows, axis=1).reshape(h, -1, depth)[:, :width * ch]
    weights = (1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
    return (bits * weights).sum(axis=2).astype(np.uint8).reshape(h, width, ch)


def _pixels(data: bytes) -> tuple[np.ndarray, int, int, Optional[np.ndarray], Optional[bytes]]:
    """(samples [h, w, ch], colour type, bit depth, palette [n, 3] or None, tRNS or None)."""
    ihdr = None
    plte = trns = None
    idat = []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            if len(body) != 13:
                raise PNGError(f"bad IHDR chunk: {len(body)} bytes, expected 13")
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            if len(body) % 3:
                raise PNGError(f"bad PLTE chunk: {len(body)} bytes is not a multiple of 3")
            plte = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"tRNS":
            trns = body
        elif kind == b"IDAT":
            idat.append(body)
    if ihdr is None:
        raise PNGError("PNG without an IHDR chunk")
    width, height, depth, ctype, comp, filt, interlace = ihdr
    if ctype not in _CHANNELS or depth not in _DEPTHS[ctype]:
        raise PNGError(f"invalid PNG: bit depth {depth} with colour type {ctype}")
    if comp != 0 or filt != 0 or interlace not in (0, 1):
        raise PNGError(f"invalid PNG: compression {comp}, filter {filt}, interlace "
                       f"{interlace} (expected 0, 0, 0 or 1)")
    if width == 0 or height == 0:
        raise PNGError(f"invalid PNG: size {width}x{height}")
    if ctype == 3 and plte is None:
        raise PNGError("palette PNG without a PLTE chunk")
    if not idat:
        raise PNGError("PNG without image data (no IDAT chunk)")
    try:
        raw = memoryview(zlib.decompress(b"".join(idat)))
    except zlib.error as e:
        raise PNGError(f"corrupt PNG image data (zlib: {e})") from None
    ch = _CHANNELS[ctype]
    bpp = max(1, ch * depth // 8)

    def stride(w: int) -> int:
        return (w * ch * depth + 7) // 8

    if interlace == 0:
        rows, _ = _unfilter(raw, 0, height, stride(width), bpp)
        px = _samples(rows, width, ch, depth)
    else:
        px = np.zeros((height, width, ch), np.uint16 if depth == 16 else np.uint8)
        pos = 0
        for x0, y0, dx, dy in _ADAM7:
            w, h = -(-(width - x0) // dx), -(-(height - y0) // dy)
            if w <= 0 or h <= 0:
                continue
            rows, pos = _unfilter(raw, pos, h, stride(w), bpp)
            px[y0::dy, x0::dx] = _samples(rows, w, ch, depth)
    return px, ctype, depth, plte, trns


def decode(data: bytes, channels: int = 0, dtype: str = "uint8") -> np.ndarray:
    """The image of PNG ``data`` as [h, w, channels] ``dtype`` (uint8 or uint16)."""
    if channels not in (0, 1, 2, 3, 4):
        raise ValueError(f"channels must be 0, 1, 2, 3 or 4, got {channels}")
    px, ctype, depth, plte, trns = _pixels(bytes(data))
    key_alpha = None
    if ctype in (0, 2) and trns is not None and len(trns) >= 2 * px.shape[2]:
        # tRNS of gray/RGB: one colour (at the file's depth) is transparent
        key = np.frombuffer(trns[:2 * px.shape[2]], ">u2").astype(np.int64)
        hit = (px.astype(np.int64) == key).all(axis=2, keepdims=True)
        top0 = 65535 if depth == 16 else 255
        key_alpha = np.where(hit, 0, top0).astype(px.dtype)
    if ctype == 3:                                         # palette -> RGB(A), 8-bit
        idx = px[..., 0].astype(np.intp)
        if idx.max(initial=0) >= len(plte):
            raise PNGError(f"palette index {int(idx.max())} out of range: the PLTE has "
                           f"{len(plte)} entries")
        rgb = plte[idx]
        if trns is not None:
            alpha = np.full(len(plte), 255, np.uint8)
            t = np.frombuffer(trns, np.uint8)[:len(plte)]
            alpha[:len(t)] = t
            rgb = np.concatenate([rgb, alpha[idx][..., None]], axis=2)
        px, depth = rgb, 8
    elif ctype in (0, 4) and depth < 8:                   # low-depth gray -> 0..255
        px = (px.astype(np.uint16) * (255 // ((1 << depth) - 1))).astype(np.uint8)
        depth = 8
    have = px.shape[2]
    want = channels or have                  # TF: the file's channels (a palette's RGB(A))
    top = 65535 if depth == 16 else 255
    color = px[..., :3] if have >= 3 else None
    alpha = px[..., have - 1:] if have in (2, 4) else key_alpha
    if want < 3:
        if color is not None:
            c = color.astype(np.int64)
            gray = ((9798 * c[..., 0] + 19235 * c[..., 1] + 3735 * c[..., 2] + 16384) >> 15)
            base = gray[..., None].astype(px.dtype)
        else:
            base = px[..., :1]
    else:
        base = color if color is not None else np.repeat(px[..., :1], 3, axis=2)
    if want in (2, 4):
        a = alpha if alpha is not None else np.full(base.shape[:2] + (1,), top, px.dtype)
        base = np.concatenate([base, a], axis=2)
    out = np.ascontiguousarray(base)
    if dtype == "uint8" and depth == 16:
        return (out >> 8).astype(np.uint8)
    if dtype == "uint16" and depth == 8:
        return out.astype(np.uint16) * 257
    return out.astype(dtype)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + \
        struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def encode(image: np.ndarray, compression: int = -1) -> bytes:
    """PNG bytes of a [h, w, c] uint8/uint16 image (c in 1..4: gray, gray+alpha, RGB, RGBA),
    rows unfiltered (filter 0), zlib level ``compression`` (-1: zlib's default)."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must be 3-D [height, width, channels] with 1-4 channels, "
                         f"got shape {list(a.shape)}")
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"image must be uint8 or uint16, got {a.dtype.name}")
    if not -1 <= int(compression) <= 9:
        raise ValueError(f"compression should be in [-1,9], got {compression}")
    h, w, c = a.shape
    depth = 16 if a.dtype == np.uint16 else 8
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = a.astype(">u2" if depth == 16 else np.uint8).reshape(h, -1).view(np.uint8)
    scan = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(scan.tobytes(), int(compression))) +
            _chunk(b"IEND", b""))
