import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NotFoundError } from '../../src/domain/errors';
import type { Checkpoint } from '../../src/domain/history';
import { newId } from '../../src/domain/ids';
import type { CheckpointStore } from '../../src/ports/checkpoint-store.port';

export interface CheckpointHandle {
  store: CheckpointStore;
  close(): Promise<void>;
}

export function checkpoint(over: Partial<Checkpoint> = {}): Checkpoint {
  return {
    id: newId('chk'),
    taskId: 'tsk_a',
    description: 'before refactor',
    createdAt: '2026-01-01T00:00:00.000Z',
    state: {
      taskId: 'tsk_a',
      version: 3,
      data: { step: 3 },
      updatedAt: '2026-01-01T00:00:00.000Z',
    },
    logPosition: 1234,
    decisionMark: 7,
    executionMark: 2,
    task: { status: 'running', name: 'x' },
    ...over,
  };
}

/** The behaviour every CheckpointStore must have. */
export function describeCheckpointStoreContract(
  name: string,
  open: () => Promise<CheckpointHandle>,
): void {
  describe(`CheckpointStore contract: ${name}`, () => {
    let h: CheckpointHandle;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(() => h.close());

    it('a begun checkpoint is invisible until committed, then round-trips', async () => {
      const cp = checkpoint({ snapshot: { image: 'sha256:abc' }, agentId: 'claude' });
      const p = await h.store.begin({ id: cp.id, taskId: cp.taskId });
      expect(p.id).toBe(cp.id);
      expect(await h.store.get(cp.id)).toBeNull();
      expect(await h.store.list('tsk_a')).toEqual([]);
      if (p.artifactsDir) writeFileSync(join(p.artifactsDir, 'workspace.tar'), 'bytes');
      expect(await h.store.commit(cp)).toEqual(cp);
      expect(await h.store.get(cp.id)).toEqual(cp);
      expect(await h.store.list('tsk_a')).toEqual([cp]);
      const dir = h.store.artifactsDir(cp);
      if (p.artifactsDir) expect(existsSync(join(dir!, 'workspace.tar'))).toBe(true);
    });

    it('abort drops a begun checkpoint; commit after abort is NOT_FOUND', async () => {
      const cp = checkpoint();
      const p = await h.store.begin({ id: cp.id, taskId: cp.taskId });
      await h.store.abort(cp.id);
      if (p.artifactsDir) expect(existsSync(p.artifactsDir)).toBe(false);
      await expect(h.store.commit(cp)).rejects.toBeInstanceOf(NotFoundError);
      expect(await h.store.get(cp.id)).toBeNull();
    });

    it('lists oldest first per task; deletes one or all of a task', async () => {
      const ids: string[] = [];
      for (const taskId of ['tsk_a', 'tsk_a', 'tsk_b', 'tsk_a']) {
        const cp = checkpoint({ taskId });
        await h.store.begin({ id: cp.id, taskId });
        await h.store.commit(cp);
        ids.push(cp.id);
      }
      expect((await h.store.list('tsk_a')).map((c) => c.id)).toEqual([ids[0], ids[1], ids[3]]);
      expect((await h.store.delete(ids[1])).id).toBe(ids[1]);
      await expect(h.store.delete(ids[1])).rejects.toBeInstanceOf(NotFoundError);
      expect((await h.store.deleteForTask('tsk_a')).map((c) => c.id)).toEqual([ids[0], ids[3]]);
      expect(await h.store.list('tsk_a')).toEqual([]);
      expect(await h.store.list('tsk_b')).toHaveLength(1);
    });

    it('sweep leaves this live process’s creations and committed checkpoints alone', async () => {
      const done = checkpoint();
      await h.store.begin({ id: done.id, taskId: 'tsk_a' });
      await h.store.commit(done);
      const inFlight = checkpoint();
      await h.store.begin({ id: inFlight.id, taskId: 'tsk_a' });
      expect(await h.store.sweep()).toEqual([]);
      await h.store.commit(inFlight);
      expect(await h.store.list('tsk_a')).toHaveLength(2);
    });
  });
}
