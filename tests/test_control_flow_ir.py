"""Control flow in the IR: ``cond`` and ``while`` ops with regions (jitflow/ops/control.py).

Text round-trip, verifier (closed regions, region types), reference values (trip counts known
only at run time, ``maximum_iterations``), gradients as IR (cond of VJPs; a recording forward
loop and a reverse loop) against central finite differences in float64 with hypothesis, and
what cuda refuses in a region (llvm: tests/test_control_flow_llvm.py; cuda:
tests/test_control_flow_cuda.py).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow  # noqa: F401  (registers the ops)
from jitflow.backends import get_backend
from jitflow.ir import (Builder, Function, TensorType, VerificationError, bool_, float32,
                        float64, int32, parse, print_function, verify)
from jitflow.ir.builder import build_region
from jitflow.runtime.compile import compile_function
from _cuda_util import usable_or_skip   # selects Numba's CUDA simulator unless set

F3 = TensorType(float64, (3,))
I = TensorType(int32, ())
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(f: Function, args, backend="reference"):
    return compile_function(f, backend).executable.run(args)


def counted_loop(b: Builder, n, x, w, body_fn, *, max_iter=-1, types=(F3, F3)):
    """while i < n: x = body_fn(b, x, w); returns the final x."""
    tys = [I, *types, I]
    cond = build_region("cond", tys, lambda b, i, x, w, n: b.less(i, n))
    body = build_region("body", tys, lambda b, i, x, w, n:
                        [b.add(i, b.const(1, int32)), body_fn(b, x, w), w, n])
    res = b.op("while", b.const(0, int32), x, w, n, num_carried=4, maximum_iterations=max_iter,
               regions=[cond, body])
    return res[1]


def loop_program(body_fn, with_grad: bool, max_iter=-1) -> Function:
    """loss = sum(loop(x, w, n)^2) [, d loss/dx, d loss/dw]."""
    f = Function()
    x, w, n = f.add_param(F3, "x"), f.add_param(F3, "w"), f.add_param(I, "n")
    b = Builder(f.ops)
    y = counted_loop(b, n, x, w, body_fn, max_iter=max_iter)
    loss = b.reduce_sum(b.mul(y, y), axes=None)
    f.set_results([loss] + (list(b.op("gradients", loss, x, w, num_ys=1, num_xs=2))
                            if with_grad else []))
    return f


def finite_diff(f_loss: Function, args, wrt, eps=1e-6):
    exe = compile_function(f_loss, "reference").executable
    out = []
    for i in wrt:
        g = np.zeros_like(args[i])
        for k in range(args[i].size):
            e = np.zeros_like(args[i])
            e.flat[k] = eps
            hi = [a + e if j == i else a for j, a in enumerate(args)]
            lo = [a - e if j == i else a for j, a in enumerate(args)]
            g.flat[k] = (exe.run(hi)[0] - exe.run(lo)[0]) / (2 * eps)
        out.append(g)
    return out


def check_loop_gradient(body_fn, x, w, n, max_iter=-1):
    args = [x, w, np.int32(n)]
    got = run(loop_program(body_fn, True, max_iter), args)[1:]
    want = finite_diff(loop_program(body_fn, False, max_iter), args, [0, 1])
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    return got


# ------------------------------------------------------------------------- bodies ---------

def tanh_body(b, x, w):
    return b.tanh(b.add(b.mul(x, w), b.const(0.1, float64)))


def cond_body(b, x, w):
    """A cond inside the loop: its predicate depends on the carried value."""
    p = b.greater(b.reduce_sum(x, axes=None), b.const(0.0, float64))
    then = build_region("then", [F3, F3], lambda b, x, w: b.mul(b.tanh(x), w))
    other = build_region("else", [F3, F3], lambda b, x, w: b.sub(b.mul(x, x), w))
    return b.op("cond", p, x, w, regions=[then, other])


def nested_body(b, x, w):
    """An inner loop of 2 trips inside the body."""
    n = b.const(2, int32)
    return b.mul(counted_loop(b, n, x, w, tanh_body), b.const(0.9, float64))


vec = st.lists(st.floats(-1.0, 1.0), min_size=3, max_size=3).map(np.array)


# ------------------------------------------------------------------------- text -----------

def test_text_round_trip_is_exact_with_nested_regions():
    f = loop_program(nested_body, True)
    for g in (f, compile_function(f.clone(), "reference").function):
        text = print_function(g)
        assert "while(" in text and "[\n" in text and "func @body" in text
        again = parse(text)
        assert print_function(again) == text
        verify(again)
    final = print_function(compile_function(f.clone(), "reference").function)
    assert "record = true" in final and "func @body_grad" in final


def test_parse_hand_written_cond_and_run_it():
    text = """func @main(%0: bool[] "p", %1: f32[2] "x") -> (f32[2]) {
      %2 = cond(%0, %1) : f32[2]  loc("cond" "prog.py":3) [
        func @then(%0: f32[2]) -> (f32[2]) {
          %1 = neg(%0) : f32[2]
          return %1
        }
        func @else(%0: f32[2]) -> (f32[2]) {
          return %0
        }
      ]
      return %2
    }"""
    f = verify(parse(text))
    assert f.ops[0].loc.line == 3 and [r.name for r in f.ops[0].regions] == ["then", "else"]
    x = np.array([1.0, -2.0], np.float32)
    np.testing.assert_array_equal(run(f, [np.bool_(True), x])[0], -x)
    np.testing.assert_array_equal(run(f, [np.bool_(False), x])[0], x)


def test_region_values_are_numbered_from_zero_and_text_is_stable():
    a, b = (print_function(loop_program(tanh_body, False)) for _ in range(2))
    assert a == b
    body = a[a.index("func @body"):]
    assert body.startswith("func @body(%0: i32[], %1: f64[3], %2: f64[3], %3: i32[])")


# ------------------------------------------------------------------------- verifier -------

def test_verifier_rejects_a_region_using_an_outer_value():
    f = Function()
    x = f.add_param(F3)
    b = Builder(f.ops)
    p = b.const(True, bool_)
    then = build_region("then", [F3], lambda rb, a: rb.add(a, x))     # x is not a region value
    other = build_region("else", [F3], lambda rb, a: a)
    f.ops.append(type(f.ops[0])("cond", [p, x], {}, [F3], regions=[then, other]))
    f.set_results([f.ops[-1].results[0]])
    with pytest.raises(VerificationError, match="region 'then'.*not a value of this region"):
        verify(f)


def _cond_fn(then_ty, else_ty, pred_ty=TensorType(bool_, ())):
    f = Function()
    p, x = f.add_param(pred_ty), f.add_param(F3)
    then = build_region("then", [F3], lambda b, a: b.cast(a, dtype=then_ty.dtype)
                        if then_ty.dtype is not float64 else a)
    other = build_region("else", [F3], lambda b, a: b.cast(a, dtype=else_ty.dtype)
                         if else_ty.dtype is not float64 else a)
    return f, p, x, then, other


def test_branches_with_different_dtypes_are_an_error():
    f, p, x, then, other = _cond_fn(F3, TensorType(float32, (3,)))
    with pytest.raises(TypeError, match="cond result 0: dtypes differ: float64 and float32"):
        Builder(f.ops).op("cond", p, x, regions=[then, other])


def test_non_boolean_predicate_is_an_error():
    f, p, x, then, other = _cond_fn(F3, F3, TensorType(int32, ()))
    with pytest.raises(TypeError, match="predicate must be a bool scalar, got i32"):
        Builder(f.ops).op("cond", p, x, regions=[then, other])


def test_region_ops_need_their_regions():
    f = Function()
    x = f.add_param(F3)
    with pytest.raises(ValueError, match=r"takes 2 regions \['cond', 'body'\], got 0"):
        Builder(f.ops).op("while", x, num_carried=1)


def test_body_changing_a_carried_type_is_an_error():
    tys = [F3]
    cond = build_region("cond", tys, lambda b, x: b.less(b.reduce_sum(x, axes=None),
                                                         b.const(1.0, float64)))
    body = build_region("body", tys, lambda b, x: b.reduce_sum(x, axes=[0], keepdims=True))
    f = Function()
    x = f.add_param(F3)
    with pytest.raises(ValueError, match=r"carried value 0 enters the body as f64\[3\] but the "
                                         r"body gives f64\[1\]"):
        Builder(f.ops).op("while", x, num_carried=1, regions=[cond, body])


def test_region_parameter_types_must_take_the_operands():
    cond = build_region("cond", [TensorType(float64, (4,))], lambda b, x: b.const(True, bool_))
    body = build_region("body", [TensorType(float64, (4,))], lambda b, x: x)
    f = Function()
    x = f.add_param(F3)
    with pytest.raises(ValueError, match=r"parameter 0 has type f64\[4\], which cannot take "
                                         r"operand type f64\[3\]"):
        Builder(f.ops).op("while", x, num_carried=1, regions=[cond, body])


# ------------------------------------------------------------------------- values ---------

@pytest.mark.parametrize("n,max_iter,trips", [(0, -1, 0), (3, -1, 3), (5, 2, 2), (2, 0, 0)])
def test_loop_runs_a_trip_count_known_only_at_run_time(n, max_iter, trips):
    f = Function()
    x, w, nn = f.add_param(F3), f.add_param(F3), f.add_param(I)
    y = counted_loop(Builder(f.ops), nn, x, w, lambda b, x, w: b.add(x, w), max_iter=max_iter)
    f.set_results([y])
    x0, w0 = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(run(f, [x0, w0, np.int32(n)])[0], x0 + trips * w0)


def test_loop_with_data_dependent_trip_count_and_growing_shape():
    """while sum(v) < limit: v = concat(v, v * 2): the carried value's dim is ``?``."""
    G = TensorType(float64, (None,))
    cond = build_region("cond", [G, I], lambda b, v, k: b.less(b.reduce_sum(v, axes=None),
                                                               b.cast(k, dtype=float64)))
    body = build_region("body", [G, I], lambda b, v, k: b.concat(v, b.mul(v, b.const(2.0, float64)),
                                                                 axis=0))
    f = Function()
    v, k = f.add_param(TensorType(float64, (1,))), f.add_param(I)
    out = Builder(f.ops).op("while", v, k, num_carried=1, regions=[cond, body])
    f.set_results([out])
    assert str(out.type) == "f64[?]"
    got = run(f, [np.array([1.0]), np.int32(20)])[0]
    np.testing.assert_array_equal(got, [1, 2, 2, 4, 2, 4, 4, 8])


# ------------------------------------------------------------------------- gradients ------

@SETTINGS
@given(vec, vec, st.integers(0, 4))
def test_while_gradient_matches_finite_differences(x, w, n):
    check_loop_gradient(tanh_body, x, w, n)


@SETTINGS
@given(vec, vec, st.integers(0, 3))
def test_gradient_through_a_cond_inside_a_loop(x, w, n):
    check_loop_gradient(cond_body, x + 0.05, w, n)


@SETTINGS
@given(vec, vec, st.integers(0, 3))
def test_gradient_through_nested_loops(x, w, n):
    check_loop_gradient(nested_body, x, w, n)


@SETTINGS
@given(vec, vec, st.integers(0, 6), st.integers(0, 3))
def test_gradient_stops_at_maximum_iterations(x, w, n, max_iter):
    check_loop_gradient(tanh_body, x, w, n, max_iter=max_iter)


def cond_program(with_grad: bool) -> Function:
    f = Function()
    p, x, w = f.add_param(TensorType(bool_, ())), f.add_param(F3), f.add_param(F3)
    b = Builder(f.ops)
    then = build_region("then", [F3, F3], lambda b, x, w: [b.mul(b.tanh(x), w), b.exp(w)])
    other = build_region("else", [F3, F3], lambda b, x, w: [b.sub(b.mul(x, x), w), x])
    y, z = b.op("cond", p, x, w, regions=[then, other])
    loss = b.reduce_sum(b.add(b.mul(y, y), z), axes=None)
    f.set_results([loss] + (list(b.op("gradients", loss, x, w, num_ys=1, num_xs=2))
                            if with_grad else []))
    return f


@SETTINGS
@given(st.booleans(), vec, vec)
def test_cond_gradient_is_a_cond_of_the_branch_gradients(pred, x, w):
    args = [np.bool_(pred), x, w]
    g = compile_function(cond_program(True), "reference")
    assert sum(op.opname == "cond" for op in g.function.ops) == 2
    got = g.executable.run(args)[1:]
    want = finite_diff(cond_program(False), args, [1, 2])
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_gradient_runs_the_forward_loop_once():
    """The recording loop replaces the plain forward loop (same operands and regions)."""
    f = compile_function(loop_program(tanh_body, True), "reference").function
    loops = [op for op in f.ops if op.opname == "while"]
    assert [op.attrs["record"] for op in loops] == [True, False]
    assert str(loops[0].results[5].type) == "f64[?,3]"      # the stack of x per trip


# ------------------------------------------------------------------------- backends -------

def test_cuda_refuses_complex64_inside_a_region():
    """cuda runs cond/while host-driven (tests/test_control_flow_cuda.py); what it still
    refuses inside a region is what it refuses anywhere: complex64 names the op."""
    usable_or_skip()
    from jitflow.backends.cuda import UnsupportedOp
    F = TensorType(float32, (3,))
    f = Function()
    p, x, w = f.add_param(TensorType(bool_, ())), f.add_param(F), f.add_param(F)
    b = Builder(f.ops)
    then = build_region("then", [F, F], lambda b, x, w: b.op("real", b.op("complex", x, w)))
    other = build_region("else", [F, F], lambda b, x, w: b.mul(x, w))
    f.set_results([b.op("cond", p, x, w, regions=[then, other])])
    with pytest.raises(UnsupportedOp, match="complex on complex64"):
        compile_function(f, "cuda")
    got = compile_function(loop_program(tanh_body, False), "cuda").executable.run(
        [np.ones(3), np.full(3, 0.5), np.int32(2)])
    assert np.allclose(got[0], run(loop_program(tanh_body, False),
                                   [np.ones(3), np.full(3, 0.5), np.int32(2)])[0])


def test_dump_ir_shows_regions(tmp_path):
    f = compile_function(loop_program(tanh_body, True), "reference").function
    path = tmp_path / "loop.jfir"
    path.write_text(print_function(f))
    p = subprocess.run([sys.executable, "-m", "jitflow", "dump-ir", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    shown = verify(parse(p.stdout))          # dump-ir shows the IR after its stage (fused)
    region_text = print_function(f)
    region_text = region_text[region_text.index("    func @body_grad"):]
    assert region_text.split("\n")[0] in p.stdout and "record = true" in p.stdout
    assert [op.opname for op in shown.ops if op.regions] == ["while", "while"]


def test_an_empty_stack_is_sized_by_the_operands_symbolic_dims():
    from jitflow.ops.control import bind_dims, concrete_shape, stack_trips
    sizes = bind_dims([TensorType(float64, ("s0", 3)), TensorType(float64, ("s1", "s0"))],
                      [np.zeros((4, 3)), np.zeros((0, 4))])
    assert sizes == {"s0": 4, "s1": 0}
    assert concrete_shape(("s0", "s0__x50", 3, None, "s9"), sizes) == (4, 200, 3, 0, 0)
    empty = stack_trips([], TensorType(float64, ("s0", 3)), "v", sizes)
    assert empty.shape == (0, 4, 3) and empty.dtype == np.float64
