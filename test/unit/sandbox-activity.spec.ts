import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { OpenCodeToolsModule } from '../../src';
import {
  ACTIVITY_KEEP,
  ACTIVITY_KINDS,
  SandboxActivity,
} from '../../src/modules/docker/sandbox-activity.service';
import {
  RUNTIME_RECORD_STORE,
  type RuntimeRecordStore,
} from '../../src/ports/runtime-record-store.port';
import { tempHome } from '../helpers/temp-home';

describe('SandboxActivity: the durable record of alerts and reconciler actions (SQLite file)', () => {
  const home = tempHome('oct-activity-');
  afterAll(() => home.cleanup());

  const open = async () => {
    @Module({
      imports: [OpenCodeToolsModule.forRoot({ home: home.dir, sandbox: { runtime: 'memory' } })],
    })
    class Root {}
    return NestFactory.createApplicationContext(Root, { logger: false });
  };

  it('returns the newest first, keeps about the newest 200 per kind, across processes', async () => {
    const first = await open();
    const activity = first.get(SandboxActivity);
    const total = ACTIVITY_KEEP + 60;
    for (let i = 0; i < total; i++) {
      await activity.recordAction({ kind: 'adopted', taskId: `tsk_${i}`, detail: `n ${i}` });
    }
    await activity.recordAlert({
      kind: 'oomKilled',
      taskId: 'tsk_oom',
      message: 'the container was OOM-killed',
      at: '2026-01-01T00:00:00.000Z',
    });
    const stored = await first
      .get<RuntimeRecordStore>(RUNTIME_RECORD_STORE)
      .list(ACTIVITY_KINDS.reconciled);
    // Trimmed on the first record and every 25th after: never more than 25 over the limit.
    expect(stored.length).toBeGreaterThanOrEqual(ACTIVITY_KEEP);
    expect(stored.length).toBeLessThan(ACTIVITY_KEEP + 25);
    await first.close();

    // Another process (a fresh app on the same file) reads them.
    const second = await open();
    const recent = await second.get(SandboxActivity).recent(3);
    expect(recent.actions.map((a) => a.taskId)).toEqual([
      `tsk_${total - 1}`,
      `tsk_${total - 2}`,
      `tsk_${total - 3}`,
    ]);
    expect(recent.actions[0]).toMatchObject({ kind: 'adopted', detail: `n ${total - 1}` });
    expect(recent.actions[0].at).toEqual(expect.any(String));
    expect(recent.alerts).toEqual([
      {
        kind: 'oomKilled',
        taskId: 'tsk_oom',
        message: 'the container was OOM-killed',
        at: '2026-01-01T00:00:00.000Z',
      },
    ]);
    await second.close();
  });
});
