// One flow run: its state and history, a live progress bar of its task runs by state, a timeline,
// its task runs (paged, sortable, each with attempts, error and logs), subflows, artifacts, logs,
// and a Cancel button.
import { h, badge, swatch, states, stateColor, finalStates, time, duration, runDuration, table, query, withoutCursor } from './dom.js';
import { get, post, changes } from './api.js';
import { artifactPanel } from './artifacts.js';

export async function flowRun({ main, params, navigate, failed }) {
  const id = params[0];
  const path = `/flow-runs/${encodeURIComponent(id)}`;
  const q = query();
  const header = h('div'), progress = h('div', { id: 'progress' }), history = h('div'), timeline = h('div', { class: 'timeline' });
  const tasks = h('div', { id: 'task-runs' }), subflows = h('div'), artifactList = h('div', { id: 'artifacts' });
  const logs = h('div', { class: 'logs', id: 'logs' });
  const levelChoice = h('select', { name: 'level', 'aria-label': 'log level' },
    ['all', 'debug', 'info', 'notice', 'warning', 'error', 'critical'].map((level) =>
      h('option', { value: level, selected: (q.get('level') ?? 'all') === level }, level === 'all' ? 'all levels' : `${level} and up`)));
  levelChoice.addEventListener('change', () => {
    const next = new URLSearchParams(q);
    if (levelChoice.value === 'all') next.delete('level'); else next.set('level', levelChoice.value);
    navigate(`${path}?${next}`, { replace: true });
  });
  main.replaceChildren(header,
    h('section', { class: 'panel' }, h('h2', {}, 'Task runs by state'), progress),
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'State history'), history),
      h('section', { class: 'panel' }, h('h2', {}, 'Subflows'), subflows)),
    h('section', { class: 'panel' }, h('h2', {}, 'Timeline'), timeline),
    h('section', { class: 'panel' }, h('h2', {}, 'Task runs'), tasks),
    h('section', { class: 'panel' }, h('h2', {}, 'Artifacts'), artifactList),
    h('section', { class: 'panel' }, h('h2', {}, 'Logs ', levelChoice), logs));

  let detail = null;
  async function refreshDetail() {
    detail = await get(path);
    drawHeader(header, detail, id, failed);
    drawProgress(progress, detail.taskRunCounts);
    history.replaceChildren(table(['State', 'Attempt', 'At'], detail.states.map((s) => h('tr', {},
      h('td', {}, badge(s.state)), h('td', { class: 'num' }, s.attempt ?? ''), h('td', {}, time(s.time))))));
  }
  await refreshDetail();
  const children = await get(`/flow-runs?parent=${encodeURIComponent(id)}&limit=100`);
  subflows.replaceChildren(children.items.length === 0 ? h('p', { class: 'muted' }, 'No subflows.') :
    table(['State', 'Subflow', 'Duration'], children.items.map((run) => h('tr', {}, h('td', {}, badge(run.state)),
      h('td', {}, h('a', { href: `/flow-runs/${encodeURIComponent(run.id)}`, 'data-link': true }, run.flowName)),
      h('td', {}, duration(runDuration(run)))))));
  const taskTable = taskRuns(tasks, id, q, navigate, path);
  await taskTable.load();
  drawTimeline(timeline, id, q.get('lane') ?? 'worker', navigate, path, q).catch(failed);
  const artifactsPage = await get(`${path}/artifacts?limit=100`);
  artifactList.replaceChildren(...(artifactsPage.items.length === 0 ? [h('p', { class: 'muted' }, 'None published.')] :
    artifactsPage.items.map((item) => artifactPanel(item))));
  const tail = logTail(logs, path, q.get('level'));
  await tail.more();

  // Live: refetch the counts at most every 300 ms while changes come; poll as well, in case the stream drops.
  let pending = null;
  const soon = () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refreshDetail().catch(failed); }, 300);
  };
  const stop = changes(`flow_run=${encodeURIComponent(id)}&kind=flow-run,task-run,log`, (kind) => {
    if (kind === 'log') tail.more().catch(failed); else soon();
  });
  const timer = setInterval(() => {
    if (!detail || !finalStates.includes(detail.flowRun.state)) refreshDetail().catch(failed);
  }, 3000);
  return () => { stop(); clearInterval(timer); clearTimeout(pending); };
}

function drawHeader(header, detail, id, failed) {
  const run = detail.flowRun;
  const cancel = h('button', { class: 'danger', id: 'cancel', disabled: finalStates.includes(run.state) }, 'Cancel');
  cancel.addEventListener('click', async () => {
    if (!confirm(`Cancel flow run ${run.flowName} (${id})? Its running tasks are stopped.`)) return;
    cancel.disabled = true;
    try {
      const answer = await post(`/flow-runs/${encodeURIComponent(id)}/cancel`);
      cancel.textContent = answer.cancelled ? 'Cancelled' : 'Cancel sent';
    } catch (error) {
      cancel.disabled = false;
      failed(error);
    }
  });
  header.replaceChildren(
    h('h1', {}, run.flowName, ' ', badge(run.state), ' ', cancel),
    h('dl', { class: 'kv panel' },
      h('dt', {}, 'Id'), h('dd', { class: 'mono' }, run.id),
      h('dt', {}, 'Started'), h('dd', {}, time(run.startedAt)),
      h('dt', {}, 'Ended'), h('dd', {}, time(run.endedAt)),
      h('dt', {}, 'Duration'), h('dd', { id: 'duration' }, duration(runDuration(run))),
      run.workQueue ? [h('dt', {}, 'Work queue'), h('dd', {}, run.workQueue)] : null,
      run.agent ? [h('dt', {}, 'Agent'), h('dd', { class: 'mono' }, run.agent)] : null,
      run.parentFlowRunID ? [h('dt', {}, 'Parent'), h('dd', {}, h('a', { href: `/flow-runs/${encodeURIComponent(run.parentFlowRunID)}`,
        'data-link': true }, run.parentFlowRunID))] : null,
      h('dt', {}, 'Parameters'), h('dd', {}, run.parameters ? h('pre', { class: 'code', id: 'parameters' }, pretty(run.parameters)) : '—'),
      run.result ? [h('dt', {}, 'Result'), h('dd', {}, h('pre', { class: 'code', id: 'result' }, pretty(run.result)))] : null,
      run.error ? [h('dt', {}, 'Error'), h('dd', {}, h('div', { class: 'error', id: 'error' }, run.error))] : null));
}

/** JSON text indented for reading (as it came, if it is not JSON). */
function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

function drawProgress(node, byState) {
  const total = Object.values(byState).reduce((a, b) => a + b, 0);
  const bar = h('div', { class: 'progress', role: 'img', 'aria-label': 'task runs by state' });
  for (const state of states) {
    const n = byState[state];
    if (!n) continue;
    const part = h('div', { title: `${n} ${state}`, 'data-state': state });
    part.style.width = `${(n / total) * 100}%`;
    part.style.background = stateColor(state);
    bar.append(part);
  }
  node.replaceChildren(bar, h('div', { class: 'legend', id: 'counts' },
    h('span', {}, h('strong', { id: 'total' }, String(total)), ' task runs'),
    states.filter((s) => byState[s]).map((s) => h('span', { 'data-state': s },
      swatch(s), `${s} `, h('strong', {}, String(byState[s]))))));
}

/** The task-run table: sort and state in the query string, pages by cursor, a row opens its attempts and logs. */
function taskRuns(node, id, q, navigate, path) {
  const sort = q.get('sort') === 'duration' ? 'duration' : 'start';
  const state = q.get('task_state');
  const controls = h('div', { class: 'filters' },
    h('label', {}, 'Sort', h('select', { name: 'sort', onchange: (e) => go({ sort: e.target.value === 'start' ? null : e.target.value }) },
      h('option', { value: 'start', selected: sort === 'start' }, 'by start'),
      h('option', { value: 'duration', selected: sort === 'duration' }, 'longest first'))),
    h('label', {}, 'State', h('select', { name: 'task_state', onchange: (e) => go({ task_state: e.target.value || null }) },
      h('option', { value: '' }, 'all'), states.map((s) => h('option', { value: s, selected: s === state }, s)))));
  function go(changes) {
    const next = withoutCursor(q);
    for (const [name, value] of Object.entries(changes)) { if (value) next.set(name, value); else next.delete(name); }
    navigate(`${path}?${next}`, { replace: true });
  }
  const body = h('div');
  node.replaceChildren(controls, body);
  return {
    async load() {
      const api = new URLSearchParams({ sort, limit: '100' });
      if (state) api.set('state', state);
      if (q.get('cursor')) api.set('cursor', q.get('cursor'));
      const page = await get(`${path}/task-runs?${api}`);
      const rows = page.items.flatMap((run) => {
        const row = h('tr', { class: 'task-run', 'data-id': run.id },
          h('td', {}, badge(run.state)),
          h('td', {}, h('a', { href: '#', onclick: (e) => { e.preventDefault(); toggle(row, run, path); } }, run.runName || run.taskName),
            run.runName ? h('div', { class: 'muted' }, run.taskName) : null),
          h('td', { class: 'num' }, run.attempt),
          h('td', { class: 'mono hide-narrow' }, run.worker ?? '—'),
          h('td', {}, time(run.startedAt)),
          h('td', { class: 'num' }, duration(run.startedAt && run.endedAt ? run.endedAt - run.startedAt : null)));
        return [row];
      });
      const next = new URLSearchParams(q);
      if (page.nextCursor) next.set('cursor', page.nextCursor);
      body.replaceChildren(page.items.length === 0 ? h('p', { class: 'muted' }, 'No task runs match.') :
        table(['State', 'Task run', { text: 'Attempt', class: 'num' }, { text: 'Worker', class: 'hide-narrow' }, 'Started',
          { text: 'Duration', class: 'num' }], rows),
      h('div', { class: 'pager' },
        q.get('cursor') ? h('a', { href: `${path}?${withoutCursor(q)}`, 'data-link': true }, 'First page') : null,
        page.nextCursor ? h('a', { href: `${path}?${next}`, 'data-link': true, id: 'next-task-runs' }, 'Next →') : null));
    },
  };
}

/** Opens (or closes) a task run's row: its attempts' states, its error, its logs. */
async function toggle(row, run, path) {
  if (row.classList.contains('open')) {
    row.classList.remove('open');
    row.nextSibling?.remove();
    return;
  }
  row.classList.add('open');
  const cell = h('td', { colspan: 6 }, h('span', { class: 'muted' }, 'Loading…'));
  row.after(h('tr', { class: 'detail' }, cell));
  const [history, logs] = await Promise.all([
    get(`/task-runs/${encodeURIComponent(run.id)}/states`),
    get(`${path}/logs?task_run=${encodeURIComponent(run.id)}&limit=500`),
  ]);
  cell.replaceChildren(
    table(['State', 'Attempt', 'At', 'Error'], history.states.map((s) => h('tr', {}, h('td', {}, badge(s.state)),
      h('td', { class: 'num' }, s.attempt ?? ''), h('td', {}, time(s.time)), h('td', { class: 'mono' }, s.error ?? '')))),
    run.error ? h('div', { class: 'error' }, run.error) : null,
    logs.logs.length === 0 ? h('p', { class: 'muted' }, 'It logged nothing.') :
      table(['At', 'Level', 'Message'], logs.logs.map((line) => h('tr', {}, h('td', {}, time(line.time)),
        h('td', {}, line.level), h('td', { class: 'mono' }, line.message)))));
}

/** The run's logs, read from a position onwards: more() fetches what came after the last line shown. */
function logTail(node, path, level) {
  const levels = ['trace', 'debug', 'info', 'notice', 'warning', 'error', 'critical'];
  const wanted = level ? levels.slice(levels.indexOf(level)) : [];
  const body = h('tbody');
  node.replaceChildren(h('table', {}, body));
  let after = 0, busy = false;
  return {
    async more() {
      if (busy) return;
      busy = true;
      try {
        for (;;) {
          const api = new URLSearchParams({ after: String(after), limit: '500' });
          for (const l of wanted) api.append('level', l);
          const page = await get(`${path}/logs?${api}`);
          for (const line of page.logs) {
            body.append(h('tr', {}, h('td', {}, time(line.time)), h('td', {}, line.level),
              h('td', {}, line.taskName ?? 'flow'), h('td', {}, line.message)));
            after = line.position;
          }
          if (page.logs.length < 500) break;
        }
        if (!body.firstChild) node.replaceChildren(h('p', { class: 'muted' }, 'No log lines.'), h('table', {}, body));
      } finally { busy = false; }
    },
  };
}

/** Task runs over time, one lane per worker or per task: bars when few, counts per time slice when many. */
async function drawTimeline(node, id, lane, navigate, path, q) {
  const data = await get(`/flow-runs/${encodeURIComponent(id)}/timeline?lane=${lane}`);
  const choose = (value) => {
    const next = new URLSearchParams(q);
    if (value === 'worker') next.delete('lane'); else next.set('lane', value);
    navigate(`${path}?${next}`, { replace: true });
  };
  const tabs = h('div', { class: 'tabs' },
    h('button', { 'aria-pressed': String(lane === 'worker'), onclick: () => choose('worker') }, 'by worker'),
    h('button', { 'aria-pressed': String(lane === 'task'), onclick: () => choose('task') }, 'by task'));
  if (!data.lanes.length) { node.replaceChildren(tabs, h('p', { class: 'muted' }, 'No task run has started.')); return; }
  const width = 900, laneHeight = 22, left = 150;
  const span = Math.max(data.end - data.start, 0.001);
  const x = (t) => left + ((t - data.start) / span) * (width - left - 10);
  const svg = h('svg', { viewBox: `0 0 ${width} ${data.lanes.length * laneHeight + 24}`, role: 'img', 'aria-label': 'timeline', id: 'timeline' });
  const placed = new Map();
  data.lanes.forEach((laneData, index) => {
    const y = index * laneHeight;
    svg.append(h('text', { x: 0, y: y + 15, 'font-size': 11, fill: '#1d2330' }, laneData.name.slice(0, 22)));
    if (laneData.bars) {
      for (const bar of laneData.bars) {
        svg.append(h('rect', { x: x(bar.start), y: y + 4, width: Math.max(1, x(bar.end ?? data.end) - x(bar.start)), height: laneHeight - 8,
          fill: stateColor(bar.state) }, h('title', {}, `${bar.name}: ${bar.state}, ${duration((bar.end ?? data.end) - bar.start)}`)));
        placed.set(bar.id, { bar, from: x(bar.end ?? data.end), to: x(bar.start), y: y + laneHeight / 2 });
      }
    } else {
      const top = Math.max(1, ...laneData.counts);
      laneData.counts.forEach((n, slice) => {
        if (!n) return;
        const rect = h('rect', { x: x(data.start + slice * data.slice), y: y + 4, width: Math.max(1, x(data.start + (slice + 1) * data.slice) - x(data.start + slice * data.slice)),
          height: laneHeight - 8, fill: 'var(--Running)' }, h('title', {}, `${n} task runs started`));
        rect.style.opacity = String(0.15 + 0.85 * (n / top));
        svg.append(rect);
      });
    }
  });
  // waitFor dependencies, from the end of what was waited for to the start of what waited, when few.
  const edges = [...placed.values()].flatMap(({ bar, to, y }) => (bar.waitFor ?? [])
    .filter((id) => placed.has(id)).map((id) => ({ from: placed.get(id), to, y })));
  if (edges.length > 0 && edges.length <= 300) {
    for (const edge of edges) {
      svg.append(h('line', { x1: edge.from.from, y1: edge.from.y, x2: edge.to, y2: edge.y, stroke: '#475467',
        'stroke-width': 1, 'stroke-dasharray': '3 2', class: 'dependency' }));
    }
  }
  const axis = data.lanes.length * laneHeight + 16;
  svg.append(h('text', { x: left, y: axis, 'font-size': 10, fill: '#667085' }, time(data.start)));
  svg.append(h('text', { x: width - 10, y: axis, 'font-size': 10, fill: '#667085', 'text-anchor': 'end' }, `+${duration(span)}`));
  node.replaceChildren(tabs, svg, h('p', { class: 'muted' }, data.aggregated
    ? `${data.taskRuns} task runs, counted per time slice (too many to draw one by one).`
    : `${data.taskRuns} task runs${edges.length ? `; dashed lines: waitFor dependencies (${edges.length})` : ''}.`));
}
