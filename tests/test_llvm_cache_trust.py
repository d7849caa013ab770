"""The llvm disk cache against a hostile or clumsy neighbour (diskcache.py): entries are
loaded only when their HMAC under the user's secret key verifies (a forged entry with a valid
plain checksum, which used to segfault the process, is now rebuilt); a cache directory others
can write, or that is not the user's, is refused with one warning; the key file is 0600; an
entry replaced by a directory or a symlink is rebuilt and rewritten; the size limit evicts the
least recently used entries; ``jitflow cache info|clear``."""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from jitflow.backends.llvm import diskcache, jit

from _llvm_util import llvm
from test_llvm_cache import ARGS, _check, _graph, _objects

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(d))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    monkeypatch.delenv("JITFLOW_CACHE_MAX_BYTES", raising=False)
    monkeypatch.setattr(diskcache, "_warned", set())
    monkeypatch.setattr(diskcache, "_keys", {})
    # the disk layer alone: no in-process object cache in front of it
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")
    return d


def _entry(exe) -> Path:
    return diskcache.cache_dir() / f"{exe.cache_key}.o"


# --------------------------------------------------------------- forged object code --------
_FORGE = textwrap.dedent("""
    import hashlib, hmac, os, sys
    sys.path.insert(0, sys.argv[1])
    import llvmlite.binding as llvmb
    from jitflow.backends.llvm import diskcache, jit
    from test_llvm_cache import _graph, ARGS
    from _llvm_util import llvm
    exe = llvm(_graph())
    key = exe.cache_key
    # object code whose entry point writes to address 0
    mod = llvmb.parse_assembly('define i32 @jf_entry(i8* %a, i8* %b) {\\n'
                               '  store volatile i32 42, i32* null\\n  ret i32 0\\n}')
    obj = jit._init()["tm"].emit_object(mod)
    how = sys.argv[2]
    if how == "plain-sha256":          # the checksum anyone can recompute
        mac = hashlib.sha256(key.encode() + b"\\0" + obj).hexdigest().encode()
    else:                              # an HMAC under the attacker's own key
        mac = hmac.new(b"k" * 32, key.encode() + b"\\0" + obj, hashlib.sha256).hexdigest().encode()
    (diskcache.cache_dir() / (key + ".o")).write_bytes(diskcache.MAGIC + mac + obj)
    again = llvm(_graph())
    third = llvm(_graph())
    print(int(again.compiled.from_cache), int(third.compiled.from_cache),
          ",".join("%.6f" % float(r.sum()) for r in again.run(ARGS)))
""")


@pytest.mark.parametrize("how", ["plain-sha256", "foreign-hmac"])
def test_forged_entry_is_rebuilt_not_loaded(cache, tmp_path, how):
    """Reproducer of the segfault (exit -11 before): run in a subprocess."""
    script = tmp_path / "forge.py"
    script.write_text(_FORGE)
    env = dict(os.environ, JITFLOW_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT),
               JITFLOW_MEMORY_CACHE_BYTES="0")
    p = subprocess.run([sys.executable, str(script), str(ROOT / "tests"), how], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"exit {p.returncode}: {p.stderr[-2000:]}"
    again, third, sums = p.stdout.split()
    assert again == "0"              # the forged entry was not loaded: rebuilt
    assert third == "1"              # and the rebuilt entry replaced it
    from _llvm_util import reference
    want = [float(r.sum()) for r in reference(_graph(), ARGS)]
    np.testing.assert_allclose([float(s) for s in sums.split(",")], want, rtol=1e-5)


def test_entry_copied_from_another_users_cache_is_rejected(cache, tmp_path, monkeypatch):
    """Same graph, same format, another secret key (another user's or machine's cache)."""
    f = _graph()
    llvm(f)
    other = tmp_path / "other"
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(other))
    exe = llvm(_graph())              # other is empty: a cold compile under another key
    assert not exe.compiled.from_cache
    theirs = _entry(exe).read_bytes()
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(cache))
    _entry(exe).write_bytes(theirs)
    again = llvm(_graph())
    assert not again.compiled.from_cache
    _check(again, f)


# --------------------------------------------------------------- the directory -------------
def _compile_with_warnings(k: float = 1.5):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        exe = llvm(_graph(k))
    return exe, [str(x.message) for x in w if "jitflow:" in str(x.message)]


def test_directory_writable_by_others_is_refused_once(cache):
    cache.mkdir(mode=0o700)
    os.chmod(cache, 0o777)
    exe, msgs = _compile_with_warnings()
    assert len(msgs) == 1 and "writable by other users (mode 0777" in msgs[0]
    assert "JITFLOW_CACHE_DIR" in msgs[0] and "chmod go-w" in msgs[0]
    _check(exe, _graph())
    exe2, msgs2 = _compile_with_warnings(2.5)
    assert msgs2 == [] and not exe2.compiled.from_cache       # warned once, still no cache
    assert not _objects(cache) and not (cache / "key").exists()
    os.chmod(cache, 0o700)
    llvm(_graph())
    assert len(_objects(cache)) == 1


def test_directory_owned_by_someone_else_is_refused(cache, monkeypatch):
    cache.mkdir(mode=0o700)
    if os.getuid() == 0:
        os.chown(cache, 65534, 65534)
        owner = 65534
    else:                          # cannot give a directory away: pretend to be another uid
        owner = os.getuid()
        monkeypatch.setattr(diskcache.os, "getuid", lambda: owner + 1)
    exe, msgs = _compile_with_warnings()
    assert len(msgs) == 1 and f"owned by uid {owner}, not by you" in msgs[0]
    _check(exe, _graph())
    assert not list(cache.iterdir())


def test_parent_writable_by_others_needs_the_sticky_bit(tmp_path, monkeypatch):
    monkeypatch.setattr(diskcache, "_warned", set())
    monkeypatch.setenv("JITFLOW_MEMORY_CACHE_BYTES", "0")
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    monkeypatch.setenv("JITFLOW_CACHE_DIR", str(shared / "mine"))
    monkeypatch.delenv("JITFLOW_NO_DISK_CACHE", raising=False)
    _, msgs = _compile_with_warnings()
    assert len(msgs) == 1 and f"{shared} (above it) is writable by other users" in msgs[0]
    os.chmod(shared, 0o1777)       # like /tmp: others cannot rename or delete our directory
    llvm(_graph())
    assert len(_objects(shared / "mine")) == 1


def test_new_directory_and_key_are_private(cache):
    llvm(_graph())
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0
    key = cache / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
    (obj,) = _objects(cache)
    assert stat.S_IMODE(obj.stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize("damage", ["readable", "short", "directory", "symlink"])
def test_bad_key_is_replaced_and_entries_rebuilt(cache, tmp_path, monkeypatch, damage):
    f = _graph()
    llvm(f)
    key = cache / "key"
    old = key.read_bytes()
    if damage == "readable":
        os.chmod(key, 0o644)
    elif damage == "short":
        key.write_bytes(b"abc")
    elif damage == "directory":
        key.unlink()
        key.mkdir()
    else:
        outside = tmp_path / "planted-key"
        outside.write_bytes(old)
        os.chmod(outside, 0o600)
        key.unlink()
        key.symlink_to(outside)
    monkeypatch.setattr(diskcache, "_keys", {})       # a new process
    exe, msgs = _compile_with_warnings()
    assert not exe.compiled.from_cache
    _check(exe, f)
    assert any("made a new one" in m for m in msgs)
    assert key.is_file() and not key.is_symlink()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes() != old
    assert llvm(_graph()).compiled.from_cache


@pytest.mark.parametrize("how", ["directory", "directory-with-files", "symlink"])
def test_entry_replaced_by_non_file_is_rebuilt_and_rewritten(cache, tmp_path, how):
    f = _graph()
    exe = llvm(f)
    p = _entry(exe)
    good = p.read_bytes()
    p.unlink()
    if how == "symlink":              # a link to a valid entry elsewhere is not followed
        target = tmp_path / "elsewhere.o"
        target.write_bytes(good)
        p.symlink_to(target)
    else:
        p.mkdir()
        if how == "directory-with-files":
            (p / "junk").write_text("x")
    again = llvm(_graph())
    assert not again.compiled.from_cache
    _check(again, f)
    assert p.is_file() and not p.is_symlink()        # rewritten: the next compile hits
    assert llvm(_graph()).compiled.from_cache


# --------------------------------------------------------------- size limit ----------------
def test_lru_eviction_keeps_the_recently_used(cache, monkeypatch):
    a = llvm(_graph(1.5))
    b = llvm(_graph(2.5))
    size = _entry(a).stat().st_size
    os.utime(_entry(a), (1000, 1000))
    os.utime(_entry(b), (2000, 2000))
    assert llvm(_graph(1.5)).compiled.from_cache     # a hit: a becomes the most recent
    monkeypatch.setenv("JITFLOW_CACHE_MAX_BYTES", str(int(size * 2.5)))
    c = llvm(_graph(3.5))
    assert _entry(a).exists() and _entry(c).exists() and not _entry(b).exists()
    assert sum(p.stat().st_size for p in _objects(cache)) <= size * 2.5
    assert not llvm(_graph(2.5)).compiled.from_cache  # evicted: rebuilt


def test_size_limit_zero_keeps_nothing_and_stale_temporaries_go(cache, monkeypatch):
    llvm(_graph(1.5))
    stale = cache / ".tmp-dead.o"
    stale.write_bytes(b"x" * 100)
    old = time.time() - 2 * diskcache.STALE_TMP_SECONDS
    os.utime(stale, (old, old))
    fresh = cache / ".tmp-live.o"     # a writer in another process, still at work
    fresh.write_bytes(b"y")
    monkeypatch.setenv("JITFLOW_CACHE_MAX_BYTES", "0")
    exe = llvm(_graph(2.5))
    _check(exe, _graph(2.5))
    assert _objects(cache) == [] and not stale.exists() and fresh.exists()


@pytest.mark.parametrize("raw,want", [("1000", 1000), ("200M", 200 << 20), ("1.5G", 3 << 29),
                                      ("64k", 64 << 10), ("", diskcache.DEFAULT_MAX_BYTES),
                                      ("-5", 0)])
def test_max_bytes_parsing(monkeypatch, raw, want):
    monkeypatch.setenv("JITFLOW_CACHE_MAX_BYTES", raw)
    assert diskcache.max_bytes() == want


def test_max_bytes_garbage_warns_and_uses_the_default(monkeypatch):
    monkeypatch.setattr(diskcache, "_warned", set())
    monkeypatch.setenv("JITFLOW_CACHE_MAX_BYTES", "lots")
    with pytest.warns(RuntimeWarning, match="'lots' is not a size"):
        assert diskcache.max_bytes() == diskcache.DEFAULT_MAX_BYTES
    assert diskcache.DEFAULT_MAX_BYTES == 512 << 20


# --------------------------------------------------------------- jitflow cache -------------
def _cli(*args, env):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "jitflow", "cache", *args], env=e,
                          capture_output=True, text=True, timeout=120)


def test_cache_info_and_clear(cache):
    llvm(_graph(1.5))
    llvm(_graph(2.5))
    plans = sorted(cache.glob("*.plan"))
    assert len(plans) == 2                  # each module's plan record beside its object code
    total = sum(p.stat().st_size for p in _objects(cache) + plans)
    env = {"JITFLOW_CACHE_DIR": str(cache), "JITFLOW_CACHE_MAX_BYTES": "10M"}
    p = _cli("info", env=env)
    assert p.returncode == 0, p.stderr
    assert f"directory: {cache} (in use)" in p.stdout
    assert "entries:   2 (" in p.stdout and "limit:     10.0 MiB" in p.stdout
    assert "key:       present" in p.stdout and "last used:" in p.stdout
    p = _cli("clear", env=env)
    assert p.returncode == 0 and p.stdout.startswith("removed 2 entries (")
    assert f"{total / 1024:.1f} KiB" in p.stdout
    assert _objects(cache) == [] and not list(cache.glob("*.plan")) and (cache / "key").exists()
    assert "entries:   0 (0 B)" in _cli("info", env=env).stdout
    assert not llvm(_graph(1.5)).compiled.from_cache


def test_cache_info_and_clear_on_a_refused_directory(cache):
    llvm(_graph())
    os.chmod(cache, 0o777)
    env = {"JITFLOW_CACHE_DIR": str(cache)}
    p = _cli("info", env=env)
    assert p.returncode == 0 and "(refused: " in p.stdout and "writable by other users" in p.stdout
    p = _cli("clear", env=env)
    assert p.returncode == 1 and "not clearing" in p.stderr
    assert len(_objects(cache)) == 1
    p = _cli("info", env={"JITFLOW_CACHE_DIR": str(cache / "none")})
    assert "(not created yet)" in p.stdout and "entries:   0" in p.stdout
