// Workers and agents: who is online, their queues, the flow runs they work for, their last heartbeat.
import { h, time, table } from './dom.js';
import { get } from './api.js';

export async function workers({ main, failed }) {
  const workerList = h('div', { id: 'workers' }), agentList = h('div', { id: 'agents' });
  main.replaceChildren(h('h1', {}, 'Workers and agents'),
    h('section', { class: 'panel' }, h('h2', {}, 'Workers'), workerList),
    h('section', { class: 'panel' }, h('h2', {}, 'Agents'), agentList));
  async function refresh() {
    const [w, a] = await Promise.all([get('/workers'), get('/agents')]);
    workerList.replaceChildren(processes(w.items, 'tasks'));
    agentList.replaceChildren(processes(a.items, 'flow runs'));
  }
  await refresh();
  const timer = setInterval(() => refresh().catch(failed), 5000);
  return () => clearInterval(timer);
}

function processes(items, unit) {
  if (items.length === 0) return h('p', { class: 'muted' }, 'None has sent a heartbeat.');
  return table(['Id', 'Status', 'Host', 'Queues', { text: `Running ${unit}`, class: 'num' }, 'Working on',
    { text: 'Completed', class: 'num' }, { text: 'Failed', class: 'num' }, 'Last heartbeat'],
  items.map((p) => h('tr', { 'data-process': p.id },
    h('td', { class: 'mono' }, p.id),
    h('td', {}, p.alive ? 'online' : p.stopped ? 'stopped' : 'lost'),
    h('td', {}, `${p.host} (pid ${p.pid})`),
    h('td', {}, p.queues.join(', ')),
    h('td', { class: 'num' }, `${p.running} / ${p.concurrency}`),
    h('td', { class: 'working' }, workingOn(p.alive ? p.flowRuns || [] : [])),
    h('td', { class: 'num' }, p.completed), h('td', { class: 'num' }, p.failed),
    h('td', {}, time(p.lastSeen)))));
}

/** Links to the flow runs a process works for (the first 5, then how many more). */
function workingOn(ids) {
  if (ids.length === 0) return '—';
  const links = ids.slice(0, 5).map((id) => h('a', { href: `/flow-runs/${encodeURIComponent(id)}`, 'data-link': true,
    class: 'mono' }, id.slice(0, 8)));
  return [links.flatMap((link, index) => (index ? [' ', link] : [link])), ids.length > 5 ? ` and ${ids.length - 5} more` : ''];
}
