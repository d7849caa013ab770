"""The ``jitflow`` command line, through subprocesses as a user runs it.

* ``dump-ir`` on the reference program ``quadratic.py`` (``../shared/workloads``, or
  ``JITFLOW_WORKLOADS``): text at each stage and ``--stage all``, DOT structure, SVG (parsed as
  XML; skipped with a reason when Graphviz's ``dot`` is not installed), HTML, ``--diff``;
* ``dump-ir`` of stored IR, ``run-ir`` against the Session's own results, ``info``;
* error messages (script failing before compiling, never compiling, no such fetch, no ``dot``);
* golden IR text of small graphs in ``tests/golden/``. Regenerate after an intended change with
  ``JITFLOW_UPDATE_GOLDEN=1 pytest tests/test_cli.py -k golden`` and review the diff.
"""
from __future__ import annotations

import difflib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from jitflow.ir import parse

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
WORKLOADS = Path(os.environ.get("JITFLOW_WORKLOADS") or ROOT / ".." / "shared" / "workloads")
QUADRATIC = WORKLOADS / "quadratic.py"
IR_STAGES = ["frontend", "autodiff", "canonicalize", "constant-fold", "cse", "licm", "canonicalize.2",
             "dce", "llvm-legalize", "promote-narrow", "conv-fusion", "fusion"]
ALL_STAGES = IR_STAGES + ["memory", "llvm", "asm"]
HAVE_DOT = shutil.which("dot") is not None
NO_DOT = "Graphviz's `dot` is not installed (apt-get install graphviz); .ci/run installs it"

needs_quadratic = pytest.mark.skipif(not QUADRATIC.exists(),
                                     reason=f"reference program not found at {QUADRATIC} "
                                            "(set JITFLOW_WORKLOADS)")


def jitflow(*args, cwd=None, env=None, check=True, timeout=120) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k not in ("JITFLOW_BACKEND", "JITFLOW_DUMP",
                                                         "JITFLOW_DOT", "JITFLOW_LOG")}
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "jitflow", *map(str, args)], cwd=cwd, env=e,
                       capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"jitflow {' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stderr}")
    return p


def sections(text: str) -> dict[str, str]:
    """``--stage all`` output -> {stage: text}."""
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        m = re.match(r"=== (\S+) \((\d+)/(\d+)\): .* ===$", line.rstrip("\n"))
        if m:
            name = m.group(1)
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def strip_fusion_log(text: str) -> str:
    return text.split("--- fusion log")[0].rstrip("\n") + "\n"


# ----------------------------------------------------------------------- quadratic.py -------
@pytest.fixture(scope="module")
def quad_all():
    if not QUADRATIC.exists():
        pytest.skip(f"reference program not found at {QUADRATIC} (set JITFLOW_WORKLOADS)")
    p = jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--stage", "all")
    return p


@needs_quadratic
def test_stage_all_has_every_stage_in_order(quad_all):
    secs = sections(quad_all.stdout)
    assert list(secs) == ALL_STAGES
    assert "stopped quadratic.py at run1 (targets GradientDescent) on llvm" in quad_all.stderr
    for name in IR_STAGES:
        f = parse(strip_fusion_log(secs[name]))          # every IR stage reads back
        assert f.name == "run1"
        assert [p.name for p in f.params] == ["Placeholder:0", "Placeholder_1:0", "Variable:0",
                                              "Variable_1:0", "Variable_2:0", "Variable_3:0"]
    assert "gradients(" in secs["frontend"] and "gradients(" not in secs["autodiff"]
    assert "group(" not in secs["dce"] and "group(0)" in secs["fusion"]
    assert "--- fusion log" in secs["fusion"]
    assert 'loc("MatMul"' in secs["fusion"] and "quadratic.py\":35" in secs["fusion"]
    mem = secs["memory"]
    for word in ("param", "result", "temp", "donated", "kernels, in execution order",
                 "40*s0", "symbolic dims: s0"):
        assert word in mem, word
    assert "define i32 @jf_entry" in secs["llvm"]
    assert re.search(r"^_?jf_entry:", secs["asm"], re.M)


@needs_quadratic
@pytest.mark.parametrize("stage,alias", [("frontend", "input"), ("cse", "cse"),
                                         ("fusion", "fused"), ("memory", "memory")])
def test_single_stage_equals_its_section(quad_all, stage, alias):
    p = jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--stage", alias)
    expect = sections(quad_all.stdout)[stage]
    if stage == "fusion":
        expect = strip_fusion_log(expect)
    assert p.stdout.rstrip("\n") == expect.rstrip("\n")


@needs_quadratic
def test_default_is_first_compilation_and_last_ir_stage():
    p = jitflow("dump-ir", QUADRATIC)
    f = parse(p.stdout)
    assert f.name == "run0"                  # the initializer runs first
    assert "group(" in p.stdout              # default stage: fused
    assert "first compilation" in p.stderr and "--fetch" in p.stderr
    # --fetch by TF op name and by the N-th compilation reach the same graph as the variable
    a = jitflow("dump-ir", QUADRATIC, "--fetch", "GradientDescent", "--stage", "frontend", "-q")
    b = jitflow("dump-ir", QUADRATIC, "--compilation", "2", "--stage", "frontend", "-q")
    assert a.stdout == b.stdout and "@run1" in a.stdout and a.stderr == ""


@needs_quadratic
def test_dot_structure():
    p = jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--format", "dot")
    fused = parse(jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "-q").stdout)
    dot = p.stdout
    assert dot.startswith('digraph "run1: fusion" {') and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    nodes = dict(re.findall(r"^\s*([npr]\d+) \[(.*)\];$", dot, re.M))
    edges = re.findall(r"^\s*(\w+) -> (\w+)", dot, re.M)
    ops = [n for n in nodes if n.startswith("n")]
    assert len(ops) == len(fused.ops)
    assert len([n for n in nodes if n.startswith("p")]) == len(fused.params)
    assert len([n for n in nodes if n.startswith("r")]) == len(fused.results)
    assert "invhouse" in nodes["p0"] and "shape=house" in nodes["r0"]
    for a, b in edges:
        assert a in nodes and b in nodes, (a, b)
    assert len(edges) == sum(len(op.operands) for op in fused.ops) + len(fused.results)
    groups = sorted({op.group for op in fused.ops if op.group is not None})
    clusters = re.findall(r"subgraph cluster_(\d+) \{", dot)
    assert sorted(map(int, clusters)) == groups
    # ops of a group sit inside its cluster; labels carry op name, type and TF name
    body = dot.split("subgraph cluster_0 {")[1].split("}")[0]
    assert "%6 = matmul" in body and "f32[s0,10]" in body and "\\nMatMul" in body
    assert "%8 = tanh" in body


@needs_quadratic
@pytest.mark.skipif(not HAVE_DOT, reason=NO_DOT)
def test_svg_parses_and_names_the_ops(tmp_path):
    out = tmp_path / "q.svg"
    jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--format", "svg", "-o", out)
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for word in ("matmul", "tanh", "reduce_sum", "MatMul_1", "Placeholder:0", "group(0)",
                 "result 0", "f32[s0,10]"):
        assert word in texts, word
    titles = {t.text for t in root.iter("{http://www.w3.org/2000/svg}title")}
    assert "cluster_0" in titles


@needs_quadratic
def test_svg_without_graphviz_says_how_to_install(tmp_path):
    env = {"JITFLOW_DOT": str(tmp_path / "no-dot-here")}
    p = jitflow("dump-ir", QUADRATIC, "--format", "svg", "-o", tmp_path / "x.svg", env=env,
                check=False)
    assert p.returncode == 1
    assert "apt-get install graphviz" in p.stderr and "--format dot" in p.stderr
    assert not (tmp_path / "x.svg").exists()
    p = jitflow("dump-ir", QUADRATIC, "--format", "dot", env=env)   # still works
    assert p.stdout.startswith("digraph")


class _Collector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.tags, self.stack = [], {}, []

    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.ids += [v for k, v in attrs if k == "id"]


@needs_quadratic
def test_html_page(tmp_path):
    out = tmp_path / "q.html"
    jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--format", "html", "-o", out)
    page = out.read_text()
    c = _Collector()
    c.feed(page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert [i for i in c.ids if i.startswith("stage-")] == [f"stage-{s}" for s in ALL_STAGES]
    assert "func @run1(" in page and "define i32 @jf_entry" in page
    assert "changes from autodiff" in page          # per-stage diff, with what changed
    assert re.search(r"changes from frontend: 1 op\(s\) removed \(1 gradients\); \d+ added", page)
    assert "changes from autodiff: 5 op(s) removed (4 identity, 1 matmul); 0 added" in page
    # self-contained: the viewer's script and the graphs' data are inline, nothing is fetched
    assert c.tags.get("script") == 2 and "<script src" not in page and "<link" not in page
    data = re.search(r'<script type="application/json" id="jf-data">(.*?)</script>', page, re.S)
    stages = json.loads(data.group(1))["stages"]
    assert [s["name"] for s in stages] == ALL_STAGES
    twins = {s["name"]: stages[s["graph_of"]]["name"] for s in stages if "graph_of" in s}
    # unchanged stages share a graph (quadratic has nothing for llvm-legalize or conv-fusion
    # to rewrite, no narrow type to promote)
    assert twins == {"licm": "cse", "canonicalize.2": "cse", "dce": "cse", "llvm-legalize": "cse",
                     "promote-narrow": "cse", "conv-fusion": "cse"}
    for s in stages:
        s["graph"] = s["graph"] or (stages[s["graph_of"]]["graph"] if "graph_of" in s else None)
    assert all((s["graph"] is not None) == (s["name"] in IR_STAGES) for s in stages)
    fused = {n["id"]: n for n in stages[IR_STAGES.index("fusion")]["graph"]["nodes"]}
    tanh = fused["%Tanh"]           # stable names: the same op in every stage
    assert all("%Tanh" in {n["id"] for n in s["graph"]["nodes"]} for s in stages if s["graph"])
    assert tanh["kind"] == "tanh" and tanh["types"] == ["f32[s0,10]"] and tanh["group"] == 0
    assert tanh["file"].endswith("quadratic.py") and tanh["line"] > 0 and tanh["scope"] == []
    assert fused["%add"]["id"] in [e[0] for e in tanh["in"]]
    grads = [n for n in fused.values() if n["tf"].startswith("gradients/Tanh_grad")]
    assert len(grads) > 1 and all(n["scope"] == ["gradients", "Tanh_grad"] for n in grads)


@needs_quadratic
def test_diff_between_stages():
    p = jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--diff", "dce", "fusion", "-q")
    lines = p.stdout.splitlines()
    assert lines[0] == "--- run1 dce" and lines[1] == "+++ run1 fusion"
    assert any(line.startswith("+") and "group(0)" in line for line in lines)
    assert any(line.startswith("-") and "matmul(" in line for line in lines)
    one = jitflow("dump-ir", QUADRATIC, "--fetch", "train_step", "--diff", "autodiff", "-q")
    assert one.stdout.startswith("--- run1 frontend\n+++ run1 autodiff\n")
    assert any(line.startswith("-") and "gradients(" in line for line in one.stdout.splitlines())


def test_list_stages():
    p = jitflow("dump-ir", "whatever.py", "--list-stages")
    names = [line.split()[0] for line in p.stdout.splitlines()[1:-1]]
    assert names == ALL_STAGES
    p = jitflow("dump-ir", "whatever.py", "--list-stages", "--backend", "reference")
    names = [line.split()[0] for line in p.stdout.splitlines()[1:-1]]
    assert names == ["frontend", "autodiff", "canonicalize", "constant-fold", "cse", "licm", "dce"]


# ----------------------------------------------------------------------- scripts we write ---
SMALL = textwrap.dedent('''
    import sys
    import numpy as np
    import jitflow.compat.v1 as tf
    print("script args", sys.argv[1:])
    out = sys.argv[1]
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2) / 7, name="w")
    b = tf.Variable(np.array([0.25, -0.5], np.float32), name="b")
    y = tf.nn.tanh(tf.matmul(x, w) + b, name="y")
    s = tf.reduce_sum(tf.square(y), axis=0, name="s")
    xv = np.linspace(-2, 2, 15, dtype=np.float32).reshape(5, 3)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        wv, bv = sess.run([w, b])
        np.savez(out + "/inputs_by_label.npz", **{"x:0": xv, "w:0": wv, "b:0": bv})
        np.savez(out + "/inputs_by_index.npz", arg0=xv, arg1=wv, arg2=bv)
        yv, sv = sess.run([y, s], feed_dict={x: xv})
        np.savez(out + "/expected.npz", y=yv, s=sv)
''')


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    (d / "small.py").write_text(SMALL)
    subprocess.run([sys.executable, "small.py", str(d)], cwd=d, check=True, capture_output=True)
    p = jitflow("dump-ir", "small.py", "--fetch", "y", "--stage", "fused", "-o", "y.jfir",
                "--", str(d), cwd=d)
    assert "script args" in p.stderr and p.stdout == ""   # the script's prints go to stderr
    return d


def test_run_ir_equals_session(small):
    exp = np.load(small / "expected.npz")
    text = (small / "y.jfir").read_text()
    assert 'func @run2(%0: f32[s0,3] "x:0"' in text and "group(0)" in text
    for backend, inputs in (("llvm", "inputs_by_label.npz"), ("reference", "inputs_by_index.npz")):
        out = small / f"out-{backend}.npz"
        jitflow("run-ir", "y.jfir", "--inputs", inputs, "--backend", backend, "-o", out, cwd=small)
        got = np.load(out)
        assert sorted(got.files) == ["s:0", "y:0"]
        np.testing.assert_allclose(got["y:0"], exp["y"], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got["s:0"], exp["s"], rtol=1e-6, atol=1e-7)
    # without -o the results are printed
    p = jitflow("run-ir", "y.jfir", "--inputs", "inputs_by_label.npz", cwd=small)
    assert "y:0: float32[5, 2]" in p.stdout and "s:0: float32[2]" in p.stdout


def test_run_ir_errors(small):
    x = np.ones((5, 3), np.float32)
    w = np.ones((3, 2), np.float32)
    b = np.ones(2, np.float32)
    cases = {
        "missing": ({"x:0": x, "w:0": w}, ["missing input", "arg2 ('b:0') of type f32[2]"]),
        "extra": ({"x:0": x, "w:0": w, "b:0": b, "z": x}, ["'z' match no parameter", "arg0 / 'x:0'"]),
        "static": ({"x:0": x, "w:0": np.ones((4, 2), np.float32), "b:0": b},
                   ["shape (4, 2)", "needs 3 at axis 0"]),
        "rank": ({"x:0": np.ones(5, np.float32), "w:0": w, "b:0": b}, ["rank 1", "rank 2"]),
        "dtype": ({"x:0": x.astype(np.complex64), "w:0": w, "b:0": b}, ["dtype complex64"]),
    }
    for name, (arrays, words) in cases.items():
        path = small / f"bad-{name}.npz"
        np.savez(path, **arrays)
        p = jitflow("run-ir", "y.jfir", "--inputs", path, cwd=small, check=False)
        assert p.returncode == 1, name
        for word in words:
            assert word in p.stderr, (name, p.stderr)


def test_dump_ir_from_stored_ir(small):
    text = (small / "y.jfir").read_text()
    p = jitflow("dump-ir", "y.jfir", "--stage", "all", cwd=small)
    secs = sections(p.stdout)
    assert list(secs) == ALL_STAGES
    assert secs["frontend"].rstrip("\n") == text.rstrip("\n")     # the file as given
    assert strip_fusion_log(secs["fusion"]) == text                # the pipeline is idempotent
    assert "kernels, in execution order" in secs["memory"]
    p = jitflow("dump-ir", "y.jfir", "--backend", "reference", "--stage", "final", cwd=small)
    assert parse(p.stdout).name == "run2"             # the reference pipeline ends with dce
    p = jitflow("dump-ir", "y.jfir", "--backend", "reference", "--stage", "fusion", cwd=small,
                check=False)
    assert p.returncode == 1 and "no stage 'fusion'" in p.stderr and "dce" in p.stderr
    p = jitflow("dump-ir", "y.jfir", "--fetch", "y", cwd=small, check=False)
    assert p.returncode == 1 and "apply to scripts" in p.stderr
    (small / "broken.jfir").write_text(text.replace("%5", "%55", 1))
    p = jitflow("dump-ir", "broken.jfir", cwd=small, check=False)
    assert p.returncode == 1 and "cannot parse the IR" in p.stderr


def test_dump_ir_of_a_traced_function(tmp_path):
    """A script that only uses @jitflow.function: its compilation is what dump-ir shows."""
    (tmp_path / "traced.py").write_text(textwrap.dedent('''
        import numpy as np
        import jitflow, jitflow.compat.v1 as tf

        @jitflow.function
        def mlp(x, w):
            return tf.reduce_sum(tf.nn.relu(tf.matmul(x, w)), name="total")

        print(mlp(np.ones((4, 3), np.float32), np.ones((3, 2), np.float32)))
    '''))
    p = jitflow("dump-ir", "traced.py", "--stage", "all", cwd=tmp_path)
    got = sections(p.stdout)
    assert list(got)[:len(IR_STAGES)] == IR_STAGES
    assert "@mlp" in got["frontend"] and "matmul" in got["frontend"]
    assert "group(" in got["fusion"]
    p = jitflow("dump-ir", "traced.py", "--fetch", "total", cwd=tmp_path)
    assert "reduce_sum" in p.stdout


def test_script_errors(tmp_path):
    (tmp_path / "raises.py").write_text(textwrap.dedent('''
        import jitflow.compat.v1 as tf
        x = tf.placeholder(tf.float32, [None, 3])
        def build():
            return tf.matmul(x, tf.ones([4, 2]))
        y = build()
    '''))
    p = jitflow("dump-ir", "raises.py", cwd=tmp_path, check=False)
    assert p.returncode == 1
    assert "raises.py raised GraphShapeError before its first compilation" in p.stderr
    assert 'File "raises.py", line 5, in build' in p.stderr
    assert "jitflow/frontend" not in p.stderr and "runpy" not in p.stderr

    (tmp_path / "nothing.py").write_text("import jitflow.compat.v1 as tf\nprint('hi')\n")
    p = jitflow("dump-ir", "nothing.py", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "finished without reaching its first compilation" in p.stderr
    assert "it compiled nothing" in p.stderr

    (tmp_path / "exits.py").write_text("import sys\nsys.exit(3)\n")
    p = jitflow("dump-ir", "exits.py", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "exited with status 3" in p.stderr

    (tmp_path / "swallows.py").write_text(textwrap.dedent('''
        import jitflow.compat.v1 as tf
        c = tf.constant(2.0) * 3.0
        try:
            tf.Session().run(c)
        except Exception:
            print("swallowed")
    '''))
    p = jitflow("dump-ir", "swallows.py", cwd=tmp_path)    # our stop is not an Exception
    assert "swallowed" not in p.stderr and "@run0" in p.stdout

    p = jitflow("dump-ir", "swallows.py", "--fetch", "nosuch", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "fetches 'nosuch'" in p.stderr and "run0 (fetches mul:0)" in p.stderr

    p = jitflow("dump-ir", "swallows.py", "--stage", "bogus", cwd=tmp_path, check=False)
    assert p.returncode == 1 and "unknown stage(s) 'bogus'" in p.stderr


def test_info():
    p = jitflow("info")
    fields = dict(line.split(":", 1) for line in p.stdout.splitlines())
    for key in ("jitflow", "numpy", "llvmlite", "numba", "backends", "cpu", "cpu features",
                "blas", "cache dir", "graphviz dot"):
        assert key in fields, key
    assert "llvm" in fields["backends"] and "reference" in fields["backends"]
    assert "LLVM" in fields["llvmlite"]
    assert re.search(r"avx2: (yes|no)", fields["cpu features"]) or "neon" in fields["cpu features"]
    assert ("not found" in fields["graphviz dot"]) != HAVE_DOT


def test_console_script():
    exe = Path(sys.executable).parent / "jitflow"
    if not exe.exists():
        pytest.skip("the `jitflow` console script is not installed (pip install -e .)")
    p = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "dump-ir" in p.stdout and "run-ir" in p.stdout


# ----------------------------------------------------------------------- golden IR -----------
GOLDEN_CASES = {
    # script in tests/golden -> (--fetch, --stage)
    "affine_relu": ("y", "frontend,canonicalize,fusion,memory"),
    "train_step": ("train", ",".join(IR_STAGES) + ",memory"),
    "softmax_grad": ("grad", ",".join(IR_STAGES)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_ir(name):
    fetch, stages = GOLDEN_CASES[name]
    p = jitflow("dump-ir", f"{name}.py", "--fetch", fetch, "--stage", stages, "-q", cwd=GOLDEN)
    got = p.stdout
    path = GOLDEN / f"{name}.stages.txt"
    if os.environ.get("JITFLOW_UPDATE_GOLDEN"):
        path.write_text(got)
    if not path.exists():
        pytest.fail(f"{path} is missing; create it with JITFLOW_UPDATE_GOLDEN=1")
    want = path.read_text()
    if got != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), got.splitlines(True),
                                            str(path), "now"))
        pytest.fail(f"generated IR of {name}.py changed (if intended, regenerate with "
                    f"JITFLOW_UPDATE_GOLDEN=1 and review):\n{diff}")
