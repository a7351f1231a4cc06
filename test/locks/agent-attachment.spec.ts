import { MemoryLockStore, MemoryTaskRepository } from '../../src/adapters/memory';
import { DomainError } from '../../src/domain/errors';
import type { TaskMode } from '../../src/domain/task';
import type { HooksService } from '../../src/modules/hooks/hooks.service';
import { AgentAttachmentService } from '../../src/modules/locks/agent-attachment.service';
import { LockManager } from '../../src/modules/locks/lock-manager.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { FakeClock } from '../helpers/fake-clock';

const noHooks = { runBefore: async () => undefined, runAfter: async () => undefined };

async function failure(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('agent attachment', () => {
  let clock: FakeClock;
  let repo: MemoryTaskRepository;
  let agents: AgentAttachmentService;
  let tasks: TasksService;

  beforeEach(() => {
    clock = new FakeClock();
    repo = new MemoryTaskRepository();
    agents = new AgentAttachmentService(new LockManager(new MemoryLockStore(), clock), repo);
    tasks = new TasksService(repo, clock, noHooks as unknown as HooksService, agents);
  });

  const runningTask = async (mode: TaskMode = 'exclusive') => {
    const t = await tasks.create({ name: 't', mode });
    return tasks.start(t.id);
  };

  it('exclusive: one agent at a time; the second is told who holds it and until when', async () => {
    const t = await runningTask();
    const a = await agents.attach(t.id, 'alice', { ttlMs: 10_000 });
    expect(a).toMatchObject({ taskId: t.id, agentId: 'alice', mode: 'exclusive', token: 1 });
    const err = await failure(agents.attach(t.id, 'bob'));
    expect(err.code).toBe('LOCK_HELD');
    expect(err.message).toBe(
      `task ${t.id} is held by 'alice' (exclusive, token 1) until 2026-01-01T00:00:10.000Z (in 10.0s)`,
    );
    await agents.detach(t.id, 'alice');
    expect((await agents.attach(t.id, 'bob')).token).toBe(2);
  });

  it('collaborative: many agents at once, each with its own token', async () => {
    const t = await runningTask('collaborative');
    const all = await Promise.all(['a', 'b', 'c'].map((id) => agents.attach(t.id, id)));
    expect(all.map((x) => x.token).sort()).toEqual([1, 2, 3]);
    expect((await agents.list({ taskId: t.id })).length).toBe(3);
  });

  it('attach checks the task: unknown → NOT_FOUND, terminal → ILLEGAL_TRANSITION', async () => {
    expect((await failure(agents.attach('tsk_nope', 'a'))).code).toBe('NOT_FOUND');
    const t = await runningTask();
    await tasks.complete(t.id);
    expect((await failure(agents.attach(t.id, 'a'))).code).toBe('ILLEGAL_TRANSITION');
    expect((await failure(agents.attach(t.id, ''))).code).toBe('VALIDATION');
  });

  it('an expired attachment frees the task; heartbeats keep it alive', async () => {
    const t = await runningTask();
    await agents.attach(t.id, 'a', { ttlMs: 1000 });
    clock.advance(900);
    await agents.heartbeat(t.id, 'a');
    clock.advance(900);
    expect((await failure(agents.attach(t.id, 'b'))).code).toBe('LOCK_HELD');
    clock.advance(101);
    expect((await agents.attach(t.id, 'b')).token).toBe(2);
  });

  it('acting needs a live attachment; refusals name the reason and change nothing', async () => {
    const t = await runningTask();
    const notAttached = await failure(tasks.complete(t.id, {}, { agentId: 'a' }));
    expect(notAttached.code).toBe('NOT_ATTACHED');
    expect(notAttached.message).toMatch(/agent 'a' does not hold task .*attach-agent --task/);

    await agents.attach(t.id, 'a', { ttlMs: 1000 });
    clock.advance(1000);
    const expired = await failure(tasks.fail(t.id, { error: 'x' }, { agentId: 'a' }));
    expect(expired.code).toBe('LEASE_EXPIRED');
    expect(expired.message).toMatch(
      /lease of agent 'a' on task .* expired at 2026-01-01T00:00:01.000Z/,
    );

    await agents.attach(t.id, 'b', { ttlMs: 5000 });
    const superseded = await failure(tasks.cancel(t.id, {}, { agentId: 'a' }));
    expect(superseded.code).toBe('LOCK_HELD');
    expect(superseded.message).toMatch(
      /agent 'a' does not hold task .*held by 'b' \(exclusive, token 2\) until 2026-01-01T00:00:06.000Z/,
    );
    const current = await repo.findById(t.id);
    expect(current).toMatchObject({ status: 'running', version: t.version });

    const done = await tasks.complete(t.id, { message: 'ok' }, { agentId: 'b' });
    expect(done.status).toBe('completed');
  });

  it('activity renews the lease: assertAttached extends it and returns the fencing token', async () => {
    const t = await runningTask();
    const a = await agents.attach(t.id, 'a', { ttlMs: 1000 });
    clock.advance(800);
    const checked = await agents.assertAttached(t.id, 'a', { token: a.token });
    expect(checked.token).toBe(a.token);
    expect(checked.expiresAt).toBe('2026-01-01T00:00:01.800Z');
    const stale = await failure(agents.assertAttached(t.id, 'a', { token: a.token - 1 }));
    expect(stale.code).toBe('LEASE_EXPIRED');
  });

  it('a check within a quarter of the TTL does not extend the lease (one read, no write)', async () => {
    const t = await runningTask();
    const a = await agents.attach(t.id, 'a', { ttlMs: 1000 });
    clock.advance(200);
    const checked = await agents.assertAttached(t.id, 'a', { token: a.token });
    expect(checked.expiresAt).toBe(a.expiresAt);
    clock.advance(100); // 300 ms since the last renewal: over a quarter
    expect((await agents.assertAttached(t.id, 'a')).expiresAt).toBe('2026-01-01T00:00:01.300Z');
    clock.advance(1001);
    expect((await failure(agents.assertAttached(t.id, 'a'))).code).toBe('LEASE_EXPIRED');
  });

  it('detach by an agent that is not attached is refused', async () => {
    const t = await runningTask('collaborative');
    await agents.attach(t.id, 'a');
    const err = await failure(agents.detach(t.id, 'b'));
    expect(err.code).toBe('NOT_ATTACHED');
    expect(err.message).toMatch(/now held by 'a' \(collaborative/);
  });

  it('start requires the agent to be attached when one is named', async () => {
    const t = await tasks.create({ name: 'p' });
    expect((await failure(tasks.start(t.id, { agentId: 'a' }))).code).toBe('NOT_ATTACHED');
    await agents.attach(t.id, 'a');
    expect((await tasks.start(t.id, { agentId: 'a' })).status).toBe('running');
  });

  it('two writes with the same version: exactly one wins, the other gets CONFLICT', async () => {
    const t = await runningTask('collaborative');
    await agents.attach(t.id, 'a');
    await agents.attach(t.id, 'b');
    const outcomes = await Promise.allSettled([
      tasks.complete(t.id, { message: 'a' }, { agentId: 'a', expectedVersion: t.version }),
      tasks.fail(t.id, { error: 'b' }, { agentId: 'b', expectedVersion: t.version }),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled').length).toBe(1);
    const lost = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect((lost.reason as DomainError).code).toBe('CONFLICT');
  });
});
