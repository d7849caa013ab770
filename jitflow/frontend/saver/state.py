from __future__ import annotations

import os
import re
import sys
from typing import Optional

from .format import _atomic_write
from .reader import checkpoint_exists

# ====================================================================== state file ===========

class CheckpointState:
    """The ``checkpoint`` file's contents (TF's CheckpointState proto)."""

    def __init__(self, model_checkpoint_path: str = "",
                 all_model_checkpoint_paths: Optional[list] = None,
                 all_model_checkpoint_timestamps: Optional[list] = None,
                 last_preserved_timestamp: float = 0.0) -> None:
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths or [])
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps or [])
        self.last_preserved_timestamp = last_preserved_timestamp

    def __repr__(self) -> str:
        return (f"CheckpointState(model_checkpoint_path={self.model_checkpoint_path!r}, "
                f"all_model_checkpoint_paths={self.all_model_checkpoint_paths!r})")

    __str__ = __repr__


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _unquote(s: str) -> str:
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            nxt = s[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _state_path(save_dir: str, latest_filename: Optional[str]) -> str:
    return os.path.join(save_dir, latest_filename or "checkpoint")


def _relative_to(path: str, save_dir: str) -> str:
    if os.path.isabs(save_dir) or os.path.isabs(path):
        return path
    return os.path.relpath(path, save_dir or ".")


def update_checkpoint_state(save_dir: str, model_checkpoint_path: str,
                            all_model_checkpoint_paths: Optional[list] = None,
                            latest_filename: Optional[str] = None,
                            all_model_checkpoint_timestamps: Optional[list] = None,
                            last_preserved_timestamp: Optional[float] = None) -> None:
    """Write the ``checkpoint`` state file (atomically)."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    lines = [f"model_checkpoint_path: {_quote(_relative_to(model_checkpoint_path, save_dir))}"]
    lines += [f"all_model_checkpoint_paths: {_quote(_relative_to(p, save_dir))}" for p in paths]
    for ts in all_model_checkpoint_timestamps or []:
        lines.append(f"all_model_checkpoint_timestamps: {ts!r}")
    if last_preserved_timestamp is not None:
        lines.append(f"last_preserved_timestamp: {last_preserved_timestamp!r}")
    _atomic_write(_state_path(save_dir, latest_filename), ("\n".join(lines) + "\n").encode())


_STATE_LINE = re.compile(r'^\s*(\w+)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([-+0-9.eE]+|inf|nan))\s*$')


def get_checkpoint_state(checkpoint_dir: str,
                         latest_filename: Optional[str] = None) -> Optional[CheckpointState]:
    """``tf.train.get_checkpoint_state``: the parsed ``checkpoint`` file, relative paths joined
    to ``checkpoint_dir``; None when there is no (readable) state file."""
    path = _state_path(checkpoint_dir, latest_filename)
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as e:
        print(f"jitflow: warning: {path}: {e}; checkpoint ignored", file=sys.stderr)
        return None
    st = CheckpointState()
    for ln, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _STATE_LINE.match(line)
        if not m:
            print(f"jitflow: warning: {path}:{ln}: cannot parse {line!r}; checkpoint ignored",
                  file=sys.stderr)
            return None
        key, sval, nval = m.group(1), m.group(2), m.group(3)
        if key == "model_checkpoint_path" and sval is not None:
            st.model_checkpoint_path = _unquote(sval)
        elif key == "all_model_checkpoint_paths" and sval is not None:
            st.all_model_checkpoint_paths.append(_unquote(sval))
        elif key == "all_model_checkpoint_timestamps" and nval is not None:
            st.all_model_checkpoint_timestamps.append(float(nval))
        elif key == "last_preserved_timestamp" and nval is not None:
            st.last_preserved_timestamp = float(nval)
    if not st.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")

    def fix(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)
    st.model_checkpoint_path = fix(st.model_checkpoint_path)
    st.all_model_checkpoint_paths = [fix(p) for p in st.all_model_checkpoint_paths]
    return st


def latest_checkpoint(checkpoint_dir: str, latest_filename: Optional[str] = None) -> Optional[str]:
    """``tf.train.latest_checkpoint``: the newest complete checkpoint's prefix, or None."""
    st = get_checkpoint_state(checkpoint_dir, latest_filename)
    if st and st.model_checkpoint_path:
        if checkpoint_exists(st.model_checkpoint_path):
            return st.model_checkpoint_path
        print(f"jitflow: error: couldn't match files for checkpoint {st.model_checkpoint_path}",
              file=sys.stderr)
    return None
