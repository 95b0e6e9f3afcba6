// A safe subset of markdown, built as DOM nodes from text (never as HTML): headings, paragraphs,
// **strong**, *emphasis*, `code`, fenced code, lists, tables, and [links](https://...) that are
// http(s) only; anything else stays text.
import { h } from './dom.js';

export function markdown(source) {
  const lines = String(source).replace(/\r\n?/g, '\n').split('\n');
  const root = h('div', { class: 'md' });
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') { i++; continue; }
    if (line.startsWith('```')) {
      const code = [];
      for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
      i++;
      root.append(h('pre', { class: 'code' }, h('code', {}, code.join('\n'))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      root.append(h(`h${Math.min(heading[1].length + 1, 6)}`, {}, inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1])) {
      const cells = (row) => row.trim().replace(/^\||\|$/g, '').split('|').map((cell) => cell.trim());
      const header = cells(line);
      const body = [];
      for (i += 2; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) body.push(cells(lines[i]));
      root.append(h('table', {}, h('thead', {}, h('tr', {}, header.map((c) => h('th', {}, inline(c))))),
        h('tbody', {}, body.map((row) => h('tr', {}, row.map((c) => h('td', {}, inline(c))))))));
      continue;
    }
    const bullet = /^\s*([-*+]|\d+\.)\s+/;
    if (bullet.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const list = h(ordered ? 'ol' : 'ul');
      for (; i < lines.length && bullet.test(lines[i]); i++) list.append(h('li', {}, inline(lines[i].replace(bullet, ''))));
      root.append(list);
      continue;
    }
    const paragraph = [];
    for (; i < lines.length && lines[i].trim() !== '' && !/^(#{1,6}\s|```|\s*([-*+]|\d+\.)\s)/.test(lines[i]); i++) {
      paragraph.push(lines[i]);
    }
    root.append(h('p', {}, inline(paragraph.join(' '))));
  }
  return root;
}

/** Inline spans of a line: code, links, strong and emphasis; the rest as text. */
function inline(text) {
  // Underscores emphasise only at word boundaries (as GitHub's markdown does): snake_case stays text.
  const pattern = /`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|\*([^*]+)\*|(?<![\p{L}\p{N}_])_([^_]+)_(?![\p{L}\p{N}_])/gu;
  const nodes = [];
  let last = 0, match;
  while ((match = pattern.exec(text)) !== null) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    if (match[1] !== undefined) nodes.push(h('code', {}, match[1]));
    else if (match[2] !== undefined) nodes.push(link(match[2], match[3]));
    else if (match[4] !== undefined) nodes.push(h('strong', {}, match[4]));
    else nodes.push(h('em', {}, match[5] ?? match[6]));
    last = pattern.lastIndex;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

function link(text, target) {
  let url = null;
  try { url = new URL(target); } catch (_) { /* not absolute */ }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) return `[${text}](${target})`;
  return h('a', { href: url.href, rel: 'noopener noreferrer nofollow', target: '_blank' }, text);
}
