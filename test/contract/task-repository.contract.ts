import { ConflictError, NotFoundError } from '../../src/domain/errors';
import { listTasksSchema, type ListTasksInput } from '../../src/domain/task.schema';
import type { TaskRepository } from '../../src/ports/task-repository.port';
import { makeTask } from '../helpers/task-factory';

export interface RepoHandle {
  repo: TaskRepository;
  close(): Promise<void>;
}

const q = (input: ListTasksInput = {}) => listTasksSchema.parse(input);

/** The behaviour every TaskRepository must have. Run it against each adapter. */
export function describeTaskRepositoryContract(
  name: string,
  open: () => Promise<RepoHandle>,
): void {
  describe(`TaskRepository contract: ${name}`, () => {
    let h: RepoHandle;
    beforeEach(async () => {
      h = await open();
    });
    afterEach(async () => {
      await h.close();
    });

    it('round-trips every field, including optional ones and JSON values', async () => {
      const t = makeTask({
        description: 'desc',
        metadata: { nested: { a: [1, 2, { b: null }] }, ünï: 'çødé' },
        sandbox: {
          image: 'busybox',
          limits: { cpus: 0.5, memoryMb: 256, pids: 64 },
          network: 'none',
          env: { A: '1' },
          workdir: '/workspace',
        },
        startedAt: '2026-01-01T00:00:01.000Z',
        endedAt: '2026-01-01T00:00:02.000Z',
        status: 'completed',
        result: [1, 'two', { three: 3 }],
        error: 'none',
      });
      await h.repo.insert(t);
      expect(await h.repo.findById(t.id)).toEqual(t);
    });

    it('returns null for an unknown id and refuses duplicate ids', async () => {
      expect(await h.repo.findById('tsk_missing')).toBeNull();
      const t = makeTask();
      await h.repo.insert(t);
      await expect(h.repo.insert(t)).rejects.toBeInstanceOf(ConflictError);
    });

    it('insertMany is all or nothing', async () => {
      const a = makeTask();
      await h.repo.insert(a);
      const b = makeTask();
      await expect(h.repo.insertMany([b, a])).rejects.toBeInstanceOf(ConflictError);
      expect(await h.repo.findById(b.id)).toBeNull();
      const c = makeTask();
      await h.repo.insertMany([b, c]);
      expect((await h.repo.list(q())).total).toBe(3);
    });

    it('partial updates change only the given fields and bump the version', async () => {
      const t = makeTask({ description: 'keep me', metadata: { k: 'v' } });
      await h.repo.insert(t);
      const u = await h.repo.update(
        t.id,
        1,
        { status: 'running', startedAt: '2026-02-01T00:00:00.000Z' },
        '2026-02-01T00:00:00.000Z',
      );
      expect(u).toEqual({
        ...t,
        status: 'running',
        startedAt: '2026-02-01T00:00:00.000Z',
        version: 2,
        updatedAt: '2026-02-01T00:00:00.000Z',
      });
      expect(await h.repo.findById(t.id)).toEqual(u);
    });

    it('an explicit undefined clears an optional field', async () => {
      const t = makeTask({ description: 'x', error: 'boom' });
      await h.repo.insert(t);
      const u = await h.repo.update(t.id, 1, { error: undefined }, t.updatedAt);
      expect(u.error).toBeUndefined();
      expect(u.description).toBe('x');
    });

    it('rejects a stale version with a conflict and changes nothing', async () => {
      const t = makeTask();
      await h.repo.insert(t);
      await h.repo.update(t.id, 1, { name: 'first' }, t.updatedAt);
      const err = await h.repo.update(t.id, 1, { name: 'second' }, t.updatedAt).catch((e) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect(err.details).toMatchObject({ expectedVersion: 1, currentVersion: 2 });
      expect((await h.repo.findById(t.id))!.name).toBe('first');
    });

    it('two writers with the same version: exactly one wins', async () => {
      const t = makeTask();
      await h.repo.insert(t);
      const results = await Promise.allSettled([
        h.repo.update(t.id, 1, { name: 'a' }, t.updatedAt),
        h.repo.update(t.id, 1, { name: 'b' }, t.updatedAt),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      expect(rejected).toHaveLength(1);
      expect(rejected[0].reason).toBeInstanceOf(ConflictError);
    });

    it('update and delete of an unknown id are NotFound', async () => {
      await expect(h.repo.update('tsk_nope', 1, { name: 'x' }, 'now')).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await expect(h.repo.delete('tsk_nope')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('delete honours the expected version', async () => {
      const t = makeTask();
      await h.repo.insert(t);
      await expect(h.repo.delete(t.id, 7)).rejects.toBeInstanceOf(ConflictError);
      await h.repo.delete(t.id, 1);
      expect(await h.repo.findById(t.id)).toBeNull();
    });

    it('lists newest first with filters, paging and totals', async () => {
      const tasks = [
        makeTask({ name: 'a', owner: 'alice', status: 'pending' }),
        makeTask({ name: 'b', owner: 'bob', status: 'running' }),
        makeTask({ name: 'c', owner: 'alice', status: 'running', mode: 'collaborative' }),
        makeTask({ name: 'd', owner: 'alice', status: 'completed' }),
      ];
      await h.repo.insertMany(tasks);
      const all = await h.repo.list(q());
      expect(all.items.map((t) => t.name)).toEqual(['d', 'c', 'b', 'a']);
      expect(all.total).toBe(4);
      const running = await h.repo.list(q({ status: ['running'] }));
      expect(running.items.map((t) => t.name)).toEqual(['c', 'b']);
      expect(
        (await h.repo.list(q({ status: ['running', 'pending'], owner: 'alice' }))).items.map(
          (t) => t.name,
        ),
      ).toEqual(['c', 'a']);
      expect((await h.repo.list(q({ mode: 'collaborative' }))).items.map((t) => t.name)).toEqual([
        'c',
      ]);
      const page = await h.repo.list(q({ limit: 2, offset: 1 }));
      expect(page.items.map((t) => t.name)).toEqual(['c', 'b']);
      expect(page.total).toBe(4);
      expect((await h.repo.list(q({ order: 'asc', limit: 1 }))).items[0].name).toBe('a');
      expect(
        (await h.repo.list(q({ sort: 'name', order: 'asc' }))).items.map((t) => t.name),
      ).toEqual(['a', 'b', 'c', 'd']);
      const since = await h.repo.list(q({ createdSince: tasks[2].createdAt }));
      expect(since.items.map((t) => t.name)).toEqual(['d', 'c']);
      const until = await h.repo.list(q({ createdUntil: tasks[1].createdAt }));
      expect(until.items.map((t) => t.name)).toEqual(['b', 'a']);
    });

    it('searches name, description and metadata case-insensitively, treating % and _ literally', async () => {
      await h.repo.insertMany([
        makeTask({ name: 'Fix Flaky test' }),
        makeTask({ name: 'other', description: 'the FLAKY one' }),
        makeTask({ name: 'meta', metadata: { repo: 'flaky-api' } }),
        makeTask({ name: '100% done' }),
        makeTask({ name: 'unrelated' }),
      ]);
      const r = await h.repo.search({ text: 'flaky', limit: 10, offset: 0 });
      expect(r.items.map((t) => t.name).sort()).toEqual(['Fix Flaky test', 'meta', 'other']);
      expect(r.total).toBe(3);
      expect(
        (await h.repo.search({ text: '0%', limit: 10, offset: 0 })).items.map((t) => t.name),
      ).toEqual(['100% done']);
      expect((await h.repo.search({ text: '_', limit: 10, offset: 0 })).total).toBe(0);
    });

    it('search combines with the list filters (AND) and takes the list order', async () => {
      const tasks = [
        makeTask({ name: 'flaky a', owner: 'alice', status: 'pending' }),
        makeTask({ name: 'flaky b', owner: 'bob', status: 'running' }),
        makeTask({ name: 'c', owner: 'alice', status: 'running', description: 'FLAKY' }),
        makeTask({ name: 'd', owner: 'alice', status: 'running', mode: 'collaborative' }),
        makeTask({ name: 'e', owner: 'alice', status: 'failed', metadata: { t: 'flaky' } }),
        makeTask({ name: 'flaky f', owner: 'carol', status: 'completed', mode: 'collaborative' }),
      ];
      await h.repo.insertMany(tasks);
      const find = (extra: Record<string, unknown>) =>
        h.repo.search({ text: 'flaky', limit: 10, offset: 0, ...extra });
      const names = async (extra: Record<string, unknown>) =>
        (await find(extra)).items.map((t) => t.name);
      expect(await names({})).toEqual(['flaky f', 'e', 'c', 'flaky b', 'flaky a']);
      expect(await names({ status: ['running'] })).toEqual(['c', 'flaky b']);
      expect(await names({ status: ['running', 'pending'], owner: 'alice' })).toEqual([
        'c',
        'flaky a',
      ]);
      expect(await names({ owner: 'alice' })).toEqual(['e', 'c', 'flaky a']);
      expect(await names({ mode: 'collaborative' })).toEqual(['flaky f']);
      expect(await names({ status: ['running'], owner: 'carol' })).toEqual([]);
      expect(
        await names({ createdSince: tasks[2].createdAt, createdUntil: tasks[4].createdAt }),
      ).toEqual(['e', 'c']);
      expect(await names({ sort: 'name', order: 'asc', owner: 'alice' })).toEqual([
        'c',
        'e',
        'flaky a',
      ]);
      const page = await find({ owner: 'alice', limit: 1, offset: 1 });
      expect(page.items.map((t) => t.name)).toEqual(['c']);
      expect(page.total).toBe(3);
      // A filter does not widen the text match: 'd' is running and alice's but not flaky.
      expect((await find({ status: ['running'], owner: 'alice' })).total).toBe(1);
    });

    it('tells which of many ids exist (deletions seen by watchers)', async () => {
      const tasks = Array.from({ length: 5 }, (_, i) => makeTask({ name: `e${i}` }));
      await h.repo.insertMany(tasks);
      await h.repo.delete(tasks[1].id);
      await h.repo.delete(tasks[3].id);
      const ids = [...tasks.map((t) => t.id), 'tsk_never', tasks[0].id];
      expect((await h.repo.existingIds(ids)).sort()).toEqual(
        [tasks[0].id, tasks[2].id, tasks[4].id].sort(),
      );
      expect(await h.repo.existingIds([])).toEqual([]);
      // Many ids at once (a feed checks up to a few thousand per poll).
      const many = [
        ...tasks.map((t) => t.id),
        ...Array.from({ length: 3000 }, (_, i) => `tsk_x${i}`),
      ];
      expect((await h.repo.existingIds(many)).length).toBe(3);
    });

    it('computes stats by status and owner, and run durations', async () => {
      await h.repo.insertMany([
        makeTask({
          owner: 'alice',
          status: 'completed',
          startedAt: '2026-01-01T00:00:00.000Z',
          endedAt: '2026-01-01T00:00:01.000Z',
        }),
        makeTask({
          owner: 'alice',
          status: 'completed',
          startedAt: '2026-01-01T00:00:00.000Z',
          endedAt: '2026-01-01T00:00:03.000Z',
        }),
        makeTask({
          owner: 'bob',
          status: 'failed',
          startedAt: '2026-01-01T00:00:00.000Z',
          endedAt: '2026-01-01T00:00:00.500Z',
        }),
        makeTask({ owner: 'bob', status: 'pending' }),
        makeTask({ owner: 'carol', status: 'running' }),
      ]);
      const s = await h.repo.stats();
      expect(s.total).toBe(5);
      expect(s.byStatus).toEqual({ pending: 1, running: 1, completed: 2, failed: 1, cancelled: 0 });
      expect(s.byOwner[0]).toEqual({ owner: 'alice', total: 2, byStatus: { completed: 2 } });
      expect(s.byOwner.map((o) => o.owner)).toEqual(['alice', 'bob', 'carol']);
      expect(s.durations.completed).toEqual({ count: 2, avgMs: 2000, minMs: 1000, maxMs: 3000 });
      expect(s.durations.failed).toEqual({ count: 1, avgMs: 500, minMs: 500, maxMs: 500 });
      const bob = await h.repo.stats({ owner: 'bob' });
      expect(bob.total).toBe(2);
      expect(bob.byOwner).toHaveLength(1);
    });
  });
}
