import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { BIN, assertBuilt } from '../helpers/cli';
import { describeDocker, TEST_IMAGE } from '../docker/engine';
import { call, errorText, ok } from '../mcp/mcp-harness';
import { describePg, freshDatabase } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

const INSTANCES = 3;
const AGENTS = 20;
const SHARED = 4;
const ROUNDS = 2;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function health(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => (req.destroy(), resolve(0)));
  });
}

interface Instance {
  port: number;
  proc: ChildProcess;
  stderr: string;
}

const exited = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;

async function connect(port: number, name: string): Promise<Client> {
  const client = new Client({ name, version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return client;
}

describePg('scale-out: 3 orchestrators on one Postgres, 20 agents', () => {
  describeDocker('with real sandboxes', () => {
    const homes = Array.from({ length: INSTANCES }, () => tempHome('oct-scale-'));
    const instances: Instance[] = [];
    const clients: Client[] = [];
    const created: string[] = [];
    let db: Awaited<ReturnType<typeof freshDatabase>>;

    beforeAll(async () => {
      assertBuilt();
      db = await freshDatabase();
      for (let i = 0; i < INSTANCES; i++) {
        const port = await freePort();
        const proc = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], {
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '/tmp',
            OPENCODE_HOME: homes[i].dir,
            OPENCODE_DATABASE_URL: db.url,
            OPENCODE_INSTANCE_ID: `scale-${i}`,
            OPENCODE_SANDBOX_IMAGE: TEST_IMAGE,
            OPENCODE_SANDBOX_PULL: 'never',
            OPENCODE_SANDBOX_MEMORY: '32',
            OPENCODE_SANDBOX_PIDS: '32',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        const inst: Instance = { port, proc, stderr: '' };
        proc.stderr!.on('data', (c) => (inst.stderr += c));
        instances.push(inst);
      }
      for (const inst of instances) {
        const until = Date.now() + 60_000;
        while ((await health(inst.port)) !== 200) {
          if (Date.now() > until || exited(inst.proc)) {
            throw new Error(`instance on ${inst.port} did not start: ${inst.stderr}`);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      for (let a = 0; a < AGENTS; a++)
        clients.push(await connect(instances[a % INSTANCES].port, `agent-${a}`));
    }, 120_000);

    afterAll(async () => {
      const alive = clients.filter((_, a) => !exited(instances[a % INSTANCES].proc));
      const t0 = Date.now();
      const failures: string[] = [];
      await Promise.all(
        created.map((taskId, k) =>
          alive.length
            ? call(alive[k % alive.length], 'delete_task', { taskId, force: true }).then(
                (r) => void (r.isError && failures.push(`${taskId}: ${errorText(r)}`)),
              )
            : undefined,
        ),
      );
      process.stderr.write(
        `scale-out cleanup: ${created.length} tasks deleted in ${Date.now() - t0} ms\n`,
      );
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      for (const inst of instances) if (!exited(inst.proc)) inst.proc.kill('SIGTERM');
      await Promise.all(
        instances.map((i) =>
          exited(i.proc) ? undefined : new Promise((r) => i.proc.once('exit', r)),
        ),
      );
      await db?.drop();
      for (const h of homes) h.cleanup();
    }, 300_000);

    it('agents contend for exclusive tasks through different instances: one holder at a time, no lost write', async () => {
      const shared: string[] = [];
      for (let s = 0; s < SHARED; s++) {
        const t = await ok(clients[s], 'create_task_sandbox', {
          name: `shared ${s}`,
          mode: 'exclusive',
        });
        shared.push(t.taskId);
        created.push(t.taskId);
      }
      const holds: { task: string; agent: string; token: number; start: number; end: number }[] =
        [];
      await Promise.all(
        clients.map(async (client, a) => {
          const agentId = `agent-${a}`;
          for (let round = 0; round < ROUNDS; round++) {
            const taskId = shared[(a + round) % SHARED];
            const att = await ok(client, 'attach_agent_to_task', {
              taskId,
              agentId,
              ttlMs: 30_000,
              waitMs: 120_000,
            });
            const start = Date.now();
            const r = await ok(client, 'execute_in_task', {
              taskId,
              agentId,
              command: ['echo', agentId],
            });
            expect(r).toMatchObject({ exitCode: 0, stdout: `${agentId}\n` });
            await ok(client, 'record_decision', {
              taskId,
              agentId,
              decision: `round ${round}`,
              reasoning: 'scale-out test',
            });
            const end = Date.now();
            await ok(client, 'detach_agent_from_task', { taskId, agentId });
            holds.push({ task: taskId, agent: agentId, token: att.token, start, end });
          }
        }),
      );
      expect(holds).toHaveLength(AGENTS * ROUNDS);
      for (const taskId of shared) {
        const mine = holds.filter((h) => h.task === taskId).sort((x, y) => x.token - y.token);
        for (let i = 1; i < mine.length; i++) {
          // Fencing tokens order the holds, and no hold starts before the previous one ended.
          expect(mine[i].start).toBeGreaterThanOrEqual(mine[i - 1].end);
        }
        // Every instance sees every execution and decision: none lost, none duplicated.
        for (let i = 0; i < INSTANCES; i++) {
          const ex = await ok(clients[i], 'list_executions', { taskId, limit: 100 });
          expect(ex.total).toBe(mine.length);
          const dec = await ok(clients[i], 'list_decisions', { taskId, limit: 100 });
          expect(dec.total).toBe(mine.length);
        }
      }
    }, 300_000);

    it('20 agents create, attach, execute, checkpoint and complete their own tasks concurrently', async () => {
      const mine = await Promise.all(
        clients.map(async (client, a) => {
          const agentId = `agent-${a}`;
          const t = await ok(client, 'create_task_sandbox', { name: `own ${a}`, owner: agentId });
          created.push(t.taskId);
          await ok(client, 'attach_agent_to_task', { taskId: t.taskId, agentId, ttlMs: 60_000 });
          await ok(client, 'resume_task', { taskId: t.taskId, agentId });
          await ok(client, 'execute_in_task', {
            taskId: t.taskId,
            agentId,
            command: `echo ${a} > /workspace/n.txt`,
          });
          await ok(client, 'checkpoint_task', {
            taskId: t.taskId,
            agentId,
            description: `after ${a}`,
          });
          await ok(client, 'complete_task', { taskId: t.taskId, agentId, result: { agent: a } });
          await ok(client, 'detach_agent_from_task', { taskId: t.taskId, agentId });
          return t.taskId as string;
        }),
      );
      for (let i = 0; i < INSTANCES; i++) {
        const list = await ok(clients[i], 'list_tasks', { status: ['completed'], limit: 100 });
        expect(list.total).toBe(AGENTS);
        for (const [a, taskId] of mine.entries()) {
          const s = await ok(clients[i], 'get_task_status', { taskId });
          expect(s.task ?? s).toMatchObject({ status: 'completed', result: { agent: a } });
          expect((await ok(clients[i], 'list_checkpoints', { taskId })).checkpoints).toHaveLength(
            1,
          );
        }
      }
    }, 300_000);

    it("a killed instance's lease expires and an agent on another instance takes the task over", async () => {
      const t = await ok(clients[0], 'create_task_sandbox', {
        name: 'handover',
        mode: 'exclusive',
      });
      created.push(t.taskId);
      const first = await ok(clients[0], 'attach_agent_to_task', {
        taskId: t.taskId,
        agentId: 'doomed',
        ttlMs: 2000,
      });
      const refused = await call(clients[1], 'attach_agent_to_task', {
        taskId: t.taskId,
        agentId: 'heir',
      });
      expect(errorText(refused)).toMatch(/^LOCK_HELD: .*doomed/);
      instances[0].proc.kill('SIGKILL');
      await new Promise((r) => instances[0].proc.once('exit', r));
      const t0 = Date.now();
      const heir = await ok(clients[1], 'attach_agent_to_task', {
        taskId: t.taskId,
        agentId: 'heir',
        waitMs: 30_000,
      });
      expect(heir.token).toBeGreaterThan(first.token);
      expect(Date.now() - t0).toBeLessThan(15_000);
      const r = await ok(clients[1], 'execute_in_task', {
        taskId: t.taskId,
        agentId: 'heir',
        command: 'echo took over',
      });
      expect(r.stdout).toBe('took over\n');
    }, 120_000);
  });
});
