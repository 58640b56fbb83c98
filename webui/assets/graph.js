// The dependency graph as SVG: the graph API's layers left to right, the
// critical path drawn thick, blocked WPs dashed.
const NS = 'http://www.w3.org/2000/svg';
const W = 150;
const H = 34;
const GX = 60;
const GY = 14;

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

export function renderGraph(layers, critical, edges, open) {
  const box = document.createElement('div');
  box.className = 'graph';
  const cols = layers.layers || [];
  if (cols.length === 0) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'No open work packages.';
    box.append(p);
    return box;
  }
  const path = (critical.path || []).map((n) => n.key);
  const onPath = new Set(path);
  const critEdge = new Set(path.slice(1).map((k, i) => `${k}>${path[i]}`));
  const pos = new Map();
  cols.forEach((col, x) => col.forEach((n, y) => pos.set(n.key, { x: 10 + x * (W + GX), y: 10 + y * (H + GY), n })));
  const width = 20 + cols.length * (W + GX) - GX;
  const height = 20 + Math.max(...cols.map((c) => c.length)) * (H + GY) - GY;
  const svg = s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-labelledby': 'graph-title' },
    s('title', { id: 'graph-title' }, `Dependency graph: ${pos.size} open work packages in ${cols.length} layers; critical path ${path.join(' → ') || 'empty'}`));
  for (const e of edges) {
    const a = pos.get(e.to); // the WP waited on, to the left
    const b = pos.get(e.from);
    if (!a || !b) continue;
    const x1 = a.x + W; const y1 = a.y + H / 2; const x2 = b.x; const y2 = b.y + H / 2;
    const mx = (x1 + x2) / 2;
    svg.append(s('path', { class: critEdge.has(`${e.from}>${e.to}`) ? 'edge critical' : 'edge', d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` }));
  }
  for (const { x, y, n } of pos.values()) {
    const cls = ['node', onPath.has(n.key) ? 'critical' : '', n.state === 'blocked' ? 'blocked' : ''].filter(Boolean).join(' ');
    const g = s('g', { class: cls, tabindex: '0', role: 'link', 'data-key': n.key,
      'aria-label': `${n.key}, ${n.state}${onPath.has(n.key) ? ', on the critical path' : ''}` },
    s('rect', { x, y, width: W, height: H, rx: 6 }),
    s('text', { x: x + 8, y: y + H / 2 + 4 }, `${n.key} · ${n.state}`));
    g.addEventListener('click', () => open(n.key));
    g.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(n.key); });
    svg.append(g);
  }
  box.append(svg);
  return box;
}
