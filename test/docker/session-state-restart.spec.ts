import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { assertBuilt, BIN, cli } from '../helpers/cli';
import { tempHome } from '../helpers/temp-home';
import { ok } from '../mcp/mcp-harness';
import { describeDocker, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

/** Servers still running (a failed test must not leave one behind). */
const servers = new Set<ChildProcessWithoutNullStreams>();

/** A `serve` process of the built binary and an MCP client on it. */
async function serve(env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  }) as ChildProcessWithoutNullStreams;
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`serve did not listen: ${text}`)), 20_000);
    child.stderr.on('data', (c) => {
      text += c;
      const m = /listening on (http:\/\/\S+\/mcp)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${text}`)));
  });
  const client = new Client({ name: 'session-state', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const exited = new Promise((r) => child.once('exit', r));
  return {
    client,
    /** kill -9: no shutdown hook runs, the session shells lose their server mid-life. */
    async kill9() {
      child.kill('SIGKILL');
      await exited;
      await client.close().catch(() => undefined);
    },
  };
}

describeDocker(
  'session directory and exports survive a kill -9 of the server (built binary)',
  () => {
    const home = tempHome('oct-session-state-');
    const env = { OPENCODE_HOME: home.dir, OPENCODE_SANDBOX_IMAGE: TEST_IMAGE };
    let taskId: string;
    let db: Database.Database;

    /** The task's stored session state: its version counts the writes. */
    const stored = () =>
      db
        .prepare(
          `SELECT version, data FROM runtime_records WHERE kind = 'session-state' AND id = ?`,
        )
        .get(taskId) as { version: number; data: string } | undefined;

    beforeAll(() => {
      assertBuilt();
      const r = cli(['create-task', 'session-state', '--image', TEST_IMAGE, '--json'], env);
      expect(r.stderr).toBe('');
      taskId = JSON.parse(r.stdout).id;
      db = new Database(join(home.dir, 'opencode.db'), { readonly: true });
    });
    afterAll(() => {
      for (const child of servers) child.kill('SIGKILL');
      db?.close();
      cli(['cleanup-task', taskId, '--force', '--yes'], env);
      home.cleanup();
    });

    it('cd and export carry over to a restarted server; echo writes nothing; unset persists too', async () => {
      const exec = async (s: Awaited<ReturnType<typeof serve>>, command: string) =>
        ok(s.client, 'execute_in_task', { taskId, agentId: 'agent-1', command });

      const first = await serve(env);
      await ok(first.client, 'attach_agent_to_task', { taskId, agentId: 'agent-1' });
      expect(await exec(first, 'cd /tmp && export FOO=bar')).toMatchObject({ exitCode: 0 });
      const after = stored();
      expect(after).toBeDefined();
      // Stored before the reply; the secret-bearing text is what `export -p` printed.
      expect(JSON.parse(after!.data).text).toContain('FOO');
      expect(await exec(first, 'echo hi')).toMatchObject({ stdout: 'hi\n' });
      expect(stored()!.version).toBe(after!.version);
      await first.kill9();

      const second = await serve(env);
      await ok(second.client, 'attach_agent_to_task', { taskId, agentId: 'agent-1' });
      expect(await exec(second, 'pwd; echo $FOO')).toMatchObject({
        exitCode: 0,
        stdout: '/tmp\nbar\n',
      });
      expect(stored()!.version).toBe(after!.version); // read, not rewritten
      expect(await exec(second, 'unset FOO; cd /etc')).toMatchObject({ exitCode: 0 });
      const unset = stored()!.version;
      expect(unset).toBeGreaterThan(after!.version);

      // Another instance on the same database (a CLI process) sees it, and its change is seen by
      // the running server's next command: the last finished command wins, whoever ran it.
      const other = cli(
        ['exec', '--task', taskId, '--shell', 'pwd; echo "${FOO-unset}"; cd /var'],
        env,
      );
      expect(other).toMatchObject({ code: 0, stdout: '/etc\nunset\n' });
      expect(await exec(second, 'pwd')).toMatchObject({ stdout: '/var\n' });
      await second.kill9();

      // A fresh (argv) command is not a session command: it neither reads nor writes the state.
      const v = stored()!.version;
      expect(cli(['exec', '--task', taskId, '--', 'pwd'], env)).toMatchObject({ code: 0 });
      expect(stored()!.version).toBe(v);
    });

    it('the state goes with the sandbox: deleting the task removes the record', () => {
      const t = JSON.parse(
        cli(['create-task', 'gone', '--image', TEST_IMAGE, '--json'], env).stdout,
      ).id as string;
      expect(cli(['exec', '--task', t, '--shell', 'export SECRET=s3cret'], env).code).toBe(0);
      const rec = () =>
        db.prepare(`SELECT 1 FROM runtime_records WHERE kind = 'session-state' AND id = ?`).get(t);
      expect(rec()).toBeDefined();
      // A directory that is gone by the time a new process runs the next command (as after a
      // checkpoint restore): a note on stderr, and the command runs in the sandbox's directory.
      const cd = cli(['exec', '--task', t, '--shell', 'mkdir /tmp/gone && cd /tmp/gone'], env);
      expect(cd.code).toBe(0);
      expect(cli(['exec', '--task', t, '--', 'rmdir', '/tmp/gone'], env).code).toBe(0);
      const after = cli(['exec', '--task', t, '--shell', 'pwd; echo $SECRET'], env);
      expect(after).toMatchObject({ code: 0, stdout: '/workspace\ns3cret\n' });
      expect(after.stderr).toContain('the session directory /tmp/gone is gone');
      expect(cli(['cleanup-task', t, '--force', '--yes'], env).code).toBe(0);
      expect(rec()).toBeUndefined();
    });
  },
);
