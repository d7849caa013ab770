"""Host ops on strings: ``tf.parse_single_example`` (+ ``FixedLenFeature``), ``tf.decode_raw``,
``tf.decode_csv``, ``tf.string_to_number``.

Each takes a string tensor (a StringTensor: a TFRecord/text-line record, a reader's value, or a
``map`` function's string argument) and adds a HostNode to its graph; numeric outputs are
host-fed placeholders that compiled ops consume, string outputs stay StringTensors. Errors
are ``tf.errors.InvalidArgumentError`` naming the feature / field, and the record's file and
position when it came from a file.
"""
from __future__ import annotations

import csv
from typing import Any, Optional, Sequence

import numpy as np

from ...errors import InvalidArgumentError
from ..graph import Tensor, TensorShape, get_default_graph
from .example import DecodeError, Example
from .hostfeed import HostNode, StringTensor, registry_for
from .structure import string, to_dtype


def _where(v: Any) -> str:
    w = getattr(v, "where", "")
    return f" ({w})" if w else ""


def _scalar_bytes(v: Any) -> Any:
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v[()]
    return v


def _string_input(x: Any, what: str) -> StringTensor:
    if isinstance(x, StringTensor):
        return x
    if isinstance(x, (str, bytes)):
        data = x.encode() if isinstance(x, str) else x
        node = HostNode(lambda sess: (np.asarray(data, dtype=object),), name="Const")
        return StringTensor(node, 0, (), get_default_graph(), "Const")
    raise TypeError(f"{what} takes a tf.string tensor (a record from TFRecordDataset/"
                    f"TextLineDataset, a reader's value or a map function's string argument), "
                    f"got {x!r}")


def is_text(value: Any) -> bool:
    """A str/bytes value, a (nested) list of them, or a NumPy array of strings."""
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "SU" or (value.dtype.kind == "O" and value.size > 0
                                             and isinstance(value.flat[0], (str, bytes)))
    if isinstance(value, (list, tuple)) and value:
        return is_text(value[0])
    return False


def _encoded(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (list, tuple)):
        return [_encoded(v) for v in value]
    return value


def string_constant(value: Any, shape: Any = None, name: str = "Const") -> StringTensor:
    """``tf.constant("Hello, TensorFlow!")``: a host string tensor whose value is the bytes
    (``Session.run`` returns ``b'Hello, TensorFlow!'``, as TF does)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    arr = np.array(_encoded(value), dtype=object)
    if shape is not None:
        want = tuple(TensorShape(shape).dims)
        if arr.size == 1:
            arr = np.full(want, arr.reshape(-1)[0], dtype=object)
        elif arr.size == int(np.prod(want)):
            arr = arr.reshape(want)
        else:
            raise ValueError(f"tf.constant: {arr.size} strings cannot fill shape {list(want)}")
    g = get_default_graph()
    registry_for(g)                      # the Session's hook that fetches host strings
    op_name = g.unique_name(name or "Const")
    node = HostNode(lambda sess: (arr,), name=op_name)
    return StringTensor(node, 0, arr.shape, g, op_name + ":0")


def _outputs(node: HostNode, graph: Any, specs: list, name: str) -> list:
    reg = registry_for(graph)
    return [reg.output(node, i, dt, shape, f"{name}_{i}" if i else name)
            for i, (dt, shape) in enumerate(specs)]


# ------------------------------------------------------------------ parse_single_example ----

class FixedLenFeature:
    """``tf.FixedLenFeature(shape, dtype, default_value=None)``."""

    def __init__(self, shape: Any, dtype: Any, default_value: Any = None) -> None:
        self.shape = list(TensorShape(shape).dims or ())
        self.dtype = to_dtype(dtype)
        if self.dtype is not string and self.dtype.name not in ("float32", "int64"):
            raise ValueError(f"FixedLenFeature dtype must be tf.float32, tf.int64 or tf.string, "
                             f"got {dtype!r}")
        self.default_value = default_value


class VarLenFeature:
    def __init__(self, dtype: Any) -> None:
        raise NotImplementedError("tf.VarLenFeature (a SparseTensor) is not supported by "
                                  "jitflow; use FixedLenFeature with a known length")


_KIND = {"float32": "float_list", "int64": "int64_list", "string": "bytes_list"}
_TYPE_OF_KIND = {"float_list": "float", "int64_list": "int64", "bytes_list": "string"}


def _parse(serialized: Any, features: dict, keys: list) -> tuple:
    raw = _scalar_bytes(serialized)
    where = _where(raw)
    try:
        ex = Example.FromString(bytes(raw))
    except DecodeError as e:
        raise InvalidArgumentError(f"Could not parse example input{where}: {e}") from None
    out = []
    for key in keys:
        spec = features[key]
        n = int(np.prod(spec.shape)) if spec.shape else 1
        f = ex.features.feature.get(key)
        want = _KIND[spec.dtype.name]
        if f is None or f.WhichOneof() is None:
            if spec.default_value is None:
                raise InvalidArgumentError(
                    f"Feature: {key} (data type: {_TYPE_OF_KIND[want]}) is required but could "
                    f"not be found{where}.")
            val = np.broadcast_to(np.asarray(spec.default_value, dtype=object if spec.dtype
                                             is string else spec.dtype.np), spec.shape).copy()
            out.append(val)
            continue
        kind = f.WhichOneof()
        if kind != want:
            raise InvalidArgumentError(
                f"Key: {key}. Data types don't match. Data type: {_TYPE_OF_KIND[kind]} but "
                f"expected type: {_TYPE_OF_KIND[want]}{where}")
        values = getattr(f, kind).value
        if len(values) != n:
            raise InvalidArgumentError(
                f"Key: {key}. Can't parse serialized Example: {len(values)} values but the "
                f"FixedLenFeature shape {spec.shape} needs {n}{where}")
        if spec.dtype is string:
            arr = np.empty(len(values), dtype=object)
            arr[:] = [bytes(v) for v in values]
        else:
            arr = np.asarray(values, dtype=spec.dtype.np)
        out.append(arr.reshape(spec.shape))
    return tuple(out)


def parse_single_example(serialized: Any, features: dict, name: Optional[str] = None,
                         example_names: Any = None) -> dict:
    """``tf.parse_single_example`` for FixedLenFeature specs: ``{key: tensor}``."""
    s = _string_input(serialized, "parse_single_example")
    for k, spec in features.items():
        if not isinstance(spec, FixedLenFeature):
            raise TypeError(f"parse_single_example: feature {k!r} must be a FixedLenFeature, "
                            f"got {spec!r}")
    keys = sorted(features)
    node = HostNode(lambda sess, v: _parse(v, features, keys), [s], name=name or "ParseSingleExample")
    outs = _outputs(node, s.graph, [(features[k].dtype, features[k].shape) for k in keys],
                    name or "ParseSingleExample")
    return dict(zip(keys, outs))


def parse_example(*args: Any, **kwargs: Any) -> dict:
    raise NotImplementedError("tf.parse_example (batched) is not supported by jitflow: map "
                              "tf.parse_single_example over the records, then batch")


# ------------------------------------------------------------------ decode_raw ---------------

def decode_raw(input_bytes: Any, out_type: Any, little_endian: bool = True,
               name: Optional[str] = None) -> Tensor:
    """Bytes -> a vector of ``out_type``."""
    s = _string_input(input_bytes, "decode_raw")
    np_type = np.dtype(getattr(out_type, "np", out_type))
    np_type = np_type.newbyteorder("<" if little_endian else ">") if np_type.itemsize > 1 else np_type
    dt = to_dtype(out_type)

    def fn(sess: Any, v: Any) -> tuple:
        raw = bytes(_scalar_bytes(v))
        if len(raw) % np_type.itemsize:
            raise InvalidArgumentError(f"Input to DecodeRaw has length {len(raw)} that is not a "
                                       f"multiple of {np_type.itemsize}, the size of "
                                       f"{np_type.name}{_where(v)}")
        return (np.frombuffer(raw, dtype=np_type).astype(dt.np),)
    node = HostNode(fn, [s], name=name or "DecodeRaw")
    return _outputs(node, s.graph, [(dt, [None])], name or "DecodeRaw")[0]


# ------------------------------------------------------------------ decode_csv ---------------

def _default_of(d: Any, i: int) -> tuple[Any, Any]:
    """(dtype, default or None) of one record_defaults entry."""
    if isinstance(d, Tensor):
        if d.op.type != "Const":
            raise TypeError(f"decode_csv: record_defaults[{i}] must be a constant")
        d = d.op.attrs["value"]
        arr = np.asarray(d)
        return to_dtype(arr.dtype), (arr.reshape(-1)[0] if arr.size else None)
    vals = list(d) if isinstance(d, (list, tuple, np.ndarray)) else [d]
    if len(vals) > 1:
        raise ValueError(f"decode_csv: record_defaults[{i}] must have at most one value, got {vals}")
    if not vals:
        raise ValueError(f"decode_csv: record_defaults[{i}] is empty: give a default value or "
                         "a typed empty constant")
    v = vals[0]
    if isinstance(v, (str, bytes)):
        return string, v.encode() if isinstance(v, str) else v
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"decode_csv: record_defaults[{i}]: bool is not a CSV column type")
    if isinstance(v, (int, np.integer)):
        return to_dtype(np.asarray(v).dtype if isinstance(v, np.integer) else np.int32), v
    return to_dtype(np.asarray(v).dtype if isinstance(v, np.floating) else np.float32), v


def _convert(field: str, dt: Any, default: Any, col: int, rec: int, where: str) -> Any:
    if field == "":
        if default is None:
            raise InvalidArgumentError(f"Field {col} is required but missing in record {rec}!"
                                       f"{where}")
        return default
    if dt is string:
        return field.encode()
    try:
        if dt.is_floating:
            return float(field)
        return int(field)
    except ValueError:
        kind = "float" if dt.is_floating else "int"
        raise InvalidArgumentError(f"Field {col} in record {rec} is not a valid {kind}: "
                                   f"{field!r}{where}") from None


def _decode_rows(records: Any, types: list, field_delim: str, quote: bool,
                 select: Optional[list]) -> tuple:
    arr = records if isinstance(records, np.ndarray) else np.asarray(records, dtype=object)
    flat = arr.reshape(-1)
    ncols = len(types)
    cols: list = [[] for _ in range(ncols)]
    for r, rec in enumerate(flat):
        where = _where(rec)
        text = rec.decode() if isinstance(rec, bytes) else str(rec)
        reader = csv.reader([text], delimiter=field_delim, quotechar='"' if quote else None,
                            quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE)
        fields = next(reader, [""])
        if select is not None:
            if max(select) >= len(fields):
                raise InvalidArgumentError(f"Expect {max(select) + 1} fields but have "
                                           f"{len(fields)} in record {r}{where}")
            fields = [fields[j] for j in select]
        if len(fields) != ncols:
            raise InvalidArgumentError(f"Expect {ncols} fields but have {len(fields)} in record "
                                       f"{r}{where}")
        for c, (f, (dt, d)) in enumerate(zip(fields, types)):
            cols[c].append(_convert(f.strip() if dt is not string else f, dt, d, c, r, where))
    out = []
    for (dt, _), col in zip(types, cols):
        if dt is string:
            a = np.empty(len(col), dtype=object)
            a[:] = col
        else:
            a = np.asarray(col, dtype=dt.np)
        out.append(a.reshape(arr.shape))
    return tuple(out)


def decode_csv(records: Any, record_defaults: Sequence[Any], field_delim: str = ",",
               use_quote_delim: bool = True, name: Optional[str] = None, na_value: str = "",
               select_cols: Optional[Sequence[int]] = None) -> list:
    """``tf.decode_csv``: one tensor per column, typed by ``record_defaults`` ([1.0] float32,
    [0] int32, [""] string; an empty typed constant makes the column required)."""
    s = _string_input(records, "decode_csv")
    types = [_default_of(d, i) for i, d in enumerate(record_defaults)]
    select = sorted(select_cols) if select_cols is not None else None
    node = HostNode(lambda sess, v: _decode_rows(v, types, field_delim, use_quote_delim, select),
                    [s], name=name or "DecodeCSV")
    return _outputs(node, s.graph, [(dt, s.shape) for dt, _ in types], name or "DecodeCSV")


def string_to_number(string_tensor: Any, out_type: Any = None, name: Optional[str] = None) -> Tensor:
    s = _string_input(string_tensor, "string_to_number")
    dt = to_dtype(out_type or np.float32)

    def fn(sess: Any, v: Any) -> tuple:
        a = np.asarray(v, dtype=object)
        try:
            return (np.vectorize(lambda x: float(x) if dt.is_floating else int(x),
                                 otypes=[dt.np])(a).astype(dt.np),)
        except ValueError as e:
            raise InvalidArgumentError(f"StringToNumberOp could not correctly convert string: "
                                       f"{e}{_where(_scalar_bytes(v))}") from None
    node = HostNode(fn, [s], name=name or "StringToNumber")
    return _outputs(node, s.graph, [(dt, s.shape)], name or "StringToNumber")[0]

