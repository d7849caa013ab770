"""The op registry: every op in ``jitflow.ir.OPS`` (iterated, so new ops are covered without
editing this file) declares a type rule, a NumPy reference and a gradient rule, or says
``differentiable=False`` on purpose; pseudo ops are listed here explicitly."""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow  # noqa: F401  (registers the ops)
from jitflow.ir import (OPS, Attr, Builder, OpDef, ShapeMismatch, TensorType, defop, float32,
                        float64, get_opdef, int32)
from jitflow.ir.dtypes import ALL as ALL_DTYPES
from jitflow.ir.core import Function
from jitflow.ir.opdef import ATTR_KINDS, COMBINERS, COSTS, KINDS, REQUIRED

#: ops that no backend ever runs: a pass expands them. Adding one is a deliberate decision.
PSEUDO_OPS = {"gradients", "custom_gradient"}

ALL_OPS = sorted(OPS)


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_has_type_rule_reference_and_gradient_or_says_why_not(name):
    d = OPS[name]
    assert isinstance(d, OpDef) and d.name == name
    assert callable(d.infer), f"{name}: no type rule"
    if d.pseudo:
        assert name in PSEUDO_OPS, f"{name} is pseudo (expanded by a pass): list it in PSEUDO_OPS"
        return
    assert name not in PSEUDO_OPS, f"{name} is listed as pseudo but is not"
    assert callable(d.reference), f"{name}: no NumPy reference implementation"
    if d.differentiable:
        assert callable(d.grad), (f"{name}: no gradient rule; give one or declare "
                                  f"differentiable=False")
    else:
        assert d.grad is None, f"{name}: declared differentiable=False but has a gradient rule"


def test_pseudo_ops_are_exactly_the_listed_ones():
    assert {n for n, d in OPS.items() if d.pseudo} == PSEUDO_OPS
    g = OPS["gradients"]
    assert g.reference is None      # never executed: the autodiff pass expands it


@pytest.mark.parametrize("name", ALL_OPS)
def test_signatures_match_the_calling_conventions(name):
    """reference(*input arrays, **attrs); grad(builder, op, output cotangents), and for a
    control op also the vjp that differentiates its regions."""
    d = OPS[name]
    n = d.num_inputs if d.num_inputs >= 0 else 1
    if d.reference is not None:
        try:
            inspect.signature(d.reference).bind(*[None] * n, **{k: None for k in d.attrs})
        except TypeError as e:
            pytest.fail(f"{name}: reference cannot be called with {n} inputs and attrs "
                        f"{sorted(d.attrs)}: {e}")
    if d.grad is not None:
        args = (None, None, None, None) if d.kind == "control" else (None, None, None)
        inspect.signature(d.grad).bind(*args)
    inspect.signature(d.infer).bind([], {})


@pytest.mark.parametrize("name", ALL_OPS)
def test_attribute_schemas_are_valid(name):
    d = OPS[name]
    for key, spec in d.attrs.items():
        assert key.isidentifier(), f"{name}.{key} cannot be spelled in the IR text form"
        assert spec.kind in ATTR_KINDS, f"{name}.{key}: unknown attribute kind {spec.kind!r}"
        if spec.default is not REQUIRED:
            assert ATTR_KINDS[spec.kind](spec.default), (
                f"{name}.{key}: default {spec.default!r} is not a valid {spec.kind}")


@pytest.mark.parametrize("name", ALL_OPS)
def test_op_names_fit_the_text_form_and_the_builder(name):
    assert name.isidentifier() and name not in ("return", "func", "loc")
    assert callable(getattr(Builder([]), name))


def test_registry_rejects_duplicates_and_unknown_names():
    with pytest.raises(ValueError, match="registered twice"):
        defop("add", infer=lambda t, a: t[0], reference=lambda x, y: x)
    assert "add" in OPS and OPS["add"].num_inputs == 2     # the original is untouched
    with pytest.raises(KeyError, match="unknown op 'no_such_op'"):
        get_opdef("no_such_op")
    with pytest.raises(KeyError):
        Builder([]).op("no_such_op")
    with pytest.raises(AttributeError):
        Builder([]).no_such_op  # noqa: B018


@pytest.mark.parametrize("name", ALL_OPS)
def test_every_op_declares_consistent_traits(name):
    d = OPS[name]
    assert d.kind in KINDS
    assert (d.combiner is not None) == (d.kind == "reduction"), name
    assert d.combiner is None or d.combiner in COMBINERS
    assert d.cost in COSTS
    assert all(0 <= i < max(d.num_inputs, 1) or d.num_inputs == -1 for i in d.shape_only), name
    if d.kind == "random":
        assert d.stateful, f"{name}: a random op must be stateful (never folded or CSE'd)"


def test_an_op_without_traits_is_refused_at_registration():
    name = "_test_traitless_op"
    with pytest.raises(ValueError, match="declares no kind"):
        defop(name, infer=lambda t, a: t[0], reference=lambda x: x, num_inputs=1)
    with pytest.raises(ValueError, match="needs a combiner"):
        defop(name, kind="reduction", infer=lambda t, a: t[0], reference=lambda x: x)
    with pytest.raises(ValueError, match="only a reduction has one"):
        defop(name, kind="elementwise", combiner="sum", infer=lambda t, a: t[0],
              reference=lambda x: x)
    with pytest.raises(ValueError, match="kind 'elementwize' is not one of"):
        defop(name, kind="elementwize", infer=lambda t, a: t[0], reference=lambda x: x)
    with pytest.raises(ValueError, match="cost 'pricey' is not one of"):
        defop(name, kind="library", cost="pricey", infer=lambda t, a: t[0],
              reference=lambda x: x)
    assert name not in OPS


#: operands (shapes) and attributes of the decomposable ops that do not take one (3, 4) array
DECOMPOSE_CASES = {
    "fused_conv2d": [((2, 5, 5, 3), (3, 3, 3, 4), (4,)),
                     dict(strides=(2, 1), padding="SAME", activation="relu")],
    "relu_bias_grad": [((2, 3, 4), (2, 3, 4)), {}],
    "fake_quant_with_min_max_vars_gradient": [((3, 4), (3, 4), (), ()), {"num_bits": 4}],
    "fake_quant_with_min_max_vars_per_channel_gradient": [((3, 4), (3, 4), (4,), (4,)), {}],
}


def test_decompositions_build_the_reference_value():
    """Each op's decomposition (run by backends without a kernel of their own) computes
    what its reference computes (every result of it)."""
    from jitflow.backends import get_backend
    from jitflow.passes.decompose import decompose
    rng = np.random.default_rng(0)
    with_rules = [n for n, d in OPS.items() if d.decompose is not None]
    assert {"l2_loss", "reduce_logsumexp", "softsign", "selu", "log_sigmoid", "fused_conv2d",
            "relu_bias_grad"} <= set(with_rules)
    for name in with_rules:
        reduces = "axes" in OPS[name].attrs
        shapes, base = DECOMPOSE_CASES.get(name, [((3, 4),), {}])
        for attrs in ({**base}, {"axes": (1,), "keepdims": True}) if reduces else (base,):
            f = Function()
            xs = [f.add_param(TensorType(float32, s)) for s in shapes]
            out = Builder(f.ops).op(name, *xs, **attrs)
            f.results = list(out) if isinstance(out, tuple) else [out]
            a = [(rng.standard_normal(s) * 4).astype(np.float32) for s in shapes]
            want = get_backend("reference").compile(f.clone()).run(a)
            g = decompose(f.clone())
            assert all(op.opname != name for op in g.ops)
            got = get_backend("reference").compile(g).run(a)
            for w, v in zip(want, got):
                np.testing.assert_allclose(v, w, rtol=1e-5, atol=1e-5)


@pytest.fixture
def scratch_op():
    name = "_test_scratch_op"
    d = defop(name, kind="library", infer=lambda types, a: types[0], reference=lambda x, **a: x,
              attrs={"n": Attr("int"), "scale": Attr("float", 1.0), "axes": Attr("opt_ints", None),
                     "perm": Attr("ints", ())},
              num_inputs=1, differentiable=False)
    yield d
    del OPS[name]


def test_complete_attrs_fills_defaults_and_canonicalizes(scratch_op):
    out = scratch_op.complete_attrs({"n": np.int64(3), "scale": 2, "perm": [1, 0]})
    assert out == {"n": 3, "scale": 2.0, "axes": None, "perm": (1, 0)}
    assert type(out["n"]) is int and type(out["scale"]) is float and type(out["perm"]) is tuple
    for key, spec in scratch_op.attrs.items():
        assert ATTR_KINDS[spec.kind](out[key])


def test_complete_attrs_rejects_missing_and_unknown(scratch_op):
    with pytest.raises(ValueError, match="requires attribute 'n'"):
        scratch_op.complete_attrs({})
    with pytest.raises(ValueError, match="has no attribute 'bogus'"):
        scratch_op.complete_attrs({"n": 1, "bogus": 2})


def test_scratch_op_is_usable_end_to_end(scratch_op):
    from jitflow.backends import get_backend
    from jitflow.ir import Function, verify
    f = Function()
    x = f.add_param(TensorType(float64, (2,)))
    y = Builder(f.ops).op(scratch_op.name, x, n=1)
    f.set_results([y])
    verify(f)
    out, = get_backend("reference").compile(f).run([np.array([1.0, 2.0])])
    np.testing.assert_array_equal(out, [1.0, 2.0])


# --------------------------------------------------------------- type rules never crash -----

dims = st.one_of(st.integers(0, 4), st.sampled_from(["s0", "s1"]), st.none())
types = st.builds(TensorType, st.sampled_from(ALL_DTYPES),
                  st.one_of(st.lists(dims, max_size=4).map(tuple), st.none()))


def _attr(kind):
    small = st.integers(-5, 5)
    return {"int": small, "float": st.floats(-3, 3), "bool": st.booleans(),
            "str": st.text(max_size=3), "dtype": st.sampled_from(ALL_DTYPES),
            "ints": st.lists(small, max_size=4).map(tuple),
            "opt_ints": st.one_of(st.none(), st.lists(small, max_size=4).map(tuple)),
            "array": st.just(np.zeros((2,), np.float32))}[kind]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_OPS), st.lists(types, max_size=4), st.data())
def test_type_rules_reject_bad_input_only_with_type_or_shape_errors(name, in_types, data):
    """The verifier and the frontend rely on ShapeMismatch/TypeError/ValueError; anything else
    (IndexError, ZeroDivisionError, ...) would escape as an internal crash."""
    d = OPS[name]
    if d.num_inputs >= 0:       # the operand count is checked before the rule runs
        in_types = (in_types + [TensorType(float32, (2,))] * 4)[:d.num_inputs]
    attrs = {k: data.draw(_attr(spec.kind)) for k, spec in d.attrs.items()}
    try:
        out = d.result_types(in_types, attrs)
    except (TypeError, ValueError):     # ShapeMismatch is a ValueError
        return
    for t in out:
        assert isinstance(t, TensorType) and t.dtype in ALL_DTYPES
        assert t.shape is None or all(x is None or isinstance(x, str) or
                                      (isinstance(x, int) and x >= 0) for x in t.shape), t


def test_builder_checks_the_operand_count():
    from jitflow.ir import Function
    f = Function()
    x = f.add_param(TensorType(float32, (2,)))
    b = Builder(f.ops)
    for name, d in OPS.items():
        if d.num_inputs < 0:
            continue
        for n in {0, 1, 2, 3, 4} - {d.num_inputs}:
            with pytest.raises(TypeError, match=f"takes {d.num_inputs} operands, got {n}"):
                b.op(name, *[x] * n)
    assert f.ops == []


def test_shape_mismatch_is_a_value_error():
    assert issubclass(ShapeMismatch, ValueError)
    with pytest.raises(ShapeMismatch):
        OPS["add"].result_types([TensorType(float32, (2,)), TensorType(float32, (3,))], {})
    with pytest.raises(TypeError):
        OPS["add"].result_types([TensorType(float32, (2,)), TensorType(int32, (2,))], {})
