"""Control flow on the llvm backend (jitflow/backends/hostloop.py): the straight-line parts
and every region compiled once to native code, one native call per trip; llvm == reference on
cond, while, nested loops, a cond inside a loop and their gradients (hypothesis, float64),
per-trip stacked values (``num_stacked``) and the row-read gradient of an invariant (one
scatter after the reverse loop, no accumulator), against finite differences."""
from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from jitflow.backends.hostloop import HostDriven
from jitflow.backends.llvm.executable import LLVMExecutable
from jitflow.ir import Builder, Function, TensorType, float64, int32
from jitflow.ir.builder import build_region
from jitflow.runtime.compile import compile_function
from test_control_flow_ir import (F3, I, SETTINGS, cond_body, cond_program, finite_diff,
                                  loop_program, nested_body, run, tanh_body, vec)

BODIES = {"tanh": tanh_body, "cond": cond_body, "nested": nested_body}


def parts(exe) -> list:
    """Every leaf executable of a host-driven one, nested regions included."""
    if not isinstance(exe, HostDriven):
        return [exe]
    return [leaf for p in exe.parts for leaf in parts(p)]


def assert_same(f_build, args):
    want = run(f_build(), args)
    exe = compile_function(f_build(), "llvm").executable
    assert isinstance(exe, HostDriven)
    assert all(isinstance(p, LLVMExecutable) for p in parts(exe))    # all native code
    got = exe.run(args)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(st.sampled_from(sorted(BODIES)), vec, vec, st.integers(0, 4), st.integers(-1, 3),
       st.booleans())
def test_llvm_loops_match_the_reference(body, x, w, n, max_iter, grad):
    assert_same(lambda: loop_program(BODIES[body], grad, max_iter),
                [x, w, np.int32(n)])


@SETTINGS
@given(st.booleans(), vec, vec, st.booleans())
def test_llvm_cond_matches_the_reference(pred, x, w, grad):
    assert_same(lambda: cond_program(grad), [np.bool_(pred), x, w])


def test_each_region_is_compiled_once(monkeypatch, capfd):
    built = []
    orig = LLVMExecutable.__init__

    def counting(self, f, *a, **k):
        built.append(f.name)
        orig(self, f, *a, **k)
    monkeypatch.setattr(LLVMExecutable, "__init__", counting)
    exe = compile_function(loop_program(nested_body, True), "llvm").executable
    n_built = len(built)
    assert n_built >= 6          # segments, the loops' cond and step regions, nested ones
    args = [np.array([0.2, -0.1, 0.4]), np.array([0.9, 0.3, -1.2])]
    for n in (1, 7, 30):
        exe.run(args + [np.int32(n)])
    assert len(built) == n_built                          # no compile per run or per trip
    assert "reference backend" not in capfd.readouterr().err


# ----------------------------------------------------------- stacked values, row reads ---

M = TensorType(float64, (5, 3))


def rows_program(with_grad: bool) -> Function:
    """for i < n: x = tanh(x * M[i] + 0.1), stacking y_i = 2 x; loss = sum(x^2) + sum(y^2)."""
    f = Function()
    x, m, n = f.add_param(F3, "x"), f.add_param(M, "m"), f.add_param(I, "n")
    b = Builder(f.ops)
    tys = [I, F3, M, I]
    cond = build_region("cond", tys, lambda b, i, x, m, n: b.less(i, n))

    def body(b, i, x, m, n):
        nx = b.tanh(b.add(b.mul(x, b.gather(m, i, axis=0)), b.const(0.1, float64)))
        return [b.add(i, b.const(1, int32)), nx, b.mul(nx, b.const(2.0, float64))]
    _, xf, ys = b.op("while", b.const(0, int32), x, m, n, num_carried=2, num_stacked=1,
                     regions=[cond, build_region("body", tys, body)])
    loss = b.add(b.reduce_sum(b.mul(xf, xf), axes=None), b.reduce_sum(b.mul(ys, ys), axes=None))
    f.set_results([loss, ys] + (list(b.op("gradients", loss, x, m, num_ys=1, num_xs=2))
                                if with_grad else []))
    return f


@SETTINGS
@given(vec, st.integers(0, 5), st.integers(0, 2 ** 31 - 1))
def test_stacked_values_and_row_read_gradients(x, n, seed):
    m = np.random.RandomState(seed).uniform(-1, 1, (5, 3))
    args = [x, m, np.int32(n)]
    got = run(rows_program(True), args)
    assert got[1].shape == (n, 3)
    want = finite_diff(rows_program(False), args, [0, 1])
    for g, e in zip(got[2:], want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert_same(lambda: rows_program(True), args)


def test_a_row_read_invariant_has_no_accumulator_in_the_reverse_loop():
    f = compile_function(rows_program(True), "reference").function
    loops = [op for op in f.ops if op.opname == "while"]
    back = [op for op in loops if not op.attrs["record"] and op.attrs["num_stacked"] == 2]
    assert len(back) == 1
    carried = back[0].operands[:back[0].attrs["num_carried"]]
    assert [str(v.type) for v in carried] == ["i32[]", "f64[3]"]       # k and dx only
    assert any(op.opname == "gather_grad" for op in f.ops)           # one scatter, after it
