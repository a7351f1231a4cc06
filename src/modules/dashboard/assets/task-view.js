// One task: facts, timeline, sandbox and live resources, locks, checkpoints, log, history.
// The panels live in task-actions.js, task-log.js and task-history.js; this file lays them out,
// loads the view and applies the live feed to them.
import {
  CHART_POINTS,
  h,
  timeEl,
  badge,
  mib,
  api,
  errText,
  feed,
  openFeed,
  section,
  factsList,
} from './lib.js';
import { taskActions } from './task-actions.js';
import {
  checkpointsPanel,
  decisionsPanel,
  executionsPanel,
  locksPanel,
  timelinePanel,
} from './task-history.js';
import { logPanel } from './task-log.js';
import { drawChart, withPids } from './task-parts.js';

/** Sandbox facts, and the live chart of CPU, memory and pids against their limits. */
function sandboxPanel(t, sb) {
  const spec = t.sandbox;
  const samples = [];
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
    spec ? 'waiting for a sample…' : 'this task has no sandbox',
  );
  const live = sb && sb.sandbox;
  const facts = spec
    ? factsList([
        ['image', (live && live.image) || spec.image || 'default'],
        [
          'state',
          live
            ? live.state + (live.oomKilled ? ' (OOM-killed)' : '')
            : sb && sb.error
              ? `unknown: ${sb.error}`
              : sb && sb.elsewhere
                ? `on the engine of host ${sb.elsewhere.engineName || '?'} (instance ${sb.elsewhere.instanceId}); ask a server there`
                : 'no container',
        ],
        [
          'limits',
          live
            ? `${live.limits.cpus} CPU, ${live.limits.memoryMb} MiB, ${live.limits.pids} pids`
            : JSON.stringify(spec.limits || {}),
        ],
        ['network', (live && live.network) || spec.network || 'none'],
      ])
    : h('p', { class: 'muted' }, 'No sandbox.');
  if (sb && sb.stats) samples.push(withPids(sb.stats));
  const el = section(
    'Sandbox',
    'h-sandbox',
    facts,
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
  );
  return {
    el,
    draw: () => drawChart(canvas, samples),
    sample(s) {
      samples.push(withPids(s));
      if (samples.length > CHART_POINTS) samples.shift();
      drawChart(canvas, samples);
      statsText.textContent = `CPU ${s.cpuPercent}% · memory ${mib(s.memoryBytes)} of ${mib(s.memoryLimitBytes)} (${s.memoryPercent}%) · pids ${s.pids}${s.pidsLimit ? ` of ${s.pidsLimit}` : ''}`;
    },
  };
}

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
  const statusEl = h('span', { id: 'task-status' }, badge(t.status));
  const versionEl = h('span', null, String(t.version));
  const endedEl = h('span', null, timeEl(t.endedAt));
  const actions = taskActions(t, reload);
  const timeline = timelinePanel(t);
  const sandbox = sandboxPanel(t, data.sandbox);
  const locks = locksPanel();
  const checkpoints = checkpointsPanel(t, actions.act, reload);
  const log = logPanel(t.id);
  const executions = executionsPanel();
  const decisions = decisionsPanel();

  main.replaceChildren(
    h('p', null, h('a', { href: '#/' }, '← all tasks')),
    h('div', { class: 'title-row' }, h('h2', { id: 'task-name' }, t.name), statusEl),
    actions.bar,
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
        section('Status timeline', 'h-timeline', timeline.el),
        sandbox.el,
        section('Lock holders', 'h-locks', locks.el),
        section('Checkpoints', 'h-checkpoints', checkpoints.el),
      ),
      h(
        'div',
        null,
        log.el,
        section('Executions', 'h-exec', executions.el),
        section('Decisions', 'h-decisions', decisions.el),
      ),
    ),
  );
  actions.render(t.status);
  locks.render(data.locks);
  checkpoints.render(data.checkpoints);
  timeline.render(data.timeline);
  sandbox.draw();

  const history = (what) =>
    api(`/api/tasks/${encodeURIComponent(t.id)}/${what}?limit=50`).catch(() => ({ items: [] }));
  const [execs, decided] = await Promise.all([
    history('executions'),
    history('decisions'),
    log.load(),
  ]);
  executions.render(execs.items);
  decisions.render(decided.items);

  feed.handler = (msg) => {
    if (msg.type === 'task' && msg.task.id === t.id) {
      const u = msg.task;
      statusEl.replaceChildren(badge(u.status));
      versionEl.textContent = String(u.version);
      endedEl.replaceChildren(timeEl(u.endedAt));
      if (u.status !== t.status) {
        t.status = u.status;
        actions.render(u.status);
      }
    } else if (msg.type === 'deleted' && msg.id === t.id) {
      // Here or by another process: the page keeps what it last showed.
      statusEl.replaceChildren(h('span', { class: 'badge s-failed' }, 'deleted'));
      actions.deleted();
    } else if (msg.type === 'log' && msg.taskId === t.id) {
      log.append(msg.entry);
      timeline.log(msg.entry);
    } else if (msg.type === 'exec' && msg.taskId === t.id) {
      executions.add(msg.execution);
    } else if (msg.type === 'stats' && msg.taskId === t.id) {
      sandbox.sample(msg.stats);
    } else if (msg.type === 'locks' && msg.taskId === t.id) {
      locks.render(msg.locks);
    }
  };
}
