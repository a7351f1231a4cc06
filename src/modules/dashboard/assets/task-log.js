// The task's log panel: the last lines at or above a level, following new ones as they come.
import { LEVELS, MAX_LOG_LINES, h, api, errText, section } from './lib.js';
import { logLine } from './task-parts.js';

export function logPanel(taskId) {
  let level = 'debug';
  let follow = true;
  const box = h('ol', {
    id: 'log',
    class: 'log',
    'aria-live': 'off',
    tabindex: 0,
    'aria-label': 'Log lines',
  });

  // The first read and the live feed can overlap by a line or two; positions only grow.
  let lastPos = -1;
  function append(e) {
    if (LEVELS.indexOf(e.level) < LEVELS.indexOf(level)) return;
    if (typeof e.pos === 'number') {
      if (e.pos <= lastPos) return;
      lastPos = e.pos;
    }
    box.append(logLine(e));
    while (box.childElementCount > MAX_LOG_LINES) box.firstElementChild.remove();
    if (follow) box.scrollTop = box.scrollHeight;
  }

  async function load() {
    try {
      const r = await api(`/api/tasks/${encodeURIComponent(taskId)}/logs?tail=200&level=${level}`);
      box.replaceChildren();
      lastPos = -1;
      r.entries.forEach(append);
      for (const c of r.corrupt || [])
        box.append(h('li', { class: 'lv-error' }, `corrupt line ${c.line}: ${c.error || ''}`));
    } catch (err) {
      box.replaceChildren(h('li', { class: 'lv-error' }, errText(err)));
    }
  }

  const el = section(
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
            void load();
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
    box,
  );
  return { el, append, load };
}
