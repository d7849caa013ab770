"""Arena planning shared by the backends: buffers with live ranges get offsets in one arena,
reusing the space of buffers whose range has ended (first fit)."""
from __future__ import annotations


def assign_offsets(sizes: dict[int, int], first: dict[int, int],
                   last: dict[int, int]) -> tuple[dict[int, int], int]:
    """``sizes``: buffer id -> bytes (already aligned); ``first``/``last``: the step that
    writes it first and the last step that reads it. Returns (offsets, arena size)."""
    offsets: dict[int, int] = {}
    live: list[tuple[int, int, int]] = []     # (last step, offset, size)
    top = 0
    for idx in sorted(sizes, key=lambda i: (first.get(i, 0), i)):
        start = first.get(idx, 0)
        live = [x for x in live if x[0] >= start]
        size = sizes[idx]
        pos = 0
        for _, off, sz in sorted(live, key=lambda x: x[1]):
            if pos + size <= off:
                break
            pos = max(pos, off + sz)
        offsets[idx] = pos
        top = max(top, pos + size)
        live.append((last.get(idx, start), pos, size))
    return offsets, top
