import { ConflictError, ValidationError } from '../../src/domain/errors';
import type { StateStore } from '../../src/ports/state-store.port';

export interface StateHandle {
  store: StateStore;
  /** The store must have been opened with this size limit. */
  maxBytes: number;
  close(): Promise<void>;
}

const T0 = '2026-01-01T00:00:00.000Z';

/** The behaviour every StateStore must have. */
export function describeStateStoreContract(name: string, open: () => Promise<StateHandle>): void {
  describe(`StateStore contract: ${name}`, () => {
    let h: StateHandle;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(() => h.close());

    it('starts empty, creates at version 1 and bumps the version on every write', async () => {
      expect(await h.store.get('tsk_a')).toBeNull();
      const v1 = await h.store.put('tsk_a', { step: 1, nested: { ü: [1, null] } }, 0, T0);
      expect(v1).toEqual({
        taskId: 'tsk_a',
        version: 1,
        data: { step: 1, nested: { ü: [1, null] } },
        updatedAt: T0,
      });
      const v2 = await h.store.put('tsk_a', { step: 2 }, 1, T0);
      expect(v2.version).toBe(2);
      expect(await h.store.get('tsk_a')).toEqual(v2);
    });

    it('refuses a stale version with CONFLICT and keeps the winner', async () => {
      await h.store.put('tsk_a', { who: 'first' }, 0, T0);
      await expect(h.store.put('tsk_a', { who: 'late' }, 0, T0)).rejects.toBeInstanceOf(
        ConflictError,
      );
      await h.store.put('tsk_a', { who: 'second' }, 1, T0);
      const err = await h.store.put('tsk_a', { who: 'stale' }, 1, T0).catch((e) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect(err.details).toMatchObject({ expectedVersion: 1, currentVersion: 2 });
      await expect(h.store.put('tsk_b', {}, 3, T0)).rejects.toBeInstanceOf(ConflictError);
      expect((await h.store.get('tsk_a'))?.data).toEqual({ who: 'second' });
    });

    it('refuses a document over the size limit, naming the limit, and writes nothing', async () => {
      await h.store.put('tsk_a', { small: true }, 0, T0);
      const big = { blob: 'x'.repeat(h.maxBytes) };
      const err = await h.store.put('tsk_a', big, 1, T0).catch((e) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect(err.message).toContain(String(h.maxBytes));
      expect(await h.store.get('tsk_a')).toMatchObject({ version: 1, data: { small: true } });
    });

    it('of concurrent writers at one version exactly one wins', async () => {
      await h.store.put('tsk_a', { n: 0 }, 0, T0);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => h.store.put('tsk_a', { n: i }, 1, T0)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect((await h.store.get('tsk_a'))?.version).toBe(2);
    });

    it('deletes', async () => {
      await h.store.put('tsk_a', {}, 0, T0);
      expect(await h.store.delete('tsk_a')).toBe(true);
      expect(await h.store.delete('tsk_a')).toBe(false);
      expect(await h.store.get('tsk_a')).toBeNull();
    });
  });
}
