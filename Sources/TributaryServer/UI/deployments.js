// Deployments: each with its schedules and triggers, its next run, and buttons to run it now,
// pause or resume it; one deployment's page adds its settings, next runs and latest runs.
import { h, time, table, badge } from './dom.js';
import { get, post } from './api.js';

export async function deployments({ main, failed }) {
  const list = h('div', { id: 'deployment-list' });
  main.replaceChildren(h('h1', {}, 'Deployments'),
    h('p', { class: 'muted' }, 'Flows that start on their own: on a schedule, or when another run ends. ',
      'Create them with trib deployment create or tributary.yaml (trib deploy).'),
    h('section', { class: 'panel' }, list));
  async function refresh() {
    const { items } = await get('/deployments');
    list.replaceChildren(items.length === 0 ? h('p', { class: 'muted' }, 'No deployments yet.') :
      table(['Name', 'Flow', 'Work queue', 'Runs', 'Next run', 'Status', ''], items.map(({ deployment, nextRunAt }) =>
        h('tr', { 'data-deployment': deployment.name },
          h('td', {}, h('a', { href: `/deployments/${encodeURIComponent(deployment.name)}`, 'data-link': true }, deployment.name)),
          h('td', {}, deployment.flow), h('td', {}, deployment.workQueue),
          h('td', {}, describe(deployment)), h('td', {}, time(nextRunAt)),
          h('td', {}, deployment.paused ? 'paused' : 'active'),
          h('td', {}, actions(deployment, () => refresh().catch(failed), failed))))));
  }
  await refresh();
  const timer = setInterval(() => refresh().catch(failed), 5000);
  return () => clearInterval(timer);
}

export async function deployment({ main, params, failed }) {
  const name = params[0];
  const body = h('div', {});
  // Made once: the page redraws every few seconds, and what the viewer typed stays.
  const parameters = h('input', { name: 'parameters', class: 'mono', size: 40,
    placeholder: '{"name": value} over its parameters', 'aria-label': 'parameters for a run now' });
  main.replaceChildren(h('p', {}, h('a', { href: '/deployments', 'data-link': true }, '← deployments')),
    h('h1', {}, 'Deployment ', h('span', { class: 'mono' }, name)), body);
  async function refresh() {
    const detail = await get(`/deployments/${encodeURIComponent(name)}?limit=20`);
    const d = detail.deployment;
    body.replaceChildren(
      h('section', { class: 'panel' },
        h('dl', { class: 'kv' },
          fact('Flow', d.flow), fact('Work queue', d.workQueue), fact('Runs', describe(d)),
          fact('Parameters', h('span', { class: 'mono' }, JSON.stringify(d.parameters))),
          fact('Status', d.paused ? 'paused' : 'active'), fact('Catch-up', d.catchup),
          fact('Run limit', d.runLimit ?? 'none'), fact('Tags', (d.tags || []).join(', ') || '—'),
          d.description ? fact('Description', d.description) : null),
        actions(d, () => refresh().catch(failed), failed, parameters)),
      h('section', { class: 'panel' }, h('h2', {}, 'Next runs'), runs(detail.upcoming, 'None scheduled.')),
      h('section', { class: 'panel' }, h('h2', {}, 'Latest runs'), runs(detail.recent, 'None yet.')));
  }
  await refresh();
  const timer = setInterval(() => refresh().catch(failed), 5000);
  return () => clearInterval(timer);
}

/** Run now (with parameters laid over the deployment's, on its own page), and pause or resume. */
function actions(d, done, failed, parameters = null) {
  const path = `/deployments/${encodeURIComponent(d.name)}`;
  const act = (button, request) => async () => {
    button.disabled = true;
    try {
      await request();
      done();
    } catch (error) {
      failed(error);
    } finally {
      button.disabled = false;
    }
  };
  const run = h('button', { type: 'button', class: 'run-now' }, 'Run now');
  run.addEventListener('click', act(run, async () => {
    const text = parameters?.value.trim();
    let overrides;
    if (text) {
      try { overrides = JSON.parse(text); } catch (_) { throw new Error(`the parameters '${text}' are not JSON`); }
    }
    await post(`${path}/runs`, overrides ? { parameters: overrides } : {});
  }));
  const toggle = h('button', { type: 'button', class: d.paused ? 'resume' : 'pause danger' }, d.paused ? 'Resume' : 'Pause');
  toggle.addEventListener('click', act(toggle, () => post(`${path}/${d.paused ? 'resume' : 'pause'}`)));
  return h('div', { class: 'actions' }, parameters, ' ', run, ' ', toggle);
}

function runs(items, none) {
  if (items.length === 0) return h('p', { class: 'muted' }, none);
  return table(['Due', 'Flow run', 'Origin', 'State'], items.map((run) => h('tr', {},
    h('td', {}, time(run.scheduledAt)),
    h('td', {}, h('a', { href: `/flow-runs/${encodeURIComponent(run.flowRunID)}`, 'data-link': true, class: 'mono' }, run.flowRunID)),
    h('td', {}, run.origin), h('td', {}, badge(run.state ?? run.status)))));
}

/** Its schedules and triggers in a few words. */
function describe(d) {
  const parts = (d.schedules || []).map((s) => s.cron ? `cron '${s.cron}' (${s.timezone})` : `every ${s.interval} s`)
    .concat((d.triggers || []).map((t) => `after ${t.deployment ? `deployment ${t.deployment}` : `flow ${t.flow}`} (${(t.states || ['Completed']).join(', ')})`));
  return parts.length ? parts.join('; ') : 'on demand';
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}
