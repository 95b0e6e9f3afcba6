// The page's router: each path draws one page into <main>; links with data-link move without a reload.
import { h } from './dom.js';
import { NeedsKey, setKey } from './api.js';
import { dashboard } from './dashboard.js';
import { flowRuns } from './flow-runs.js';
import { flowRun } from './flow-run.js';
import { artifacts } from './artifacts.js';
import { workers } from './workers.js';
import { deployments, deployment } from './deployments.js';

const routes = [
  [/^\/$/, dashboard],
  [/^\/flow-runs\/?$/, flowRuns],
  [/^\/flow-runs\/([^/]+)$/, flowRun],
  [/^\/artifacts\/?$/, artifacts],
  [/^\/deployments\/?$/, deployments],
  [/^\/deployments\/([^/]+)$/, deployment],
  [/^\/workers\/?$/, workers],
];

let stopPage = null;

/** Draws the page for the current URL; a page returns a function that stops its timers and streams. */
async function render() {
  if (stopPage) stopPage();
  stopPage = null;
  const main = document.getElementById('page');
  showProblem(null);
  const path = location.pathname;
  for (const [pattern, page] of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    const context = { main, params: match.slice(1).map(decodeURIComponent), navigate, failed };
    try {
      stopPage = (await page(context)) || null;
    } catch (error) {
      failed(error);
    }
    return;
  }
  main.replaceChildren(h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('span', { class: 'mono' }, path), '.'));
}

/** An error while drawing or refreshing: asks for the key if that was it, else says what went wrong. */
export function failed(error) {
  if (error instanceof NeedsKey) return askForKey();
  showProblem(String(error.message || error));
}

function showProblem(text) {
  const banner = document.getElementById('problem');
  banner.hidden = !text;
  banner.textContent = text || '';
}

function askForKey() {
  if (stopPage) stopPage();
  stopPage = null;
  const input = h('input', { type: 'password', name: 'key', autocomplete: 'off', 'aria-label': 'API key', required: true });
  const form = h('form', { class: 'panel keyform', id: 'api-key-form' },
    h('h1', {}, 'API key'),
    h('p', {}, 'This server needs its API key (the --api-key it was started with) before it shows anything.'),
    h('p', {}, input, ' ', h('button', { type: 'submit' }, 'Open')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setKey(input.value.trim());
    render();
  });
  document.getElementById('page').replaceChildren(form);
  input.focus();
}

/** Moves to a URL of this site without a reload (filters go in its query string). */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url); else history.pushState(null, '', url);
  render();
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-link]');
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', render);
render();
