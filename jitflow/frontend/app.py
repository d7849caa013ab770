"""``tf.app.flags`` / ``tf.flags`` and ``tf.app.run`` (TF1's absl-style command-line flags),
with no absl dependency.

``DEFINE_string/integer/float/boolean/bool/list/enum/multi_string(name, default, help)``
register a flag on ``FLAGS``. ``tf.app.run(main=None, argv=None)`` parses ``argv`` (default
``sys.argv``), calls ``main(remaining_argv)`` (``argv[0]`` plus the arguments that are not
flags) and exits with its result, as TF1 does. Reading a flag before ``run`` parses
``sys.argv`` for the known flags (TF1's wrapper does the same). Syntax: ``--name=value``,
``--name value``, ``--flag``/``--noflag`` for booleans, ``--`` ends the flags; ``--help``
prints the flags and exits. An unknown ``--flag`` or a bad value is a clear error.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional, Sequence


class FlagError(ValueError):
    """A command-line flag that is unknown or has a bad value."""


class _Flag:
    def __init__(self, name: str, default: Any, help: str, parse: Callable[[str], Any],
                 kind: str, boolean: bool = False, multi: bool = False) -> None:
        self.name, self.help, self.parse, self.kind = name, help, parse, kind
        self.boolean, self.multi = boolean, multi
        self.default = default
        self.value = default
        self.present = False


def _parse_bool(s: str) -> bool:
    low = s.strip().lower()
    if low in ("true", "t", "1", "yes", "y"):
        return True
    if low in ("false", "f", "0", "no", "n"):
        return False
    raise ValueError(f"{s!r} is not a boolean (true/false)")


class FlagValues:
    """``FLAGS``: attribute access to flag values; ``FLAGS(argv)`` parses, returns the rest."""

    def __init__(self) -> None:
        object.__setattr__(self, "_flags", {})
        object.__setattr__(self, "_parsed", False)

    def _define(self, flag: _Flag) -> None:
        if flag.name in self._flags:
            raise FlagError(f"The flag '{flag.name}' is defined twice.")
        self._flags[flag.name] = flag

    def __getattr__(self, name: str) -> Any:
        flags = object.__getattribute__(self, "_flags")
        if name not in flags:
            raise AttributeError(name)
        if not self._parsed:
            self(sys.argv, known_only=True)
        return flags[name].value

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._flags:
            raise AttributeError(f"flag {name!r} is not defined")
        self._flags[name].value = value

    def __contains__(self, name: str) -> bool:
        return name in self._flags

    def __iter__(self):
        return iter(self._flags)

    def __delattr__(self, name: str) -> None:
        self._flags.pop(name)

    def is_parsed(self) -> bool:
        return self._parsed

    def mark_as_parsed(self) -> None:
        object.__setattr__(self, "_parsed", True)

    def unparse_flags(self) -> None:
        for f in self._flags.values():
            f.value, f.present = f.default, False
        object.__setattr__(self, "_parsed", False)

    def flag_values_dict(self) -> dict:
        return {k: f.value for k, f in self._flags.items()}

    def get_flag_value(self, name: str, default: Any) -> Any:
        f = self._flags.get(name)
        return default if f is None else f.value

    def __getitem__(self, name: str) -> _Flag:
        return self._flags[name]

    def help_text(self) -> str:
        lines = []
        for f in self._flags.values():
            lines.append(f"  --{f.name}: {f.help}\n    (default: {f.default!r})")
        return "\n".join(lines)

    def __call__(self, argv: Sequence[str], known_only: bool = False) -> list[str]:
        argv = list(argv)
        rest = argv[:1]
        i = 1
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                rest.extend(argv[i:])
                break
            if not arg.startswith("-") or arg == "-":
                rest.append(arg)
                continue
            body = arg.lstrip("-")
            name, eq, value = body.partition("=")
            if name in ("help", "helpfull", "h", "?") and not known_only:
                print(f"{argv[0]}:\n{self.help_text()}")
                sys.exit(0)
            flag = self._flags.get(name)
            negated = False
            if flag is None and name.startswith("no") and not eq:
                flag = self._flags.get(name[2:])
                negated = flag is not None and flag.boolean
                if not negated:
                    flag = None
            if flag is None:
                if known_only:
                    rest.append(arg)
                    continue
                raise FlagError(f"Unknown command line flag '{name}' (in {arg!r}); defined flags: "
                                f"{', '.join(sorted(self._flags)) or 'none'}")
            if flag.boolean and not eq:
                flag.value, flag.present = not negated, True
                continue
            if not eq:
                if i >= len(argv):
                    raise FlagError(f"Flag --{name} needs a value ({flag.kind})")
                value = argv[i]
                i += 1
            try:
                parsed = flag.parse(value)
            except ValueError as e:
                raise FlagError(f"Flag --{name}={value!r}: {e} (expected {flag.kind})") from None
            if flag.multi:
                flag.value = (list(flag.value) if flag.present else []) + [parsed]
            else:
                flag.value = parsed
            flag.present = True
        self.mark_as_parsed()
        return rest


FLAGS = FlagValues()


def _def(name: str, default: Any, help: str, parse: Callable, kind: str, flag_values: Any = None,
         boolean: bool = False, multi: bool = False) -> _Flag:
    fv = flag_values if flag_values is not None else FLAGS
    f = _Flag(name, default, help, parse, kind, boolean, multi)
    fv._define(f)
    return f


def DEFINE_string(name: str, default: Optional[str], help: str = "", flag_values: Any = None,  # noqa: N802
                  **kw: Any) -> _Flag:
    return _def(name, default, help, str, "a string", flag_values)


def DEFINE_integer(name: str, default: Optional[int], help: str = "", lower_bound: Any = None,  # noqa: N802
                   upper_bound: Any = None, flag_values: Any = None, **kw: Any) -> _Flag:
    def parse(s: str) -> int:
        v = int(s, 0)
        if lower_bound is not None and v < lower_bound or upper_bound is not None and v > upper_bound:
            raise ValueError(f"{v} is outside [{lower_bound}, {upper_bound}]")
        return v
    return _def(name, default, help, parse, "an integer", flag_values)


def DEFINE_float(name: str, default: Optional[float], help: str = "", lower_bound: Any = None,  # noqa: N802
                 upper_bound: Any = None, flag_values: Any = None, **kw: Any) -> _Flag:
    def parse(s: str) -> float:
        v = float(s)
        if lower_bound is not None and v < lower_bound or upper_bound is not None and v > upper_bound:
            raise ValueError(f"{v} is outside [{lower_bound}, {upper_bound}]")
        return v
    return _def(name, default, help, parse, "a number", flag_values)


def DEFINE_boolean(name: str, default: Optional[bool], help: str = "", flag_values: Any = None,  # noqa: N802
                   **kw: Any) -> _Flag:
    return _def(name, default, help, _parse_bool, "true/false", flag_values, boolean=True)


DEFINE_bool = DEFINE_boolean


def DEFINE_list(name: str, default: Any, help: str = "", flag_values: Any = None,  # noqa: N802
                **kw: Any) -> _Flag:
    if isinstance(default, str):
        default = [s for s in default.split(",") if s]
    return _def(name, default, help, lambda s: [x.strip() for x in s.split(",") if x.strip()],
                "a comma-separated list", flag_values)


def DEFINE_enum(name: str, default: Optional[str], enum_values: Sequence[str], help: str = "",  # noqa: N802
                flag_values: Any = None, **kw: Any) -> _Flag:
    def parse(s: str) -> str:
        if s not in enum_values:
            raise ValueError(f"{s!r} is not one of {list(enum_values)}")
        return s
    return _def(name, default, help, parse, f"one of {list(enum_values)}", flag_values)


def DEFINE_multi_string(name: str, default: Any, help: str = "", flag_values: Any = None,  # noqa: N802
                        **kw: Any) -> _Flag:
    default = [default] if isinstance(default, str) else list(default or [])
    return _def(name, default, help, str, "a string (repeatable)", flag_values, multi=True)


def DEFINE_multi_integer(name: str, default: Any, help: str = "", flag_values: Any = None,  # noqa: N802
                         **kw: Any) -> _Flag:
    default = [default] if isinstance(default, int) else list(default or [])
    return _def(name, default, help, int, "an integer (repeatable)", flag_values, multi=True)


def mark_flag_as_required(name: str, flag_values: Any = None) -> None:
    fv = flag_values if flag_values is not None else FLAGS
    _required.append((fv, name))


_required: list = []


def run(main: Optional[Callable] = None, argv: Optional[Sequence[str]] = None) -> None:
    """``tf.app.run``: parse flags from ``argv``, call ``main(rest)``, ``sys.exit`` its result."""
    args = list(sys.argv if argv is None else argv)
    try:
        rest = FLAGS(args)
        for fv, name in _required:
            if fv._flags[name].value is None:
                raise FlagError(f"Flag --{name} must be specified.")
    except FlagError as e:
        print(f"FATAL Flags parsing error: {e}", file=sys.stderr)
        sys.exit(1)
    if main is None:
        main = sys.modules["__main__"].main
    sys.exit(main(rest))


flags = sys.modules[__name__]
