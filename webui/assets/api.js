// The board's client of the HTTP API: the session cookie goes along, and
// every change carries the session's CSRF token.

let csrf = '';

export function setCSRF(token) { csrf = token || ''; }

// APIError is a refused request, with the API's own message.
export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export async function api(method, path, body, headers = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) h['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch(path, {
      method, headers: h, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new APIError(0, 'unavailable', 'the server cannot be reached: ' + e.message);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: the status says it */ }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code || '', e.message || `${res.status} ${res.statusText}`, e.field);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body, headers) => api('POST', path, body === undefined ? {} : body, headers);
export const del = (path) => api('DELETE', path);

// listAll follows a list's cursor to its end (bounded: the board is not an
// export).
export async function listAll(path, max = 5000) {
  const items = [];
  let after = '';
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${sep}limit=1000${after ? '&after=' + encodeURIComponent(after) : ''}`);
    items.push(...(page.items || []));
    if (!page.next || items.length >= max) return items;
    after = page.next;
  }
}

// follow reads the server-sent event stream and calls onEvent with each
// CloudEvent, reconnecting from the last event seen. It parses the stream
// itself: EventSource hands named events only to listeners of each name.
export function follow(onEvent, onStatus) {
  let last = '';
  let stopped = false;
  const controller = new AbortController();
  async function connect() {
    while (!stopped) {
      try {
        const headers = { Accept: 'text/event-stream' };
        if (last) headers['Last-Event-ID'] = last;
        const res = await fetch(last ? '/v1/events/stream' : '/v1/events/stream?since=1s', {
          headers, credentials: 'same-origin', signal: controller.signal,
        });
        if (!res.ok) {
          onStatus(res.status === 401 ? 'Sign in to follow events.' : `The event stream answered ${res.status}.`);
          if (res.status === 401) return;
          await pause(2000);
          continue;
        }
        onStatus('Live: changes appear as they happen.');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let ev = { id: '', data: '' };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).replace(/\r$/, '');
            buf = buf.slice(nl + 1);
            if (line === '') {
              if (ev.id) last = ev.id;
              if (ev.data) {
                try { onEvent(JSON.parse(ev.data)); } catch { /* a frame that is not an event */ }
              }
              ev = { id: '', data: '' };
            } else if (line.startsWith('id:')) {
              ev.id = line.slice(3).trim();
            } else if (line.startsWith('data:')) {
              ev.data += line.slice(5).trim();
            }
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      onStatus('Reconnecting…');
      await pause(1000);
    }
  }
  connect();
  return () => { stopped = true; controller.abort(); };
}

function pause(ms) { return new Promise((r) => setTimeout(r, ms)); }
