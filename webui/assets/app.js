// The web board: a client of the HTTP API, routed by the URL's hash.
import { get, post, del, listAll, follow, setCSRF, APIError } from './api.js';
import { renderGraph } from './graph.js';

export const STATES = ['planned', 'doing', 'review', 'done', 'blocked'];

const main = document.getElementById('main');
const notice = document.getElementById('notice');
let session = null;
let stopFeed = null;
let refreshView = null; // re-reads the data of the page shown, keeping its forms

// h builds an element; text is always text, never markup.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  main.replaceChildren(...nodes);
  main.setAttribute('aria-busy', 'false');
}

function say(msg) {
  notice.textContent = msg;
  clearTimeout(say.t);
  say.t = setTimeout(() => { notice.textContent = ''; }, 8000);
}

function errorBox(e) {
  return h('p', { class: 'error', role: 'alert' }, e instanceof APIError ? e.message : String(e));
}

function when(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? t : d.toLocaleString();
}

function stateBadge(s) { return h('span', { class: 'state' }, s); }

// act runs a change and says what the API answered when it refuses.
async function act(fn, into) {
  try {
    const r = await fn();
    if (into) into.replaceChildren();
    await refresh();
    return r;
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return signInPage();
    if (into) into.replaceChildren(errorBox(e));
    else say(e.message);
    return undefined;
  }
}

function field(form, name) { return form.elements[name].value.trim(); }

let uid = 0;
function labelled(text, input) {
  const id = input.id || `f${++uid}`;
  input.id = id;
  return h('label', { for: id }, text, input);
}

// ---------- session ----------

async function loadSession() {
  session = await get('/ui/session');
  setCSRF(session.csrf);
  const who = document.getElementById('who');
  const out = document.getElementById('signout');
  if (session.auth === 'off') {
    who.textContent = 'No authentication on this server';
    out.hidden = true;
  } else if (session.signed_in) {
    who.textContent = `${session.name} (${session.scope})`;
    out.hidden = false;
  } else {
    who.textContent = '';
    out.hidden = true;
  }
  return session;
}

function signInPage(message) {
  // Nothing may redraw the page under the form: no view, no feed.
  refreshView = null;
  clearTimeout(pending);
  if (stopFeed) { stopFeed(); stopFeed = null; }
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  const err = h('div');
  if (message) err.append(h('p', { class: 'error', role: 'alert' }, message));
  const form = h('form', { class: 'row', id: 'signin', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await post('/ui/signin', { token: field(form, 'token') });
      await start();
    } catch (e) {
      err.replaceChildren(errorBox(e));
    }
  } },
  labelled('API key', h('input', { name: 'token', type: 'password', autocomplete: 'off', required: true, size: 40 })),
  h('button', { type: 'submit' }, 'Sign in'));
  show(h('h1', {}, 'Sign in'),
    h('p', {}, 'Run agileplus board for a sign-in link, or sign in with an API key (agileplus key create). The key stays on the server; this browser gets a session.'),
    err, form);
  form.elements.token.focus();
}

document.getElementById('signout').addEventListener('click', async () => {
  try { await post('/ui/signout'); } catch (e) { say(e.message); }
  setCSRF('');
  signInPage('Signed out.');
});

// ---------- pages ----------

async function projectsPage() {
  const list = h('div');
  const err = h('div');
  const form = h('form', { class: 'row', onsubmit: (ev) => {
    ev.preventDefault();
    act(() => post('/v1/projects', { key: field(form, 'key'), name: field(form, 'name') }), err)
      .then((p) => { if (p) form.reset(); });
  } },
  labelled('Key', h('input', { name: 'key', required: true, placeholder: 'CORE', size: 10 })),
  labelled('Name', h('input', { name: 'name', required: true })),
  h('button', { type: 'submit' }, 'Create project'));
  show(h('h1', {}, 'Projects'), list, h('h2', {}, 'New project'), err, form);
  refreshView = async () => {
    const ps = await listAll('/v1/projects');
    list.replaceChildren(ps.length === 0 ? h('p', { class: 'muted' }, 'No projects yet.')
      : h('ul', {}, ps.map((p) => h('li', {}, h('a', { href: `#/p/${p.key}` }, `${p.key} · ${p.name}`),
        ' ', h('a', { href: `#/graph/${p.key}`, class: 'muted' }, 'graph')))));
  };
  await refreshView();
}

function card(wp, featureSlug) {
  const move = h('select', { 'aria-label': `Move ${wp.key} to`, 'data-move': wp.key, onchange: (ev) => {
    const to = ev.target.value;
    ev.target.value = '';
    if (to) moveWP(wp, to);
  } }, h('option', { value: '' }, 'Move to…'), STATES.filter((s) => s !== wp.state).map((s) => h('option', { value: s }, s)));
  const claim = wp.lease
    ? h('div', { class: 'claim' }, `claimed by ${wp.lease.agent} until ${when(wp.lease.expires_at)}`)
    : null;
  return h('li', { class: 'card', tabindex: '0', 'data-id': wp.id, 'data-key': wp.key, 'data-state': wp.state,
    'aria-label': `${wp.key} ${wp.title}, ${wp.state}${wp.lease ? ', claimed by ' + wp.lease.agent : ''}`,
    onkeydown: (ev) => cardKey(ev, wp) },
  h('a', { href: `#/wp/${wp.key}`, class: 'key', tabindex: '-1' }, wp.key), ' ', wp.title,
  featureSlug ? h('div', { class: 'muted' }, featureSlug) : null,
  claim, move);
}

// cardKey: arrows move the focus between cards, Shift+arrows move the WP
// to the state beside, Enter opens it.
function cardKey(ev, wp) {
  const el = ev.currentTarget;
  if (ev.target !== el) return;
  const col = STATES.indexOf(wp.state);
  if (ev.key === 'Enter') { location.hash = `#/wp/${wp.key}`; ev.preventDefault(); return; }
  if (ev.shiftKey && (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft')) {
    const to = STATES[col + (ev.key === 'ArrowRight' ? 1 : -1)];
    if (to) moveWP(wp, to);
    ev.preventDefault();
    return;
  }
  let target = null;
  if (ev.key === 'ArrowDown') target = el.nextElementSibling;
  if (ev.key === 'ArrowUp') target = el.previousElementSibling;
  if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
    for (let c = col + (ev.key === 'ArrowRight' ? 1 : -1); c >= 0 && c < STATES.length && !target; c += ev.key === 'ArrowRight' ? 1 : -1) {
      target = document.querySelector(`.column[data-state="${STATES[c]}"] .card`);
    }
  }
  if (target) { target.focus(); ev.preventDefault(); }
}

let moveErr = null; // where the project page shows a refused move

async function moveWP(wp, to, force = false, reason = '') {
  const body = { to };
  if (force) { body.force = true; body.reason = reason; }
  if (wp.lease) body.token = wp.lease.token;
  try {
    await post(`/v1/wps/${wp.id}/transition`, body, { 'If-Match': `"${wp.version}"` });
    if (moveErr) moveErr.replaceChildren();
    await refresh();
    const again = document.querySelector(`.card[data-id="${wp.id}"]`);
    if (again) again.focus();
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return signInPage();
    refused(wp, to, e);
  }
}

// refused shows the API's message and offers to force with a reason.
function refused(wp, to, e) {
  const box = moveErr && moveErr.isConnected ? moveErr : null;
  if (!box) { say(e.message); return; }
  const form = h('form', { class: 'row', id: 'force', onsubmit: (ev) => {
    ev.preventDefault();
    moveWP(wp, to, true, field(form, 'reason'));
  } },
  labelled(`Reason to force ${wp.key} to ${to}`, h('input', { name: 'reason', required: true, size: 40 })),
  h('button', { type: 'submit' }, 'Force'),
  h('button', { type: 'button', class: 'secondary', onclick: () => box.replaceChildren() }, 'Cancel'));
  box.replaceChildren(h('p', { class: 'error', role: 'alert', id: 'refusal' }, `${wp.key} → ${to}: ${e.message}`), form);
  form.elements.reason.focus();
}

async function projectPage(key) {
  const project = await get(`/v1/projects/${encodeURIComponent(key)}`);
  const featuresBox = h('div');
  const boardBox = h('div');
  const err = h('div');
  moveErr = h('div', { id: 'move-result' });
  const featureFilter = h('select', { name: 'feature', onchange: () => drawBoard() }, h('option', { value: '' }, 'All features'));
  const textFilter = h('input', { type: 'search', name: 'q', oninput: () => drawBoard() });
  const agentFilter = h('input', { type: 'search', name: 'agent', oninput: () => drawBoard() });
  const wpFeature = h('select', { name: 'feature', required: true });
  let features = [];
  let wps = [];

  const featureForm = h('form', { class: 'row', id: 'new-feature', onsubmit: (ev) => {
    ev.preventDefault();
    act(() => post(`/v1/projects/${project.key}/features`, { slug: field(featureForm, 'slug'), title: field(featureForm, 'title') }), err)
      .then((f) => { if (f) featureForm.reset(); });
  } },
  labelled('Slug', h('input', { name: 'slug', required: true, placeholder: 'login-page' })),
  labelled('Title', h('input', { name: 'title', required: true })),
  h('button', { type: 'submit' }, 'Create feature'));

  const wpForm = h('form', { class: 'row', id: 'new-wp', onsubmit: (ev) => {
    ev.preventDefault();
    const est = field(wpForm, 'estimate');
    const body = { title: field(wpForm, 'title') };
    if (est !== '') body.estimate = Number(est);
    act(() => post(`/v1/features/${encodeURIComponent(wpFeature.value)}/wps`, body), err)
      .then((w) => { if (w) { wpForm.elements.title.value = ''; } });
  } },
  labelled('Feature', wpFeature),
  labelled('Title', h('input', { name: 'title', required: true })),
  labelled('Estimate (hours)', h('input', { name: 'estimate', type: 'number', min: '0', step: 'any', size: 6 })),
  h('button', { type: 'submit' }, 'Create WP'));

  function drawBoard() {
    const f = featureFilter.value;
    const q = textFilter.value.trim().toLowerCase();
    const agent = agentFilter.value.trim().toLowerCase();
    const slug = Object.fromEntries(features.map((x) => [x.id, x.slug]));
    const shown = wps.filter((w) => (!f || w.feature_id === f)
      && (!q || `${w.key} ${w.title} ${w.description || ''}`.toLowerCase().includes(q))
      && (!agent || (w.lease && w.lease.agent.toLowerCase().includes(agent)) || (w.owner || '').toLowerCase().includes(agent)));
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.id : '';
    boardBox.replaceChildren(h('div', { class: 'columns' }, STATES.map((s) => {
      const mine = shown.filter((w) => w.state === s);
      return h('section', { class: 'column', 'data-state': s, 'aria-labelledby': `col-${s}` },
        h('h3', { id: `col-${s}` }, `${s} (${mine.length})`),
        h('ol', {}, mine.map((w) => card(w, f ? '' : slug[w.feature_id]))));
    })));
    if (focused) {
      const again = boardBox.querySelector(`.card[data-id="${focused}"]`);
      if (again) again.focus();
    }
  }

  show(h('h1', {}, `${project.key} · ${project.name}`),
    h('p', {}, h('a', { href: `#/graph/${project.key}` }, 'Dependency graph')),
    h('h2', {}, 'Features'), featuresBox, featureForm,
    h('h2', {}, 'Board'),
    h('div', { class: 'filters', role: 'search' }, labelled('Feature', featureFilter), labelled('Text', textFilter), labelled('Agent', agentFilter)),
    h('p', { class: 'muted' }, 'Keys on a card: arrows move between cards, Shift+arrow moves the WP to the state beside, Enter opens it.'),
    moveErr, boardBox,
    h('h2', {}, 'New work package'), err, wpForm);

  refreshView = async () => {
    [features, wps] = await Promise.all([
      listAll(`/v1/projects/${project.key}/features`),
      listAll(`/v1/wps?project=${project.key}`),
    ]);
    const count = (fid, st) => wps.filter((w) => w.feature_id === fid && (!st || w.state === st)).length;
    featuresBox.replaceChildren(features.length === 0 ? h('p', { class: 'muted' }, 'No features yet.')
      : h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Feature'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'WPs done'))),
        h('tbody', {}, features.map((f) => h('tr', { 'data-slug': f.slug }, h('td', {}, `${f.slug} · ${f.title}`), h('td', {}, stateBadge(f.state)), h('td', {}, `${count(f.id, 'done')} / ${count(f.id)}`))))));
    for (const sel of [featureFilter, wpFeature]) {
      const keep = sel.value;
      const opts = features.map((f) => h('option', { value: sel === featureFilter ? f.id : f.slug }, f.slug));
      sel.replaceChildren(...(sel === featureFilter ? [h('option', { value: '' }, 'All features')] : []), ...opts);
      sel.value = keep || (sel === wpFeature && features.length ? features[features.length - 1].slug : '');
    }
    drawBoard();
  };
  await refreshView();
}

async function wpPage(ref) {
  const details = h('div');
  const deps = h('div');
  const history = h('div');
  const err = h('div', { id: 'wp-result' });
  let wp = await get(`/v1/wps/${encodeURIComponent(ref)}`);

  const moveTo = h('select', { name: 'to' }, STATES.map((s) => h('option', { value: s }, s)));
  const moveForm = h('form', { class: 'row', id: 'move', onsubmit: (ev) => {
    ev.preventDefault();
    const body = { to: moveTo.value };
    if (moveForm.elements.force.checked) { body.force = true; body.reason = field(moveForm, 'reason'); }
    if (wp.lease) body.token = wp.lease.token;
    act(() => post(`/v1/wps/${wp.id}/transition`, body, { 'If-Match': `"${wp.version}"` }), err);
  } },
  labelled('Move to', moveTo),
  h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'force' }), 'Force'),
  labelled('Reason (needed to force)', h('input', { name: 'reason', size: 30 })),
  h('button', { type: 'submit' }, 'Move'));

  const claimForm = h('form', { class: 'row', id: 'claim', onsubmit: (ev) => {
    ev.preventDefault();
    const mins = Number(field(claimForm, 'minutes') || '15');
    act(() => post(`/v1/wps/${wp.id}/claim`, { agent: field(claimForm, 'agent'), ttl_seconds: Math.round(mins * 60) }), err);
  } },
  labelled('Agent', h('input', { name: 'agent', required: true, value: (session && session.name) || '' })),
  labelled('Minutes', h('input', { name: 'minutes', type: 'number', min: '1', value: '15', size: 5 })),
  h('button', { type: 'submit' }, 'Claim'));
  const release = h('button', { type: 'button', id: 'release', onclick: () => act(() => del(`/v1/wps/${wp.id}/claim?token=${wp.lease.token}`), err) }, 'Release claim');

  const depForm = h('form', { class: 'row', id: 'add-dep', onsubmit: (ev) => {
    ev.preventDefault();
    act(() => post('/v1/dependencies', { from: wp.key, to: field(depForm, 'to'), kind: depForm.elements.kind.value }), err)
      .then((d) => { if (d) depForm.elements.to.value = ''; });
  } },
  labelled('Kind', h('select', { name: 'kind' }, h('option', { value: 'depends_on' }, 'depends on'), h('option', { value: 'blocks' }, 'blocks'), h('option', { value: 'relates_to' }, 'relates to'))),
  labelled('Work package', h('input', { name: 'to', required: true, placeholder: 'CORE-2', size: 12 })),
  h('button', { type: 'submit' }, 'Add dependency'));

  const claimBox = h('div');
  show(h('p', {}, h('a', { href: `#/p/${wp.project_key}` }, `← ${wp.project_key} board`)),
    details, err,
    h('h2', {}, 'Move'), moveForm,
    h('h2', {}, 'Claim'), claimBox,
    h('h2', {}, 'Dependencies'), deps, depForm,
    h('h2', {}, 'History'), history);

  refreshView = async () => {
    wp = await get(`/v1/wps/${wp.id}`);
    const [edges, events] = await Promise.all([
      get(`/v1/wps/${wp.id}/dependencies`),
      get(`/v1/events?entity=${wp.id}&limit=200`),
    ]);
    details.replaceChildren(h('h1', {}, `${wp.key} · ${wp.title}`),
      h('p', {}, 'State ', stateBadge(wp.state), ` · priority ${wp.priority} · estimate ${wp.estimate} h`, wp.owner ? ` · owner ${wp.owner}` : ''),
      wp.description ? h('p', { class: 'desc' }, wp.description) : h('p', { class: 'muted' }, 'No description.'),
      (wp.references || []).length ? h('ul', {}, wp.references.map((r) => h('li', {}, r.url || `${r.repo || ''} ${r.sha || ''}`))) : '');
    claimBox.replaceChildren(wp.lease
      ? h('div', {}, h('p', { id: 'claim-holder' }, `Claimed by ${wp.lease.agent} until ${when(wp.lease.expires_at)} (token ${wp.lease.token})`), release)
      : h('div', {}, h('p', { class: 'muted', id: 'claim-holder' }, 'Not claimed.'), claimForm));
    const items = edges.items || [];
    const group = (dir, title) => {
      const mine = items.filter((e) => e.direction === dir);
      return h('div', {}, h('h3', {}, title),
        mine.length === 0 ? h('p', { class: 'muted' }, 'None.')
          : h('ul', { 'data-direction': dir }, mine.map((e) => h('li', {},
            h('a', { href: `#/wp/${e.other_key}` }, e.other_key), ' ', stateBadge(e.other_state), ' ',
            h('button', { type: 'button', class: 'secondary', 'aria-label': `Remove dependency on ${e.other_key}`,
              onclick: () => act(() => del(`/v1/dependencies/${e.id}`), err) }, 'Remove')))));
    };
    deps.replaceChildren(group('depends_on', 'Waits on'), group('blocks', 'Blocks'), group('relates_to', 'Relates to'));
    const evs = (events.items || []).slice().reverse();
    history.replaceChildren(evs.length === 0 ? h('p', { class: 'muted' }, 'No events.')
      : h('ol', { reversed: true }, evs.map((e) => h('li', {}, h('time', { datetime: e.time }, when(e.time)), ` ${e.type} by ${e.actor}`))));
    moveTo.value = STATES.find((s) => s !== wp.state);
  };
  await refreshView();
}

async function healthPage() {
  const box = h('div');
  show(h('h1', {}, 'Health'), box);
  refreshView = async () => {
    const res = await fetch('/ready', { headers: { Accept: 'application/json' } });
    const r = await res.json();
    box.replaceChildren(h('p', { id: 'ready-status' }, `Status: ${r.status} (HTTP ${res.status})`),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Check'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Detail'))),
        h('tbody', {}, Object.entries(r.checks || {}).sort().map(([name, c]) => h('tr', { 'data-check': name },
          h('td', {}, name), h('td', {}, c.status), h('td', {}, [c.error, c.detail ? JSON.stringify(c.detail) : ''].filter(Boolean).join(' ')))))));
  };
  await refreshView();
}

async function graphPage(key) {
  const box = h('div');
  show(h('p', {}, h('a', { href: `#/p/${key}` }, `← ${key} board`)), h('h1', {}, `${key} · dependency graph`),
    h('p', { class: 'legend' }, h('span', {}, 'Layers run left to right: a WP starts once the layers before it are done.'),
      h('span', {}, 'Thick orange: the critical path. Dashed: blocked.')), box);
  refreshView = async () => {
    const [layers, critical, wps] = await Promise.all([
      get(`/v1/graph/layers?project=${key}`),
      get(`/v1/graph/critical-path?project=${key}&limit=1`),
      listAll(`/v1/wps?project=${key}`),
    ]);
    const edges = [];
    await Promise.all(wps.filter((w) => w.state !== 'done').map(async (w) => {
      const d = await get(`/v1/wps/${w.id}/dependencies`);
      for (const e of d.items || []) if (e.direction === 'depends_on') edges.push({ from: w.key, to: e.other_key });
    }));
    box.replaceChildren(renderGraph(layers, critical, edges, (k) => { location.hash = `#/wp/${k}`; }));
  };
  await refreshView();
}

// ---------- routing and the live feed ----------

async function route() {
  refreshView = null;
  moveErr = null;
  main.setAttribute('aria-busy', 'true');
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  try {
    if (parts[0] === 'p' && parts[1]) await projectPage(parts[1]);
    else if (parts[0] === 'wp' && parts[1]) await wpPage(parts[1]);
    else if (parts[0] === 'health') await healthPage();
    else if (parts[0] === 'graph' && parts[1]) await graphPage(parts[1]);
    else await projectsPage();
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return signInPage('Your session ended: sign in again.');
    show(h('h1', {}, 'Something went wrong'), errorBox(e));
  }
  main.focus();
}

let pending = null;
async function refresh() {
  if (!refreshView) return;
  try {
    await refreshView();
  } catch (e) {
    if (e instanceof APIError && e.status === 401) signInPage('Your session ended: sign in again.');
  }
}

function scheduleRefresh() {
  clearTimeout(pending);
  pending = setTimeout(refresh, 100);
}

function startFeed() {
  const list = document.getElementById('feed');
  const status = document.getElementById('feed-status');
  stopFeed = follow((ev) => {
    const subject = ev.entitykind ? `${ev.entitykind} ${ev.entityid}` : ev.subject;
    list.prepend(h('li', { 'data-type': ev.type }, h('time', { datetime: ev.time }, new Date(ev.time).toLocaleTimeString()), ' ',
      ev.type.replace(/^dev\.agileplus\./, ''), ' ', h('span', { class: 'muted' }, `${ev.project || ''} ${subject} by ${ev.actor || '?'}`)));
    while (list.children.length > 30) list.lastElementChild.remove();
    scheduleRefresh();
  }, (s) => { status.textContent = s; });
}

// signInCode spends the one-time code of a link agileplus board made
// (#signin=CODE) and takes it out of the address, so neither history nor
// a bookmark keeps it; the code never left the browser but in this POST.
async function signInCode() {
  const m = location.hash.match(/^#signin=([A-Za-z0-9_-]+)$/);
  if (!m) return null;
  history.replaceState(null, '', location.pathname + location.search);
  try {
    await post('/ui/signin', { code: m[1] });
    return null;
  } catch (e) {
    return e.message;
  }
}

async function start() {
  const refused = await signInCode();
  let s;
  try {
    s = await loadSession();
  } catch (e) {
    show(h('h1', {}, 'The server cannot be reached'), errorBox(e));
    return;
  }
  if (!s.signed_in) return signInPage(refused);
  if (!stopFeed) startFeed();
  await route();
}

window.addEventListener('hashchange', () => {
  // A sign-in link opened in a tab that shows the board already.
  if (location.hash.startsWith('#signin=')) start();
  else if (session && session.signed_in) route();
});
start();
