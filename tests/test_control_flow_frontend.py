"""TF1 control flow through the frontend: tf.cond, tf.case, tf.while_loop, tf.foldl/foldr.

Values and TF1 names, nested structures, shape_invariants, maximum_iterations, back_prop,
gradients (tf.gradients against central finite differences in float64, optimizer.minimize
training through a loop on the reference and the default llvm backend), and the errors at
graph build that name the user's line.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf
from jitflow.errors import GraphShapeError, GraphTypeError

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield


def line_of(marker: str) -> int:
    src, start = inspect.getsourcelines(inspect.getmodule(line_of))
    return next(i for i, s in enumerate(src, 1) if "# " + marker in s)


def run(fetches, feed=None, backend="reference"):
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        return s.run(fetches, feed)


# ------------------------------------------------------------------------------ cond -------

def test_cond_values_names_and_nested_outputs():
    p = tf.placeholder(tf.bool, [])
    x = tf.placeholder(tf.float32, [None, 2])
    out = tf.cond(p, lambda: {"a": x * 2.0, "b": (x + 1.0, tf.constant(1))},
                  lambda: {"a": -x, "b": (x, tf.constant(2))})
    assert out["a"].name == "cond/Merge:0" and out["b"][1].name == "cond/Merge_2:0"
    assert out["a"].shape.as_list() == [None, 2]
    xv = np.array([[1.0, 2.0]], np.float32)
    a, (b, c) = run([out["a"], out["b"]], {p: True, x: xv})
    np.testing.assert_allclose(a, 2 * xv)
    np.testing.assert_allclose(b, xv + 1)
    assert c == 1
    a, (b, c) = run([out["a"], out["b"]], {p: False, x: xv})
    np.testing.assert_allclose(a, -xv)
    assert c == 2


def test_cond_strict_keeps_singleton_lists():
    p = tf.constant(True)
    assert isinstance(tf.cond(p, lambda: [tf.constant(1.0)], lambda: [tf.constant(2.0)]),
                      tf.Tensor)
    out = tf.cond(p, lambda: [tf.constant(1.0)], lambda: [tf.constant(2.0)], strict=True)
    assert isinstance(out, list) and len(out) == 1


def test_cond_dims_that_differ_become_unknown_as_in_tf():
    p = tf.placeholder(tf.bool, [])
    out = tf.cond(p, lambda: tf.zeros([2]), lambda: tf.ones([3]))
    assert out.shape.as_list() == [None]
    assert run(out, {p: False}).tolist() == [1, 1, 1]


def test_case_picks_the_first_true_predicate():
    x = tf.placeholder(tf.int32, [])
    out = tf.case([(tf.less(x, 0), lambda: tf.constant(-1)),
                   (tf.equal(x, 0), lambda: tf.constant(0))], default=lambda: tf.constant(1))
    assert [run(out, {x: v}) for v in (-5, 0, 7)] == [-1, 0, 1]


# ------------------------------------------------------------------------------ while ------

def test_while_loop_nested_loop_vars_and_names():
    n = tf.placeholder(tf.int32, [])
    i, (a, b) = tf.while_loop(lambda i, ab: i < n,
                              lambda i, ab: (i + 1, (ab[0] + ab[1], ab[0])),
                              (tf.constant(0), (tf.constant(1.0), tf.constant(0.0))))
    assert i.name == "while/Exit:0" and b.name == "while/Exit_2:0"
    got = run([i, a, b], {n: 10})
    assert got[0] == 10 and got[1] == 89.0 and got[2] == 55.0     # Fibonacci


def test_single_loop_var_and_data_dependent_trip_count():
    x = tf.placeholder(tf.float32, [])
    out = tf.while_loop(lambda v: v < 100.0, lambda v: v * 3.0, x)
    assert isinstance(out, tf.Tensor)
    assert run(out, {x: 1.0}) == 243.0
    assert run(out, {x: 200.0}) == 200.0


def test_maximum_iterations_stops_the_loop():
    out = tf.while_loop(lambda i: i < 100, lambda i: i + 1, [tf.constant(0)],
                        maximum_iterations=7)
    assert run(out) == 7


def test_shape_invariants_let_a_loop_var_grow():
    v0 = tf.constant([1.0])
    i, v = tf.while_loop(lambda i, v: i < 3, lambda i, v: [i + 1, tf.concat([v, v * 2.0], 0)],
                         [tf.constant(0), v0],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])])
    assert v.shape.as_list() == [None]
    assert run(v).tolist() == [1, 2, 2, 4, 2, 4, 4, 8]


def test_outer_tensors_and_variables_are_captured():
    w = tf.Variable(2.0)
    c = tf.constant(0.5)
    out = tf.while_loop(lambda i, v: i < 3, lambda i, v: [i + 1, v * w + c],
                        [tf.constant(0), tf.constant(1.0)])
    assert run(out[1]) == pytest.approx(((1 * 2 + 0.5) * 2 + 0.5) * 2 + 0.5)


def test_nested_loops_and_a_cond_in_a_loop():
    def body(i, acc):
        inner = tf.while_loop(lambda j, s: j < i, lambda j, s: [j + 1, s + 1.0],
                              [tf.constant(0), tf.constant(0.0)])[1]
        return [i + 1, acc + tf.cond(tf.equal(i % 2, 0), lambda: inner, lambda: -inner)]
    out = tf.while_loop(lambda i, acc: i < 5, body, [tf.constant(0), tf.constant(0.0)])
    assert run(out[1]) == 0 - 1 + 2 - 3 + 4


def test_foldl_and_foldr():
    e = tf.constant([1.0, 2.0, 3.0, 4.0])
    assert run(tf.foldl(lambda a, x: a * 10.0 + x, e)) == 1234.0
    assert run(tf.foldr(lambda a, x: a * 10.0 + x, e)) == 4321.0
    assert run(tf.foldl(lambda a, x: a - x, e, initializer=tf.constant(0.0))) == -10.0


# ------------------------------------------------------------------------------ gradients --

def loop_loss(x, w, n):
    def body(i, h):
        h2 = tf.tanh(tf.matmul(h, w) + 0.1)
        return [i + 1, tf.cond(tf.reduce_sum(h2) > 0, lambda: h2 * w[0, 0], lambda: h2 - 0.5)]
    _, h = tf.while_loop(lambda i, h: i < n, body, [tf.constant(0), x])
    return tf.reduce_sum(tf.square(h))


@SETTINGS
@given(st.lists(st.floats(-1, 1), min_size=6, max_size=6), st.integers(0, 4))
def test_gradients_through_a_loop_match_finite_differences(vals, trips):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float64, [2, 3])
    w = tf.placeholder(tf.float64, [3, 3])
    n = tf.placeholder(tf.int32, [])
    loss = loop_loss(x, w, n)
    gx, gw = tf.gradients(loss, [x, w])
    xv = np.array(vals).reshape(2, 3)
    wv = np.linspace(-0.8, 0.9, 9).reshape(3, 3)
    with tf.Session(backend="reference") as s:
        got_x, got_w = s.run([gx, gw], {x: xv, w: wv, n: trips})

        def L(a, b):
            return s.run(loss, {x: a, w: b, n: trips})
        eps = 1e-6
        for got, arr, which in ((got_x, xv, 0), (got_w, wv, 1)):
            fd = np.zeros_like(arr)
            for k in range(arr.size):
                e = np.zeros_like(arr)
                e.flat[k] = eps
                args = [(xv + e, wv), (xv - e, wv)] if which == 0 else [(xv, wv + e), (xv, wv - e)]
                fd.flat[k] = (L(*args[0]) - L(*args[1])) / (2 * eps)
            np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-7)


def test_back_prop_false_stops_gradients():
    x = tf.constant(2.0)
    out = tf.while_loop(lambda v: v < 10.0, lambda v: v * 2.0, x, back_prop=False)
    assert tf.gradients(out, x) == [None]


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_training_through_a_while_loop(backend):
    x = tf.placeholder(tf.float32, [None, 3])
    w = tf.Variable(np.full((3, 3), 0.5, np.float32))
    loss = loop_loss(x, w, tf.constant(3))
    train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        losses = [s.run([train, loss], {x: np.full((2, 3), 0.3, np.float32)})[1]
                  for _ in range(8)]
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(b <= a + 1e-6 for a, b in zip(losses, losses[1:])), losses


# ------------------------------------------------------------------------------ errors -----

def test_branches_with_different_dtypes_name_the_line():
    p = tf.placeholder(tf.bool, [])
    with pytest.raises(GraphTypeError, match=rf"same type: float32, int32.*{__file__}:"
                                             rf"{line_of('MARK-dtype')}"):
        tf.cond(p, lambda: tf.constant(1.0), lambda: tf.constant(1))  # MARK-dtype


def test_branches_with_different_ranks_name_the_line():
    p = tf.placeholder(tf.bool, [])
    with pytest.raises(GraphShapeError, match=rf"same rank.*{line_of('MARK-rank')}"):
        tf.cond(p, lambda: tf.zeros([2]), lambda: tf.zeros([2, 2]))  # MARK-rank


def test_non_boolean_predicate_names_the_line():
    with pytest.raises(GraphTypeError, match=rf"bool scalar.*float32.*{line_of('MARK-pred')}"):
        tf.cond(tf.constant(1.0), lambda: tf.constant(1), lambda: tf.constant(2))  # MARK-pred
    with pytest.raises(TypeError, match="pred must not be a Python bool"):
        tf.cond(True, lambda: tf.constant(1), lambda: tf.constant(2))


def test_body_changing_a_shape_without_invariants_names_the_line():
    with pytest.raises(GraphShapeError, match=rf"enters the loop with shape \(1,\), but has "
                                              rf"shape \(2,\) after one iteration.*shape_invariants"
                                              rf".*{line_of('MARK-grow')}"):
        tf.while_loop(lambda v: tf.reduce_sum(v) < 10.0,
                      lambda v: tf.concat([v, v], 0), [tf.constant([1.0])])  # MARK-grow


def test_assignment_inside_a_body_is_not_implemented_and_names_the_line():
    v = tf.Variable(1.0)
    with pytest.raises(NotImplementedError, match=rf"assigning a variable inside tf.while_loop"
                                                  rf".*{line_of('MARK-assign')}"):
        tf.while_loop(lambda i: i < 3, lambda i: [i + tf.cast(tf.assign(v, 2.0), tf.int32)],  # MARK-assign
                      [tf.constant(0)])


# ------------------------------------------------------------------------------ map/scan ---

def test_map_fn_scan_and_range_values():
    e = tf.placeholder(tf.float32, [None, 2])
    m = tf.map_fn(lambda x: x * 2.0 + 1.0, e)
    s = tf.scan(lambda a, x: a + x, e, initializer=tf.zeros([2]))
    sr = tf.scan(lambda a, x: a + x, e, initializer=tf.zeros([2]), reverse=True)
    n = tf.placeholder(tf.int32, [])
    r = tf.range(n)
    ev = np.arange(6, dtype=np.float32).reshape(3, 2)
    got = run([m, s, sr, r, tf.range(2, 11, 3)], {e: ev, n: 4})
    np.testing.assert_allclose(got[0], ev * 2 + 1)
    np.testing.assert_allclose(got[1], np.cumsum(ev, 0))
    np.testing.assert_allclose(got[2], np.cumsum(ev[::-1], 0)[::-1])
    assert got[3].tolist() == [0, 1, 2, 3] and got[4].tolist() == [2, 5, 8]


def test_map_fn_and_scan_stack_per_trip_without_an_accumulator():
    """map_fn/scan are one while loop stacking its outputs (num_stacked): no [n, ...]
    accumulator carried, any dtype, nested outputs, scan without an initializer (TF: the first
    element, or the last with reverse, starts it and is its own first output)."""
    from jitflow.frontend.graph_to_ir import graph_to_ir
    from jitflow.ir import TensorType, float32
    e = tf.placeholder(tf.float32, [None, 2])
    ints = tf.map_fn(lambda x: tf.cast(x * 2.0, tf.int32), e, dtype=tf.int32)
    pair = tf.map_fn(lambda x: (x + 1.0, tf.reduce_sum(x)), e, dtype=(tf.float32, tf.float32))
    s0 = tf.scan(lambda a, x: a * x, e)
    s0r = tf.scan(lambda a, x: a * x, e, reverse=True)
    ev = np.arange(1, 9, dtype=np.float32).reshape(4, 2)
    for backend in ("llvm", "reference"):
        with tf.Session(backend=backend) as sess:
            gi, (p1, p2), a, b = sess.run([ints, pair, s0, s0r], {e: ev})
        assert gi.dtype == np.int32 and gi.tolist() == (ev * 2).astype(np.int32).tolist()
        np.testing.assert_allclose(p1, ev + 1)
        np.testing.assert_allclose(p2, ev.sum(1))
        np.testing.assert_allclose(a, np.cumprod(ev, 0))
        np.testing.assert_allclose(b, np.cumprod(ev[::-1], 0)[::-1])
    gf = graph_to_ir("f", [s0], [], [e], [TensorType(float32, ("s0", 2))])
    loops = [op for op in gf.function.ops if op.opname == "while"]
    assert len(loops) == 1 and loops[0].attrs["num_stacked"] == 1
    carried = loops[0].operands[:loops[0].attrs["num_carried"]]
    assert all(len(v.type.shape) <= 1 for v in carried)       # a counter and the [2] carry


def test_gradient_through_scan():
    e = tf.placeholder(tf.float64, [None, 2])
    s = tf.scan(lambda a, x: tf.tanh(a * 0.5 + x), e, initializer=tf.zeros([2], tf.float64))
    loss = tf.reduce_sum(s * s)
    g, = tf.gradients(loss, e)
    ev = np.linspace(-1, 1, 8).reshape(4, 2)
    with tf.Session(backend="reference") as sess:
        got = sess.run(g, {e: ev})
        fd = np.zeros_like(ev)
        for k in range(ev.size):
            d = np.zeros_like(ev)
            d.flat[k] = 1e-6
            fd.flat[k] = (sess.run(loss, {e: ev + d}) - sess.run(loss, {e: ev - d})) / 2e-6
    np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-8)


def test_lowered_loop_keeps_symbolic_dims_and_widens_only_invariants():
    from jitflow.frontend.graph_to_ir import graph_to_ir
    from jitflow.ir import TensorType, float32, print_function
    x = tf.placeholder(tf.float32, [None, 3])
    _, h = tf.while_loop(lambda i, h: i < 3, lambda i, h: [i + 1, tf.tanh(h)], [0, x])
    _, v = tf.while_loop(lambda i, v: i < 3, lambda i, v: [i + 1, tf.concat([v, v], 0)], [0, x],
                         shape_invariants=[tf.TensorShape([]), tf.TensorShape([None, 3])])
    gf = graph_to_ir("f", [h, v], [], [x], [TensorType(float32, ("s0", 3))])
    text = print_function(gf.function)
    loops = [op for op in gf.function.ops if op.opname == "while"]
    assert [str(op.results[1].type) for op in loops] == ["f32[s0,3]", "f32[?,3]"], text


def test_maximum_iterations_given_as_a_run_time_tensor():
    m = tf.placeholder(tf.int32, [])
    out = tf.while_loop(lambda i, v: i < 100, lambda i, v: (i + 2, v * 2.0),
                        (tf.constant(0), tf.constant(1.0)), maximum_iterations=m)
    assert isinstance(out, tuple)
    assert run(list(out), {m: 5}) == [10, 32.0]
    assert run(list(out), {m: 500}) == [100, 2.0 ** 50]


def test_loops_in_traced_functions_and_jitflow_grad():
    import jitflow

    @jitflow.function
    def double_until(x):
        return tf.while_loop(lambda v: tf.reduce_sum(v) < 100.0, lambda v: v * 2.0, x)
    np.testing.assert_array_equal(double_until(np.ones(3, np.float32)), [64.0] * 3)
    g = jitflow.grad(lambda x: tf.reduce_sum(
        tf.while_loop(lambda i, v: i < 3, lambda i, v: [i + 1, v * v], [0, x])[1]))
    x = np.array([1.1, 0.9])
    np.testing.assert_allclose(g(x), 8 * x ** 7, rtol=1e-12)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_a_loop_of_no_trip_sizes_its_stacks_by_a_fed_batch(backend):
    """A loop that runs no trip at run time (dynamic_rnn over zero steps; a while_loop
    stacking TensorArray writes with a fed trip count of 0) stacks nothing, shaped
    [0, batch, ...] with the batch size that was fed; its gradient flows through the loop
    untouched (the initial state's cotangent is the final state's)."""
    x = tf.placeholder(tf.float64, [None, None, 3])        # [batch, time, 3], both fed
    h0 = tf.placeholder(tf.float64, [None, 3])
    cell = tf.nn.rnn_cell.BasicRNNCell(3)
    ys, hT = tf.nn.dynamic_rnn(cell, x, initial_state=h0)
    rnn_loss = tf.reduce_sum(ys) + tf.reduce_sum(hT * hT)
    n = tf.placeholder(tf.int32, [])
    w = tf.constant(np.linspace(-0.5, 0.5, 9).reshape(3, 3))

    def body(i, h, ta):
        h = tf.tanh(tf.matmul(h, w))
        return i + 1, h, ta.write(i, h)
    _, hn, ta = tf.while_loop(lambda i, h, ta: i < n, body,
                              [0, h0, tf.TensorArray(tf.float64, size=0, dynamic_size=True)])
    stacked = ta.stack()
    loop_loss = tf.reduce_sum(stacked) + tf.reduce_sum(hn * hn)
    grads = tf.gradients(rnn_loss, [x, h0]) + tf.gradients(loop_loss, [h0])
    hv = np.linspace(-1, 1, 12).reshape(4, 3)
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        yv, hTv, sv, hnv, gx, gh, gh2 = s.run(
            [ys, hT, stacked, hn] + grads, {x: np.ones((4, 0, 3)), h0: hv, n: 0})
        assert yv.shape == (4, 0, 3) and sv.shape == (0, 4, 3) and gx.shape == (4, 0, 3)
        np.testing.assert_array_equal(hTv, hv)
        np.testing.assert_array_equal(hnv, hv)
        np.testing.assert_array_equal(gh, 2 * hv)
        np.testing.assert_array_equal(gh2, 2 * hv)
        # the same graph with trips still runs them (the empty run's shapes are not kept)
        sv, gh2 = s.run([stacked, grads[2]], {h0: hv, n: 2})
    w_np = np.linspace(-0.5, 0.5, 9).reshape(3, 3)
    h1 = np.tanh(hv @ w_np)
    h2 = np.tanh(h1 @ w_np)
    np.testing.assert_allclose(sv, [h1, h2], rtol=1e-12)
    g1 = 1 + ((1 + 2 * h2) * (1 - h2 ** 2)) @ w_np.T
    np.testing.assert_allclose(gh2, (g1 * (1 - h1 ** 2)) @ w_np.T, rtol=1e-12)


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_dynamic_rnn_over_a_static_time_dim_of_zero(backend):
    """TF traces the cell once inside its loop, so inputs of a static 0 steps are fine: no
    probe slice of step 0, no hoisted projection reshaped to [0, -1, ...]; the outputs are
    [batch, 0, units], the state the initial one, for a gated (GRU) and a plain cell."""
    x = tf.placeholder(tf.float32, [None, 0, 3])
    out = {}
    for name, cell in (("gru", tf.nn.rnn_cell.GRUCell(2)), ("rnn", tf.nn.rnn_cell.BasicRNNCell(2))):
        h0 = tf.fill([tf.shape(x)[0], 2], 0.5)
        ys, h = tf.nn.dynamic_rnn(cell, x, initial_state=h0, scope=name)
        out[name] = (ys, h, tf.gradients(tf.reduce_sum(h * h), h0)[0])
    with tf.Session(backend=backend) as s:
        s.run(tf.global_variables_initializer())
        got = s.run(out, {x: np.zeros((4, 0, 3), np.float32)})
    for ys, h, g in got.values():
        assert ys.shape == (4, 0, 2)
        np.testing.assert_array_equal(h, np.full((4, 2), 0.5))
        np.testing.assert_array_equal(g, np.full((4, 2), 1.0))
