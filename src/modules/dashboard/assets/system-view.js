// The system view: health, counts by status, recent failures, alerts, reconciler actions.
import {
  STATUSES,
  h,
  taskHref,
  timeEl,
  badge,
  mib,
  api,
  toast,
  errText,
  feed,
  openFeed,
  section,
} from './lib.js';
import { listState } from './list-view.js';

// ------------------------------------------------------------------------------ system view
export async function renderSystem(main) {
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
        : [h('li', { class: 'muted' }, 'No alerts recorded.')]),
    );
    actionsList.replaceChildren(
      ...(s.reconciler.length
        ? s.reconciler.map(actionItem)
        : [h('li', { class: 'muted' }, 'No reconciler actions recorded.')]),
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
  feed.handler = (msg) => {
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
