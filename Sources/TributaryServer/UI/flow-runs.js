// The flow-run list: filters (state, flow, work queue, time range) in the query string, pages by cursor.
import { h, badge, states, time, duration, runDuration, counts, table, query, withoutCursor } from './dom.js';
import { get } from './api.js';

export async function flowRuns({ main, navigate, failed }) {
  const q = query();
  const chosen = q.getAll('state');
  const form = h('form', { class: 'panel filters', id: 'filters' },
    h('div', {}, h('div', { class: 'muted' }, 'State'), h('div', { class: 'checks' }, states.map((state) =>
      h('label', {}, h('input', { type: 'checkbox', name: 'state', value: state, checked: chosen.includes(state) }), state)))),
    h('label', {}, 'Flow', h('input', { name: 'flow', value: q.get('flow') ?? '' })),
    h('label', {}, 'Work queue', h('input', { name: 'work_queue', value: q.get('work_queue') ?? '' })),
    h('label', {}, 'Since', h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(q.get('since')) })),
    h('label', {}, 'Until', h('input', { type: 'datetime-local', name: 'until', value: toLocalInput(q.get('until')) })),
    h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const box of form.querySelectorAll('input[name=state]:checked')) next.append('state', box.value);
    for (const name of ['flow', 'work_queue']) {
      const value = form.elements[name].value.trim();
      if (value) next.set(name, value);
    }
    for (const name of ['since', 'until']) {
      const value = form.elements[name].value;
      if (value) next.set(name, String(Math.floor(new Date(value).getTime() / 1000)));
    }
    navigate(`/flow-runs${next.toString() ? `?${next}` : ''}`);
  });
  const list = h('div', { id: 'flow-run-list' });
  main.replaceChildren(h('h1', {}, 'Flow runs'), form, h('section', { class: 'panel' }, list));

  const api = new URLSearchParams();
  for (const state of chosen) api.append('state', state);
  for (const name of ['flow', 'work_queue', 'since', 'until', 'cursor', 'parent']) {
    if (q.get(name)) api.set(name, q.get(name));
  }
  api.set('limit', '50');
  api.set('counts', 'true');

  async function refresh() {
    const page = await get(`/flow-runs?${api}`);
    const rows = page.items.map((run) => h('tr', { 'data-state': run.state },
      h('td', {}, badge(run.state)),
      h('td', {}, h('a', { href: `/flow-runs/${encodeURIComponent(run.id)}`, 'data-link': true }, run.flowName),
        h('div', { class: 'mono muted hide-narrow' }, run.id)),
      h('td', { class: 'hide-narrow' }, run.workQueue ?? '—'),
      h('td', {}, time(run.startedAt ?? run.createdAt)),
      h('td', { class: 'num' }, duration(runDuration(run))),
      h('td', {}, counts(run.taskRunCounts))));
    const older = new URLSearchParams(q);
    if (page.nextCursor) older.set('cursor', page.nextCursor);
    list.replaceChildren(
      page.items.length === 0 ? h('p', { class: 'muted' }, 'No flow runs match.') :
        table(['State', 'Flow run', { text: 'Work queue', class: 'hide-narrow' }, 'Started', { text: 'Duration', class: 'num' },
          'Task runs'], rows),
      h('div', { class: 'pager' },
        q.get('cursor') ? h('a', { href: `/flow-runs?${withoutCursor(q)}`, 'data-link': true }, 'Newest') : null,
        page.nextCursor ? h('a', { href: `/flow-runs?${older}`, 'data-link': true, id: 'older' }, 'Older →') : null));
  }

  await refresh();
  // The first page follows new runs; older pages stay as they are.
  const timer = q.get('cursor') ? null : setInterval(() => refresh().catch(failed), 4000);
  return () => timer && clearInterval(timer);
}

/** Seconds since 1970 as a datetime-local input's value, in the viewer's time zone. */
function toLocalInput(seconds) {
  if (!seconds) return '';
  const date = new Date(Number(seconds) * 1000);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 16);
}
