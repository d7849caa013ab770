"""``tf.contrib.training.HParams`` (host-side Python)."""
from __future__ import annotations

import types
from typing import Any


# ---------------------------------------------------------------------- HParams ------------

class HParams:
    """``tf.contrib.training.HParams``: named hyperparameters with ``parse("a=1,b=x")``
    (values converted to each one's type), ``values()``, ``set_hparam``, ``add_hparam``,
    ``override_from_dict`` and ``to_json``."""

    def __init__(self, hparam_def: Any = None, model_structure: Any = None,
                 **kwargs: Any) -> None:
        object.__setattr__(self, "_names", [])
        for k, v in kwargs.items():
            self.add_hparam(k, v)

    def add_hparam(self, name: str, value: Any) -> None:
        if name in self._names or hasattr(type(self), name):
            raise ValueError(f"Hyperparameter name is reserved or exists: {name}")
        self._names.append(name)
        object.__setattr__(self, name, value)

    def set_hparam(self, name: str, value: Any) -> None:
        if name not in self._names:
            raise ValueError(f"Unknown hyperparameter: {name}")
        cur = getattr(self, name)
        if isinstance(cur, bool) and not isinstance(value, bool):
            raise ValueError(f"Could not convert {value!r} to bool for {name}")
        if isinstance(cur, int) and not isinstance(cur, bool) and isinstance(value, float) \
                and value != int(value):
            raise ValueError(f"Could not convert {value!r} to int for {name} without loss")
        object.__setattr__(self, name, type(cur)(value) if cur is not None and
                           not isinstance(cur, list) else value)

    def del_hparam(self, name: str) -> None:
        if name in self._names:
            self._names.remove(name)
            object.__delattr__(self, name)

    def parse(self, values: str) -> "HParams":
        for item in [p for p in values.split(",") if p.strip()]:
            key, eq, raw = item.partition("=")
            key = key.strip()
            if not eq or key not in self._names:
                raise ValueError(f"Unknown hyperparameter or malformed item {item!r}")
            cur = getattr(self, key)
            raw = raw.strip()
            if isinstance(cur, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"Could not parse {raw!r} as bool for {key}")
                val: Any = raw.lower() in ("true", "1")
            elif isinstance(cur, int):
                val = int(raw)
            elif isinstance(cur, float):
                val = float(raw)
            else:
                val = raw
            object.__setattr__(self, key, val)
        return self

    def override_from_dict(self, values_dict: dict) -> "HParams":
        for k, v in values_dict.items():
            self.set_hparam(k, v)
        return self

    def values(self) -> dict:
        return {k: getattr(self, k) for k in self._names}

    def to_json(self, indent: Any = None, separators: Any = None, sort_keys: bool = False) -> str:
        import json
        return json.dumps(self.values(), indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self._names else default

    def __contains__(self, key: str) -> bool:
        return key in self._names

    def __repr__(self) -> str:
        return f"HParams({self.values()!r})"


training = types.SimpleNamespace(HParams=HParams)
