"""The ``dump-ir --format html`` page in a real browser: headless Chromium loads the MNIST CNN's
page (208 ops and values at the fused stage, 317 at the frontend) and the tests read what it
drew from the DOM it dumps (every drawn box is ``g.jf-node`` with its graph coordinates; the
viewport group's transform maps them to the window) and from a screenshot.

Driven through the URL fragment the page reads: ``stage=``, ``select=``, ``search=``, ``expand=``.
Skipped with a reason when Chromium is not installed (``apt-get install chromium``; .ci/run
installs it).
"""
from __future__ import annotations

import html
import html.parser
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from jitflow.ir import parse

from test_cli import WORKLOADS, jitflow

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed "
                                "(apt-get install chromium); .ci/run installs it")
WIDTH, HEIGHT, PANEL = 1280, 900, 340
CNN = WORKLOADS / "mnist_cnn.py"


@pytest.fixture(scope="module")
def cnn_page(tmp_path_factory) -> Path:
    if not CNN.exists():
        pytest.skip(f"reference program not found at {CNN} (set JITFLOW_WORKLOADS)")
    out = tmp_path_factory.mktemp("html") / "cnn.html"
    jitflow("dump-ir", CNN, "--fetch", "training_op", "--format", "html", "-o", out, "-q",
            timeout=300)
    return out


def _chromium(page: Path, fragment: str, *mode: str) -> subprocess.CompletedProcess:
    url = page.resolve().as_uri() + ("#" + fragment if fragment else "")
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars",
                           "--virtual-time-budget=10000", *mode, url],
                          capture_output=True, text=True, timeout=180)


class _Dom(html.parser.HTMLParser):
    """What the page drew: boxes, clusters, the viewport transform, the panel and the body."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes, self.clusters, self.body, self.transform, self.view = [], [], {}, None, None
        self.panel_attrs, self.panel_text, self.count_text = {}, [], []
        self._in = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "").split()
        if tag == "body":
            self.body = a
        elif tag == "svg" and a.get("id") == "jf-svg":
            self.view = (float(a["data-view-w"]), float(a["data-view-h"]))
        elif tag == "g" and a.get("id") == "jf-viewport":
            self.transform = a.get("transform")
        elif tag == "g" and "jf-node" in cls:
            self.nodes.append({"id": a["data-id"], "cls": cls, **{k: float(a["data-" + k])
                                                                  for k in "xywh"}})
        elif tag == "g" and "jf-cluster" in cls:
            self.clusters.append(a["data-path"])
        elif tag == "aside" and a.get("id") == "jf-panel":
            self.panel_attrs = a
            self._in.append("panel")
        elif tag == "span" and a.get("id") == "jf-count":
            self._in.append("count")
        if tag not in ("br", "input", "meta") and self._in and tag != "aside" and not (
                tag == "span" and a.get("id") == "jf-count"):
            self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in:
            self._in.pop()

    def handle_data(self, data):
        if "panel" in self._in:
            self.panel_text.append(data)
        elif self._in[-1:] == ["count"]:
            self.count_text.append(data)

    @property
    def panel(self) -> str:
        return " ".join(" ".join(self.panel_text).split())

    def on_screen(self, node) -> tuple[float, float, float, float]:
        """The box in window pixels of the graph area."""
        tx, ty, k = _view(self.transform)
        return (tx + node["x"] * k, ty + node["y"] * k, node["w"] * k, node["h"] * k)


def render(page: Path, fragment: str = "") -> _Dom:
    p = _chromium(page, fragment, "--dump-dom")
    assert p.returncode == 0, p.stderr[-2000:]
    dom = _Dom()
    dom.feed(p.stdout)
    assert dom.body.get("data-jf-ready") == "1", (dom.body, p.stderr[-2000:])
    assert "data-jf-error" not in dom.body, dom.body["data-jf-error"]
    return dom


def page_data(page: Path) -> dict:
    text = page.read_text()
    m = re.search(r'<script type="application/json" id="jf-data">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def stage_nodes(page: Path, stage: str) -> list[dict]:
    stages = page_data(page)["stages"]
    s = next(s for s in stages if s["name"] == stage)
    return (s["graph"] or stages[s["graph_of"]]["graph"])["nodes"]


def test_page_is_self_contained(cnn_page):
    text = cnn_page.read_text()
    assert not re.search(r'\b(src|href)="(https?:)?//', text)    # nothing to fetch at view time
    assert "<script src" not in text and "<link" not in text
    stages = [s["name"] for s in page_data(cnn_page)["stages"]]
    assert stages[0] == "frontend" and "fusion" in stages and "memory" in stages


def test_first_screen_fits_the_graph_in_the_window(cnn_page):
    dom = render(cnn_page)
    fused = stage_nodes(cnn_page, "fusion")
    assert len(fused) >= 190          # a large graph (conv-fusion leaves 198 ops)
    assert 10 <= len(dom.nodes) < len(fused)          # some scopes start closed
    assert len(dom.clusters) >= 5 and "train" in dom.clusters
    assert any("jf-scope" in n["cls"] for n in dom.nodes)   # a closed scope is one box
    boxes = [dom.on_screen(n) for n in dom.nodes]
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    graph_w, graph_h = dom.view
    assert WIDTH - PANEL - 40 < graph_w <= WIDTH - PANEL and 0.7 * HEIGHT < graph_h < HEIGHT
    assert left >= -1 and top >= -1 and right <= graph_w + 1 and bottom <= graph_h + 1, \
        (left, top, right, bottom)
    # fitted: the drawing fills the window in one direction, not a speck in a corner
    assert right - left > 0.8 * (graph_w - 32) or bottom - top > 0.8 * (graph_h - 60)


def test_selected_op_fills_the_panel_and_is_centred(cnn_page):
    nodes = {n["id"]: n for n in stage_nodes(cnn_page, "fusion")}
    relu = nodes["%fc1/fc1/Relu"]
    dom = render(cnn_page, "stage=fusion&select=" + quote("%fc1/fc1/Relu", safe=""))
    assert dom.panel_attrs.get("data-selected") == "%fc1/fc1/Relu"
    text = dom.panel
    # the source line is the IR's loc, the user's line that made the layer
    fused = parse(jitflow("dump-ir", CNN, "--fetch", "training_op", "--stage", "fusion",
                          "-q", timeout=300).stdout)
    op = next(o for o in fused.ops if o.loc.tf_name == "fc1/fc1/Relu")
    assert CNN.read_text().splitlines()[op.loc.line - 1].lstrip().startswith("fc1 =")
    assert f"mnist_cnn.py:{op.loc.line}" in text
    # (the dense layer's relu: conv1's is one fused_conv2d op since conv-fusion, no group)
    assert "op type relu" in text and "TF name fc1/fc1/Relu" in text
    assert "dtype f32, shape [s0,64]" in text
    assert relu["group"] is not None and f"group({relu['group']}):" in text
    members = [n for n in nodes.values() if n["group"] == relu["group"]]
    assert f"{len(members)} ops run as one kernel" in text and "bias_add BiasAdd" in text
    box = dom.on_screen(next(n for n in dom.nodes if n["id"] == "%fc1/fc1/Relu"))
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    assert abs(cx - dom.view[0] / 2) < 2 and abs(cy - dom.view[1] / 2) < 2, (box, dom.view)
    sel = next(n for n in dom.nodes if n["id"] == "%fc1/fc1/Relu")
    assert "selected" in sel["cls"]


def test_search_opens_scopes_highlights_and_centres(cnn_page):
    want = _matching(cnn_page, "fusion", "update_fc1/kernel/Sqrt")
    assert want
    dom = render(cnn_page, "search=" + quote("update_fc1/kernel/Sqrt"))
    assert "".join(dom.count_text).strip() == f"1 / {len(want)}"
    assert "train/Adam/update_fc1/kernel" in dom.clusters     # opened to show the match
    current = [n for n in dom.nodes if "current" in n["cls"]]
    assert [n["id"] for n in current] == [want[0]]
    assert all(n["id"] in want for n in dom.nodes if "match" in n["cls"])
    x, y, w, h = dom.on_screen(current[0])
    assert 0 <= x and x + w <= dom.view[0] and 0 <= y and y + h <= dom.view[1]
    assert dom.panel_attrs.get("data-selected") == want[0]


def _overlaps(boxes) -> list:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            if (a["x"] < b["x"] + b["w"] - 0.5 and b["x"] < a["x"] + a["w"] - 0.5 and
                    a["y"] < b["y"] + b["h"] - 0.5 and b["y"] < a["y"] + a["h"] - 0.5):
                out.append((a["id"], b["id"]))
    return out


def _extent(dom: _Dom) -> float:
    return max(n["x"] + n["w"] for n in dom.nodes) * max(n["y"] + n["h"] for n in dom.nodes)


def _view(transform: str) -> tuple[float, float, float]:
    m = re.fullmatch(r"translate\(([-\d.e]+),([-\d.e]+)\) scale\(([-\d.e]+)\)", transform)
    return tuple(map(float, m.groups()))


def _matching(page: Path, stage: str, text: str) -> list[str]:
    """Ids of the ops the search box should find for ``text``, in page order."""
    return [n["id"] for n in stage_nodes(page, stage)
            if any(text.lower() in (s or "").lower()
                   for s in [n["kind"], n["tf"], n["num"], *n["names"]])]


def test_collapse_and_expand_relayout(cnn_page):
    nodes = stage_nodes(cnn_page, "frontend")
    closed = render(cnn_page, "stage=frontend&expand=none")
    opened = render(cnn_page, "stage=frontend&expand=all")
    assert sorted(n["id"] for n in opened.nodes) == sorted(n["id"] for n in nodes)
    assert any("kind-grad" in n["cls"] for n in opened.nodes)     # the gradients op
    assert closed.clusters == [] and len(closed.nodes) < 25
    assert {n["id"] for n in closed.nodes} >= {"s:train", "s:conv1"}
    assert _overlaps(opened.nodes) == [] and _overlaps(closed.nodes) == []
    # a closed scope gives its space back
    assert _extent(closed) < _extent(opened) / 4


def test_screenshot_shows_the_graph(cnn_page, tmp_path):
    image = pytest.importorskip("PIL.Image")
    shot = tmp_path / "shot.png"
    p = _chromium(cnn_page, "", f"--screenshot={shot}")
    assert p.returncode == 0 and shot.exists(), p.stderr[-2000:]
    img = image.open(shot).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    graph = img.crop((0, 40, WIDTH - PANEL, HEIGHT - 20))
    colours = graph.getcolors(maxcolors=1 << 20)
    background = max(colours)[1]
    drawn = sum(n for n, c in colours if c != background)
    total = graph.size[0] * graph.size[1]
    assert drawn > 0.05 * total, drawn / total          # the first screen is not blank
    greens = sum(n for n, (r, g, b) in colours if g > r + 20 and g > b + 10)
    assert greens > 200                                  # parameters are drawn (green boxes)


_DRIVER = """<!DOCTYPE html><html><body><pre id="out">pending</pre>
<iframe id="f" src="page.html" style="width:1280px;height:900px;border:0"></iframe>
<script>
const f = document.getElementById("f");
f.onload = () => {
  const out = {};
  try {
    const w = f.contentWindow, d = f.contentDocument;
    const count = () => d.querySelectorAll("g.jf-node").length;
    const view = () => d.getElementById("jf-viewport").getAttribute("transform");
    const click = (el, type) => el.dispatchEvent(new MouseEvent(type || "click", {bubbles: true}));
    // a closed scope opens on double-click and closes from its cluster's title
    const sc = d.querySelector("g.jf-node.jf-scope");
    out.scope = sc.dataset.id; out.before = count();
    click(sc, "dblclick");
    out.opened = count();
    out.cluster = !!d.querySelector(`g.jf-cluster[data-path="${out.scope.slice(2)}"]`);
    click(d.querySelector(`g.jf-cluster[data-path="${out.scope.slice(2)}"] text`));
    out.closed = count();
    // clicking an op fills the panel; clicking an operand link there selects that op
    const op = d.querySelector("g.jf-node.kind-op");
    click(op);
    out.op = op.dataset.id; out.panel = d.getElementById("jf-panel").dataset.selected;
    const link = d.querySelector("#jf-panel a");
    out.link = link.textContent; click(link);
    out.panel2 = d.getElementById("jf-panel").dataset.selected;
    // wheel zooms around the pointer, a drag pans
    const svg = d.getElementById("jf-svg");
    out.v0 = view();
    svg.dispatchEvent(new WheelEvent("wheel", {deltaY: -400, clientX: 300, clientY: 300,
                                               bubbles: true, cancelable: true}));
    out.v1 = view();
    svg.dispatchEvent(new PointerEvent("pointerdown", {clientX: 100, clientY: 100, bubbles: true}));
    w.dispatchEvent(new PointerEvent("pointermove", {clientX: 160, clientY: 130}));
    w.dispatchEvent(new PointerEvent("pointerup", {}));
    out.v2 = view();
    // typing in the search box, then Enter for the next match
    const box = d.getElementById("jf-search");
    box.value = "relu"; box.dispatchEvent(new Event("input"));
    out.count1 = d.getElementById("jf-count").textContent;
    box.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true}));
    out.count2 = d.getElementById("jf-count").textContent;
    out.current = [...d.querySelectorAll("g.jf-node.current")].map((g) => g.dataset.id);
    // another stage keeps the selection (stable names) and the URL says what is shown
    const sel = d.getElementById("jf-stage");
    sel.value = "0"; sel.dispatchEvent(new Event("change"));
    out.stage_nodes = count(); out.panel3 = d.getElementById("jf-panel").dataset.selected;
    out.hash = w.location.hash;
  } catch (e) { out.error = String(e.stack || e); }
  document.getElementById("out").textContent = JSON.stringify(out);
};
</script></body></html>
"""


def test_mouse_and_keyboard(cnn_page, tmp_path):
    """Clicks, a wheel, a drag and typing, dispatched from a page that holds the viewer in a
    frame (Chromium lets file:// pages script each other with --allow-file-access-from-files)."""
    shutil.copy(cnn_page, tmp_path / "page.html")
    (tmp_path / "driver.html").write_text(_DRIVER)
    p = _chromium(tmp_path / "driver.html", "", "--allow-file-access-from-files", "--dump-dom")
    m = re.search(r'<pre id="out">(.*?)</pre>', p.stdout, re.S)
    out = json.loads(html.unescape(m.group(1)))
    assert "error" not in out, out.get("error")
    assert out["opened"] > out["before"] and out["cluster"] and out["closed"] == out["before"]
    assert out["panel"] == out["op"] and out["panel2"] == out["link"].split(" ")[0] != out["op"]
    v0, v1, v2 = _view(out["v0"]), _view(out["v1"]), _view(out["v2"])
    assert v1[2] > 1.5 * v0[2] and v2[2] == v1[2]                 # zoomed in, then panned
    assert (round(v2[0] - v1[0]), round(v2[1] - v1[1])) == (60, 30)
    relus = _matching(cnn_page, "fusion", "relu")
    assert out["count1"] == f"1 / {len(relus)}" and out["count2"] == f"2 / {len(relus)}"
    assert out["current"] == [relus[1]]
    assert out["panel3"] == relus[1] and out["stage_nodes"] > 10   # frontend has it too
    assert out["hash"].startswith("#stage=frontend&select=") and "search=relu" in out["hash"]
