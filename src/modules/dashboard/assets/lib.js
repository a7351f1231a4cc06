// Shared pieces of the dashboard: DOM building (text only), the API client, toasts, the
// confirmation dialog and the one change-feed stream.

export const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
export const LEVELS = ['debug', 'info', 'warn', 'error'];
export const PAGE = 50;
export const MAX_LOG_LINES = 2000;
export const CHART_POINTS = 60;

export const $ = (sel) => document.querySelector(sel);

/** Builds an element; children that are not Nodes become text nodes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = String(v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const taskHref = (id) => `#/task/${encodeURIComponent(id)}`;
export const fmtTime = (ts) => (ts ? new Date(ts).toLocaleString() : '');
export const timeEl = (ts) => (ts ? h('time', { datetime: ts, title: ts }, fmtTime(ts)) : '');
export const badge = (status) => h('span', { class: `badge s-${status}` }, status);
export const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
export const cmdText = (c) =>
  Array.isArray(c) ? c.join(' ') : c && typeof c === 'object' ? String(c.shell) : String(c);

export function relative(ts) {
  const s = Math.round((Date.parse(ts) - Date.now()) / 1000);
  if (!Number.isFinite(s)) return '';
  const abs = Math.abs(s);
  const txt =
    abs < 120 ? `${abs}s` : abs < 7200 ? `${Math.round(abs / 60)}m` : `${Math.round(abs / 3600)}h`;
  return s >= 0 ? `in ${txt}` : `${txt} ago`;
}

export async function api(path, body) {
  const init = { headers: { accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = data.error && typeof data.error === 'object' ? data.error : {};
    const err = new Error(e.message || data.message || `HTTP ${res.status}`);
    err.code = e.code || (res.status === 401 ? 'UNAUTHORIZED' : `HTTP_${res.status}`);
    throw err;
  }
  return data;
}

let toastTimer;
export function toast(text, isError) {
  const t = $('#toast');
  t.textContent = text;
  t.className = isError ? 'error' : 'ok';
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), isError ? 12000 : 5000);
}
export const errText = (err) => `${err.code ? `${err.code}: ` : ''}${err.message}`;

/** A modal confirmation; resolves true only on the explicit confirm button. */
export function confirmDialog(title, text, okLabel) {
  return new Promise((resolve) => {
    const d = $('#confirm');
    const yes = $('#confirm-yes');
    const no = $('#confirm-no');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    yes.textContent = okLabel;
    const done = (v) => {
      yes.onclick = no.onclick = d.oncancel = null;
      if (d.open) d.close();
      resolve(v);
    };
    yes.onclick = () => done(true);
    no.onclick = () => done(false);
    d.oncancel = (e) => {
      e.preventDefault();
      done(false);
    };
    d.showModal();
    no.focus();
  });
}

// ------------------------------------------------------------------ change feed (one stream)
let source;
let sourceTask;
/** The open view's handler of feed messages (each view sets its own). */
export const feed = { handler: () => {} };

export function openFeed(taskId) {
  if (source && sourceTask === taskId && source.readyState !== 2) return;
  if (source) source.close();
  sourceTask = taskId;
  source = new EventSource(`/api/events${taskId ? `?task=${encodeURIComponent(taskId)}` : ''}`);
  const live = $('#live');
  live.textContent = 'connecting…';
  live.className = 'live';
  source.onopen = () => {
    live.textContent = 'live';
    live.className = 'live on';
  };
  source.onerror = () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  };
  source.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    feed.handler(msg);
  };
}

/** Gives the stream back (hidden tab); `openFeed` opens it again. */
export function closeFeed() {
  if (source) source.close();
  source = undefined;
}

export const feedIsOpen = () => source !== undefined;

/** A titled card of the detail and system views. */
export function section(title, id, ...body) {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h3', { id }, title), ...body);
}

export function factsList(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== '')
      .flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
  );
}
