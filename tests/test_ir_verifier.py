"""Verifier: accepts what the Builder makes; rejects unknown ops, bad/missing/unknown attributes,
wrong operand counts, use before definition, wrong result types, unknown ranks, and pseudo ops
when ``allow_pseudo=False``. Hand-written cases plus random valid Functions with one random
invalidating mutation each."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow  # noqa: F401  (registers the ops)
from jitflow.ir import (OPS, Builder, Function, Location, Op, TensorType, VerificationError,
                        bool_, defop, float32, float64, int32, int64, parse, print_function,
                        verify)
from jitflow.ir.opdef import ATTR_KINDS

# ----------------------------------------------------------------------------- helpers ------


def small_function():
    """x: f32[s0,3], w: f32[3,4] -> relu(x @ w + 1), reduce_sum over axis 1."""
    f = Function("small")
    x = f.add_param(TensorType(float32, ("s0", 3)), "x")
    w = f.add_param(TensorType(float32, (3, 4)), "w")
    b = Builder(f.ops, Location("dense", "model.py", 12))
    h = b.relu(b.add(b.matmul(x, w), 1.0))
    s = b.reduce_sum(h, axes=[1])
    f.set_results([h, s], ["h", "s"])
    return f


def op_named(f, name):
    return next(op for op in f.ops if op.opname == name)


def rejects(f, match, **kw):
    with pytest.raises(VerificationError, match=match):
        verify(f, **kw)


# ----------------------------------------------------------------------------- hand-written --

def test_accepts_a_valid_function_and_returns_it():
    f = small_function()
    assert verify(f) is f
    assert verify(f, allow_pseudo=False) is f


def test_rejects_unknown_op():
    f = small_function()
    op_named(f, "relu").opname = "leaky_relu_that_does_not_exist"
    rejects(f, "unknown op")


def test_rejects_unknown_op_parsed_from_text():
    f = parse("func @f(%0: f32[2]) -> (f32[2]) {\n  %1 = frobnicate(%0) : f32[2]\n  return %1\n}\n")
    rejects(f, "unknown op")


def test_rejects_missing_attribute():
    f = small_function()
    del op_named(f, "reduce_sum").attrs["keepdims"]
    rejects(f, r"missing attributes \['keepdims'\]")


def test_rejects_unknown_attribute():
    f = small_function()
    op_named(f, "matmul").attrs["adjoint_a"] = False
    rejects(f, "unknown attribute 'adjoint_a'")


@pytest.mark.parametrize("opname, key, bad", [
    ("matmul", "transpose_a", 1),              # bool wanted, int given
    ("matmul", "transpose_b", "false"),
    ("reduce_sum", "axes", [1]),               # lists are canonicalized to tuples by the Builder
    ("reduce_sum", "axes", (1.0,)),
    ("reduce_sum", "axes", (True,)),           # a bool is not an axis
    ("reduce_sum", "keepdims", None),
    ("reduce_sum", "axes", 1),
])
def test_rejects_attribute_of_the_wrong_kind(opname, key, bad):
    f = small_function()
    op_named(f, opname).attrs[key] = bad
    rejects(f, f"attribute '{key}' should be")


def test_attribute_kinds():
    ok = {"int": [0, -3, np.int64(5)], "float": [0.5, 2, float("inf")], "bool": [True, False],
          "str": ["", "x"], "dtype": [float32, bool_], "ints": [(), (1, -2)],
          "opt_ints": [None, (), (0, 1)], "array": [np.zeros(3), np.array(True)]}
    bad = {"int": [True, 1.0, "1", None], "float": [True, "1.0", None], "bool": [0, 1, None],
           "str": [b"x", None], "dtype": ["f32", np.float32], "ints": [[1], (1.0,), (True,), None],
           "opt_ints": [[0], (0.5,), (False,)], "array": [[1, 2], 3.0]}
    assert set(ok) == set(ATTR_KINDS) == set(bad)
    for kind, check in ATTR_KINDS.items():
        for v in ok[kind]:
            assert check(v), (kind, v)
        for v in bad[kind]:
            assert not check(v), (kind, v)


def test_rejects_wrong_operand_count():
    f = small_function()
    relu = op_named(f, "relu")
    relu.operands = relu.operands * 2
    rejects(f, "expected 1 operands, got 2")


def test_rejects_operands_the_type_rule_rejects():
    f = Function()
    x = f.add_param(TensorType(float32, (2,)))
    y = f.add_param(TensorType(float64, (2,)))
    op = Op("add", [x, y], {}, [TensorType(float32, (2,))])
    f.ops.append(op)
    f.set_results([op.result])
    rejects(f, "type rule rejects operands")


def test_rejects_use_before_def():
    f = small_function()
    f.ops.reverse()
    rejects(f, "operand 0 is used before it is defined")


def test_rejects_value_of_another_function():
    f, g = small_function(), small_function()
    op_named(f, "relu").operands = [op_named(g, "add").result]
    rejects(f, "used before it is defined")


def test_rejects_undefined_result():
    f, g = small_function(), small_function()
    f.set_results([g.results[0]])
    rejects(f, "result 0 is not defined")


def test_rejects_param_used_as_if_from_another_function():
    f, g = small_function(), small_function()
    op_named(f, "matmul").operands[0] = g.params[0]
    rejects(f, "operand 0 is used before it is defined")


@pytest.mark.parametrize("bad_type, why", [
    (TensorType(float64, ("s0", 4)), "dtype"),
    (TensorType(float32, ("s0", 5)), "static dim"),
    (TensorType(float32, ("s1", 4)), "symbol"),
    (TensorType(float32, (None, 4)), "unknown where the rule knows"),
    (TensorType(float32, ("s0", 4, 1)), "rank"),
    (TensorType(float32, None), "unknown rank"),
])
def test_rejects_wrong_result_type(bad_type, why):
    f = small_function()
    op = op_named(f, "relu")
    op.results[0].type = bad_type
    rejects(f, "result types|unknown rank")


def test_rejects_wrong_number_of_results():
    f = small_function()
    op = op_named(f, "relu")
    op.results.append(type(op.results[0])(op.results[0].type, op, 1))
    rejects(f, "result types")


def test_result_may_refine_an_unknown_dim_of_the_rule():
    f = Function()
    x = f.add_param(TensorType(float32, (None, 3)))
    op = Op("neg", [x], {}, [TensorType(float32, (7, 3))])
    f.ops.append(op)
    f.set_results([op.result])
    assert verify(f) is f


def test_rejects_unknown_rank_param():
    f = small_function()
    f.params[1].type = TensorType(float32, None)
    rejects(f, "parameter w has unknown rank")
    g = Function()
    g.add_param(TensorType(int32, None))
    rejects(g, "parameter 0 has unknown rank")


def test_rejects_unknown_rank_result_where_the_rule_disagrees():
    f = Function()
    x = f.add_param(TensorType(float32, (2,)))
    op = Op("reshape", [x], {"shape": (2,)}, [TensorType(float32, None)])
    f.ops.append(op)
    f.set_results([op.result])
    rejects(f, r"result types \['f32\[\*\]'\] but the type rule gives \['f32\[2\]'\]")


@pytest.fixture
def unknown_rank_op():
    """A throwaway op whose type rule gives an unknown rank (removed from OPS afterwards)."""
    name = "_test_unknown_rank"
    defop(name, kind="library", infer=lambda types, a: TensorType(types[0].dtype, None), reference=lambda x: x,
          num_inputs=1, differentiable=False)
    yield name
    del OPS[name]


def test_rejects_unknown_rank_result_even_where_the_rule_agrees(unknown_rank_op):
    f = Function()
    x = f.add_param(TensorType(float32, (2,)))
    op = Op(unknown_rank_op, [x], {}, [TensorType(float32, None)])
    f.ops.append(op)
    f.set_results([op.result])
    rejects(f, "result has unknown rank")


def _gradients_function():
    f = Function("g")
    x = f.add_param(TensorType(float64, (3,)), "x")
    b = Builder(f.ops)
    y = b.reduce_sum(b.tanh(x))
    (dx,) = (b.gradients(y, x, num_ys=1, num_xs=1),)
    f.set_results([dx])
    return f


def test_pseudo_ops_are_rejected_only_when_asked():
    f = _gradients_function()
    assert verify(f) is f
    assert verify(f, allow_pseudo=True) is f
    rejects(f, "pseudo op must be expanded", allow_pseudo=False)


def test_every_pseudo_op_is_rejected_when_allow_pseudo_is_false():
    pseudo = [name for name, d in OPS.items() if d.pseudo]
    assert "gradients" in pseudo
    for name in pseudo:
        f = Function()
        x = f.add_param(TensorType(float32, (2,)))
        f.ops.append(Op(name, [x], {}, []))
        with pytest.raises(VerificationError, match="pseudo op"):
            verify(f, allow_pseudo=False)


def test_gradients_operand_layout_is_checked():
    f = _gradients_function()
    op_named(f, "gradients").attrs["num_xs"] = 2
    rejects(f, "type rule rejects operands")


def test_error_names_op_index_and_location():
    f = small_function()
    op_named(f, "relu").results[0].type = TensorType(float64, ("s0", 4))
    with pytest.raises(VerificationError) as info:
        verify(f)
    msg = str(info.value)
    assert "op #3 relu" in msg and "'dense' at model.py:12" in msg
    assert "f64[s0,4]" in msg and "f32[s0,4]" in msg


# ----------------------------------------------------------------------------- random -------

float_dtypes = st.sampled_from([float32, float64])
dims = st.one_of(st.integers(1, 4), st.sampled_from(["s0", "s1"]), st.none())


@st.composite
def valid_functions(draw):
    """Random valid Functions from a menu of constructions that always type-check."""
    f = Function("r")
    pool = []
    for _ in range(draw(st.integers(1, 3))):
        shape = tuple(draw(st.lists(dims, min_size=1, max_size=3)))
        pool.append(f.add_param(TensorType(draw(float_dtypes), shape), draw(st.text(max_size=3))))
    b = Builder(f.ops, Location(draw(st.sampled_from(["", "a/b"])), "p.py", 1))

    def unary(v):
        return b.op(draw(st.sampled_from(["neg", "abs", "square", "exp", "tanh", "relu"])), v)

    def binary(v):
        w = v if draw(st.booleans()) else b.reduce_max(v, keepdims=True)
        return b.op(draw(st.sampled_from(["add", "sub", "mul", "maximum", "div"])), v, w)

    def reduce(v):
        axes = draw(st.one_of(st.none(), st.lists(st.integers(-v.type.rank, v.type.rank - 1),
                                                  max_size=v.type.rank, unique=True)))
        return b.op(draw(st.sampled_from(["reduce_sum", "reduce_mean", "reduce_min"])), v,
                    axes=axes, keepdims=draw(st.booleans()))

    def shape_op(v):
        which = draw(st.integers(0, 3))
        if which == 0:
            return b.transpose(v)
        if which == 1:
            return b.reshape(v, shape=[-1])
        if which == 2:
            return b.expand_dims(v, axis=draw(st.integers(-v.type.rank - 1, v.type.rank)))
        return b.cast(v, dtype=draw(st.sampled_from([float32, float64, int32, bool_])))

    def select(v):
        return b.select(b.greater(v, 0.5), v, b.zeros_like(v))

    def const(v):
        return b.const(np.full(draw(st.integers(1, 20)), 1.5, np.float64), float64)

    menu = [unary, binary, reduce, shape_op, select, const]
    for _ in range(draw(st.integers(1, 8))):
        v = draw(st.sampled_from([p for p in pool if p.type.dtype.is_floating and p.type.rank]
                                 or pool))
        if not (v.type.dtype.is_floating and v.type.rank):
            break
        pool.append(draw(st.sampled_from(menu))(v))
    f.set_results(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2)))
    return f


MUTATIONS = ["rename_op", "drop_attr", "add_attr", "retype_dtype", "retype_rank", "move_op",
             "unknown_rank_param", "pseudo", "extra_operand"]


def mutate(f, how, draw):
    """Apply one mutation that must make ``f`` invalid; False if it does not apply to ``f``."""
    ops = f.ops
    if how == "rename_op":
        draw(st.sampled_from(ops)).opname = "no_such_op"
    elif how == "drop_attr":
        with_attrs = [op for op in ops if op.attrs]
        if not with_attrs:
            return False
        op = draw(st.sampled_from(with_attrs))
        del op.attrs[draw(st.sampled_from(sorted(op.attrs)))]
    elif how == "add_attr":
        draw(st.sampled_from(ops)).attrs["bogus"] = 1
    elif how == "retype_dtype":
        r = draw(st.sampled_from(ops)).results[0]
        others = [d for d in (float32, float64, int32, int64, bool_) if d is not r.type.dtype]
        r.type = r.type.with_dtype(draw(st.sampled_from(others)))
    elif how == "retype_rank":
        r = draw(st.sampled_from(ops)).results[0]
        r.type = r.type.with_shape(r.type.shape + (1,))
    elif how == "move_op":   # move a consumer in front of the op producing its operand
        pairs = [(i, j) for j, op in enumerate(ops) for i, p in enumerate(ops[:j])
                 if any(v.producer is p for v in op.operands)]
        if not pairs:
            return False
        i, j = draw(st.sampled_from(pairs))
        ops.insert(i, ops.pop(j))
    elif how == "unknown_rank_param":
        p = draw(st.sampled_from(f.params))
        p.type = p.type.with_shape(None)
    elif how == "pseudo":
        v = draw(st.sampled_from(list(f.values())))
        ops.append(Op("gradients", [v, v], {"num_ys": 1, "num_xs": 1, "has_grad_ys": False},
                      [v.type]))
    elif how == "extra_operand":
        fixed = [op for op in ops if OPS[op.opname].num_inputs >= 0]
        if not fixed:
            return False
        op = draw(st.sampled_from(fixed))
        op.operands.append(f.params[0])
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_functions())
def test_random_valid_functions_verify_and_survive_the_text_form(f):
    assert verify(f, allow_pseudo=False) is f
    verify(parse(print_function(f)), allow_pseudo=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_functions(), st.sampled_from(MUTATIONS), st.data())
def test_random_mutations_are_rejected(f, how, data):
    verify(f)
    if not mutate(f, how, data.draw):
        return
    with pytest.raises(VerificationError):
        verify(f, allow_pseudo=False)
