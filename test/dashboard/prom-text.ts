/**
 * A strict reader of the Prometheus text exposition format (0.0.4): every line must be a
 * `# HELP`, a `# TYPE` or a sample of a declared family, label values properly escaped, values
 * numbers. Throws naming the line on anything else. Used beside `parse-prometheus-text-format`,
 * which is lenient.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export function parseStrict(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('exposition must end with a newline');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1} '${line}'`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) throw new Error(`${where}: malformed comment`);
      if (!NAME.test(m[2])) throw new Error(`${where}: bad metric name`);
      if (m[1] === 'TYPE') {
        if (!TYPES.includes(m[3])) throw new Error(`${where}: unknown type`);
        if (types.has(m[2])) throw new Error(`${where}: TYPE declared twice`);
        types.set(m[2], m[3]);
      }
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: not a sample`);
    const [, name, , body, raw] = m;
    const family = [...types.keys()].find(
      (f) => name === f || ['_bucket', '_sum', '_count'].some((s) => name === f + s),
    );
    if (!family) throw new Error(`${where}: sample of an undeclared family`);
    const labels: Record<string, string> = {};
    if (body) {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < body.length) {
        const at = LABEL.lastIndex;
        const l = LABEL.exec(body);
        if (!l || l.index !== at) throw new Error(`${where}: malformed labels`);
        labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
        if (l[3] === '') break;
      }
    }
    // Prometheus reads values with Go's ParseFloat: NaN and ±Inf in any letter case.
    const special = /^([+-]?)(inf|infinity|nan)$/i.exec(raw);
    const value = special
      ? special[2].toLowerCase() === 'nan'
        ? NaN
        : special[1] === '-'
          ? -Infinity
          : Infinity
      : Number(raw);
    if (!special && (raw.trim() === '' || Number.isNaN(value))) {
      throw new Error(`${where}: value is not a number`);
    }
    samples.push({ name, labels, value });
  });
  return { types, samples };
}

/** The value of one sample, or undefined. */
export function valueOf(
  samples: Sample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}
