"""tf.profiler on jitflow graphs: TF's registered flops statistics (checked against the
formulas written out here), parameters of the trainable variables, the scope/op/code views
with their options (depth, select, order, min limits, name regexes, accounting), outputs
(stdout, file, none), ops of unknown shape skipped, Profiler, write_op_log, op_log types."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import jitflow.compat.v1 as tf
from jitflow.interop.protowire import fields

POB = tf.profiler.ProfileOptionBuilder
QUIET_FLOPS = POB(POB.float_operation()).with_empty_output().build()
QUIET_PARAMS = POB(POB.trainable_variables_parameter()).with_empty_output().build()
B, D_IN, H, C = 5, 8, 16, 3


def _uniform_init(shape):
    """TF's random_uniform initializer: sub (scalar), mul and add of the kernel's shape."""
    return 1 + 2 * int(np.prod(shape))


def _mlp():
    x = tf.placeholder(tf.float32, [B, D_IN], name="x")
    with tf.variable_scope("mlp"):
        h = tf.layers.dense(x, H, activation=tf.nn.relu)
        y = tf.layers.dense(h, C)
    p = tf.nn.softmax(y)
    loss = tf.reduce_mean(p)
    flops = {"mlp/dense/MatMul": 2 * B * D_IN * H, "mlp/dense/BiasAdd": B * H,
             "mlp/dense_1/MatMul": 2 * B * H * C, "mlp/dense_1/BiasAdd": B * C,
             "Softmax": 5 * B * C, "Mean": B * C}
    init = _uniform_init([D_IN, H]) + _uniform_init([H, C])
    return loss, flops, init


def _flat(proto):
    out = {}
    for c in proto.children:
        out[c.name] = c
        out.update(_flat(c))
    return out


def test_mlp_float_ops_are_tfs_formulas():
    with tf.Graph().as_default() as g:
        _, flops, init = _mlp()
        r = tf.profiler.profile(g, options=QUIET_FLOPS)
        assert r.name == "_TFProfRoot"
        assert r.total_float_ops == sum(flops.values()) + init
        got = {n: c.float_ops for n, c in _flat(r).items()}
        for name, want in flops.items():
            assert got[name] == want, name
        assert "mlp/dense/Relu" not in got          # no flops statistic in TF: not shown
        # float_operation() orders by float ops: the first shown op is the largest
        assert r.children[0].name == "mlp/dense/MatMul"


def _convnet():
    im = tf.placeholder(tf.float32, [2, 12, 12, 3], name="images")
    z = tf.zeros_initializer()
    c1 = tf.layers.conv2d(im, 8, 3, padding="same", activation=tf.nn.relu,
                          kernel_initializer=z, name="conv1")
    p1 = tf.layers.max_pooling2d(c1, 2, 2, name="pool1")
    c2 = tf.layers.conv2d(p1, 4, 3, strides=2, padding="valid", kernel_initializer=z,
                          name="conv2")
    flat = tf.layers.flatten(c2)
    logits = tf.layers.dense(flat, 5, kernel_initializer=z, name="fc")
    flops = {"conv1/Conv2D": 2 * (2 * 12 * 12 * 8) * 3 * 3 * 3, "conv1/BiasAdd": 2 * 12 * 12 * 8,
             "pool1/MaxPool": (2 * 6 * 6 * 8) * 2 * 2,
             "conv2/Conv2D": 2 * (2 * 2 * 2 * 4) * 3 * 3 * 8, "conv2/BiasAdd": 2 * 2 * 2 * 4,
             "fc/MatMul": 2 * 2 * 16 * 5, "fc/BiasAdd": 2 * 5}
    params = 3 * 3 * 3 * 8 + 8 + 3 * 3 * 8 * 4 + 4 + 16 * 5 + 5
    return logits, flops, params


def test_convnet_float_ops_and_parameters():
    with tf.Graph().as_default() as g:
        logits, flops, params = _convnet()
        assert logits.shape.as_list() == [2, 5]
        r = tf.profiler.profile(g, options=QUIET_FLOPS)
        assert r.total_float_ops == sum(flops.values())
        assert {n: c.float_ops for n, c in _flat(r).items()} == flops
        p = tf.profiler.profile(g, options=QUIET_PARAMS)
        assert p.total_parameters == params
        leaves = {n: c.parameters for n, c in _flat(p).items() if c.parameters}
        assert leaves == {"conv1/kernel": 216, "conv1/bias": 8, "conv2/kernel": 288,
                          "conv2/bias": 4, "fc/kernel": 80, "fc/bias": 5}


def test_trainable_variables_parameter_tree_counts_trainable_only():
    with tf.Graph().as_default() as g:
        _mlp()
        tf.Variable(np.zeros([7, 7], np.float32), trainable=False, name="mlp/frozen")
        r = tf.profiler.profile(g, options=QUIET_PARAMS)     # cmd='scope'
        want = sum(int(np.prod(v.shape.as_list())) for v in tf.trainable_variables())
        assert want == D_IN * H + H + H * C + C
        assert r.total_parameters == want
        assert [c.name for c in r.children] == ["mlp"]
        mlp = r.children[0]
        assert [c.name for c in mlp.children] == ["mlp/dense", "mlp/dense_1"]
        assert [c.name for c in mlp.children[0].children] == ["mlp/dense/bias",
                                                              "mlp/dense/kernel"]
        assert mlp.children[0].total_parameters == D_IN * H + H
        big = tf.profiler.profile(g, options=POB(QUIET_PARAMS).with_min_parameters(40).build())
        assert [c.name for c in big.children] == ["mlp/dense/kernel", "mlp/dense_1/kernel"]
        assert big.total_parameters == D_IN * H + H * C
        assert "mlp/frozen" not in _flat(r)
        default = tf.profiler.profile(g)     # trainable_variables_parameter(), to stdout
        assert default.total_parameters == want
        op = tf.profiler.profile(g, cmd="op", options=QUIET_PARAMS)
        assert op.total_parameters == want
        assert op.children[0].name == "VariableV2"
        assert len(op.children[0].graph_nodes) == 4     # the frozen variable is not accounted


def test_max_depth_and_account_displayed_op_only():
    with tf.Graph().as_default() as g:
        _mlp()
        opts = POB(QUIET_PARAMS).with_max_depth(2).build()
        r = tf.profiler.profile(g, options=opts)
        assert [c.name for c in r.children] == ["mlp"] and r.children[0].children == []
        # only displayed nodes are accounted: 'mlp' holds no parameters itself
        assert r.total_parameters == 0
        r = tf.profiler.profile(g, options=POB(opts).account_displayed_op_only(False).build())
        assert r.total_parameters == D_IN * H + H + H * C + C
        assert r.children[0].total_parameters == r.total_parameters
        r = tf.profiler.profile(g, options=POB(QUIET_PARAMS).with_max_depth(3).build())
        assert [c.name for c in r.children[0].children] == ["mlp/dense", "mlp/dense_1"]
        assert all(c.children == [] for c in r.children[0].children)


def test_min_float_ops_order_and_name_filters():
    with tf.Graph().as_default() as g:
        _, flops, _ = _mlp()
        r = tf.profiler.profile(g, options=POB(QUIET_FLOPS).with_min_float_operations(60)
                                .with_node_names(hide_name_regexes=[".*Initializer.*"]).build())
        shown = [c.name for c in r.children]
        want = sorted((n for n, f in flops.items() if f >= 60), key=lambda n: -flops[n])
        assert shown == want
        assert r.total_float_ops == sum(flops[n] for n in want)
        r = tf.profiler.profile(g, options=POB(QUIET_FLOPS).order_by("name")
                                .with_node_names(show_name_regexes=[".*MatMul"]).build())
        assert [c.name for c in r.children] == ["mlp/dense/MatMul", "mlp/dense_1/MatMul"]
        assert r.total_float_ops == flops["mlp/dense/MatMul"] + flops["mlp/dense_1/MatMul"]


def test_select_chooses_the_columns(tmp_path):
    with tf.Graph().as_default() as g:
        _mlp()
        path = str(tmp_path / "prof.txt")
        tf.profiler.profile(g, options=POB(POB.trainable_variables_parameter())
                            .select(["params", "float_ops"]).with_file_output(path).build())
        text = open(path).read()
        assert text.startswith("Profile:\nnode name | # parameters | # float_ops\n")
        assert "mlp/dense/kernel (8x16, 128/128 params, 0/0 flops)" in text
        tf.profiler.profile(g, options=POB(POB.trainable_variables_parameter())
                            .select(["float_ops"]).with_file_output(path).build())
        text = open(path).read()
        assert "params" not in text and "mlp/dense/kernel (0/0 flops)" in text


def test_outputs_stdout_file_and_none(tmp_path, capsys):
    with tf.Graph().as_default() as g:
        _, flops, init = _mlp()
        tf.profiler.profile(g, options=POB.float_operation())
        out = capsys.readouterr().out
        assert "==================Model Analysis Report======================" in out
        assert "-min_float_ops              1" in out
        assert f"_TFProfRoot (--/{(sum(flops.values()) + init) / 1000:.2f}k flops)" in out
        assert f"  mlp/dense/MatMul ({flops['mlp/dense/MatMul'] / 1000:.2f}k/" in out
        path = str(tmp_path / "flops.txt")
        r = tf.profiler.profile(g, options=POB(POB.float_operation())
                                .with_file_output(path).build())
        assert capsys.readouterr().out == ""
        text = open(path).read()
        assert text.startswith("Profile:\nnode name | # float_ops\n_TFProfRoot (--/")
        assert f"  Softmax ({flops['Softmax']}/{flops['Softmax']} flops)\n" in text
        assert r.total_float_ops == sum(flops.values()) + init
        r2 = tf.profiler.profile(g, options=QUIET_FLOPS)
        assert capsys.readouterr().out == "" and r2.total_float_ops == r.total_float_ops
        op = tf.profiler.profile(g, cmd="op", options=POB(POB.float_operation())
                                 .with_file_output(path).build())
        lines = open(path).read().splitlines()
        assert lines[1] == "node name | # float_ops" and lines[2].startswith("MatMul ")
        assert "(100.00%, " in lines[2]
        assert op.total_float_ops == r.total_float_ops


def test_unknown_shapes_are_skipped(capsys):
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        w = tf.ones([4, 3], name="w")
        tf.matmul(x, w, name="dyn")
        y = tf.placeholder(tf.float32, [6, 4], name="y")
        tf.matmul(y, w, name="static")
        tf.exp(y, name="e")                      # no flops statistic in TF
        r = tf.profiler.profile(g, options=QUIET_FLOPS)
        assert capsys.readouterr().err == "1 ops no flops stats due to incomplete shapes.\n"
        assert [c.name for c in r.children] == ["static"]
        assert r.total_float_ops == 2 * 6 * 4 * 3
        # a placeholder's shape attribute counts as parameters once it is fully known
        tf.profiler.profile(g, run_meta=tf.RunMetadata(), options=QUIET_FLOPS)
        assert capsys.readouterr().err == ""           # with run metadata TF says nothing
        tf.profiler.Profiler(g)
        assert capsys.readouterr().err == "1 ops no flops stats due to incomplete shapes.\n"
        opts = POB().select(["params"]).with_empty_output().build()
        p = tf.profiler.profile(g, options=opts)
        got = {n: c.parameters for n, c in _flat(p).items()}
        assert got["y"] == 24 and got["x"] == 0


@pytest.mark.parametrize("backend", ["reference", "llvm"])
def test_time_and_memory_has_only_the_root_without_step_stats(tmp_path, backend):
    with tf.Graph().as_default() as g:
        loss, _, _ = _mlp()
        md = tf.RunMetadata()
        with tf.Session(backend=backend) as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(loss, {g.get_tensor_by_name("x:0"): np.ones([B, D_IN], np.float32)},
                     options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                     run_metadata=md)
        path = str(tmp_path / "t.txt")
        r = tf.profiler.profile(g, run_meta=md, cmd="scope", options=POB(
            POB.time_and_memory()).with_file_output(path).build())
        assert r.children == [] and r.total_exec_micros == 0 and r.total_requested_bytes == 0
        assert open(path).read().splitlines()[-1] == "_TFProfRoot (--/0B, --/0us, --/0us, --/0us)"


def test_profiler_class_and_steps(capsys):
    with tf.Graph().as_default() as g:
        _, flops, init = _mlp()
        prof = tf.profiler.Profiler(g)
        prof.add_step(0, tf.RunMetadata())
        assert prof.profile_name_scope(QUIET_PARAMS).total_parameters == D_IN * H + H + H * C + C
        ops = prof.profile_operations(QUIET_FLOPS)
        chain, at = [], ops
        while at.children:
            at = at.children[0]
            chain.append((at.name, at.float_ops, at.total_float_ops))
        assert chain[0][0] == "MatMul" and chain[0][2] == ops.total_float_ops
        assert chain[0][1] == flops["mlp/dense/MatMul"] + flops["mlp/dense_1/MatMul"]
        assert [f for _, f, _ in chain] == sorted((f for _, f, _ in chain), reverse=True)
        for (_, f, tot), nxt in zip(chain, chain[1:] + [(None, 0, 0)]):
            assert tot == f + nxt[2]                 # each total adds the types after it
        code = prof.profile_python(QUIET_FLOPS)
        assert sum(c.float_ops for c in code.children) == sum(flops.values()) + init
        assert any("tf.nn.softmax(y)" in c.name for c in code.children)
        capsys.readouterr()
        empty = prof.profile_name_scope(POB(QUIET_PARAMS).with_step(3).build())
        assert empty.children == [] and "-step=3 not found" in capsys.readouterr().err
        assert prof.profile_name_scope(POB(QUIET_PARAMS).with_step(0).build()).total_parameters
        with pytest.raises(NotImplementedError, match="advise"):
            prof.advise()
        with pytest.raises(NotImplementedError, match="advise"):
            tf.profiler.advise(g)
        with pytest.raises(tf.errors.InvalidArgumentError, match="unknown cmd: tree"):
            tf.profiler.profile(g, cmd="tree", options=QUIET_FLOPS)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown output type"):
            tf.profiler.profile(g, options=dict(QUIET_FLOPS, output="screen"))


def test_write_op_log_and_custom_op_log(tmp_path):
    with tf.Graph().as_default() as g:
        _, flops, _ = _mlp()
        tf.profiler.write_op_log(g, str(tmp_path))
        entries = {}
        for _, _, e in fields(open(tmp_path / "tfprof_log", "rb").read()):
            f = {}
            for num, _, v in fields(e):
                f.setdefault(num, []).append(v)
            entries[f[1][0].decode()] = (f.get(2, [0])[0], [t.decode() for t in f.get(3, [])])
        assert entries["mlp/dense/MatMul"] == (flops["mlp/dense/MatMul"], [])
        assert entries["mlp/dense/kernel"] == (0, ["_trainable_variables"])
        log = tf.profiler.OpLogProto()
        log.log_entries.add(name="mlp/dense/Relu", float_ops=7, types=["_mine"])
        r = tf.profiler.profile(g, op_log=log, options=POB(QUIET_FLOPS)
                                .with_accounted_types(["_mine"]).build())
        assert [(c.name, c.float_ops) for c in r.children] == [("mlp/dense/Relu", 7)]
        assert r.total_float_ops == 7


def _one_op_flops(build):
    with tf.Graph().as_default() as g:
        build()
        return tf.profiler.profile(g, options=QUIET_FLOPS).total_float_ops


def test_more_registered_statistics():
    x = np.ones([3, 4], np.float32)
    assert _one_op_flops(lambda: tf.reduce_sum(tf.constant(x), axis=1)) == 12 - 3
    assert _one_op_flops(lambda: tf.argmax(tf.constant(x), axis=0)) == 12 - 4
    assert _one_op_flops(lambda: tf.math.squared_difference(tf.constant(x), 1.0)) == 24
    assert _one_op_flops(lambda: tf.rsqrt(tf.constant(x))) == 24
    assert _one_op_flops(lambda: tf.nn.l2_loss(tf.constant(x))) == 3 * 12 - 1
    assert _one_op_flops(lambda: tf.add_n([tf.constant(x)] * 3)) == 12 * 2
    assert _one_op_flops(lambda: tf.matmul(tf.constant(x), tf.constant(x),
                                           transpose_a=True)) == 2 * 3 * 16
    assert _one_op_flops(lambda: tf.nn.avg_pool(tf.ones([1, 4, 4, 2]), [1, 2, 2, 1],
                                                [1, 2, 2, 1], "VALID")) == 4 * 8
    # conv2d_transpose is Conv2DBackpropInput: 2 * out * kernel / (out_channels * strides)
    assert _one_op_flops(lambda: tf.nn.conv2d_transpose(
        tf.ones([1, 4, 4, 2]), tf.ones([3, 3, 5, 2]), [1, 8, 8, 5], [1, 2, 2, 1],
        "SAME")) == 2 * (8 * 8 * 5) * (3 * 3 * 5 * 2) // (5 * 4)
    for fn in (tf.exp, tf.tanh, tf.sigmoid, tf.nn.relu, tf.sqrt):
        assert _one_op_flops(lambda: fn(tf.constant(x))) == 0, fn


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 6), st.integers(1, 4),
       st.integers(1, 3), st.sampled_from(["SAME", "VALID"]), st.integers(1, 2))
def test_matmul_and_conv2d_formulas_hypothesis(m, k, n, cin, ksz, padding, stride):
    with tf.Graph().as_default() as g:
        tf.matmul(tf.ones([m, k]), tf.ones([k, n]), name="mm")
        img = tf.ones([2, 7, 6, cin])
        y = tf.nn.conv2d(img, tf.ones([ksz, ksz, cin, n]), [1, stride, stride, 1], padding,
                         name="conv")
        oh, ow = y.shape.as_list()[1:3]
        want_oh = -(-7 // stride) if padding == "SAME" else (7 - ksz) // stride + 1
        assert oh == want_oh
        got = {c.name: c.float_ops for c in tf.profiler.profile(g, options=QUIET_FLOPS).children}
        assert got["mm"] == 2 * m * k * n
        assert got["conv"] == 2 * (2 * oh * ow * n) * ksz * ksz * cin


def test_graph_view_nests_inputs_under_consumers():
    with tf.Graph().as_default() as g:
        _, flops, init = _mlp()
        r = tf.profiler.profile(g, cmd="graph", options=QUIET_FLOPS)
        assert r.total_float_ops == sum(flops.values()) + init
        assert r.children[0].name == "Mean"
        chain, at = [], r.children[0]
        while at.children:
            chain.append(at.name)
            at = at.children[0]
        chain.append(at.name)
        assert chain == ["Mean", "Softmax", "mlp/dense_1/BiasAdd", "mlp/dense_1/MatMul",
                         "mlp/dense/BiasAdd", "mlp/dense/MatMul"]
        assert r.children[0].total_float_ops == sum(flops.values())
        p = tf.profiler.profile(g, cmd="graph", options=QUIET_PARAMS)
        assert sorted(c.name for c in p.children) == ["mlp/dense/bias", "mlp/dense/kernel",
                                                      "mlp/dense_1/bias", "mlp/dense_1/kernel"]
        assert p.total_parameters == D_IN * H + H + H * C + C
        assert tf.profiler.Profiler(g).profile_graph(QUIET_PARAMS).total_parameters == \
            p.total_parameters
