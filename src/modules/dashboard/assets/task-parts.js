// Pieces of the task view that need no view state: the resource chart and table rows.
import { CHART_POINTS, h, cmdText } from './lib.js';

export function drawChart(canvas, samples) {
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
export const withPids = (s) => ({
  ...s,
  pidsPercent: s.pidsLimit ? (100 * s.pids) / s.pidsLimit : 0,
});

/** One log line; data and rewound markers as text. */
export function logLine(e) {
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

/** One row of the executions table. */
export function execRow(x) {
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
