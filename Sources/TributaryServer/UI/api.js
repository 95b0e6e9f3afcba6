// The JSON API the CLI reads too, with the API key the viewer gave (kept for this tab only).

const keyName = 'tributary-api-key';

/** Thrown when the server wants an API key this tab does not have (or has wrong). */
export class NeedsKey extends Error {}

export function setKey(key) {
  if (key) sessionStorage.setItem(keyName, key); else sessionStorage.removeItem(keyName);
}

function headers() {
  const key = sessionStorage.getItem(keyName);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function answer(response) {
  if (response.status === 401) throw new NeedsKey('this server needs its API key');
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message ?? `the server answered ${response.status}`);
  return body;
}

/** GET /api + path, as JSON. */
export async function get(path) {
  return answer(await fetch(`/api${path}`, { headers: headers() }));
}

/** POST /api + path (with a JSON body if given), as JSON. */
export async function post(path, body) {
  const init = { method: 'POST', headers: headers() };
  if (body !== undefined) {
    init.headers = { ...init.headers, 'Content-Type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(`/api${path}`, init));
}

/**
 * Follows the server's Server-Sent Events at /api/changes (read with fetch, so the key goes in a
 * header); calls onEvent with each event's kind and data. Returns a function that stops it.
 */
export function changes(parameters, onEvent) {
  const controller = new AbortController();
  (async () => {
    try {
      const response = await fetch(`/api/changes?${parameters}`, { headers: headers(), signal: controller.signal });
      if (!response.ok || !response.body) return;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let kind = null, data = '';
          for (const line of frame.split('\n')) {
            if (line.startsWith('event: ')) kind = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (kind && data) {
            try { onEvent(kind, JSON.parse(data)); } catch (_) { /* a frame that is not JSON is skipped */ }
          }
        }
      }
    } catch (_) { /* stopped, or the server went away: the page's polling still runs */ }
  })();
  return () => controller.abort();
}
