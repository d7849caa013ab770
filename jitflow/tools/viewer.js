/* jitflow dump-ir --format html: the graph viewer (no network, no libraries).
 *
 * The page embeds, per IR stage, its ops as JSON (#jf-data). Ops are grouped by TF name scope
 * into a tree; a collapsed scope is one box, an expanded one a cluster around its children.
 * Each expanded scope is laid out on its own as a layered graph (ranks by longest path, dummy
 * nodes on long edges, barycentre ordering, then x placement pulled towards neighbours), and
 * its box is a node of its parent's layout, so collapsing a scope gives its space back.
 *
 * URL fragment (read on load, kept up to date): #stage=NAME&select=VALUE&search=TEXT&expand=all
 * (or none, or a comma list of scopes; default: open scopes while at most AUTO_VISIBLE boxes
 * show). Test hooks: body[data-jf-ready], body[data-jf-error], every drawn
 * node is g.jf-node[data-id][data-x][data-y][data-w][data-h] in graph coordinates under
 * g#jf-viewport, whose transform maps them to svg#jf-svg[data-view-w][data-view-h]. */
(function () {
  "use strict";
  const SVGNS = "http://www.w3.org/2000/svg";
  const DATA = JSON.parse(document.getElementById("jf-data").textContent);
  DATA.stages.forEach((s) => { if (s.graph_of !== undefined) s.graph = DATA.stages[s.graph_of].graph; });
  const GROUP_COLORS = DATA.group_colors;
  const AUTO_VISIBLE = 60;          // the first screen expands scopes while at most this many boxes show
  const PAD = 10, HEAD = 20, NODESEP = 18, RANKSEP = 34;
  const $ = (id) => document.getElementById(id);
  const state = { stage: 0, expanded: new Set(), selected: null, query: "", match: 0, view: { x: 0, y: 0, k: 1 } };
  let G = null;                     // the current stage's model

  window.addEventListener("error", (e) => { document.body.dataset.jfError = String(e.message); });

  // ------------------------------------------------------------------ model ----------
  const measure = (() => {
    const ctx = document.createElement("canvas").getContext("2d");
    return (text, bold) => { ctx.font = (bold ? "bold " : "") + "11px Helvetica, Arial, sans-serif"; return ctx.measureText(text).width; };
  })();

  function buildModel(stage) {
    const g = stage.graph;
    const root = { id: "s:", path: "", label: "", scope: true, children: [], parent: null, count: 0 };
    const scopes = new Map([["", root]]);
    const leaves = new Map();
    function scopeOf(parts) {
      let cur = root, path = "";
      for (const p of parts) {
        path = path ? path + "/" + p : p;
        let s = scopes.get(path);
        if (!s) {
          s = { id: "s:" + path, path: path, label: p, scope: true, children: [], parent: cur, count: 0 };
          scopes.set(path, s); cur.children.push(s);
        }
        cur = s;
      }
      return cur;
    }
    for (const n of g.nodes) {
      const parent = scopeOf(n.scope);
      const leaf = { id: n.id, scope: false, node: n, parent: parent };
      parent.children.push(leaf); leaves.set(n.id, leaf);
    }
    // a scope with one child is that child (its path joins the child's label)
    function simplify(s) {
      s.children = s.children.map((c) => {
        if (!c.scope) return c;
        simplify(c);
        if (c.children.length === 1) {
          const only = c.children[0];
          only.parent = s;
          if (only.scope) { scopes.delete(c.path); only.label = c.label + "/" + only.label; }
          return only;
        }
        return c;
      });
      s.count = s.children.reduce((a, c) => a + (c.scope ? c.count : 1), 0);
    }
    simplify(root);
    for (const [p, s] of [...scopes]) if (s !== root && !isAttached(s)) scopes.delete(p);
    function isAttached(s) { while (s.parent) { if (!s.parent.children.includes(s)) return false; s = s.parent; } return s === root; }
    const users = new Map();
    for (const n of g.nodes) for (const e of n.in) {
      if (!users.has(e[0])) users.set(e[0], []);
      users.get(e[0]).push(n.id);
    }
    return { stage: stage, root: root, scopes: scopes, leaves: leaves, users: users };
  }

  const ancestors = (item) => { const out = []; for (let p = item.parent; p; p = p.parent) out.push(p); return out; };
  const isOpen = (s) => s.parent === null || state.expanded.has(s.path);

  function visibleRep(leaf) {        // the leaf, or its outermost collapsed scope
    let rep = leaf;
    for (let p = leaf.parent; p && p.parent; p = p.parent) if (!isOpen(p)) rep = p;
    return rep;
  }

  function autoExpand() {            // breadth first, smallest first, while the screen stays readable
    let visible = G.root.children.length;
    let frontier = G.root.children.filter((c) => c.scope);
    while (frontier.length) {
      frontier.sort((a, b) => a.count - b.count);
      const next = [];
      for (const s of frontier) {
        if (visible - 1 + s.children.length > AUTO_VISIBLE) continue;
        state.expanded.add(s.path); visible += s.children.length - 1;
        next.push(...s.children.filter((c) => c.scope));
      }
      frontier = next;
    }
  }

  // ------------------------------------------------------------------ layout ---------
  function boxSize(item) {
    if (item.scope && isOpen(item)) return layoutScope(item);
    if (item.scope) {
      item.w = Math.max(measure(item.label, true), measure(item.count + " ops  [+]")) + 24; item.h = 40;
    } else {
      const n = item.node;
      item.w = Math.max(measure(n.kind + "  " + n.short, true), measure(n.types.join(", ") + (n.group !== null ? "  \u00b7 group(00)" : ""))) + 16;
      item.w = Math.min(Math.max(item.w, 60), 320); item.h = 34;
    }
    return item;
  }

  function layoutScope(s) {          // lays out s's children; sets s.w, s.h and child offsets
    const kids = s.children;
    kids.forEach(boxSize);
    const idx = new Map(kids.map((k, i) => [k, i]));
    const es = (G.levelEdges.get(s) || []).map(([a, b]) => [idx.get(a), idx.get(b)]);
    const L = layered(kids.map((k) => ({ w: k.w, h: k.h })), es);
    kids.forEach((k, i) => { k.rx = L.pos[i].x + PAD; k.ry = L.pos[i].y + PAD + (s.parent ? HEAD : 0); });
    s.edgePoints = new Map();
    es.forEach(([a, b], i) => s.edgePoints.set(kids[a].id + ">" + kids[b].id, L.points[i].map((p) => ({ x: p.x + PAD, y: p.y + PAD + (s.parent ? HEAD : 0) }))));
    s.w = Math.max(L.w + 2 * PAD, s.parent ? measure(s.label, true) + 40 : 0);
    s.h = L.h + 2 * PAD + (s.parent ? HEAD : 0);
    return s;
  }

  function layered(nodes, edges) {
    const n = nodes.length;
    // cycles: edges against a DFS order are laid out reversed
    const out = nodes.map(() => []), order = [], mark = new Array(n).fill(0);
    edges.forEach(([a, b], i) => { if (a !== b) out[a].push([b, i]); });
    const rev = new Set();
    for (let r = 0; r < n; r++) {
      if (mark[r]) continue;
      const stack = [[r, 0]]; mark[r] = 1;
      while (stack.length) {
        const top = stack[stack.length - 1], v = top[0];
        if (top[1] < out[v].length) {
          const [w, ei] = out[v][top[1]++];
          if (mark[w] === 1) rev.add(ei); else if (!mark[w]) { mark[w] = 1; stack.push([w, 0]); }
        } else { mark[v] = 2; order.push(v); stack.pop(); }
      }
    }
    const dag = edges.map(([a, b], i) => (rev.has(i) ? [b, a] : [a, b])).filter(([a, b]) => a !== b);
    const preds = nodes.map(() => []), succs = nodes.map(() => []);
    for (const [a, b] of dag) { succs[a].push(b); preds[b].push(a); }
    const rank = new Array(n).fill(0);
    for (const v of order.slice().reverse()) for (const w of succs[v]) rank[w] = Math.max(rank[w], rank[v] + 1);
    for (let v = 0; v < n; v++)      // a source sits just above its first user (constants, params)
      if (!preds[v].length && succs[v].length) rank[v] = Math.min(...succs[v].map((w) => rank[w])) - 1;
    // dummy nodes on edges that span several ranks
    const R = Math.max(0, ...rank) + 1;
    const layers = Array.from({ length: R }, () => []);
    const all = nodes.map((nd, i) => ({ w: nd.w, h: nd.h, rank: rank[i], up: [], down: [] }));
    all.forEach((a, i) => layers[a.rank].push(i));
    const chains = dag.map(([a, b]) => {
      const chain = [a];
      for (let r = rank[a] + 1; r < rank[b]; r++) {
        const d = all.length; all.push({ w: 6, h: 0, rank: r, up: [], down: [], dummy: true });
        layers[r].push(d); chain.push(d);
      }
      chain.push(b);
      for (let i = 0; i + 1 < chain.length; i++) { all[chain[i]].down.push(chain[i + 1]); all[chain[i + 1]].up.push(chain[i]); }
      return chain;
    });
    // ordering: barycentres, sweeping down and up
    const posIn = new Array(all.length);
    const setPos = () => layers.forEach((l) => l.forEach((v, i) => { posIn[v] = i; }));
    setPos();
    for (let it = 0; it < 8; it++) {
      const down = it % 2 === 0;
      const seq = down ? layers.slice(1) : layers.slice(0, -1).reverse();
      for (const l of seq) {
        const bc = new Map(l.map((v) => {
          const nb = down ? all[v].up : all[v].down;
          return [v, nb.length ? nb.reduce((s, u) => s + posIn[u], 0) / nb.length : posIn[v]];
        }));
        l.sort((a, b) => bc.get(a) - bc.get(b) || posIn[a] - posIn[b]);
        l.forEach((v, i) => { posIn[v] = i; });
      }
    }
    // x: packed, then pulled towards the neighbours' centres without overlapping
    const cx = new Array(all.length);
    const pack = (l, want) => {
      let prev = -Infinity;
      l.forEach((v, i) => {
        const lo = i ? prev + (all[l[i - 1]].w + all[v].w) / 2 + NODESEP : -Infinity;
        cx[v] = Math.max(want[i], lo); prev = cx[v];
      });
      const shift = l.reduce((s, v, i) => s + want[i] - cx[v], 0) / (l.length || 1);
      l.forEach((v) => { cx[v] += shift; });
    };
    layers.forEach((l) => pack(l, l.map(() => 0)));
    for (let it = 0; it < 6; it++) {
      const down = it % 2 === 0;
      const seq = down ? layers : layers.slice().reverse();
      for (const l of seq) {
        const want = l.map((v) => {
          const nb = (down ? all[v].up : all[v].down).concat(it > 2 ? (down ? all[v].down : all[v].up) : []);
          return nb.length ? nb.reduce((s, u) => s + cx[u], 0) / nb.length : cx[v];
        });
        pack(l, want);
      }
    }
    let minX = Infinity, maxX = -Infinity;
    all.forEach((a, v) => { minX = Math.min(minX, cx[v] - a.w / 2); maxX = Math.max(maxX, cx[v] + a.w / 2); });
    if (!all.length) { minX = 0; maxX = 0; }
    const top = [], height = layers.map((l) => Math.max(0, ...l.map((v) => all[v].h)));
    let y = 0;
    height.forEach((h, r) => { top[r] = y; y += h + RANKSEP; });
    const pos = nodes.map((nd, i) => ({ x: cx[i] - minX - nd.w / 2, y: top[rank[i]] + (height[rank[i]] - nd.h) / 2 }));
    const pointsOf = chains.map((chain) => chain.slice(1, -1).map((d) => ({ x: cx[d] - minX, y: top[all[d].rank] + height[all[d].rank] / 2 })));
    let k = 0;
    const points = edges.map(([a, b], i) => {
      if (a === b) return [];
      const p = pointsOf[k++];
      return rev.has(i) ? p.slice().reverse() : p;
    });
    return { pos: pos, points: points, w: maxX - minX, h: Math.max(0, y - RANKSEP) };
  }

  function computeEdges() {          // edges between visible boxes, each at the level of the scope holding both
    G.levelEdges = new Map(); G.drawn = new Map();
    for (const leaf of G.leaves.values()) {
      const rv = visibleRep(leaf);
      for (const e of leaf.node.in) {
        const src = G.leaves.get(e[0]);
        if (!src) continue;
        const ru = visibleRep(src);
        if (ru === rv) continue;
        const key = ru.id + ">" + rv.id;
        const d = G.drawn.get(key);
        if (d) { d.count++; d.dashed = d.dashed && e[2]; continue; }
        const au = [ru, ...ancestors(ru)], av = new Set([rv, ...ancestors(rv)]);
        let i = 0; while (!av.has(au[i])) i++;
        const lca = au[i], cu = au[i - 1];
        let cv = rv; while (cv.parent !== lca) cv = cv.parent;
        if (!G.levelEdges.has(lca)) G.levelEdges.set(lca, []);
        const le = G.levelEdges.get(lca);
        if (!le.some(([a, b]) => a === cu && b === cv)) le.push([cu, cv]);
        G.drawn.set(key, { ru: ru, rv: rv, cu: cu, cv: cv, lca: lca, count: 1, dashed: !!e[2] });
      }
    }
  }

  function place(s, x, y) {           // absolute coordinates
    s.ax = x; s.ay = y;
    if (s.scope && isOpen(s)) for (const c of s.children) place(c, x + c.rx, y + c.ry);
  }

  // ------------------------------------------------------------------ drawing --------
  const el = (tag, attrs, parent) => {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  };
  const text = (parent, x, y, s, cls) => { const t = el("text", { x: x, y: y, class: cls || "" }, parent); t.textContent = s; return t; };

  function render() {
    computeEdges();
    layoutScope(G.root); place(G.root, 0, 0);
    const vp = $("jf-viewport");
    vp.textContent = "";
    const lc = el("g", { class: "jf-clusters" }, vp), le = el("g", { class: "jf-edges" }, vp), ln = el("g", { class: "jf-nodes" }, vp);
    const fused = G.stage.graph.nodes.some((n) => n.group !== null);
    (function draw(s, depth) {
      for (const c of s.children) {
        if (c.scope && isOpen(c)) {
          const g = el("g", { class: "jf-cluster", "data-path": c.path }, lc);
          el("rect", { x: c.ax, y: c.ay, width: c.w, height: c.h, rx: 6, class: "depth" + (depth % 4) }, g);
          const t = text(g, c.ax + 8, c.ay + 14, "\u2212 " + c.label + "  (" + c.count + ")", "jf-cluster-label");
          t.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(c); });
          draw(c, depth + 1);
        } else {
          const g = el("g", { class: "jf-node" + (c.scope ? " jf-scope" : " kind-" + c.node.cat), transform: `translate(${c.ax},${c.ay})`,
            "data-id": c.id, "data-x": c.ax.toFixed(1), "data-y": c.ay.toFixed(1), "data-w": c.w.toFixed(1), "data-h": c.h.toFixed(1) }, ln);
          const r = el("rect", { width: c.w, height: c.h, rx: c.scope ? 8 : 4 }, g);
          if (c.scope) {
            text(g, c.w / 2, 16, c.label, "jf-title"); text(g, c.w / 2, 31, c.count + " ops  [+]", "jf-sub");
            g.addEventListener("dblclick", (ev) => { ev.stopPropagation(); toggle(c); });
          } else {
            const n = c.node;
            if (fused && n.group !== null) r.setAttribute("style", "fill:" + GROUP_COLORS[n.group % GROUP_COLORS.length]);
            text(g, c.w / 2, 14, n.kind + "  " + n.short, "jf-title");
            text(g, c.w / 2, 27, n.types.join(", ") + (n.group !== null ? `  \u00b7 group(${n.group})` : ""), "jf-sub");
          }
          const tip = el("title", {}, g); tip.textContent = c.scope ? c.path : (n => n.tf || n.id)(c.node);
          g.addEventListener("click", (ev) => { ev.stopPropagation(); select(c.id); });
        }
      }
    })(G.root, 0);
    for (const d of G.drawn.values()) {
      const mid = (d.lca.edgePoints.get(d.cu.id + ">" + d.cv.id) || []).map((p) => ({ x: p.x + d.lca.ax, y: p.y + d.lca.ay }));
      let pts;
      if (d.rv.ay >= d.ru.ay + d.ru.h) {          // downwards: bottom to top, leaving and entering clusters straight
        pts = [{ x: d.ru.ax + d.ru.w / 2, y: d.ru.ay + d.ru.h }];
        if (d.cu !== d.ru) pts.push({ x: pts[0].x, y: d.cu.ay + d.cu.h });
        pts.push(...mid);
        const end = { x: d.rv.ax + d.rv.w / 2, y: d.rv.ay };
        if (d.cv !== d.rv) pts.push({ x: end.x, y: d.cv.ay });
        pts.push(end);
      } else {                                     // against the flow (a cycle between scopes): side to side
        pts = [{ x: d.ru.ax + d.ru.w, y: d.ru.ay + d.ru.h / 2 }, ...mid, { x: d.rv.ax + d.rv.w, y: d.rv.ay + d.rv.h / 2 }];
      }
      el("path", { d: smooth(pts), class: "jf-edge" + (d.dashed ? " dashed" : ""), "data-from": d.ru.id, "data-to": d.rv.id,
        "stroke-width": Math.min(1 + Math.log2(d.count), 4), "marker-end": "url(#jf-arrow)" }, le);
    }
    highlight();
  }

  function smooth(p) {               // a curve through the points (Catmull-Rom as cubic Béziers)
    let d = `M${p[0].x.toFixed(1)},${p[0].y.toFixed(1)}`;
    for (let i = 0; i + 1 < p.length; i++) {
      const a = p[Math.max(0, i - 1)], b = p[i], c = p[i + 1], e = p[Math.min(p.length - 1, i + 2)];
      const c1 = { x: b.x + (c.x - a.x) / 6, y: b.y + (c.y - a.y) / 6 }, c2 = { x: c.x - (e.x - b.x) / 6, y: c.y - (e.y - b.y) / 6 };
      d += `C${c1.x.toFixed(1)},${c1.y.toFixed(1)} ${c2.x.toFixed(1)},${c2.y.toFixed(1)} ${c.x.toFixed(1)},${c.y.toFixed(1)}`;
    }
    return d;
  }

  // ------------------------------------------------------------------ view -----------
  function applyView() {
    const v = state.view, svg = $("jf-svg"), box = svg.getBoundingClientRect();
    svg.dataset.viewW = box.width.toFixed(0); svg.dataset.viewH = box.height.toFixed(0);  // for tests
    $("jf-viewport").setAttribute("transform", `translate(${v.x.toFixed(2)},${v.y.toFixed(2)}) scale(${v.k.toFixed(4)})`);
  }
  function fit() {
    state.centred = false;
    const box = $("jf-svg").getBoundingClientRect(), m = 16;
    const k = Math.min((box.width - 2 * m) / Math.max(G.root.w, 1), (box.height - 2 * m) / Math.max(G.root.h, 1), 1.5);
    state.view = { k: k, x: (box.width - G.root.w * k) / 2, y: Math.max(m, (box.height - G.root.h * k) / 2) };
    applyView();
  }
  function centre(item) {
    state.centred = true;
    const box = $("jf-svg").getBoundingClientRect();
    const k = Math.max(state.view.k, 0.9);
    state.view = { k: k, x: box.width / 2 - (item.ax + item.w / 2) * k, y: box.height / 2 - (item.ay + item.h / 2) * k };
    applyView();
  }
  function zoomAt(f, px, py) {
    const v = state.view, k = Math.min(Math.max(v.k * f, 0.02), 8);
    v.x = px - (px - v.x) * (k / v.k); v.y = py - (py - v.y) * (k / v.k); v.k = k;
    applyView();
  }
  function installPanZoom() {
    const svg = $("jf-svg");
    svg.addEventListener("wheel", (ev) => {
      ev.preventDefault();
      const b = svg.getBoundingClientRect();
      zoomAt(Math.exp(-ev.deltaY * (ev.deltaMode ? 0.05 : 0.0015)), ev.clientX - b.left, ev.clientY - b.top);
    }, { passive: false });
    let drag = null, moved = false;
    svg.addEventListener("pointerdown", (ev) => { moved = false; drag = { x: ev.clientX, y: ev.clientY, vx: state.view.x, vy: state.view.y, moved: false }; });
    window.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; svg.classList.add("panning"); }
      state.view.x = drag.vx + dx; state.view.y = drag.vy + dy; applyView();
    });
    window.addEventListener("pointerup", () => { moved = !!(drag && drag.moved); drag = null; svg.classList.remove("panning"); });
    svg.addEventListener("click", () => { if (!moved) select(null); });
  }

  // ------------------------------------------------------------------ interaction ----
  function toggle(s) {
    if (isOpen(s)) { state.expanded.delete(s.path); for (const p of [...state.expanded]) if (p.startsWith(s.path + "/")) state.expanded.delete(p); }
    else state.expanded.add(s.path);
    render(); syncHash();
  }
  function reveal(id) {              // expand the scopes around a leaf
    const leaf = G.leaves.get(id);
    if (!leaf) return null;
    let changed = false;
    for (const a of ancestors(leaf)) if (a.parent && !isOpen(a)) { state.expanded.add(a.path); changed = true; }
    if (changed) render();
    return leaf;
  }
  function select(id) {
    state.selected = id;
    const item = id === null ? null : (G.leaves.get(id) || G.scopes.get(id.slice(2)));
    fillPanel(item);
    highlight(); syncHash();
  }
  function highlight() {
    const sel = state.selected, users = sel ? new Set(G.users.get(sel) || []) : new Set();
    const leaf = sel ? G.leaves.get(sel) : null;
    const ins = new Set(leaf ? leaf.node.in.map((e) => e[0]) : []);
    const matches = new Set(searchMatches()), groups = new Set();
    if (leaf && leaf.node.group !== null) groups.add(leaf.node.group);
    const inside = new Set();
    for (const id of matches) { const l = G.leaves.get(id); const r = visibleRep(l); if (r !== l) inside.add(r.id); }
    document.querySelectorAll("#jf-viewport g.jf-node").forEach((g) => {
      const id = g.dataset.id, l = G.leaves.get(id);
      g.classList.toggle("selected", id === sel);
      g.classList.toggle("match", matches.has(id) || inside.has(id));
      g.classList.toggle("current", id === currentMatchId());
      g.classList.toggle("neighbour", users.has(id) || ins.has(id));
      g.classList.toggle("same-group", !!(l && groups.size && groups.has(l.node.group) && id !== sel));
    });
    document.querySelectorAll("#jf-viewport path.jf-edge").forEach((p) => {
      p.classList.toggle("hot", !!sel && (p.dataset.from === sel || p.dataset.to === sel));
    });
  }

  function searchMatches() {
    const q = state.query.trim().toLowerCase();
    if (!q) return [];
    const out = [];
    for (const [id, l] of G.leaves) {
      const n = l.node;
      if ([n.kind, n.tf, n.num, ...n.names].some((s) => s && s.toLowerCase().includes(q))) out.push(id);
    }
    return out;
  }
  function currentMatchId() { const m = searchMatches(); return m.length ? m[((state.match % m.length) + m.length) % m.length] : null; }
  function runSearch(step) {
    const m = searchMatches();
    state.match = step === 0 ? 0 : state.match + step;
    const id = currentMatchId();
    $("jf-count").textContent = state.query.trim() ? (m.length ? `${((state.match % m.length) + m.length) % m.length + 1} / ${m.length}` : "no match") : "";
    if (id) { const leaf = reveal(id); highlight(); centre(leaf); state.selected = id; fillPanel(leaf); highlight(); }
    else highlight();
    syncHash();
  }

  // ------------------------------------------------------------------ side panel -----
  function fillPanel(item) {
    const p = $("jf-panel");
    p.textContent = "";
    const h = (tag, s, cls) => { const e = document.createElement(tag); e.textContent = s; if (cls) e.className = cls; p.appendChild(e); return e; };
    const row = (k, v) => {
      const tr = document.createElement("div"); tr.className = "row";
      const a = document.createElement("span"); a.className = "k"; a.textContent = k; tr.appendChild(a);
      const b = document.createElement("span"); b.className = "v"; if (typeof v === "string") b.textContent = v; else b.appendChild(v);
      tr.appendChild(b); p.appendChild(tr); return tr;
    };
    const link = (id, label) => {
      const a = document.createElement("a"); a.href = "#"; a.textContent = label || id;
      a.addEventListener("click", (ev) => { ev.preventDefault(); const l = reveal(id); if (l) { centre(l); select(id); } });
      return a;
    };
    const list = (items) => { const d = document.createElement("div"); items.forEach((x) => { d.appendChild(x); d.appendChild(document.createElement("br")); }); return d; };
    if (!item) {
      h("h3", "No op selected");
      h("p", "Click an op for its details, a [+] box (double-click) or a cluster's title to open or close a name scope. Drag to pan, wheel to zoom; the search box finds ops by TF name, kind or value name.", "hint");
      p.dataset.selected = "";
      return;
    }
    p.dataset.selected = item.id;
    if (item.scope) {
      h("h3", item.path, "mono");
      row("name scope", item.count + " ops");
      const kinds = {};
      (function walk(s) { for (const c of s.children) c.scope ? walk(c) : (kinds[c.node.kind] = (kinds[c.node.kind] || 0) + 1); })(item);
      row("kinds", Object.entries(kinds).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(", "));
      const b = document.createElement("button"); b.textContent = isOpen(item) ? "collapse" : "expand";
      b.addEventListener("click", () => toggle(item)); p.appendChild(b);
      return;
    }
    const n = item.node;
    h("h3", n.kind, "kind");
    row("op type", n.kind);
    row("TF name", n.tf || "(none)");
    row("value", n.names.join(", ") + (n.num ? `  (${n.num} in the IR text)` : ""));
    n.types.forEach((t, i) => {
      const m = /^(\w+)(\[.*\])?$/.exec(t);
      row(n.types.length > 1 ? `result ${i}` : "result", m ? `dtype ${m[1]}, shape ${m[2] || "[] (scalar)"}` : t);
    });
    row("source", n.file ? `${n.file}:${n.line}` : "(not recorded)");
    if (n.group !== null) {
      const members = G.stage.graph.nodes.filter((o) => o.group === n.group).map((o) => link(o.id, o.kind + " " + o.short));
      row("fusion group", list([document.createTextNode(`group(${n.group}): ${members.length} ops run as one kernel`), ...members]));
    } else row("fusion group", G.stage.graph.nodes.some((o) => o.group !== null) ? "none (runs alone)" : "(not fused at this stage)");
    if (n.attrs.length) row("attributes", list(n.attrs.map((a) => document.createTextNode(a))));
    if (n.in.length) row("operands", list(n.in.map((e) => link(e[0], e[0] + (e[2] ? " (shape only)" : "")))));
    const us = G.users.get(n.id) || [];
    if (us.length) row("users", list(us.map((u) => link(u))));
    if (item.parent && item.parent.parent) row("name scope", item.parent.path);
    h("pre", n.ir, "ir");
  }

  // ------------------------------------------------------------------ stages, URL ----
  function showStage(i, keepView) {
    state.stage = i;
    const st = DATA.stages[i];
    $("jf-stage").value = String(i);
    document.querySelectorAll("section.stage").forEach((s) => s.classList.toggle("current", s.id === "stage-" + st.name));
    if (!st.graph) { $("jf-graph").classList.add("nograph"); $("jf-nograph").textContent = `${st.name} is not a graph: its text is below.`; return; }
    $("jf-graph").classList.remove("nograph");
    G = buildModel(st);
    $("jf-desc").textContent = `${st.graph.nodes.length} ops and values. ` + st.description;
    if (!keepView) render(), fit();
    else { render(); applyView(); }
    if (state.selected && !G.leaves.has(state.selected) && !G.scopes.has(state.selected.slice(2))) state.selected = null;
    fillPanel(state.selected ? (G.leaves.get(state.selected) || G.scopes.get(state.selected.slice(2))) : null);
    highlight();
  }
  function syncHash() {
    const parts = ["stage=" + encodeURIComponent(DATA.stages[state.stage].name)];
    if (state.selected) parts.push("select=" + encodeURIComponent(state.selected));
    if (state.query) parts.push("search=" + encodeURIComponent(state.query));
    try { history.replaceState(null, "", "#" + parts.join("&")); } catch (e) { /* file:// in some browsers */ }
  }
  function readHash() {
    const q = {};
    for (const kv of location.hash.replace(/^#/, "").split("&")) {
      if (!kv) continue;
      const i = kv.indexOf("=");
      q[decodeURIComponent(i < 0 ? kv : kv.slice(0, i))] = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
    }
    return q;
  }

  function main() {
    const sel = $("jf-stage");
    DATA.stages.forEach((s, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = s.name + (s.graph ? "" : " (text)"); sel.appendChild(o); });
    sel.addEventListener("change", () => { showStage(Number(sel.value), true); syncHash(); });
    installPanZoom();
    $("jf-fit").addEventListener("click", fit);
    $("jf-zin").addEventListener("click", () => { const b = $("jf-svg").getBoundingClientRect(); zoomAt(1.25, b.width / 2, b.height / 2); });
    $("jf-zout").addEventListener("click", () => { const b = $("jf-svg").getBoundingClientRect(); zoomAt(0.8, b.width / 2, b.height / 2); });
    $("jf-expand").addEventListener("click", () => { for (const p of G.scopes.keys()) if (p) state.expanded.add(p); render(); fit(); });
    $("jf-collapse").addEventListener("click", () => { state.expanded.clear(); render(); fit(); });
    const box = $("jf-search");
    box.addEventListener("input", () => { state.query = box.value; runSearch(0); });
    box.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); runSearch(ev.shiftKey ? -1 : 1); } });
    const q = readHash();
    let first = -1;                   // the last IR stage, as `dump-ir --stage` shows by default
    DATA.stages.forEach((s, i) => { if (s.graph) first = i; });
    const want = DATA.stages.findIndex((s) => s.name === q.stage);
    if (want >= 0) first = want;
    if (first < 0) first = 0;
    G = DATA.stages[first].graph ? buildModel(DATA.stages[first]) : null;
    if (G) {
      if (q.expand === "all") for (const p of G.scopes.keys()) { if (p) state.expanded.add(p); }
      else if (q.expand === "none") { /* every scope closed */ }
      else if (q.expand) q.expand.split(",").forEach((p) => state.expanded.add(p));
      else autoExpand();
    }
    if (q.select) state.selected = q.select;
    showStage(first, false);
    if (G && q.select) { const l = reveal(q.select) || G.scopes.get(q.select.slice(2)); if (l) { select(q.select); centre(l); } }
    if (G && q.search) { box.value = q.search; state.query = q.search; runSearch(0); }
    window.addEventListener("resize", () => {  // keep the focused op in the middle, else refit
      if (!G) return;
      const f = state.selected && (G.leaves.get(state.selected) || G.scopes.get(state.selected.slice(2)));
      if (f && f.ax !== undefined && state.centred) centre(f); else fit();
    });
    document.body.dataset.jfReady = "1";
  }
  try { main(); } catch (e) { document.body.dataset.jfError = String(e && e.stack || e); throw e; }
})();
