// Artifacts: the latest of each key, and one key's history (?key=); also how one artifact is drawn.
import { h, time, table, query } from './dom.js';
import { get } from './api.js';
import { markdown } from './markdown.js';

export async function artifacts({ main }) {
  const key = query().get('key');
  const parameters = new URLSearchParams({ limit: '100' });
  if (key) parameters.set('key', key);
  const page = await get(`/artifacts?${parameters}`);
  main.replaceChildren(
    h('h1', {}, key ? `Artifact ${key}` : 'Artifacts'),
    key ? h('p', {}, h('a', { href: '/artifacts', 'data-link': true }, '← the latest of every key')) :
      h('p', { class: 'muted' }, 'The latest artifact of each key; open a key for its history.'),
    page.items.length === 0 ? h('p', { class: 'muted panel' }, 'No artifacts yet.') :
      h('div', { id: 'artifact-list' }, page.items.map((item) => artifactPanel(item, { linkKey: !key }))));
}

/** One artifact in a panel: its key, where it came from, when, and its content. */
export function artifactPanel(item, { linkKey = true } = {}) {
  return h('section', { class: 'panel artifact', 'data-kind': item.artifact.kind },
    h('h2', {}, item.key ? (linkKey ? h('a', { href: `/artifacts?key=${encodeURIComponent(item.key)}`, 'data-link': true },
      item.key) : item.key) : 'artifact', ' ', h('span', { class: 'muted' }, `(${item.artifact.kind})`)),
    h('p', { class: 'muted' }, time(item.createdAt), ' · ',
      h('a', { href: `/flow-runs/${encodeURIComponent(item.flowRunID)}`, 'data-link': true }, 'flow run'),
      item.taskRunID ? ` · task run ${item.taskRunID}` : ''),
    item.description ? h('p', {}, item.description) : null,
    content(item.artifact));
}

function content(artifact) {
  switch (artifact.kind) {
    case 'markdown': return markdown(artifact.text ?? '');
    case 'table': return table(artifact.columns ?? [], (artifact.rows ?? []).map((row) => h('tr', {}, row.map((cell) => h('td', {}, cell)))));
    case 'link': return h('p', {}, h('a', { href: artifact.url, rel: 'noopener noreferrer nofollow', target: '_blank' }, artifact.text || artifact.url));
    case 'progress': {
      const bar = h('div', { class: 'progress' }, h('div'));
      bar.firstChild.style.width = `${Math.round((artifact.value ?? 0) * 100)}%`;
      bar.firstChild.style.background = 'var(--Running)';
      return h('div', {}, bar, h('span', {}, `${Math.round((artifact.value ?? 0) * 100)} %`));
    }
    default: return h('p', { class: 'muted' }, `an artifact of kind ${artifact.kind}`);
  }
}
