// The task's history panels: status timeline, lock holders, checkpoints, executions, decisions.
// Each returns its element and the updates the live feed applies to it.
import { h, taskHref, timeEl, relative, confirmDialog } from './lib.js';
import { execRow } from './task-parts.js';

/** A table with a header row; `cols` are labels or [label, class]. */
function tableOf(cols, body) {
  const th = (c) =>
    Array.isArray(c) ? h('th', { scope: 'col', class: c[1] }, c[0]) : h('th', { scope: 'col' }, c);
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', null, h('thead', null, h('tr', null, ...cols.map(th))), body),
  );
}

const emptyRow = (cols, text) => h('tr', null, h('td', { colspan: cols, class: 'muted' }, text));

const transitionText = (d) =>
  d && d.transition ? ` (${d.transition.from ?? '—'} → ${d.transition.to ?? '—'})` : '';

export function timelinePanel(t) {
  const el = h('ol', { id: 'timeline', class: 'timeline' });
  return {
    el,
    render(items) {
      el.replaceChildren(
        h('li', null, timeEl(t.createdAt), ' created'),
        ...items.map((e) =>
          h(
            'li',
            { class: e.rewoundBy ? 'rewound' : '' },
            timeEl(e.ts),
            ' ',
            e.message,
            transitionText(e.data),
          ),
        ),
      );
    },
    /** A live log line: a status change joins the timeline. */
    log(entry) {
      if (entry.data && entry.data.transition)
        el.append(h('li', null, timeEl(entry.ts), ' ', entry.message, transitionText(entry.data)));
    },
  };
}

export function locksPanel() {
  const body = h('tbody', { id: 'lock-rows' });
  const render = (locks) =>
    body.replaceChildren(
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
        : [emptyRow(4, 'No agent holds this task.')]),
    );
  // The lease countdowns tick until the view is left.
  const ticker = setInterval(() => {
    if (!document.body.contains(body)) return clearInterval(ticker);
    for (const td of body.querySelectorAll('td[data-expires]')) {
      td.firstElementChild.textContent = relative(td.getAttribute('data-expires'));
    }
  }, 1000);
  return { el: tableOf(['agent', 'mode', 'token', 'lease expires'], body), render };
}

/** `act` sends an action (see task-actions.js); `reload` re-renders the view. */
export function checkpointsPanel(t, act, reload) {
  const body = h('tbody', { id: 'checkpoint-rows' });
  const restore = async (c) => {
    const ok = await confirmDialog(
      'Restore checkpoint?',
      `Rewind “${t.name}” to “${c.description}”? State goes back to the checkpoint; later log lines, decisions and executions are marked rewound (kept); a finished task returns to pending.`,
      'Restore',
    );
    if (!ok) return;
    const r = await act(
      'restore',
      { checkpointId: c.id },
      (x) => `Restored to ${c.id}; task is ${x.task.status}.`,
    );
    if (r) void reload();
  };
  const fork = async (c) => {
    const r = await act('fork', { checkpointId: c.id }, (x) => `Forked into ${x.task.name}.`);
    if (r) location.hash = taskHref(r.task.id);
  };
  const row = (c) =>
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
          { type: 'button', class: 'danger restore', onclick: () => restore(c) },
          'Restore…',
        ),
        ' ',
        h('button', { type: 'button', class: 'fork', onclick: () => fork(c) }, 'Fork'),
      ),
    );
  return {
    el: tableOf(['description', 'created', ['id', 'col-id'], 'actions'], body),
    render: (list) =>
      body.replaceChildren(...(list.length ? list.map(row) : [emptyRow(4, 'No checkpoints yet.')])),
  };
}

export function executionsPanel() {
  const body = h('tbody', { id: 'exec-rows' });
  return {
    el: tableOf(['command', 'exit', 'duration', 'timed out', ['agent', 'col-owner']], body),
    render: (items) =>
      body.replaceChildren(
        ...(items.length ? items.map(execRow) : [emptyRow(5, 'No commands run yet.')]),
      ),
    /** A command that just finished goes on top. */
    add(x) {
      if (body.querySelector('td[colspan]')) body.replaceChildren();
      body.prepend(execRow(x));
    },
  };
}

export function decisionsPanel() {
  const el = h('ol', { id: 'decisions', class: 'plain' });
  return {
    el,
    render: (items) =>
      el.replaceChildren(
        ...(items.length
          ? items.map((d) =>
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
      ),
  };
}
