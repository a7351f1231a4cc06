import { DomainError } from '../../src/domain/errors';
import type { RuntimeRecordStore } from '../../src/ports/runtime-record-store.port';

const at = '2026-01-01T00:00:00.000Z';

/** The behaviour every RuntimeRecordStore must have. */
export function describeRuntimeRecordStoreContract(
  name: string,
  open: () => Promise<{ store: RuntimeRecordStore; close: () => Promise<void> }>,
): void {
  describe(`RuntimeRecordStore contract: ${name}`, () => {
    let store: RuntimeRecordStore;
    let close: () => Promise<void>;
    beforeEach(async () => ({ store, close } = await open()));
    afterEach(() => close());

    it('inserts, reads, lists by status and task, deletes', async () => {
      const a = await store.insert({
        kind: 'execution',
        id: 'a',
        taskId: 't1',
        status: 'running',
        data: { n: 1, s: 'x\u0000y' },
        updatedAt: at,
      });
      expect(a).toEqual({
        created: true,
        record: expect.objectContaining({ id: 'a', version: 1, data: { n: 1, s: 'x\u0000y' } }),
      });
      await store.insert({ kind: 'execution', id: 'b', status: 'done', data: {}, updatedAt: at });
      await store.insert({ kind: 'other', id: 'a', status: 'running', data: {}, updatedAt: at });
      expect((await store.get('execution', 'a'))?.taskId).toBe('t1');
      expect((await store.list('execution', { status: ['running'] })).map((r) => r.id)).toEqual([
        'a',
      ]);
      expect((await store.list('execution', { taskId: 't1' })).map((r) => r.id)).toEqual(['a']);
      expect((await store.list('execution')).length).toBe(2);
      expect(await store.delete('execution', 'a')).toBe(true);
      expect(await store.delete('execution', 'a')).toBe(false);
      expect(await store.get('execution', 'a')).toBeNull();
    });

    it('a taken key returns the first record; a taken id is a conflict', async () => {
      const first = await store.insert({
        kind: 'execution',
        id: 'one',
        key: 'k',
        status: 'running',
        data: {},
        updatedAt: at,
      });
      const again = await store.insert({
        kind: 'execution',
        id: 'two',
        key: 'k',
        status: 'running',
        data: {},
        updatedAt: at,
      });
      expect(again.created).toBe(false);
      expect(again.record.id).toBe(first.record.id);
      expect((await store.findByKey('execution', 'k'))?.id).toBe('one');
      const err = await store
        .insert({ kind: 'execution', id: 'one', status: 'x', data: {}, updatedAt: at })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('CONFLICT');
    });

    it('updates are compare-and-set on the version', async () => {
      await store.insert({ kind: 'pool', id: 'p', status: 'idle', data: {}, updatedAt: at });
      const patch = { status: 'claimed', data: { by: 't' }, updatedAt: at };
      const [x, y] = await Promise.all([
        store.update('pool', 'p', 1, patch),
        store.update('pool', 'p', 1, patch),
      ]);
      expect([x, y].filter(Boolean).length).toBe(1);
      expect(await store.get('pool', 'p')).toMatchObject({ status: 'claimed', version: 2 });
      expect(await store.update('pool', 'nope', 1, patch)).toBeNull();
    });
  });
}
