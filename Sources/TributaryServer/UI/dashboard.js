// The dashboard: flow runs by state over the last hours, recent failures, who is online, queue depths.
import { h, badge, states, stateColor, time, table } from './dom.js';
import { get } from './api.js';

const hours = 6, buckets = 24;

export async function dashboard({ main, failed }) {
  const chart = h('div', { class: 'chart' });
  const failures = h('div');
  const online = h('div');
  const queues = h('div');
  main.replaceChildren(
    h('h1', {}, 'Dashboard'),
    h('section', { class: 'panel' }, h('h2', {}, `Flow runs by state, last ${hours} hours`), chart),
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Failed recently'), failures),
      h('section', { class: 'panel' }, h('h2', {}, 'Workers and agents online'), online),
      h('section', { class: 'panel' }, h('h2', {}, 'Work queues'), queues)));

  async function refresh() {
    const since = Math.floor(Date.now() / 1000 - hours * 3600);
    const bucket = (hours * 3600) / buckets;
    const health = await get('/health');
    // Queue depths come from the broker: a server without one has none to show.
    const [activity, failedRuns, workerList, agentList, workQueues] = await Promise.all([
      get(`/flow-run-activity?since=${since}&bucket=${bucket}`),
      get('/flow-runs?state=Failed&state=Crashed&state=TimedOut&limit=8'),
      get('/workers'), get('/agents'), health.ingest ? get('/work-queues') : null,
    ]);
    chart.replaceChildren(drawActivity(activity, since, bucket));
    failures.replaceChildren(failedRuns.items.length === 0 ? h('p', { class: 'muted' }, 'No failed flow runs.') :
      table(['Flow run', 'State', 'Ended', 'Error'], failedRuns.items.map((run) => h('tr', {},
        h('td', {}, h('a', { href: `/flow-runs/${encodeURIComponent(run.id)}`, 'data-link': true }, run.flowName)),
        h('td', {}, badge(run.state)), h('td', {}, time(run.endedAt)),
        h('td', {}, h('span', { class: 'mono' }, (run.error ?? '').slice(0, 200)))))));
    const alive = [...workerList.items.map((w) => ['worker', w]), ...agentList.items.map((a) => ['agent', a])]
      .filter(([, p]) => p.alive);
    online.replaceChildren(alive.length === 0 ? h('p', { class: 'muted' }, 'Nobody online.') :
      table(['Kind', 'Id', 'Queues', 'Running'], alive.map(([kind, p]) => h('tr', {},
        h('td', {}, kind), h('td', { class: 'mono' }, p.id), h('td', {}, p.queues.join(', ')),
        h('td', { class: 'num' }, `${p.running} / ${p.concurrency}`)))));
    queues.replaceChildren(!workQueues ? h('p', { class: 'muted' }, 'This server has no broker (--broker) to read queues from.') :
      workQueues.items.length === 0 ? h('p', { class: 'muted' }, 'No work queue reported by an agent.') :
      table(['Work queue', { text: 'Waiting', class: 'num' }, { text: 'Agents', class: 'num' }],
        workQueues.items.map((q) => h('tr', {}, h('td', {}, q.name), h('td', { class: 'num' }, q.waiting ?? '—'),
          h('td', { class: 'num' }, q.consumers ?? '—')))));
  }

  await refresh();
  const timer = setInterval(() => refresh().catch(failed), 5000);
  return () => clearInterval(timer);
}

/** Stacked bars, one per time bucket, of flow runs created then, by their state now. */
function drawActivity(activity, since, bucket) {
  const width = 720, height = 180, left = 36, bottom = 22;
  const totals = new Array(buckets).fill(0);
  const byBucket = Array.from({ length: buckets }, () => ({}));
  for (const { bucket: b, state, count } of activity.counts) {
    if (b < 0 || b >= buckets) continue;
    byBucket[b][state] = count;
    totals[b] += count;
  }
  const top = Math.max(1, ...totals);
  const barWidth = (width - left) / buckets;
  const svg = h('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'flow runs by state over time' });
  svg.append(h('text', { x: 0, y: 12, 'font-size': 11, fill: '#667085' }, String(top)));
  svg.append(h('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: '#e3e6ec' }));
  for (let b = 0; b < buckets; b++) {
    let y = height - bottom;
    for (const state of states) {
      const n = byBucket[b][state];
      if (!n) continue;
      const barHeight = (n / top) * (height - bottom - 16);
      y -= barHeight;
      const rect = h('rect', { x: left + b * barWidth + 2, y, width: barWidth - 4, height: barHeight, fill: stateColor(state) },
        h('title', {}, `${n} ${state}, from ${time(since + b * bucket)}`));
      svg.append(rect);
    }
    if (b % 4 === 0) {
      svg.append(h('text', { x: left + b * barWidth, y: height - 6, 'font-size': 10, fill: '#667085' },
        new Date((since + b * bucket) * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })));
    }
  }
  const total = totals.reduce((a, b) => a + b, 0);
  return h('div', {}, svg, h('p', { class: 'muted' }, `${total} flow runs created in the last ${hours} hours.`));
}
