// OpenCode Tools dashboard: plain browser JavaScript, no build step, no network beyond this server.
// Every piece of data reaches the page as text (textContent / text nodes), never as markup.
'use strict';

(() => {
  const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'];
  const LEVELS = ['debug', 'info', 'warn', 'error'];
  const PAGE = 50;
  const MAX_LOG_LINES = 2000;
  const CHART_POINTS = 60;

  const $ = (sel) => document.querySelector(sel);

  /** Builds an element; children that are not Nodes become text nodes. */
  function h(tag, props, ...children) {
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

  const taskHref = (id) => `#/task/${encodeURIComponent(id)}`;
  const fmtTime = (ts) => (ts ? new Date(ts).toLocaleString() : '');
  const timeEl = (ts) => (ts ? h('time', { datetime: ts, title: ts }, fmtTime(ts)) : '');
  const badge = (status) => h('span', { class: `badge s-${status}` }, status);
  const mib = (b) => `${(b / 1048576).toFixed(1)} MiB`;
  const cmdText = (c) =>
    Array.isArray(c) ? c.join(' ') : c && typeof c === 'object' ? String(c.shell) : String(c);

  function relative(ts) {
    const s = Math.round((Date.parse(ts) - Date.now()) / 1000);
    if (!Number.isFinite(s)) return '';
    const abs = Math.abs(s);
    const txt =
      abs < 120
        ? `${abs}s`
        : abs < 7200
          ? `${Math.round(abs / 60)}m`
          : `${Math.round(abs / 3600)}h`;
    return s >= 0 ? `in ${txt}` : `${txt} ago`;
  }

  async function api(path, body) {
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
  function toast(text, isError) {
    const t = $('#toast');
    t.textContent = text;
    t.className = isError ? 'error' : 'ok';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), isError ? 12000 : 5000);
  }
  const errText = (err) => `${err.code ? `${err.code}: ` : ''}${err.message}`;

  /** A modal confirmation; resolves true only on the explicit confirm button. */
  function confirmDialog(title, text, okLabel) {
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
  let onFeed = () => {};

  function openFeed(taskId) {
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
      onFeed(msg);
    };
  }

  // ------------------------------------------------------------------------------ task list
  const listState = { status: '', owner: '', sort: 'createdAt', q: '', offset: 0 };

  function taskRow(t) {
    return h(
      'tr',
      { 'data-id': t.id },
      h('td', { class: 'col-name' }, h('a', { href: taskHref(t.id) }, t.name)),
      h('td', null, badge(t.status)),
      h('td', { class: 'col-owner' }, t.owner),
      h('td', { class: 'col-mode' }, t.mode),
      h('td', { class: 'col-image' }, t.image || '—'),
      h('td', { class: 'col-time' }, timeEl(t.updatedAt)),
      h('td', { class: 'col-id mono' }, t.id),
    );
  }

  function renderList(main) {
    const search = h('input', {
      type: 'search',
      id: 'search',
      value: listState.q,
      placeholder: 'name, description, metadata',
      'aria-describedby': 'search-help',
    });
    const status = h(
      'select',
      { id: 'status-filter' },
      h('option', { value: '' }, 'all statuses'),
      STATUSES.map((s) => h('option', { value: s, selected: listState.status === s }, s)),
    );
    const owner = h('input', {
      type: 'text',
      id: 'owner-filter',
      value: listState.owner,
      placeholder: 'any',
      size: 12,
    });
    const sort = h(
      'select',
      { id: 'sort' },
      h('option', { value: 'createdAt', selected: listState.sort === 'createdAt' }, 'newest first'),
      h(
        'option',
        { value: 'updatedAt', selected: listState.sort === 'updatedAt' },
        'recently changed',
      ),
    );
    const count = h('p', { id: 'count', class: 'muted', 'aria-live': 'polite' });
    const tbody = h('tbody', { id: 'task-rows' });
    const prev = h('button', { type: 'button', id: 'prev' }, '← Newer');
    const next = h('button', { type: 'button', id: 'next' }, 'Older →');
    const rows = new Map();
    let page = { items: [], total: 0, offset: 0, limit: PAGE };
    let seq = 0;

    const matches = (t) =>
      !listState.q &&
      (!listState.status || listState.status === t.status) &&
      (!listState.owner || listState.owner === t.owner);

    function showCount() {
      const from = page.total ? page.offset + 1 : 0;
      const to = Math.min(page.offset + rows.size, page.total);
      count.textContent = `${from}–${to} of ${page.total} task${page.total === 1 ? '' : 's'}`;
      prev.disabled = page.offset === 0;
      next.disabled = page.offset + PAGE >= page.total;
    }

    async function load() {
      const mine = ++seq;
      const qs = new URLSearchParams({ limit: String(PAGE), offset: String(listState.offset) });
      if (listState.q) qs.set('q', listState.q);
      if (listState.status) qs.set('status', listState.status);
      if (listState.owner) qs.set('owner', listState.owner);
      if (!listState.q) qs.set('sort', listState.sort);
      try {
        const data = await api(`/api/tasks?${qs}`);
        if (mine !== seq) return;
        page = data;
        rows.clear();
        tbody.replaceChildren(
          ...data.items.map((t) => {
            const tr = taskRow(t);
            rows.set(t.id, tr);
            return tr;
          }),
        );
        if (!data.items.length) {
          tbody.append(h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'No tasks match.')));
        }
        showCount();
      } catch (err) {
        count.textContent = errText(err);
        toast(errText(err), true);
      }
    }

    let debounce;
    search.addEventListener('input', () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => {
        listState.q = search.value.trim();
        if (listState.q) {
          // The search runs over all tasks: filters do not combine with it (yet).
          listState.status = listState.owner = '';
          status.value = owner.value = '';
        }
        listState.offset = 0;
        void load();
      }, 250);
    });
    const filtered = () => {
      listState.status = status.value;
      listState.owner = owner.value.trim();
      listState.sort = sort.value;
      if (listState.q && (listState.status || listState.owner)) listState.q = search.value = '';
      listState.offset = 0;
      void load();
    };
    status.addEventListener('change', filtered);
    sort.addEventListener('change', filtered);
    let ownerDebounce;
    owner.addEventListener('input', () => {
      clearTimeout(ownerDebounce);
      ownerDebounce = setTimeout(filtered, 300);
    });
    prev.addEventListener('click', () => {
      listState.offset = Math.max(0, listState.offset - PAGE);
      void load();
    });
    next.addEventListener('click', () => {
      listState.offset += PAGE;
      void load();
    });

    main.replaceChildren(
      h('h2', null, 'Tasks'),
      h(
        'div',
        { class: 'filters' },
        h('label', { for: 'search' }, 'Search'),
        search,
        h('label', { for: 'status-filter' }, 'Status'),
        status,
        h('label', { for: 'owner-filter' }, 'Owner'),
        owner,
        h('label', { for: 'sort' }, 'Order'),
        sort,
        h(
          'span',
          { id: 'search-help', class: 'sr-only' },
          'Searching clears the status and owner filters.',
        ),
      ),
      count,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'tasks' },
          h('caption', { class: 'sr-only' }, 'Tasks, newest first'),
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              h('th', { scope: 'col' }, 'Name'),
              h('th', { scope: 'col' }, 'Status'),
              h('th', { scope: 'col', class: 'col-owner' }, 'Owner'),
              h('th', { scope: 'col', class: 'col-mode' }, 'Mode'),
              h('th', { scope: 'col', class: 'col-image' }, 'Sandbox'),
              h('th', { scope: 'col', class: 'col-time' }, 'Updated'),
              h('th', { scope: 'col', class: 'col-id' }, 'ID'),
            ),
          ),
          tbody,
        ),
      ),
      h('div', { class: 'pager' }, prev, next),
    );

    onFeed = (msg) => {
      if (msg.type === 'task') {
        const t = msg.task;
        const old = rows.get(t.id);
        if (old) {
          const tr = taskRow(t);
          old.replaceWith(tr);
          rows.set(t.id, tr);
        } else if (
          listState.offset === 0 &&
          listState.sort === 'createdAt' &&
          matches(t) &&
          msg.event === 'afterTaskCreate'
        ) {
          if (!rows.size) tbody.replaceChildren();
          const tr = taskRow(t);
          tbody.prepend(tr);
          rows.set(t.id, tr);
          page.total++;
          if (rows.size > PAGE) {
            const last = tbody.lastElementChild;
            rows.delete(last.getAttribute('data-id'));
            last.remove();
          }
          showCount();
        }
      } else if (msg.type === 'deleted') {
        const tr = rows.get(msg.id);
        if (tr) {
          tr.remove();
          rows.delete(msg.id);
          page.total = Math.max(0, page.total - 1);
          showCount();
        }
      }
    };
    openFeed(undefined);
    return load();
  }

  // ------------------------------------------------------------------------------ task detail
  function section(title, id, ...body) {
    return h('section', { class: 'card', 'aria-labelledby': id }, h('h3', { id }, title), ...body);
  }

  function factsList(pairs) {
    return h(
      'dl',
      { class: 'facts' },
      pairs
        .filter(([, v]) => v !== undefined && v !== null && v !== '')
        .flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
    );
  }

  function drawChart(canvas, samples) {
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    const w = canvas.width;
    const hgt = canvas.height;
    ctx.clearRect(0, 0, w, hgt);
    ctx.strokeStyle = '#c7c7c7';
    ctx.lineWidth = 1;
    for (const p of [0, 50, 100]) {
      const y = hgt - (p / 100) * (hgt - 10) - 5;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(w, y);
      ctx.stroke();
    }
    const line = (key, color, dash) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(dash);
      ctx.beginPath();
      samples.forEach((s, i) => {
        const x = (i / Math.max(1, CHART_POINTS - 1)) * w;
        const y = hgt - (Math.min(100, s[key]) / 100) * (hgt - 10) - 5;
        if (i) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
      });
      ctx.stroke();
      ctx.setLineDash([]);
    };
    line('cpuPercent', '#1d4ed8', []);
    line('memoryPercent', '#b91c1c', [6, 3]);
    line('pidsPercent', '#15803d', [2, 3]);
  }

  /** Pids as a share of the pids limit, so all three lines share one 0–100 % scale. */
  const withPids = (s) => ({ ...s, pidsPercent: s.pidsLimit ? (100 * s.pids) / s.pidsLimit : 0 });

  async function renderDetail(main, id) {
    openFeed(id);
    let data;
    try {
      data = await api(`/api/tasks/${encodeURIComponent(id)}`);
    } catch (err) {
      main.replaceChildren(
        h('h2', null, 'Task'),
        h('p', { class: 'error' }, errText(err)),
        h('p', null, h('a', { href: '#/' }, '← all tasks')),
      );
      onFeed = () => {};
      return;
    }
    const t = data.task;
    let level = 'debug';
    let follow = true;
    const samples = [];
    let locks = data.locks;

    const statusEl = h('span', { id: 'task-status' }, badge(t.status));
    const versionEl = h('span', null, String(t.version));
    const endedEl = h('span', null, timeEl(t.endedAt));
    const actionsBar = h('div', {
      class: 'actions',
      role: 'toolbar',
      'aria-label': 'Task actions',
    });
    const logBox = h('ol', {
      id: 'log',
      class: 'log',
      'aria-live': 'off',
      tabindex: 0,
      'aria-label': 'Log lines',
    });
    const execBody = h('tbody', { id: 'exec-rows' });
    const decisionsList = h('ol', { id: 'decisions', class: 'plain' });
    const checkpointBody = h('tbody', { id: 'checkpoint-rows' });
    const locksBody = h('tbody', { id: 'lock-rows' });
    const timelineList = h('ol', { id: 'timeline', class: 'timeline' });
    const canvas = h('canvas', {
      id: 'chart',
      width: 600,
      height: 140,
      role: 'img',
      'aria-label': 'CPU, memory and pids (last 60 samples, one every 2 s)',
    });
    const statsText = h(
      'p',
      { id: 'stats-text', class: 'mono' },
      t.sandbox ? 'waiting for a sample…' : 'this task has no sandbox',
    );

    async function act(action, body, okText) {
      try {
        const r = await api(`/api/tasks/${encodeURIComponent(t.id)}/${action}`, body);
        toast(okText(r), false);
        return r;
      } catch (err) {
        toast(errText(err), true);
        return undefined;
      }
    }
    const reload = () => route();

    function renderActions(status) {
      const live = status === 'pending' || status === 'running';
      const cpDesc = h('input', {
        type: 'text',
        id: 'checkpoint-desc',
        placeholder: 'checkpoint description',
        'aria-label': 'Checkpoint description',
        maxlength: 500,
      });
      actionsBar.replaceChildren(
        live
          ? h(
              'button',
              {
                type: 'button',
                id: 'act-cancel',
                class: 'danger',
                onclick: async () => {
                  if (
                    !(await confirmDialog(
                      'Cancel task?',
                      `Cancel “${t.name}”? Its sandbox is stopped; this cannot be undone.`,
                      'Cancel task',
                    ))
                  )
                    return;
                  if (
                    await act(
                      'cancel',
                      { reason: 'cancelled from the dashboard' },
                      () => 'Task cancelled.',
                    )
                  )
                    void reload();
                },
              },
              'Cancel…',
            )
          : null,
        cpDesc,
        h(
          'button',
          {
            type: 'button',
            id: 'act-checkpoint',
            onclick: async () => {
              const r = await act(
                'checkpoint',
                { description: cpDesc.value.trim() || 'from the dashboard' },
                (x) => `Checkpoint ${x.checkpoint.id} created.`,
              );
              if (r) void reload();
            },
          },
          'Checkpoint',
        ),
        h(
          'button',
          {
            type: 'button',
            id: 'act-delete',
            class: 'danger',
            onclick: async () => {
              if (
                !(await confirmDialog(
                  'Delete task?',
                  `Delete “${t.name}” with its logs, history, checkpoints and sandbox? This cannot be undone.`,
                  'Delete task',
                ))
              )
                return;
              if (await act('delete', {}, () => 'Task deleted.')) location.hash = '#/';
            },
          },
          'Delete…',
        ),
      );
    }

    function logLine(e) {
      const li = h(
        'li',
        { class: `lv-${e.level}${e.rewoundBy ? ' rewound' : ''}`, 'data-level': e.level },
        h('time', { datetime: e.ts, title: e.ts }, new Date(e.ts).toLocaleTimeString()),
        ' ',
        h('span', { class: 'lvl' }, e.level),
        ' ',
        h('span', { class: 'msg' }, e.message),
        e.data !== undefined ? h('span', { class: 'data' }, ` ${JSON.stringify(e.data)}`) : null,
        e.rewoundBy ? h('span', { class: 'tag' }, ` rewound by ${e.rewoundBy}`) : null,
      );
      return li;
    }

    // The first read and the live feed can overlap by a line or two; positions only grow.
    let lastPos = -1;
    function appendLog(e) {
      if (LEVELS.indexOf(e.level) < LEVELS.indexOf(level)) return;
      if (typeof e.pos === 'number') {
        if (e.pos <= lastPos) return;
        lastPos = e.pos;
      }
      logBox.append(logLine(e));
      while (logBox.childElementCount > MAX_LOG_LINES) logBox.firstElementChild.remove();
      if (follow) logBox.scrollTop = logBox.scrollHeight;
    }

    async function loadLogs() {
      try {
        const r = await api(`/api/tasks/${encodeURIComponent(t.id)}/logs?tail=200&level=${level}`);
        logBox.replaceChildren();
        lastPos = -1;
        r.entries.forEach(appendLog);
        for (const c of r.corrupt || [])
          logBox.append(h('li', { class: 'lv-error' }, `corrupt line ${c.line}: ${c.error || ''}`));
      } catch (err) {
        logBox.replaceChildren(h('li', { class: 'lv-error' }, errText(err)));
      }
    }

    function execRow(x) {
      return h(
        'tr',
        null,
        h('td', { class: 'mono' }, cmdText(x.command)),
        h('td', null, x.exitCode === null || x.exitCode === undefined ? '—' : String(x.exitCode)),
        h('td', null, `${Math.round(x.durationMs)} ms`),
        h('td', null, x.timedOut ? 'yes' : 'no'),
        h('td', { class: 'col-owner' }, x.agentId || ''),
      );
    }

    function renderLocks() {
      locksBody.replaceChildren(
        ...(locks.length
          ? locks.map((l) =>
              h(
                'tr',
                null,
                h('td', null, l.agentId || l.holder),
                h('td', null, l.mode),
                h('td', null, String(l.token ?? l.fencingToken ?? '')),
                h(
                  'td',
                  { 'data-expires': l.expiresAt },
                  h('time', { datetime: l.expiresAt, title: l.expiresAt }, relative(l.expiresAt)),
                ),
              ),
            )
          : [h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No agent holds this task.'))]),
      );
    }

    function renderCheckpoints(list) {
      checkpointBody.replaceChildren(
        ...(list.length
          ? list.map((c) =>
              h(
                'tr',
                { 'data-checkpoint': c.id },
                h('td', null, c.description),
                h('td', null, timeEl(c.createdAt)),
                h('td', { class: 'mono col-id' }, c.id),
                h(
                  'td',
                  null,
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'danger restore',
                      onclick: async () => {
                        const ok = await confirmDialog(
                          'Restore checkpoint?',
                          `Rewind “${t.name}” to “${c.description}”? State goes back to the checkpoint; later log lines, decisions and executions are marked rewound (kept); a finished task returns to pending.`,
                          'Restore',
                        );
                        if (!ok) return;
                        if (
                          await act(
                            'restore',
                            { checkpointId: c.id },
                            (r) => `Restored to ${c.id}; task is ${r.task.status}.`,
                          )
                        )
                          void reload();
                      },
                    },
                    'Restore…',
                  ),
                  ' ',
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'fork',
                      onclick: async () => {
                        const r = await act(
                          'fork',
                          { checkpointId: c.id },
                          (x) => `Forked into ${x.task.name}.`,
                        );
                        if (r) location.hash = taskHref(r.task.id);
                      },
                    },
                    'Fork',
                  ),
                ),
              ),
            )
          : [h('tr', null, h('td', { colspan: 4, class: 'muted' }, 'No checkpoints yet.'))]),
      );
    }

    function renderTimeline(items) {
      timelineList.replaceChildren(
        h('li', null, timeEl(t.createdAt), ' created'),
        ...items.map((e) =>
          h(
            'li',
            { class: e.rewoundBy ? 'rewound' : '' },
            timeEl(e.ts),
            ' ',
            e.message,
            e.data && e.data.transition
              ? ` (${e.data.transition.from ?? '—'} → ${e.data.transition.to ?? '—'})`
              : '',
          ),
        ),
      );
    }

    const sb = data.sandbox;
    const spec = t.sandbox;
    const sandboxFacts = spec
      ? factsList([
          ['image', (sb && sb.sandbox && sb.sandbox.image) || spec.image || 'default'],
          [
            'state',
            sb && sb.sandbox
              ? sb.sandbox.state + (sb.sandbox.oomKilled ? ' (OOM-killed)' : '')
              : sb && sb.error
                ? `unknown: ${sb.error}`
                : 'no container',
          ],
          [
            'limits',
            sb && sb.sandbox
              ? `${sb.sandbox.limits.cpus} CPU, ${sb.sandbox.limits.memoryMb} MiB, ${sb.sandbox.limits.pids} pids`
              : JSON.stringify(spec.limits || {}),
          ],
          ['network', (sb && sb.sandbox && sb.sandbox.network) || spec.network || 'none'],
        ])
      : h('p', { class: 'muted' }, 'No sandbox.');
    if (sb && sb.stats) samples.push(withPids(sb.stats));

    main.replaceChildren(
      h('p', null, h('a', { href: '#/' }, '← all tasks')),
      h('div', { class: 'title-row' }, h('h2', { id: 'task-name' }, t.name), statusEl),
      actionsBar,
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'div',
          null,
          section(
            'Facts',
            'h-facts',
            factsList([
              ['id', h('span', { class: 'mono' }, t.id)],
              ['owner', t.owner],
              ['mode', t.mode],
              ['version', versionEl],
              ['created', timeEl(t.createdAt)],
              ['started', timeEl(t.startedAt)],
              ['ended', endedEl],
              ['description', t.description],
              ['error', t.error],
              ['result', t.result === undefined ? undefined : JSON.stringify(t.result)],
            ]),
          ),
          section('Status timeline', 'h-timeline', timelineList),
          section(
            'Sandbox',
            'h-sandbox',
            sandboxFacts,
            spec ? canvas : null,
            spec
              ? h(
                  'p',
                  { class: 'legend' },
                  h('span', { class: 'k-cpu' }, '— CPU %'),
                  ' ',
                  h('span', { class: 'k-mem' }, '- - memory % of limit'),
                  ' ',
                  h('span', { class: 'k-pids' }, '··· pids % of limit'),
                )
              : null,
            spec ? statsText : null,
          ),
          section(
            'Lock holders',
            'h-locks',
            h(
              'table',
              null,
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  h('th', { scope: 'col' }, 'agent'),
                  h('th', { scope: 'col' }, 'mode'),
                  h('th', { scope: 'col' }, 'token'),
                  h('th', { scope: 'col' }, 'lease expires'),
                ),
              ),
              locksBody,
            ),
          ),
          section(
            'Checkpoints',
            'h-checkpoints',
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                null,
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'col' }, 'description'),
                    h('th', { scope: 'col' }, 'created'),
                    h('th', { scope: 'col', class: 'col-id' }, 'id'),
                    h('th', { scope: 'col' }, 'actions'),
                  ),
                ),
                checkpointBody,
              ),
            ),
          ),
        ),
        h(
          'div',
          null,
          section(
            'Log',
            'h-log',
            h(
              'div',
              { class: 'filters' },
              h('label', { for: 'log-level' }, 'Level at least'),
              h(
                'select',
                {
                  id: 'log-level',
                  onchange: (e) => {
                    level = e.target.value;
                    void loadLogs();
                  },
                },
                LEVELS.map((l) => h('option', { value: l }, l)),
              ),
              h(
                'label',
                null,
                h('input', {
                  type: 'checkbox',
                  id: 'log-follow',
                  checked: true,
                  onchange: (e) => (follow = e.target.checked),
                }),
                ' follow',
              ),
            ),
            logBox,
          ),
          section(
            'Executions',
            'h-exec',
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                null,
                h(
                  'thead',
                  null,
                  h(
                    'tr',
                    null,
                    h('th', { scope: 'col' }, 'command'),
                    h('th', { scope: 'col' }, 'exit'),
                    h('th', { scope: 'col' }, 'duration'),
                    h('th', { scope: 'col' }, 'timed out'),
                    h('th', { scope: 'col', class: 'col-owner' }, 'agent'),
                  ),
                ),
                execBody,
              ),
            ),
          ),
          section('Decisions', 'h-decisions', decisionsList),
        ),
      ),
    );
    renderActions(t.status);
    renderLocks();
    renderCheckpoints(data.checkpoints);
    renderTimeline(data.timeline);
    drawChart(canvas, samples);

    const [execs, decisions] = await Promise.all([
      api(`/api/tasks/${encodeURIComponent(t.id)}/executions?limit=50`).catch((e) => ({
        items: [],
        error: e,
      })),
      api(`/api/tasks/${encodeURIComponent(t.id)}/decisions?limit=50`).catch((e) => ({
        items: [],
        error: e,
      })),
      loadLogs(),
    ]);
    execBody.replaceChildren(
      ...(execs.items.length
        ? execs.items.map(execRow)
        : [h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No commands run yet.'))]),
    );
    decisionsList.replaceChildren(
      ...(decisions.items.length
        ? decisions.items.map((d) =>
            h(
              'li',
              { class: d.rewoundBy ? 'rewound' : '' },
              h('strong', null, d.decision),
              ' — ',
              d.reasoning || '',
              h('div', { class: 'muted' }, `${d.agentId}, `, timeEl(d.ts)),
            ),
          )
        : [h('li', { class: 'muted' }, 'No decisions recorded.')]),
    );

    const ticker = setInterval(() => {
      if (!document.body.contains(locksBody)) return clearInterval(ticker);
      for (const td of locksBody.querySelectorAll('td[data-expires]')) {
        td.firstElementChild.textContent = relative(td.getAttribute('data-expires'));
      }
    }, 1000);

    onFeed = (msg) => {
      if (msg.type === 'task' && msg.task.id === t.id) {
        const u = msg.task;
        statusEl.replaceChildren(badge(u.status));
        versionEl.textContent = String(u.version);
        endedEl.replaceChildren(timeEl(u.endedAt));
        if (u.status !== t.status) {
          t.status = u.status;
          renderActions(u.status);
        }
      } else if (msg.type === 'deleted' && msg.id === t.id) {
        statusEl.replaceChildren(h('span', { class: 'badge s-failed' }, 'deleted'));
      } else if (msg.type === 'log' && msg.taskId === t.id) {
        appendLog(msg.entry);
        const d = msg.entry.data;
        if (d && d.transition)
          timelineList.append(
            h(
              'li',
              null,
              timeEl(msg.entry.ts),
              ' ',
              msg.entry.message,
              ` (${d.transition.from ?? '—'} → ${d.transition.to ?? '—'})`,
            ),
          );
      } else if (msg.type === 'exec' && msg.taskId === t.id) {
        if (execBody.querySelector('td[colspan]')) execBody.replaceChildren();
        execBody.prepend(execRow(msg.execution));
      } else if (msg.type === 'stats' && msg.taskId === t.id) {
        const s = msg.stats;
        samples.push(withPids(s));
        if (samples.length > CHART_POINTS) samples.shift();
        drawChart(canvas, samples);
        statsText.textContent = `CPU ${s.cpuPercent}% · memory ${mib(s.memoryBytes)} of ${mib(s.memoryLimitBytes)} (${s.memoryPercent}%) · pids ${s.pids}${s.pidsLimit ? ` of ${s.pidsLimit}` : ''}`;
      } else if (msg.type === 'locks' && msg.taskId === t.id) {
        locks = msg.locks;
        renderLocks();
      }
    };
  }

  // ------------------------------------------------------------------------------ system view
  async function renderSystem(main) {
    openFeed(undefined);
    const alertsList = h('ol', { id: 'alerts', class: 'plain' });
    const actionsList = h('ol', { id: 'reconciler', class: 'plain' });
    const countsEl = h('div', { id: 'counts', class: 'counts' });
    const healthBody = h('tbody', { id: 'health-rows' });
    const failuresList = h('ol', { id: 'failures', class: 'plain' });
    const alertItem = (a) =>
      h(
        'li',
        null,
        timeEl(a.at),
        ' ',
        h('strong', null, a.kind),
        ' ',
        h('a', { href: taskHref(a.taskId) }, a.taskId),
        ' ',
        a.message,
      );
    const actionItem = (a) =>
      h(
        'li',
        null,
        timeEl(a.at),
        ' ',
        h('strong', null, a.kind),
        ' ',
        h('a', { href: taskHref(a.taskId) }, a.taskId),
        ' ',
        a.detail,
      );

    async function load() {
      const s = await api('/api/system');
      healthBody.replaceChildren(
        ...Object.entries(s.health.checks).map(([name, c]) =>
          h(
            'tr',
            null,
            h('th', { scope: 'row' }, name),
            h(
              'td',
              null,
              h(
                'span',
                { class: `badge ${c.status === 'ok' ? 's-completed' : 's-failed'}` },
                c.status,
              ),
            ),
            h('td', null, `${c.ms} ms`),
            h(
              'td',
              null,
              c.error ||
                (name === 'engine'
                  ? `${c.description || c.runtime} ${c.version || ''}`
                  : name === 'database'
                    ? `${c.driver}, ${c.tasks} tasks`
                    : `${mib(c.freeBytes)} free (${c.freePercent}%)`),
            ),
          ),
        ),
      );
      countsEl.replaceChildren(
        h('div', { class: 'count' }, h('span', { class: 'n' }, String(s.counts.total)), ' total'),
        ...STATUSES.map((st) =>
          h(
            'a',
            {
              class: 'count',
              href: '#/',
              onclick: () => {
                listState.status = st;
                listState.q = listState.owner = '';
                listState.offset = 0;
              },
            },
            h('span', { class: 'n' }, String(s.counts.byStatus[st] || 0)),
            ' ',
            badge(st),
          ),
        ),
      );
      failuresList.replaceChildren(
        ...(s.recentFailures.length
          ? s.recentFailures.map((t) =>
              h(
                'li',
                null,
                h('a', { href: taskHref(t.id) }, t.name),
                ' ',
                timeEl(t.updatedAt),
                t.error ? h('div', { class: 'muted' }, t.error) : null,
              ),
            )
          : [h('li', { class: 'muted' }, 'No failed tasks.')]),
      );
      alertsList.replaceChildren(
        ...(s.alerts.length
          ? s.alerts.map(alertItem)
          : [h('li', { class: 'muted' }, 'No alerts since the server started.')]),
      );
      actionsList.replaceChildren(
        ...(s.reconciler.length
          ? s.reconciler.map(actionItem)
          : [h('li', { class: 'muted' }, 'No reconciler actions since the server started.')]),
      );
    }

    main.replaceChildren(
      h('h2', null, 'System'),
      h(
        'div',
        { class: 'detail-grid' },
        h(
          'div',
          null,
          section(
            'Health',
            'h-health',
            h(
              'table',
              null,
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  h('th', { scope: 'col' }, 'check'),
                  h('th', { scope: 'col' }, 'status'),
                  h('th', { scope: 'col' }, 'took'),
                  h('th', { scope: 'col' }, 'detail'),
                ),
              ),
              healthBody,
            ),
          ),
          section('Tasks by status', 'h-counts', countsEl),
          section('Recent failures', 'h-failures', failuresList),
        ),
        h(
          'div',
          null,
          section('Alerts', 'h-alerts', alertsList),
          section('Reconciler actions', 'h-reconciler', actionsList),
          h('p', { class: 'muted' }, h('a', { href: '/metrics' }, 'Prometheus metrics')),
        ),
      ),
    );
    let refresh;
    onFeed = (msg) => {
      if (msg.type === 'alert') {
        if (alertsList.querySelector('.muted')) alertsList.replaceChildren();
        alertsList.prepend(alertItem(msg.alert));
      } else if (msg.type === 'reconciled') {
        if (actionsList.querySelector('.muted')) actionsList.replaceChildren();
        actionsList.prepend(actionItem(msg.action));
      } else if (msg.type === 'task' || msg.type === 'deleted') {
        // Counts change with tasks: at most one reload per 3 s, only while this view is open.
        refresh ??= setTimeout(() => {
          refresh = undefined;
          if (document.body.contains(countsEl)) void load().catch(() => {});
        }, 3000);
      }
    };
    try {
      await load();
    } catch (err) {
      toast(errText(err), true);
    }
  }

  // ----------------------------------------------------------------------------------- router
  async function route() {
    const main = $('#main');
    const hash = location.hash || '#/';
    const m = /^#\/task\/(.+)$/.exec(hash);
    $('#nav-tasks').setAttribute('aria-current', m || hash === '#/system' ? 'false' : 'page');
    $('#nav-system').setAttribute('aria-current', hash === '#/system' ? 'page' : 'false');
    if (m) {
      document.title = 'Task · OpenCode Tools';
      await renderDetail(main, decodeURIComponent(m[1]));
    } else if (hash === '#/system') {
      document.title = 'System · OpenCode Tools';
      await renderSystem(main);
    } else {
      document.title = 'Tasks · OpenCode Tools';
      await renderList(main);
    }
    document.body.setAttribute('data-ready', hash);
  }

  // A hidden tab gives its stream back: browsers allow 6 connections per host over HTTP/1.1,
  // and each open dashboard holds one. Coming back re-reads the view, then follows again.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      if (source) source.close();
      source = undefined;
      const live = $('#live');
      live.textContent = 'paused (tab hidden)';
      live.className = 'live off';
    } else if (!source) {
      void route();
    }
  });

  window.addEventListener('hashchange', () => {
    document.body.removeAttribute('data-ready');
    void route().then(() => $('#main').focus({ preventScroll: true }));
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === '/' && document.activeElement === document.body) {
      const s = $('#search');
      if (s) {
        e.preventDefault();
        s.focus();
      }
    }
  });
  void route();
})();
