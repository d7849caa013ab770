"""Parser for the IR text form written by ``printer.py`` (``parse(print(f))`` prints the same)."""
from __future__ import annotations

import base64
import json
import re
from typing import Any

import numpy as np

from .core import Function, Location, Op, Value
from .dtypes import as_dtype, is_dtype_name
from .types import TensorType

_TOKEN = re.compile(r"""
   (?P<ws>\s+)
  |(?P<b64>b64"[^"]*")
  |(?P<str>"(?:[^"\\]|\\.)*")
  |(?P<val>%\d+)
  |(?P<func>@[\w.\-]+)
  |(?P<arrow>->)
  |(?P<num>-?(?:inf|nan)(?![\w.])|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  |(?P<ident>[A-Za-z_][\w.]*)
  |(?P<punct>[()\[\]{},:=<>*?])
""", re.VERBOSE)


class IRParseError(ValueError):
    pass


class _Tokens:
    def __init__(self, text: str) -> None:
        self.toks: list[tuple[str, str, int]] = []
        pos, line = 0, 1
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m:
                raise IRParseError(f"line {line}: unexpected character {text[pos]!r}")
            kind = m.lastgroup
            if kind != "ws":
                self.toks.append((kind, m.group(), line))
            line += m.group().count("\n")
            pos = m.end()
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str, int]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "", -1)

    def next(self) -> tuple[str, str, int]:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        kind, tok, line = self.next()
        if tok != text:
            raise IRParseError(f"line {line}: expected {text!r}, got {tok!r}")

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text:
            self.i += 1
            return True
        return False

    def expect_kind(self, kind: str) -> str:
        k, tok, line = self.next()
        if k != kind:
            raise IRParseError(f"line {line}: expected {kind}, got {tok!r}")
        return tok


def _parse_number(tok: str) -> Any:
    if any(c in tok for c in ".eEn") or "inf" in tok:
        return float(tok)
    return int(tok)


def _parse_type(ts: _Tokens) -> TensorType:
    dt = as_dtype(ts.expect_kind("ident"))
    ts.expect("[")
    if ts.accept("*"):
        ts.expect("]")
        return TensorType(dt, None)
    dims: list = []
    while not ts.accept("]"):
        kind, tok, line = ts.next()
        if tok == "?":
            dims.append(None)
        elif kind == "num" and tok in ("inf", "nan"):
            dims.append(tok)          # a symbolic dim named like a float keyword
        elif kind == "num":
            dims.append(int(tok))
        elif kind == "ident":
            dims.append(tok)
        else:
            raise IRParseError(f"line {line}: bad dim {tok!r}")
        ts.accept(",")
    return TensorType(dt, tuple(dims))


def _parse_array(ts: _Tokens) -> np.ndarray:
    ts.expect("<")
    t = _parse_type(ts)
    ts.expect(":")
    kind, tok, line = ts.peek()
    if kind == "b64":
        ts.next()
        raw = base64.b64decode(tok[4:-1])
        arr = np.frombuffer(raw, dtype=t.dtype.np.newbyteorder("<")).astype(t.dtype.np)
    else:
        ts.expect("[")
        items = []
        while not ts.accept("]"):
            k, tk, ln = ts.next()
            items.append(tk == "true" if k == "ident" else _parse_number(tk))
            ts.accept(",")
        arr = np.array(items, dtype=t.dtype.np)
    ts.expect(">")
    return arr.reshape(t.shape).copy()


def _parse_attr(ts: _Tokens) -> Any:
    kind, tok, line = ts.next()
    if kind == "num":
        return _parse_number(tok)
    if kind == "str":
        return json.loads(tok)
    if tok == "[":
        items = []
        while not ts.accept("]"):
            items.append(_parse_attr(ts))
            ts.accept(",")
        return tuple(items)
    if kind == "ident":
        if tok == "true":
            return True
        if tok == "false":
            return False
        if tok == "none":
            return None
        if tok == "array":
            return _parse_array(ts)
        if is_dtype_name(tok):
            return as_dtype(tok)
    raise IRParseError(f"line {line}: bad attribute value {tok!r}")


def _opt_label(ts: _Tokens) -> str:
    if ts.peek()[0] == "str":
        return json.loads(ts.next()[1])
    return ""


def parse_function(text: str) -> Function:
    """Parse one ``func`` (the printer's output) into a new Function."""
    ts = _Tokens(text)
    return _parse_func(ts)


def _parse_func(ts: _Tokens) -> Function:
    """One ``func ... { ... }`` from the token stream, with its own value names."""
    ts.expect("func")
    name = ts.expect_kind("func")[1:]
    env: dict[str, Value] = {}
    f = Function(name)
    ts.expect("(")
    while not ts.accept(")"):
        vname = ts.expect_kind("val")
        ts.expect(":")
        t = _parse_type(ts)
        env[vname] = f.add_param(t, _opt_label(ts))
        ts.accept(",")
    ts.expect("->")
    ts.expect("(")
    result_names: list[str] = []
    while not ts.accept(")"):
        _parse_type(ts)
        result_names.append(_opt_label(ts))
        ts.accept(",")
    ts.expect("{")
    while True:
        kind, tok, line = ts.peek()
        if tok == "return":
            ts.next()
            results = []
            while ts.peek()[0] == "val":
                results.append(_lookup(env, ts.next()))
                ts.accept(",")
            ts.expect("}")
            f.set_results(results, result_names)
            return f
        f.ops.append(_parse_op(ts, env))


def _lookup(env: dict[str, Value], tok: tuple[str, str, int]) -> Value:
    try:
        return env[tok[1]]
    except KeyError:
        raise IRParseError(f"line {tok[2]}: use of undefined value {tok[1]}") from None


def _parse_op(ts: _Tokens, env: dict[str, Value]) -> Op:
    lhs: list[str] = []
    while ts.peek()[0] == "val":
        lhs.append(ts.next()[1])
        if not ts.accept(","):
            ts.expect("=")
            break
    opname = ts.expect_kind("ident")
    ts.expect("(")
    operands = []
    while not ts.accept(")"):
        operands.append(_lookup(env, ts.next()))
        ts.accept(",")
    attrs: dict[str, Any] = {}
    if ts.accept("{"):
        while not ts.accept("}"):
            key = ts.expect_kind("ident")
            ts.expect("=")
            attrs[key] = _parse_attr(ts)
            ts.accept(",")
    ts.expect(":")
    types: list[TensorType] = []
    if ts.accept("("):
        while not ts.accept(")"):
            types.append(_parse_type(ts))
            ts.accept(",")
    else:
        types.append(_parse_type(ts))
    group = None
    if ts.peek()[1] == "group" and ts.peek(1)[1] == "(":
        ts.next(); ts.next()
        group = int(ts.expect_kind("num"))
        ts.expect(")")
    loc = Location()
    if ts.peek()[1] == "loc" and ts.peek(1)[1] == "(":
        ts.next(); ts.next()
        tf_name = json.loads(ts.expect_kind("str"))
        file = json.loads(ts.expect_kind("str"))
        ts.expect(":")
        line_no = int(ts.expect_kind("num"))
        ts.expect(")")
        loc = Location(tf_name, file, line_no)
    regions: list[Function] = []
    if ts.accept("["):
        while not ts.accept("]"):
            regions.append(_parse_func(ts))
    if len(types) != len(lhs):
        raise IRParseError(f"op {opname}: {len(lhs)} results named but {len(types)} types given")
    op = Op(opname, operands, attrs, types, loc, regions)
    op.group = group
    for n, r in zip(lhs, op.results):
        env[n] = r
    return op


def parse(text: str) -> Function:
    return parse_function(text)
