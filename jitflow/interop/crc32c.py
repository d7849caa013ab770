"""CRC-32C (Castagnoli), as TFRecord files, TensorBoard event files and TF's checkpoint bundles
use it, and TF's "masked" form (``crc32c::Mask``: rotate right by 15 bits, add 0xa282ead8).

The checksum comes from ``google-crc32c`` (Google's C implementation, hardware-accelerated
with SSE4.2/ARMv8 CRC instructions) when it is installed, which it is with jitflow's runtime
dependencies; a table-driven pure-Python fallback (~0.4 s/MiB) keeps jitflow working without
it.
"""
from __future__ import annotations

__all__ = ["crc32c", "masked_crc32c", "unmask", "IMPLEMENTATION"]

_MASK_DELTA = 0xA282EAD8

try:
    import google_crc32c as _g

    if getattr(_g, "implementation", "c") != "c":     # its own pure-Python fallback is slower
        raise ImportError("google_crc32c without its C extension")

    def crc32c(data: bytes) -> int:
        """CRC-32C of ``data``."""
        return _g.value(data if isinstance(data, bytes) else bytes(data))

    IMPLEMENTATION = "google-crc32c"
except ImportError:
    def _table() -> list[int]:
        out = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            out.append(c)
        return out

    _TABLE = _table()

    def crc32c(data: bytes) -> int:
        """CRC-32C of ``data`` (pure Python)."""
        c = 0xFFFFFFFF
        t = _TABLE
        for b in bytes(data):
            c = t[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF

    IMPLEMENTATION = "python"


def masked_crc32c(data: bytes) -> int:
    """TF's masked CRC-32C of ``data`` (what TFRecord and the bundle store)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    """The CRC-32C that ``masked`` masks."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
