"""``jitflow cache info|clear``: the llvm backend's disk cache of object code
(``backends/llvm/diskcache.py``)."""
from __future__ import annotations

import sys
import time

from .info import _human


def add_parser(sub) -> None:
    c = sub.add_parser("cache", help="show or clear the llvm backend's disk cache",
                       description="The llvm backend caches compiled object code on disk "
                       "(~/.cache/jitflow or JITFLOW_CACHE_DIR), bounded by "
                       "JITFLOW_CACHE_MAX_BYTES (least recently used entries go first).")
    c.add_argument("action", choices=("info", "clear"),
                   help="info: directory, state, entries, size and limit; clear: delete every "
                   "entry")


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def run(args) -> int:
    from ..backends.llvm import diskcache
    if args.action == "clear":
        try:
            n, b = diskcache.clear()
        except (diskcache.CacheDirRefused, OSError) as e:
            print(f"jitflow cache: error: not clearing {diskcache.cache_dir()}: {e}",
                  file=sys.stderr)
            return 1
        print(f"removed {n} entr{'y' if n == 1 else 'ies'} ({_human(b)}) from "
              f"{diskcache.cache_dir()}")
        return 0
    i = diskcache.info()
    rows = [("directory", f"{i['directory']} ({i['state']})"),
            ("entries", f"{i['entries']} ({_human(i['bytes'])})"),
            ("limit", f"{_human(i['limit_bytes'])} (JITFLOW_CACHE_MAX_BYTES; least recently "
                      "used entries are evicted first)")]
    if "key" in i:
        rows.append(("key", f"{i['key']} (per-user HMAC key, mode 0600)"))
    if i.get("entries"):
        rows.append(("last used", f"{_when(i['newest_use'])} (least recently: "
                                  f"{_when(i['oldest_use'])})"))
    if i.get("stale_temporaries"):
        rows.append(("stale temporaries", str(i["stale_temporaries"])))
    width = max(len(k) for k, _ in rows) + 1
    sys.stdout.write("".join(f"{(k + ':').ljust(width)} {v}\n" for k, v in rows))
    return 0
