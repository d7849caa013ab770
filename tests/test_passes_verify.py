"""PassManager verification: normal runs verify the IR once, after the last pass, and an error
names that pass; ``verify_each`` (``JITFLOW_VERIFY_EACH_PASS=1``, on for the test suite)
verifies the input and after every pass, so the error names the pass that broke the IR."""
from __future__ import annotations

import pytest

import jitflow  # noqa: F401  (registers the ops)
from jitflow.ir import Builder, Function, Location, TensorType, VerificationError, float32
from jitflow.ir.types import TensorType as TT
from jitflow.passes import manager
from jitflow.passes.manager import CANONICALIZE, CSE, DCE, Pass, PassManager, pipeline_for


def small_function() -> Function:
    f = Function("small")
    x = f.add_param(TensorType(float32, ("s0", 3)), "x")
    w = f.add_param(TensorType(float32, (3, 4)), "w")
    b = Builder(f.ops, Location("dense", "model.py", 12))
    h = b.relu(b.add(b.matmul(x, w), 1.0))
    f.set_results([h, b.reduce_sum(h, axes=[1])], ["h", "s"])
    return f


def _break_relu(f: Function) -> Function:
    """A buggy pass: gives relu's result a type its rule does not give."""
    op = next(op for op in f.ops if op.opname == "relu")
    op.results[0].type = TT(float32, ("s0", 5))
    return f


BREAKER = Pass("breaker", _break_relu)


def _count_verifies(monkeypatch) -> list:
    calls = []
    real = manager.verify

    def counting(f, **kw):
        calls.append(f)
        return real(f, **kw)
    monkeypatch.setattr(manager, "verify", counting)
    return calls


def test_normal_runs_verify_once_at_the_end(monkeypatch):
    calls = _count_verifies(monkeypatch)
    out = PassManager(pipeline_for("llvm"), verify_each=False).run(small_function())
    assert calls == [out]


def test_verify_each_pass_verifies_the_input_and_every_pass(monkeypatch):
    calls = _count_verifies(monkeypatch)
    passes = pipeline_for("llvm")
    PassManager(passes, verify_each=True).run(small_function())
    assert len(calls) == len(passes) + 1


def test_final_verification_names_the_last_pass_and_how_to_find_the_culprit():
    pm = PassManager([CANONICALIZE, BREAKER, CSE, DCE], verify_each=False)
    with pytest.raises(VerificationError) as info:
        pm.run(small_function())
    msg = str(info.value)
    assert "after the pipeline (last pass #4 'dce'" in msg
    assert "JITFLOW_VERIFY_EACH_PASS=1" in msg
    assert "op #3 relu" in msg and "result types" in msg   # the verifier's own finding


def test_verify_each_names_the_pass_that_broke_the_ir():
    pm = PassManager([CANONICALIZE, BREAKER, CSE, DCE], verify_each=True)
    with pytest.raises(VerificationError, match=r"after pass #2 'breaker': op #3 relu"):
        pm.run(small_function())


def test_verify_each_rejects_a_bad_input_before_any_pass():
    f = _break_relu(small_function())
    with pytest.raises(VerificationError, match="in the pipeline's input"):
        PassManager([CSE], verify_each=True).run(f)


@pytest.mark.parametrize("value, each", [("1", True), ("0", False), ("", False)])
def test_the_environment_variable_sets_the_default(monkeypatch, value, each):
    monkeypatch.setenv("JITFLOW_VERIFY_EACH_PASS", value)
    monkeypatch.delenv("JITFLOW_DUMP", raising=False)
    assert PassManager([CSE]).verify_each is each


def test_the_test_suite_verifies_each_pass():
    assert PassManager([CSE]).verify_each   # conftest.py turns it on for every test


def test_canonicalize_keeps_a_reshape_after_a_squeeze_of_a_symbolic_dim():
    """[s0, s1, 3] -squeeze(1)-> [s0, 3] -reshape(-1)-> [s0*3]: merging the reshape into the
    squeeze's operand would type it s0*s1*3 (s1 is 1 only at run time); a merge that keeps
    the type (an expand_dims of a static dim) still happens."""
    from jitflow.ir import float64, verify
    from jitflow.passes.simplify import canonicalize
    f = Function("sq")
    x = f.add_param(TensorType(float64, ("s0", "s1", 3)), "x")
    b = Builder(f.ops)
    y = b.reshape(b.squeeze(x, axes=[1]), shape=[-1])
    z = b.reshape(b.expand_dims(y, axis=1), shape=[-1])
    f.set_results([y, z])
    out = canonicalize(f)
    verify(out)
    assert out.results[0].producer.operands[0].producer.opname == "squeeze"
    assert out.results[1].producer.operands[0] is out.results[0]
