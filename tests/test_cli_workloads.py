"""``jitflow dump-ir`` on the seed's reference programs (``../shared/workloads`` or
``JITFLOW_WORKLOADS``): quadratic, the MNIST DNN (pretrain and transfer) and the MNIST CNN,
each at its training step, at every stage (``--stage all``, and the memory stage alone, which
crashed on the CNN's im2col scratch buffers) and in every format (text, dot, svg, html).

Each program is run once per format (a few seconds each); MNIST comes from the offline data
(``JITFLOW_MNIST_DIR`` or the embedded sample).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jitflow.ir import parse

from test_cli import ALL_STAGES, HAVE_DOT, IR_STAGES, NO_DOT, WORKLOADS, jitflow, sections

#: program -> the Python variable of its training step
PROGRAMS = {"quadratic": "train_step", "mnist_dnn_pretrain": "training_op",
            "mnist_dnn_transfer": "training_op", "mnist_cnn": "training_op"}


def _skip_if_missing(name: str) -> Path:
    path = WORKLOADS / f"{name}.py"
    if not path.exists():
        pytest.skip(f"reference program not found at {path} (set JITFLOW_WORKLOADS)")
    return path


@pytest.fixture(scope="module")
def workload_out(tmp_path_factory):
    """A WORKLOAD_OUT holding the pretrained checkpoint that mnist_dnn_transfer restores
    before its first training step (a one-epoch pretrain on 200 images)."""
    d = tmp_path_factory.mktemp("workload_out")
    path = _skip_if_missing("mnist_dnn_pretrain")
    env = dict(os.environ, WORKLOAD_OUT=str(d), EPOCHS="1", TRAIN_LIMIT="200")
    p = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return d


def dump(name: str, out_dir: Path, *args) -> subprocess.CompletedProcess:
    path = _skip_if_missing(name)
    return jitflow("dump-ir", path, "--fetch", PROGRAMS[name], *args,
                   env={"WORKLOAD_OUT": str(out_dir)}, timeout=300)


@pytest.fixture(scope="module", params=list(PROGRAMS))
def program(request, workload_out):
    return request.param


def test_every_stage_as_text(program, workload_out):
    p = dump(program, workload_out, "--stage", "all")
    secs = sections(p.stdout)
    assert list(secs) == ALL_STAGES
    assert "at run" in p.stderr and "on llvm" in p.stderr
    for name in IR_STAGES:
        f = parse(secs[name].split("--- fusion log")[0])        # every IR stage reads back
        assert f.ops, name
    for name, text in secs.items():
        assert "(not available" not in text, (name, text[:200])
    mem = secs["memory"]
    assert "kernels, in execution order" in mem and "totals (bytes):" in mem
    assert "define i32 @jf_entry" in secs["llvm"]
    assert re.search(r"^_?jf_entry:", secs["asm"], re.M)
    if program == "mnist_cnn":   # im2col and max-pool scratch buffers, sized per input shape
        rows = [line for line in mem.splitlines() if re.match(r"\s+#\d+\s+scratch\s", line)]
        assert len(rows) >= 3, mem
        assert all("scratch of k" in r and "sized per input shape:" in r for r in rows)
        assert re.search(r"\d+ at s0=1, \d+ at s0=1000", rows[0])
        assert "kernel-private buffer(s)" in mem


def test_memory_stage_alone(program, workload_out):
    """The stage that crashed on the CNN (AttributeError in tools/memory.py)."""
    p = dump(program, workload_out, "--stage", "memory", "-q")
    assert p.stdout.startswith("memory plan of @run") and p.stderr == ""


def test_dot_of_every_ir_stage(program, workload_out):
    p = dump(program, workload_out, "--stage", "all", "--format", "dot", "-q")
    graphs = re.findall(r'^digraph "run\d+: ([\w.-]+)" \{', p.stdout, re.M)
    assert graphs == IR_STAGES
    assert p.stdout.count("{") == p.stdout.count("}")


@pytest.mark.skipif(not HAVE_DOT, reason=NO_DOT)
def test_svg_of_the_fused_stage(program, workload_out, tmp_path):
    out = tmp_path / "g.svg"
    dump(program, workload_out, "--format", "svg", "-o", out, "-q")
    root = ET.parse(out).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "group(0)" in texts


def test_html_of_every_stage(program, workload_out, tmp_path):
    out = tmp_path / "g.html"
    dump(program, workload_out, "--format", "html", "-o", out, "-q")
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    ids = re.findall(r'<section class="stage" id="(stage-[\w.-]+)"', page)
    assert ids == [f"stage-{s}" for s in ALL_STAGES]
    assert "memory plan of @run" in page and "(not available" not in page
    data = re.search(r'<script type="application/json" id="jf-data">(.*?)</script>', page, re.S)
    listed = json.loads(data.group(1))["stages"]
    stages = {s["name"]: s["graph"] or (listed[s["graph_of"]]["graph"] if "graph_of" in s
                                         else None) for s in listed}
    for name in IR_STAGES:          # every IR stage has its graph, every operand a drawn node
        ids = {n["id"] for n in stages[name]["nodes"]}
        assert all(e[0] in ids for n in stages[name]["nodes"] for e in n["in"]), name
    assert stages["memory"] is None


def test_diff_names_values_by_their_producer(workload_out):
    """--diff renders values by producer, matched across stages (tools/naming.py), so a
    pass's diff is not flooded by renumbering: canonicalize on quadratic (4 identities and a
    dead matmul removed) changed 95 lines with %N names; now only those 5 ops and the 9 ops
    whose operand was an identity change."""
    p = dump("quadratic", workload_out, "--diff", "canonicalize")
    changed = [line for line in p.stdout.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 5 + 2 * 9, p.stdout
    assert not re.search(r"%\d+\b", p.stdout)
    assert "%Placeholder:0" in p.stdout and "%MatMul = matmul(" in p.stdout
    assert ("autodiff -> canonicalize: 5 op(s) removed (4 identity, 1 matmul); 0 added; "
            "9 rewritten") in p.stderr
    # the surviving one of two matmuls of one TF op keeps its name (#2), not renumbered
    assert "+  %gradients/MatMul_grad:matmul#2 = " not in p.stdout
    since_frontend = dump("quadratic", workload_out, "--diff", "frontend", "dce", "-q").stdout
    assert "+  %gradients/MatMul_grad:matmul#2 = matmul(%Placeholder:0, " in since_frontend
    unchanged = dump("quadratic", workload_out, "--diff", "canonicalize.2", "dce", "-q")
    assert unchanged.stdout == ""


def _split(diff: str) -> tuple[list[str], list[str]]:
    body = [line for line in diff.splitlines() if not line.startswith(("+++", "---", "@@"))]
    return ([line[1:] for line in body if line.startswith("-")],
            [line[1:] for line in body if line.startswith("+")])


def test_canonicalize_diff_shows_only_the_removed_identities(program, workload_out):
    """On every program, each line canonicalize rewrites is its old line with a removed
    identity's value replaced by that identity's operand: no other name moved."""
    p = dump(program, workload_out, "--diff", "canonicalize", "-q")
    removed, added = _split(p.stdout)
    forward = {}
    for line in removed:
        m = re.match(r"\s*(%\S+) = identity\((%\S+)\)", line)
        if m:
            forward[m.group(1)] = m.group(2)
    assert forward, p.stdout[:2000]
    rewired = []
    for line in removed:
        if re.match(r"\s*%\S+ = identity\(", line):
            continue
        new = re.sub(r"%[\w./:#-]+", lambda m: forward.get(m.group(0), m.group(0)), line)
        rewired.append(new)
    assert all(line in rewired for line in added), [x for x in added if x not in rewired][:3]
    assert len(added) >= len(forward) // 2


def test_folded_op_keeps_its_name(workload_out):
    """constant-fold turns the CNN's Adam `Sub_3 = sub(1, beta1)` into a constant: it keeps
    the name, so only its own line changes, not its users'."""
    p = dump("mnist_cnn", workload_out, "--diff", "constant-fold", "-q")
    removed, added = _split(p.stdout)
    name = "%train/Adam/update_conv1/kernel/Sub_3"
    assert any(line.lstrip().startswith(f"{name} = sub(") for line in removed)
    assert any(line.lstrip().startswith(f"{name} = constant()") for line in added)
    assert not any(f"{name}:" in line or f"{name}#" in line for line in added)
