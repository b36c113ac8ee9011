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
