"""tf.metrics: streaming values over several update runs vs NumPy on all the data seen,
local/metric variable collections, reset by the local variables initializer."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jitflow.compat.v1 as tf

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def stream(metric_fn, batches, dtypes=(tf.int32, tf.int32), weights=False):
    """Feed each batch to update_op; return (value after all, update results)."""
    tf.reset_default_graph()
    lab = tf.placeholder(dtypes[0], [None])
    pred = tf.placeholder(dtypes[1], [None])
    w = tf.placeholder(tf.float32, [None]) if weights else None
    value, update = metric_fn(lab, pred, w)
    ups = []
    with tf.Session(backend="reference") as s:
        s.run(tf.local_variables_initializer())
        for b in batches:
            feed = {lab: b[0], pred: b[1]}
            if weights:
                feed[w] = b[2]
            ups.append(s.run(update, feed))
        final = s.run(value)
        s.run(tf.local_variables_initializer())
        reset = s.run(value)
    return final, ups, reset


def _batches(draw_n, rng, k=2, weights=False):
    out = []
    for n in draw_n:
        b = [rng.randint(0, k, n), rng.randint(0, k, n)]
        if weights:
            b.append(rng.uniform(0, 2, n).astype(np.float32) * (rng.rand(n) > 0.2))
        out.append(b)
    return out


sizes = st.lists(st.integers(1, 6), min_size=1, max_size=3)


@SETTINGS
@given(ns=sizes, seed=st.integers(0, 1000), weighted=st.booleans())
def test_accuracy_and_mean(ns, seed, weighted):
    rng = np.random.RandomState(seed)
    batches = _batches(ns, rng, 3, weighted)
    final, ups, reset = stream(lambda l, p, w: tf.metrics.accuracy(l, p, weights=w), batches,
                               weights=weighted)
    lab = np.concatenate([b[0] for b in batches])
    pred = np.concatenate([b[1] for b in batches])
    w = np.concatenate([b[2] for b in batches]) if weighted else np.ones(lab.size)
    ref = (w * (lab == pred)).sum() / w.sum() if w.sum() > 0 else 0.0
    assert final == pytest.approx(ref, rel=1e-5, abs=1e-6)
    assert ups[-1] == pytest.approx(ref, rel=1e-5, abs=1e-6)
    assert reset == 0.0


@pytest.mark.parametrize("kind", ["precision", "recall", "true_positives", "false_positives",
                                  "false_negatives", "true_negatives"])
@SETTINGS
@given(ns=sizes, seed=st.integers(0, 1000))
def test_confusion_metrics(kind, ns, seed):
    rng = np.random.RandomState(seed)
    batches = _batches(ns, rng, 2, True)
    final, _, _ = stream(lambda l, p, w: getattr(tf.metrics, kind)(l, p, weights=w), batches,
                         weights=True)
    lab = np.concatenate([b[0] for b in batches]).astype(bool)
    pred = np.concatenate([b[1] for b in batches]).astype(bool)
    w = np.concatenate([b[2] for b in batches])
    tp, fp = (w * (lab & pred)).sum(), (w * (~lab & pred)).sum()
    fn, tn = (w * (lab & ~pred)).sum(), (w * (~lab & ~pred)).sum()
    ref = {"true_positives": tp, "false_positives": fp, "false_negatives": fn,
           "true_negatives": tn,
           "precision": tp / (tp + fp) if tp + fp > 0 else 0.0,
           "recall": tp / (tp + fn) if tp + fn > 0 else 0.0}[kind]
    assert final == pytest.approx(ref, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("kind, fn", [("mean_squared_error", lambda d: d * d),
                                      ("mean_absolute_error", np.abs),
                                      ("root_mean_squared_error", lambda d: d * d)])
def test_regression_metrics(kind, fn):
    rng = np.random.RandomState(3)
    batches = [[rng.randn(4).astype(np.float32), rng.randn(4).astype(np.float32)]
               for _ in range(3)]
    final, _, _ = stream(lambda l, p, w: getattr(tf.metrics, kind)(l, p), batches,
                         dtypes=(tf.float32, tf.float32))
    d = np.concatenate([b[1] - b[0] for b in batches])
    ref = fn(d).mean()
    if kind.startswith("root"):
        ref = np.sqrt(ref)
    assert final == pytest.approx(ref, rel=1e-5)


def test_mean_iou():
    rng = np.random.RandomState(4)
    n = 4
    batches = [[rng.randint(0, n, 7), rng.randint(0, n, 7)] for _ in range(3)]
    final, _, _ = stream(lambda l, p, w: tf.metrics.mean_iou(l, p, n), batches)
    lab = np.concatenate([b[0] for b in batches])
    pred = np.concatenate([b[1] for b in batches])
    cm = np.zeros((n, n))
    np.add.at(cm, (lab, pred), 1)
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    ref = (inter[union > 0] / union[union > 0]).mean()
    assert final == pytest.approx(ref, rel=1e-6)


def _auc_ref(lab, pred, n, curve):
    eps = 1e-7
    thr = [0 - eps] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + eps]
    tp = np.array([((pred > t) & lab).sum() for t in thr], float)
    fp = np.array([((pred > t) & ~lab).sum() for t in thr], float)
    fn = np.array([((pred <= t) & lab).sum() for t in thr], float)
    tn = np.array([((pred <= t) & ~lab).sum() for t in thr], float)
    rec = (tp + eps) / (tp + fn + eps)
    if curve == "ROC":
        x, y = fp / (fp + tn + eps), rec
    else:
        x, y = rec, (tp + eps) / (tp + fp + eps)
    return ((x[:-1] - x[1:]) * (y[:-1] + y[1:]) / 2).sum()


@pytest.mark.parametrize("curve", ["ROC", "PR"])
def test_auc(curve):
    rng = np.random.RandomState(5)
    lab = rng.rand(40) > 0.5
    pred = np.clip(lab * 0.3 + rng.rand(40) * 0.7, 0, 1).astype(np.float32)
    batches = [[lab[:20], pred[:20]], [lab[20:], pred[20:]]]
    final, _, _ = stream(lambda l, p, w: tf.metrics.auc(l, p, num_thresholds=50, curve=curve),
                         batches, dtypes=(tf.bool, tf.float32))
    assert final == pytest.approx(_auc_ref(lab, pred, 50, curve), rel=1e-4)
    if curve == "ROC":    # close to the exact ROC AUC (Mann-Whitney)
        pos, neg = pred[lab], pred[~lab]
        exact = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
        assert final == pytest.approx(exact, abs=0.03)


def test_metric_variables_collections_and_names():
    tf.reset_default_graph()
    lab = tf.placeholder(tf.int32, [None])
    acc, up = tf.metrics.accuracy(lab, lab, metrics_collections=["m"], updates_collections=["u"])
    tf.metrics.accuracy(lab, lab)
    names = [v.op.name for v in tf.local_variables()]
    assert names == ["accuracy/total", "accuracy/count", "accuracy_1/total", "accuracy_1/count"]
    assert [v.op.name for v in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)] == names
    assert tf.trainable_variables() == [] and tf.global_variables() == []
    assert tf.get_collection("m") == [acc] and tf.get_collection("u") == [up]
    tf.metrics.precision(lab, lab)
    tf.metrics.auc(lab, tf.cast(lab, tf.float32), num_thresholds=3)
    tf.metrics.mean_iou(lab, lab, 3)
    names = [v.op.name for v in tf.local_variables()][4:]
    assert names == ["precision/true_positives/count", "precision/false_positives/count",
                     "auc/true_positives", "auc/false_negatives", "auc/true_negatives",
                     "auc/false_positives", "mean_iou/total_confusion_matrix"]
