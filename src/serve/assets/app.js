// doralens dashboard: reads serve's APIs and draws them. Every number shown
// is a value an API answered (formatted for people; the raw JSON value is in
// each element's data-value). The view's state lives in the URL.
'use strict';

const TOKEN_KEY = 'doralens-token';
const DAY = 86400000;
const LIST_LIMIT = 100;
const state = {};
const panels = {};
let catalogue = [];
let loadSeq = 0;
let filtersLoaded = false;

// ---------- small helpers ----------

function el(tag, attrs, ...children) {
  const svg = ['svg', 'g', 'line', 'polyline', 'circle', 'text', 'title', 'rect'].includes(tag);
  const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function metricAttrs(column, value) {
  return { 'data-metric': column, 'data-value': JSON.stringify(value === undefined ? null : value) };
}

function isoDate(ms) { return new Date(ms).toISOString().slice(0, 10); }

function todayMs() { const d = new Date(); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()); }

function duration(s) {
  if (s === null || s === undefined) return '–';
  if (s === 0) return '0';
  const a = Math.abs(s);
  if (a < 3600) return (s / 60).toFixed(a < 600 ? 1 : 0) + ' min';
  if (a < 2 * 86400) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}

function format(unit, v) {
  if (v === null || v === undefined) return '–';
  switch (unit) {
    case 'seconds': return duration(v);
    case 'ratio': return (v * 100).toFixed(1) + '%';
    case 'perday': return Number(v.toPrecision(3)) + '/day';
    default: return String(v);
  }
}

function formatDelta(unit, d) {
  if (d === null || d === undefined) return '–';
  const sign = d > 0 ? '+' : d < 0 ? '−' : '±';
  const a = Math.abs(d);
  if (unit === 'ratio') return sign + (a * 100).toFixed(1) + ' pp';
  return sign + format(unit, a);
}

function minute(iso) { return iso ? iso.slice(0, 16).replace('T', ' ') : '–'; }

// ---------- state and URL ----------

function presetDates(range) {
  const end = todayMs() + DAY;
  const t = new Date(todayMs());
  if (range === 'quarter') {
    return [Date.UTC(t.getUTCFullYear(), Math.floor(t.getUTCMonth() / 3) * 3, 1), end];
  }
  if (range === 'year') return [Date.UTC(t.getUTCFullYear(), 0, 1), end];
  return [end - Number(range) * DAY, end];
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of ['team', 'service', 'repo', 'only', 'sort', 'explain']) state[k] = q.get(k) || '';
  state.interval = ['day', 'week', 'month'].includes(q.get('interval')) ? q.get('interval') : 'week';
  state.benchmark = q.get('benchmark') || 'dora-2023';
  const from = q.get('from'), to = q.get('to');
  let range = q.get('range') || (from && to ? 'custom' : '90');
  if (!['7', '30', '90', 'quarter', 'year', 'custom'].includes(range)) range = '90';
  state.range = range;
  if (range === 'custom' && from && to) {
    state.from = from; state.to = to;
  } else {
    if (range === 'custom') state.range = '90';
    const [f, t] = presetDates(state.range);
    state.from = isoDate(f); state.to = isoDate(t);
  }
}

function writeUrl(push) {
  const q = new URLSearchParams();
  for (const k of ['team', 'service', 'repo']) if (state[k]) q.set(k, state[k]);
  q.set('range', state.range);
  if (state.range === 'custom') { q.set('from', state.from); q.set('to', state.to); }
  q.set('interval', state.interval);
  if (state.benchmark !== 'dora-2023') q.set('benchmark', state.benchmark);
  for (const k of ['only', 'sort', 'explain']) if (state[k]) q.set(k, state[k]);
  const url = location.pathname + '?' + q.toString();
  if (push) history.pushState(null, '', url); else history.replaceState(null, '', url);
}

function filterParams(extra) {
  const q = new URLSearchParams({ from: state.from, to: state.to, benchmark: state.benchmark });
  for (const k of ['team', 'service', 'repo']) if (state[k]) q.set(k, state[k]);
  for (const [k, v] of Object.entries(extra || {})) if (v) q.set(k, v);
  return q.toString();
}

// ---------- API ----------

class Unauthorized extends Error {}

async function api(path, query) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = 'Bearer ' + token;
  const response = await fetch(path + (query ? '?' + query : ''), { headers });
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (response.status === 401) throw new Unauthorized(body && body.message || 'a token is needed');
  if (!response.ok) throw new Error((body && body.message) || response.status + ' ' + response.statusText);
  return body;
}

// ---------- exports ----------

function download(name, blob) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function csv(rows) {
  if (!rows || !rows.length) return '';
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

function exportCsv(name) {
  download(`doralens-${name}-${state.from}-${state.to}.csv`, new Blob([csv(panels[name] || [])], { type: 'text/csv' }));
}

function svgText(svg) {
  const copy = svg.cloneNode(true);
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  return new XMLSerializer().serializeToString(copy);
}

function exportSvg(svg, name) {
  download(name + '.svg', new Blob([svgText(svg)], { type: 'image/svg+xml' }));
}

function exportPng(svg, name) {
  const box = svg.viewBox.baseVal;
  const img = new Image();
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: 'image/svg+xml' }));
  img.onload = () => {
    const canvas = el('canvas', { width: box.width * 2, height: box.height * 2 });
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => download(name + '.png', blob), 'image/png');
  };
  img.src = url;
}

// ---------- panels ----------

function section(name) { return document.querySelector(`[data-panel="${name}"]`); }

function renderTiles(answer) {
  const row = answer.rows[0] || {};
  const previous = (answer.previous || [])[0] || {};
  const change = answer.change || {};
  const days = Math.round((Date.parse(state.to) - Date.parse(state.from)) / DAY);
  section('tiles').querySelector('#tiles-window').textContent =
    `${state.from} to ${state.to} (exclusive), ${days} days; change against the ${days} days before.`;
  // DORA 2025 scores (0-10, 10 best) beside the levels, with the 2025 averages.
  const scores = answer.scores || [];
  const scoreText = (s) => `${s.score === null ? '–' : s.score.toFixed(1)} / 10` +
    (s.average === null ? '' : ` (2025 average ${s.average.toFixed(1)} ± ${s.std.toFixed(1)})`);
  section('tiles').querySelector('#tiles-scores').replaceChildren(...scores.filter((s) => !s.metric).flatMap((s, i) => [
    i ? ' · ' : 'DORA 2025 scores: ',
    el('span', { 'data-score': s.column, 'data-value': JSON.stringify(s.score) }, `${s.title} ${scoreText(s)}`)]));
  const tiles = catalogue.map((m) => {
    const value = row[m.column];
    const score = scores.find((s) => s.metric === m.column);
    const better = change[m.column] === null || change[m.column] === undefined || change[m.column] === 0 ||
      m.higher_is_better === null ? '' : ((change[m.column] > 0) === m.higher_is_better ? 'better' : 'worse');
    return el('article', { class: 'tile', ...metricAttrs(m.column, value) },
      el('h3', {}, m.title),
      el('p', { class: 'value' }, format(m.unit, value)),
      m.level ? el('p', { class: 'level level-' + (row[m.level] || 'none'), ...metricAttrs(m.level, row[m.level]) },
        row[m.level] ? `${row[m.level]} (${state.benchmark})` : 'no level') : null,
      score ? el('p', { class: 'detail', 'data-score': score.column, 'data-value': JSON.stringify(score.score) },
        `DORA 2025 score ${scoreText(score)}`) : null,
      el('p', { class: 'detail' }, 'n = ', el('span', metricAttrs(m.sample, row[m.sample]), row[m.sample] ?? '–'),
        ` ${m.sample.replace(/_/g, ' ')}`),
      m.interval ? el('p', { class: 'detail' }, '95% interval ',
        el('span', metricAttrs(m.interval[0], row[m.interval[0]]), format(m.unit, row[m.interval[0]])), ' – ',
        el('span', metricAttrs(m.interval[1], row[m.interval[1]]), format(m.unit, row[m.interval[1]]))) : null,
      el('p', { class: 'change ' + better },
        el('span', { 'data-change': m.column, 'data-value': JSON.stringify(change[m.column] ?? null) },
          formatDelta(m.unit, change[m.column])),
        ' vs previous (', el('span', { 'data-previous': m.column, 'data-value': JSON.stringify(previous[m.column] ?? null) },
          format(m.unit, previous[m.column])), ')', better ? ` — ${better}` : ''));
  });
  section('tiles').querySelector('.tiles').replaceChildren(...tiles);
  panels.tiles = [...answer.rows.map((r) => ({ period: 'current', ...r })), ...(answer.previous || []).map((r) => ({ period: 'previous', ...r }))];
}

function chart(m, rows) {
  const W = 360, H = 200, L = 56, R = 12, T = 14, B = 34;
  const values = rows.map((r) => r[m.column]);
  const max = Math.max(0, ...values.filter((v) => v !== null && v !== undefined));
  const top = max > 0 ? max * 1.1 : 1;
  const x = (i) => L + (rows.length < 2 ? (W - L - R) / 2 : (i * (W - L - R)) / (rows.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': `${m.title} per ${state.interval}` });
  for (const f of [0, 0.5, 1]) {
    const v = top * f;
    svg.append(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#d0d0d0', 'stroke-width': 1 }),
      el('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#333' }, format(m.unit, v)));
  }
  const ticks = rows.length <= 3 ? rows.map((_, i) => i) : [0, Math.floor((rows.length - 1) / 2), rows.length - 1];
  for (const i of ticks) {
    svg.append(el('text', { x: x(i), y: H - 12, 'text-anchor': i === 0 ? 'start' : i === rows.length - 1 ? 'end' : 'middle', 'font-size': 11, fill: '#333' },
      (rows[i].interval_start || '').slice(0, 10)));
  }
  let run = [];
  const flush = () => {
    if (run.length > 1) svg.append(el('polyline', { points: run.join(' '), fill: 'none', stroke: '#0b5cad', 'stroke-width': 2 }));
    run = [];
  };
  rows.forEach((r, i) => {
    const v = r[m.column];
    if (v === null || v === undefined) { flush(); return; }
    run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    svg.append(el('circle', { cx: x(i), cy: y(v), r: 3, fill: '#0b5cad', ...metricAttrs(m.column, v), 'data-interval-start': r.interval_start },
      el('title', {}, `${(r.interval_start || '').slice(0, 10)}: ${format(m.unit, v)}`)));
  });
  flush();
  return svg;
}

function renderTrends(answer) {
  const figures = catalogue.map((m) => {
    const svg = chart(m, answer.rows);
    const name = `doralens-${m.column}-${state.from}-${state.to}`;
    return el('figure', { class: 'trend', 'data-chart': m.column },
      el('figcaption', {}, m.title, ' ',
        el('span', { class: 'exports' },
          el('button', { type: 'button', onclick: () => exportSvg(svg, name), 'aria-label': `${m.title} as SVG` }, 'SVG'),
          el('button', { type: 'button', onclick: () => exportPng(svg, name), 'aria-label': `${m.title} as PNG` }, 'PNG'))),
      svg);
  });
  section('trends').querySelector('.charts').replaceChildren(...figures);
  panels.trends = answer.rows;
}

function sortRows(rows) {
  if (!state.sort) return rows;
  const desc = state.sort.startsWith('-');
  const key = desc ? state.sort.slice(1) : state.sort;
  return [...rows].sort((a, b) => {
    const x = a[key], y = b[key];
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * (desc ? -1 : 1);
  });
}

function renderTeams(rows) {
  panels.teams = rows;
  const table = section('teams').querySelector('table');
  const columns = [{ column: 'team', short: 'Team' }, { column: 'deployments', short: 'Deployments', unit: 'count' }, ...catalogue];
  const head = el('tr', {}, columns.map((c) => {
    const active = state.sort.replace(/^-/, '') === c.column;
    const sort = active ? (state.sort.startsWith('-') ? 'descending' : 'ascending') : 'none';
    return el('th', { scope: 'col', 'aria-sort': sort },
      el('button', {
        type: 'button',
        onclick: () => { state.sort = active && !state.sort.startsWith('-') ? '-' + c.column : c.column; writeUrl(false); renderTeams(panels.teams); },
        'aria-label': `Sort by ${c.title || c.short}`,
      }, c.short, active ? (sort === 'ascending' ? ' ▲' : ' ▼') : ''));
  }));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...sortRows(rows).map((r) => el('tr', {}, columns.map((c) => {
    if (c.column === 'team') return el('th', { scope: 'row', 'data-label': 'Team', class: 'name' }, r.team);
    const level = c.level ? r[c.level] : null;
    return el('td', { 'data-label': c.short, ...metricAttrs(c.column, r[c.column]) },
      format(c.unit, r[c.column]), level ? el('span', { class: 'level level-' + level }, ' ' + level) : null);
  }))));
  if (!rows.length) table.tBodies[0].replaceChildren(el('tr', {}, el('td', { colspan: columns.length }, 'No team has a deployment in this window.')));
}

function explainButton(id) {
  return el('button', { type: 'button', class: 'link', 'data-deployment': id, onclick: () => openExplain(id) }, id);
}

function renderList(name, answer, columns) {
  panels[name] = answer.rows;
  const s = section(name);
  const count = s.querySelector('.count');
  if (count) count.textContent = `${answer.total} in the window` + (answer.total > answer.rows.length ? `; the newest ${answer.rows.length} shown (CSV: these)` : '');
  const table = s.querySelector('table');
  table.tHead.replaceChildren(el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, c.title))));
  table.tBodies[0].replaceChildren(...answer.rows.map((r) => el('tr', {}, columns.map((c) =>
    el('td', { 'data-label': c.title, 'data-column': c.key, 'data-value': JSON.stringify(r[c.key] ?? null) }, c.show(r))))));
  if (!answer.rows.length) table.tBodies[0].replaceChildren(el('tr', {}, el('td', { colspan: columns.length }, 'None in this window.')));
}

const flags = (r) => [r.failed ? 'failed' : null, r.rework ? 'rework' : null, r.rolled_back ? 'rolled back' : null].filter(Boolean).join(', ') || 'ok';

const DEPLOYMENT_COLUMNS = [
  { key: 'id', title: 'Deployment', show: (r) => explainButton(r.id) },
  { key: 'service', title: 'Service', show: (r) => r.service },
  { key: 'finished_at', title: 'Finished (UTC)', show: (r) => minute(r.finished_at) },
  { key: 'failed', title: 'Outcome', show: flags },
  { key: 'incidents', title: 'Incidents', show: (r) => r.incidents || (r.links || '–') },
  { key: 'recovery_s', title: 'Recovery', show: (r) => (r.open_failure ? 'open' : duration(r.recovery_s)) },
];

const INCIDENT_COLUMNS = [
  { key: 'id', title: 'Incident', show: (r) => r.id },
  { key: 'service', title: 'Service', show: (r) => r.service || '–' },
  { key: 'created_at', title: 'Opened (UTC)', show: (r) => minute(r.created_at) },
  { key: 'time_to_restore_s', title: 'Restored in', show: (r) => (r.resolved_at ? duration(r.time_to_restore_s) : 'open') },
  { key: 'deployment_id', title: 'Counts against', show: (r) => (r.deployment_id ? explainButton(r.deployment_id) : 'no deployment') },
  { key: 'link', title: 'Why', show: (r) => r.link || '–' },
];

const SLOWEST_COLUMNS = [
  { key: 'lead_time_s', title: 'Lead time', show: (r) => duration(r.lead_time_s) },
  { key: 'number', title: 'Change', show: (r) => {
    if (r.number === null || r.number === undefined) return '–';
    const text = `${r.repo}#${r.number} ${r.title || ''}`;
    return r.change_url && /^https?:\/\//.test(r.change_url) ? el('a', { href: r.change_url, rel: 'noreferrer' }, text) : text;
  } },
  { key: 'sha', title: 'Commit', show: (r) => `${r.repo} ${r.sha.slice(0, 10)} ${r.message.split('\n')[0].slice(0, 80)}` },
  { key: 'deployment_id', title: 'Deployment', show: (r) => explainButton(r.deployment_id) },
];

async function loadDeployments() {
  renderList('deployments', await api('/api/v1/deployments', filterParams({ only: state.only, limit: LIST_LIMIT })), DEPLOYMENT_COLUMNS);
}

// ---------- the explanation dialog ----------

async function openExplain(id) {
  const dialog = document.getElementById('explain');
  state.explain = id;
  writeUrl(false);
  dialog.querySelector('h2').textContent = `Deployment ${id}`;
  const pre = dialog.querySelector('pre');
  pre.textContent = 'Loading…';
  dialog.removeAttribute('data-ready');
  if (!dialog.open) dialog.showModal();
  try {
    const answer = await api('/api/v1/explain/deployment', new URLSearchParams({ id }).toString());
    pre.textContent = answer.text;
    dialog.setAttribute('data-ready', 'true');
  } catch (e) {
    pre.textContent = e.message;
    dialog.setAttribute('data-ready', 'error');
  }
}

// ---------- loading ----------

function setStatus(text) { document.getElementById('status').textContent = text; }

async function loadFilters() {
  const lists = await api('/api/v1/filters');
  const form = document.getElementById('filters');
  for (const [name, key, all] of [['team', 'teams', 'Organisation'], ['service', 'services', 'All services'], ['repo', 'repos', 'All repositories']]) {
    const values = lists[key];
    if (state[name] && !values.includes(state[name])) values.push(state[name]);
    form.elements[name].replaceChildren(el('option', { value: '' }, all), ...values.map((v) => el('option', { value: v }, v)));
  }
}

function syncForm() {
  const form = document.getElementById('filters');
  for (const k of ['team', 'service', 'repo', 'range', 'from', 'to', 'interval', 'benchmark']) form.elements[k].value = state[k];
  document.querySelector('select[name=only]').value = state.only;
}

async function load() {
  const seq = ++loadSeq;
  document.body.setAttribute('data-ready', 'false');
  setStatus('Loading…');
  try {
    if (!filtersLoaded) { await loadFilters(); filtersLoaded = true; }
    syncForm();
    const [tiles, trends, teams, deployments, incidents, slowest] = await Promise.all([
      api('/api/v1/metrics', filterParams({ compare: 'previous' })),
      api('/api/v1/metrics', filterParams({ interval: state.interval })),
      api('/api/v1/metrics', filterParams({ by: 'team' })),
      api('/api/v1/deployments', filterParams({ only: state.only, limit: LIST_LIMIT })),
      api('/api/v1/incidents', filterParams({ limit: LIST_LIMIT })),
      api('/api/v1/changes/slowest', filterParams({ limit: 20 })),
    ]);
    if (seq !== loadSeq) return;
    catalogue = tiles.metrics;
    renderTiles(tiles);
    renderTrends(trends);
    renderTeams(teams.rows);
    renderList('deployments', deployments, DEPLOYMENT_COLUMNS);
    renderList('incidents', incidents, INCIDENT_COLUMNS);
    renderList('slowest', slowest, SLOWEST_COLUMNS);
    document.getElementById('main').hidden = false;
    document.getElementById('login').hidden = true;
    setStatus('');
    document.body.setAttribute('data-ready', 'true');
    if (state.explain) openExplain(state.explain);
  } catch (e) {
    if (seq !== loadSeq) return;
    if (e instanceof Unauthorized) {
      document.getElementById('main').hidden = true;
      const login = document.getElementById('login');
      login.hidden = false;
      document.getElementById('login-error').textContent = sessionStorage.getItem(TOKEN_KEY) ? e.message : '';
      login.elements.token.focus();
      setStatus('');
      document.body.setAttribute('data-ready', 'login');
    } else {
      setStatus('Could not load: ' + e.message);
      document.body.setAttribute('data-ready', 'error');
    }
  }
}

function onFilterChange(event) {
  const form = document.getElementById('filters');
  const name = event.target.name;
  for (const k of ['team', 'service', 'repo', 'interval', 'benchmark']) state[k] = form.elements[k].value;
  if (name === 'range') {
    state.range = form.elements.range.value;
    if (state.range !== 'custom') {
      const [f, t] = presetDates(state.range);
      state.from = isoDate(f); state.to = isoDate(t);
    }
  } else if (name === 'from' || name === 'to') {
    if (!form.elements.from.value || !form.elements.to.value || form.elements.from.value >= form.elements.to.value) {
      setStatus('Choose a start before the end.');
      return;
    }
    state.range = 'custom';
    state.from = form.elements.from.value; state.to = form.elements.to.value;
  }
  writeUrl(true);
  load();
}

function start() {
  readUrl();
  writeUrl(false);
  document.getElementById('filters').addEventListener('change', onFilterChange);
  document.getElementById('filters').addEventListener('submit', (e) => e.preventDefault());
  document.querySelector('select[name=only]').addEventListener('change', (e) => {
    state.only = e.target.value;
    writeUrl(true);
    loadDeployments().catch((err) => setStatus('Could not load: ' + err.message));
  });
  for (const button of document.querySelectorAll('[data-export=csv]')) {
    button.setAttribute('aria-label', 'Export ' + button.closest('[data-panel]').dataset.panel + ' as CSV');
    button.addEventListener('click', () => exportCsv(button.closest('[data-panel]').dataset.panel));
  }
  const dialog = document.getElementById('explain');
  dialog.querySelector('.close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => { state.explain = ''; writeUrl(false); });
  document.getElementById('login').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, e.target.elements.token.value.trim());
    e.target.reset();
    load();
  });
  window.addEventListener('popstate', () => { readUrl(); load(); });
  load();
}

document.addEventListener('DOMContentLoaded', start);
