// Builds the page from text only: whatever a run carries (names, errors, logs) is set as text,
// never parsed as markup.

/** An element with attributes (functions under on* become listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const svg = ['svg', 'rect', 'g', 'text', 'line', 'title', 'path'].includes(tag);
  const node = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'href') node.setAttribute('href', safeHref(value));
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A link target that cannot run script: same-site paths and http(s) URLs only. */
export function safeHref(value) {
  const text = String(value);
  if (text.startsWith('/') && !text.startsWith('//')) return text;
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch (_) { /* not a URL */ }
  return '#';
}

export const states = ['Scheduled', 'Late', 'Pending', 'Running', 'Retrying', 'Completed', 'Cached', 'Failed', 'Crashed', 'Cancelled', 'TimedOut'];
export const finalStates = ['Completed', 'Cached', 'Failed', 'Crashed', 'Cancelled', 'TimedOut'];

export function stateColor(state) {
  return states.includes(state) ? `var(--${state})` : 'var(--Pending)';
}

/** A coloured badge naming a state. */
export function badge(state) {
  const node = h('span', { class: 'state' }, state);
  node.style.background = stateColor(state);
  return node;
}

export function swatch(state) {
  const node = h('span', { class: 'swatch' });
  node.style.background = stateColor(state);
  return node;
}

/** A time (seconds since 1970) in the viewer's time zone. */
export function time(seconds) {
  if (seconds === undefined || seconds === null) return '—';
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** Seconds as a short duration: 850 ms, 4.2 s, 3 m 12 s, 2 h 5 m. */
export function duration(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} m ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} m`;
}

export function runDuration(run) {
  if (!run.startedAt) return null;
  return (run.endedAt ?? Date.now() / 1000) - run.startedAt;
}

/** Task-run counts as a row of small coloured numbers. */
export function counts(byState) {
  const entries = states.filter((s) => byState && byState[s]).map((s) => [s, byState[s]]);
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none');
  return h('span', { class: 'legend' }, entries.map(([s, n]) => h('span', { title: s }, swatch(s), `${n}`)));
}

export function table(headers, rows) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((header) => h('th', { class: header.class }, header.text ?? header)))),
    h('tbody', {}, rows));
}

/** Reads and writes the page's query string (every page's filters live there, so URLs can be shared). */
export function query() {
  return new URLSearchParams(location.search);
}

/** The same query without its page cursor: the first page of the same list. */
export function withoutCursor(q) {
  const copy = new URLSearchParams(q);
  copy.delete('cursor');
  return copy;
}
