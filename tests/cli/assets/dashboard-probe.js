// Run in the dashboard page by tests/cli/assets/cdp.py: waits until the
// page says every panel has its data, reads what it shows, sorts the team
// table, clicks the first deployment and waits for its explanation.
async () => {
  const waitFor = (check, ms) => new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      let ok = false;
      try { ok = check(); } catch (e) { ok = false; }
      if (ok) resolve(); else if (Date.now() - started > ms) reject(new Error('timeout')); else setTimeout(tick, 50);
    };
    tick();
  });
  const out = {};
  const d = document;
  try {
    await waitFor(() => d.readyState === 'complete' && d.body.getAttribute('data-ready') === 'true', 60000);
  } catch (e) {
    out.ready = d.body ? d.body.getAttribute('data-ready') : null;
    out.status = d.getElementById('status') ? d.getElementById('status').textContent : null;
    return out;
  }
  out.ready = 'true';
  out.url = location.search;
  out.tiles = {};
  d.querySelectorAll('[data-panel=tiles] [data-metric]').forEach((e) => { out.tiles[e.dataset.metric] = JSON.parse(e.dataset.value); });
  out.scores = {};
  d.querySelectorAll('[data-panel=tiles] [data-score]').forEach((e) => { out.scores[e.dataset.score] = JSON.parse(e.dataset.value); });
  out.teamCells = [];
  d.querySelectorAll('[data-panel=teams] tbody tr').forEach((tr) => {
    const row = { team: tr.querySelector('th').textContent };
    tr.querySelectorAll('td[data-metric]').forEach((td) => { row[td.dataset.metric] = JSON.parse(td.dataset.value); });
    out.teamCells.push(row);
  });
  out.trendPoints = d.querySelectorAll('[data-panel=trends] circle[data-metric]').length;
  out.panels = [...d.querySelectorAll('[data-panel]')].map((e) => e.dataset.panel);
  out.controls = [...d.querySelectorAll('#filters [name]')].map((e) => e.name);
  out.deploymentRows = d.querySelectorAll('[data-panel=deployments] tbody tr').length;
  out.viewport = d.documentElement.clientWidth;
  out.pageOverflow = d.documentElement.scrollWidth - d.documentElement.clientWidth;
  let wide = 0;
  d.querySelectorAll('section, table, figure, article, header, form').forEach((e) => {
    if (e.getBoundingClientRect().right > d.documentElement.clientWidth + 1 || e.scrollWidth > e.clientWidth + 1) wide++;
  });
  out.wideElements = wide;
  // WCAG AA: every visible text against its effective background (4.5:1,
  // 3:1 for large text).
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (e) => {
    for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  out.contrastChecked = 0;
  out.lowContrast = [];
  d.querySelectorAll('body *').forEach((e) => {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const box = e.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0 || e.closest('svg, [hidden], dialog:not([open])')) return;
    const style = getComputedStyle(e);
    if (style.visibility === 'hidden' || style.display === 'none') return;
    const fg = luminance(rgb(style.color).slice(0, 3));
    const bg = luminance(background(e));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    out.contrastChecked++;
    if (ratio < (large ? 3 : 4.5)) out.lowContrast.push(`${e.tagName}.${e.className}: ${ratio.toFixed(2)} "${e.textContent.trim().slice(0, 30)}"`);
  });
  // Sorting the team table by its Deployments heading, twice.
  const heading = () => [...d.querySelectorAll('[data-panel=teams] thead button')].find((b) => b.textContent.startsWith('Deployments'));
  const column = () => [...d.querySelectorAll('[data-panel=teams] tbody td[data-metric=deployments]')].map((td) => JSON.parse(td.dataset.value));
  heading().click();
  const ascending = column();
  heading().click();
  out.sorted = { ascending, descending: column(), url: location.search };
  // Clicking a deployment opens its explanation.
  const button = d.querySelector('[data-panel=deployments] button[data-deployment]');
  out.clicked = button.dataset.deployment;
  button.click();
  try {
    await waitFor(() => d.getElementById('explain').getAttribute('data-ready') === 'true', 60000);
    out.explainOpen = d.getElementById('explain').open;
    out.explanation = d.querySelector('#explain pre').textContent;
    out.explainUrl = location.search;
  } catch (e) {
    out.explanation = null;
  }
  return out;
}
