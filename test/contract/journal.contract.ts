import { ConflictError } from '../../src/domain/errors';
import { decisionQuerySchema, type Decision } from '../../src/domain/history';
import { executionQuerySchema, type ExecutionRecord } from '../../src/domain/execution';
import { newId } from '../../src/domain/ids';
import type { DecisionStore } from '../../src/ports/decision-store.port';
import type { ExecutionStore } from '../../src/ports/execution-store.port';

export interface JournalHandle {
  decisions: DecisionStore;
  executions: ExecutionStore;
  close(): Promise<void>;
}

const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00.000Z') + s * 1000).toISOString();

export function decision(over: Partial<Decision> = {}): Decision {
  return {
    id: newId('dec'),
    taskId: 'tsk_a',
    ts: at(0),
    agentId: 'claude',
    decision: 'use pnpm',
    reasoning: 'lockfile',
    ...over,
  };
}

export function execution(over: Partial<ExecutionRecord> = {}): ExecutionRecord {
  return {
    id: newId('exe'),
    taskId: 'tsk_a',
    agentId: 'claude',
    command: ['npm', 'test'],
    startedAt: at(0),
    durationMs: 12.5,
    exitCode: 0,
    timedOut: false,
    truncated: false,
    stdoutBytes: 10,
    stderrBytes: 0,
    stdoutHead: 'ok',
    stdoutTail: '',
    stderrHead: '',
    stderrTail: '',
    ...over,
  };
}

/** DecisionStore and ExecutionStore share journal semantics: seq marks, rewound marks, filters. */
export function describeJournalContracts(name: string, open: () => Promise<JournalHandle>): void {
  describe(`DecisionStore contract: ${name}`, () => {
    let h: JournalHandle;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(() => h.close());
    const q = (input: Record<string, unknown>) =>
      decisionQuerySchema.parse({ taskId: 'tsk_a', ...input });

    it('round-trips every field and assigns increasing seq', async () => {
      const a = await h.decisions.append(decision({ metadata: { files: ['a.ts'], n: 1 } }));
      const b = await h.decisions.append(decision({ ts: at(1), reasoning: '' }));
      expect(b.seq!).toBeGreaterThan(a.seq!);
      const page = await h.decisions.list(q({}));
      expect(page.items).toEqual([a, b]);
      expect(page.total).toBe(2);
      await expect(h.decisions.append(a)).rejects.toBeInstanceOf(ConflictError);
    });

    it('filters by agent and time, pages, orders', async () => {
      for (let i = 0; i < 6; i++) {
        await h.decisions.append(
          decision({ ts: at(i), agentId: i % 2 ? 'gpt' : 'claude', decision: `d${i}` }),
        );
      }
      await h.decisions.append(decision({ taskId: 'tsk_b' }));
      expect((await h.decisions.list(q({ agentId: 'gpt' }))).items.map((d) => d.decision)).toEqual([
        'd1',
        'd3',
        'd5',
      ]);
      expect(
        (await h.decisions.list(q({ since: at(2), until: at(4) }))).items.map((d) => d.decision),
      ).toEqual(['d2', 'd3', 'd4']);
      const p = await h.decisions.list(q({ limit: 2, offset: 1, order: 'desc' }));
      expect(p.items.map((d) => d.decision)).toEqual(['d4', 'd3']);
      expect(p.total).toBe(6);
    });

    it('marks, rewinds after a mark (once), and deletes per task', async () => {
      expect(await h.decisions.mark('tsk_a')).toBe(0);
      await h.decisions.append(decision({ decision: 'keep' }));
      const mark = await h.decisions.mark('tsk_a');
      await h.decisions.append(decision({ decision: 'undo1' }));
      await h.decisions.append(decision({ decision: 'undo2' }));
      await h.decisions.append(decision({ taskId: 'tsk_b' }));
      expect(await h.decisions.markRewound('tsk_a', mark, 'chk_1')).toBe(2);
      expect(await h.decisions.markRewound('tsk_a', mark, 'chk_2')).toBe(0);
      const all = (await h.decisions.list(q({}))).items;
      expect(all.map((d) => [d.decision, d.rewoundBy])).toEqual([
        ['keep', undefined],
        ['undo1', 'chk_1'],
        ['undo2', 'chk_1'],
      ]);
      expect((await h.decisions.list(q({ includeRewound: false }))).items).toHaveLength(1);
      expect(await h.decisions.deleteForTask('tsk_a')).toBe(3);
      expect((await h.decisions.list(q({}))).total).toBe(0);
      expect(await h.decisions.mark('tsk_b')).toBeGreaterThan(0);
    });
  });

  describe(`ExecutionStore contract: ${name}`, () => {
    let h: JournalHandle;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(() => h.close());
    const q = (input: Record<string, unknown>) =>
      executionQuerySchema.parse({ taskId: 'tsk_a', ...input });

    it('round-trips every field (argv and shell string commands) and refuses duplicates', async () => {
      const a = await h.executions.record(
        execution({
          outputRef: '/tmp/out.log',
          truncated: true,
          stdoutTail: 'tail…',
          exitCode: null,
          timedOut: true,
        }),
      );
      const b = await h.executions.record(
        execution({ command: 'echo hi | wc -c', agentId: undefined }),
      );
      expect(await h.executions.get(a.id)).toEqual(a);
      expect(await h.executions.get(b.id)).toEqual(b);
      expect(await h.executions.get('exe_missing')).toBeNull();
      await expect(h.executions.record(a)).rejects.toBeInstanceOf(ConflictError);
    });

    it('lists newest first by default, filters failed runs, agent and time', async () => {
      await h.executions.record(execution({ startedAt: at(1), exitCode: 0 }));
      await h.executions.record(execution({ startedAt: at(2), exitCode: 1, agentId: 'gpt' }));
      await h.executions.record(execution({ startedAt: at(3), exitCode: null, timedOut: true }));
      const all = await h.executions.list(q({}));
      expect(all.items.map((e) => e.startedAt)).toEqual([at(3), at(2), at(1)]);
      expect((await h.executions.list(q({ failedOnly: true }))).total).toBe(2);
      expect((await h.executions.list(q({ agentId: 'gpt' }))).total).toBe(1);
      expect((await h.executions.list(q({ since: at(2) }))).total).toBe(2);
    });

    it('marks and rewinds like decisions', async () => {
      await h.executions.record(execution());
      const mark = await h.executions.mark('tsk_a');
      await h.executions.record(execution());
      expect(await h.executions.markRewound('tsk_a', mark, 'chk_1')).toBe(1);
      expect((await h.executions.list(q({ includeRewound: false }))).total).toBe(1);
      expect(await h.executions.deleteForTask('tsk_a')).toBe(2);
    });
  });
}
