// One task: facts, timeline, sandbox and live resources, locks, checkpoints, log, history.
import {
  LEVELS,
  MAX_LOG_LINES,
  CHART_POINTS,
  h,
  taskHref,
  timeEl,
  badge,
  mib,
  relative,
  api,
  toast,
  errText,
  confirmDialog,
  feed,
  openFeed,
  section,
  factsList,
} from './lib.js';
import { drawChart, execRow, logLine, withPids } from './task-parts.js';

// ------------------------------------------------------------------------------ task detail

/** `reload` re-renders the current view (after an action). */
export async function renderDetail(main, id, reload) {
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
    feed.handler = () => {};
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
                  h('th', { scope: 'col' }, 'agent'),
                  h('th', { scope: 'col' }, 'mode'),
                  h('th', { scope: 'col' }, 'token'),
                  h('th', { scope: 'col' }, 'lease expires'),
                ),
              ),
              locksBody,
            ),
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

  feed.handler = (msg) => {
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
      // Here or by another process (CLI, another server): the page keeps what it last showed.
      statusEl.replaceChildren(h('span', { class: 'badge s-failed' }, 'deleted'));
      actionsBar.replaceChildren(
        h(
          'p',
          { id: 'task-deleted', class: 'error', role: 'alert' },
          'This task was deleted. What this page shows is what it was. ',
          h('a', { href: '#/' }, 'All tasks'),
        ),
      );
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
