import Docker from 'dockerode';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createDockerSandboxRuntime } from '../../src/adapters/docker';
import { ExecSession, type SessionState } from '../../src/adapters/docker/exec-session';
import { RS } from '../../src/adapters/docker/session-protocol';
import type { SandboxShell } from '../../src/config/sandbox-options';
import { newId } from '../../src/domain/ids';
import type { ExecRequest, SandboxRuntime } from '../../src/ports/sandbox-runtime.port';
import { sandboxConfig } from '../contract/sandbox-runtime.contract';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, SHELL_IMAGES, TEE_OUTPUTS, TEST_IMAGE } from './engine';

jest.setTimeout(120_000);

// The whole suite runs once per shell that can be the sandbox's /bin/sh, and once with bash
// started as bash (OPENCODE_SANDBOX_SHELL=auto) where /bin/sh is dash and bash is there too, as
// on Debian and Ubuntu.
/** Creates and starts a sandbox labelled as this spec's. */
async function startSandbox(rt: SandboxRuntime, taskId: string, image: string): Promise<void> {
  await rt.create(
    sandboxConfig(taskId, image, {
      labels: { 'opencode-tools.instance-id': 'exec-session-spec' },
    }),
  );
  await rt.start(taskId);
}

// Sessions talk over FIFOs (OPENCODE_SESSION_IO=fifo, the default); the busybox variant runs
// once more over the attach stream (OPENCODE_SESSION_IO=attach, and any engine FIFOs cannot reach).
const VARIANTS: [string, string, SandboxShell, 'fifo' | 'attach'][] = [
  ...Object.entries(SHELL_IMAGES).map(([name, image]): [string, string, SandboxShell, 'fifo'] => [
    name,
    image,
    'sh',
    'fifo',
  ]),
  ['bash as bash (OPENCODE_SANDBOX_SHELL=auto, /bin/sh dash)', SHELL_IMAGES.dash!, 'auto', 'fifo'],
  ['busybox ash', SHELL_IMAGES['busybox ash']!, 'sh', 'attach'],
];
for (const [shellName, image, shellSetting, io] of VARIANTS) {
  describeDocker(
    `exec sessions on ${shellName} over ${io === 'fifo' ? 'FIFOs' : 'the attach stream'} (real engine)`,
    () => {
      let rt: SandboxRuntime;
      let taskId: string;
      const docker = new Docker();
      const sh = (shell: string, extra: Partial<ExecRequest> = {}) =>
        rt.exec(taskId, {
          command: { shell },
          timeoutMs: 10_000,
          outputCapBytes: 1 << 20,
          ...extra,
        });
      /** Starts a session command (its result settles later). */
      const startSh = (shell: string) =>
        rt.startExec(taskId, { command: { shell }, timeoutMs: 10_000, outputCapBytes: 1 << 20 });
      /** Processes in the sandbox other than init, sleep (PID 2) and the probe itself. */
      const processes = async () =>
        (
          await rt.exec(taskId, {
            command: ['ps', '-o', 'pid,args'],
            timeoutMs: 10_000,
            outputCapBytes: 1 << 20,
          })
        ).stdout;

      let home: ReturnType<typeof tempHome> | undefined;
      beforeAll(async () => {
        home = io === 'fifo' ? tempHome('oct-session-io-') : undefined;
        rt = await createDockerSandboxRuntime(undefined, {
          sessionsPerTask: 2,
          shell: shellSetting,
          ...(home ? { ioRoot: join(home.dir, 'io') } : {}),
        });
        taskId = newId('tsk');
        await startSandbox(rt, taskId, image);
      });
      afterAll(async () => {
        await rt.remove(taskId);
        await rt.close();
        home?.cleanup();
      });

      it(`talks to its shell over ${io === 'fifo' ? 'FIFOs (none left on the host once open)' : 'the attach stream'}`, async () => {
        // The session's tee processes write the output: to a FIFO of the mount, or a pipe of the engine.
        const r = await sh(TEE_OUTPUTS);
        const links = r.stdout.trim().split('\n');
        expect(links).toHaveLength(2);
        for (const l of links) {
          if (io === 'fifo')
            expect(l).toMatch(/^\/run\/opencode-tools\/[0-9a-f]{32}\.[oe] \(deleted\)$/);
          else expect(l).toMatch(/^pipe:/);
        }
        if (home) expect(readdirSync(join(home.dir, 'io', `oct-${taskId}`))).toEqual([]);
      });

      it('runs commands in the configured shell (fresh ones too)', async () => {
        const which = 'echo "${BASH_VERSION:+bash}"';
        const expected = shellSetting === 'auto' || shellName === 'bash' ? 'bash\n' : '\n';
        expect((await sh(which)).stdout).toBe(expected);
        expect((await sh(which, { fresh: true })).stdout).toBe(expected);
        if (shellSetting !== 'auto') return;
        // bash as bash, not in POSIX mode: arrays, [[ ]], source, process substitution.
        const bashisms =
          'shopt -qo posix && echo posix; a=(x y); [[ ${a[1]} == y ]] && echo "${a[1]} $(cat <(echo sub))"; echo "echo sourced" > /tmp/s.sh; source /tmp/s.sh';
        expect((await sh(bashisms)).stdout).toBe('y sub\nsourced\n');
        expect((await sh(bashisms, { fresh: true })).stdout).toBe('y sub\nsourced\n');
      });

      it('keeps the working directory and exported environment between commands', async () => {
        expect((await sh('pwd')).stdout).toBe('/workspace\n');
        expect(
          (await sh('mkdir -p /tmp/a/b && cd /tmp/a/b && export FOO="x y\'z" && BAR=plain'))
            .exitCode,
        ).toBe(0);
        const r = await sh('pwd; printf "%s|" "$FOO" "${BAR-unset}" "$GREETING"');
        expect(r.stdout).toBe("/tmp/a/b\nx y'z|unset|hello|");
        // unset carries over too, also for a variable of the image's environment.
        await sh('unset FOO GREETING');
        expect((await sh('echo "${FOO-gone} ${GREETING-gone}"')).stdout).toBe('gone gone\n');
        await sh('export GREETING=hello; cd /workspace');
      });

      /** Runs a session command and reads back the session's `out` log from where it started. */
      const logged = async (shell: string) => {
        const started = await startSh(shell);
        const result = await started.result;
        const info = started.session!;
        // base64: the log's frames would be read as frames (and dropped) if it came back raw.
        const log = Buffer.from(
          (
            await rt.exec(taskId, {
              command: ['base64', `${info.sessionDir}/out`],
              timeoutMs: 10_000,
              outputCapBytes: 1 << 24,
            })
          ).stdout,
          'base64',
        )
          .subarray(info.outStart)
          .toString('latin1');
        return { result, info, log };
      };

      it('a command that cannot change the state does not report it; the state carries on', async () => {
        const run = async (shell: string) => {
          const { result, info, log } = await logged(shell);
          return { result, reported: log.includes(`oct:${info.nonce}:V`) };
        };
        const cd = await run('cd /tmp && export KEEP=yes');
        expect(cd.reported).toBe(true);
        const plain = await run('echo plain; ls /nonexistent-dir');
        expect(plain).toMatchObject({ reported: false, result: { stdout: 'plain\n' } });
        expect(plain.result.exitCode).not.toBe(0);
        const after = await run('pwd; echo "$KEEP"');
        expect(after).toMatchObject({ reported: true, result: { stdout: '/tmp\nyes\n' } });
        await sh('cd /workspace; unset KEEP');
      });

      it("the session's own directory changes leave the state as the command found it (OLDPWD too)", async () => {
        // bash exports OLDPWD: the cd that restores the task's directory, or enters a call's
        // workdir, must not change it, or every command would store a "new" state.
        const s = await ExecSession.open(docker.getContainer(`oct-${taskId}`), {
          shell: shellSetting,
        });
        const run = async (shell: string, state?: SessionState, workdir?: string) =>
          (
            await s.start(
              { timeoutMs: 10_000, outputCapBytes: 1 << 16, workdir, command: { shell } },
              state,
            ).finished
          ).state;
        try {
          const first = await run('cd /tmp && cd /etc && export KEPT=1');
          expect(first!.text).toContain('KEPT');
          expect(await run('echo "$KEPT"', first)).toBe(first);
          expect(await run('echo "$KEPT"', first, '/usr')).toBe(first);
        } finally {
          s.retire();
        }
      });

      it("applies a call's env and workdir to that call only", async () => {
        const r = await sh('pwd; echo "$ONLY"', { env: { ONLY: 'once' }, workdir: '/tmp' });
        expect(r.stdout).toBe('/tmp\nonce\n');
        expect((await sh('pwd; echo "${ONLY-none}"')).stdout).toBe('/workspace\nnone\n');
        const bad = await sh('pwd', { workdir: '/nope' });
        expect(bad.exitCode).toBe(126);
        expect(bad.stderr).toContain('workdir /nope: no such directory');
      });

      it('reports exact exit codes, separate streams and output without a trailing newline', async () => {
        const r = await sh('printf out; printf err >&2; exit 42');
        expect(r).toMatchObject({ exitCode: 42, stdout: 'out', stderr: 'err', timedOut: false });
        expect((await sh('false')).exitCode).toBe(1);
        expect((await sh("sh -c 'kill -s TERM $PPID'; echo not reached")).exitCode).toBe(143);
        // A command that replaces its shell reports no end of its own: the session shell's is used.
        expect((await sh('exec true')).exitCode).toBe(0);
        expect(await sh("exec sh -c 'echo replaced; exit 7'")).toMatchObject({
          exitCode: 7,
          stdout: 'replaced\n',
        });
        // Bytes that look like our frames, binary output and a stdin.
        const tricky = await sh('printf "\\036oct:abc:E:0\\036 done"; cat', {
          stdin: 'in\u0000put',
        });
        expect(tricky.stdout).toBe('\x1eoct:abc:E:0\x1e donein\u0000put');
        expect(tricky.exitCode).toBe(0);
      });

      it("a command's leader reports its end; the session shell only a dead leader's", async () => {
        // The leader writes the end after its command's shell is gone (Z on both streams), also
        // for a command that replaced its shell: no X frame follows in the log.
        const plain = await logged('echo plain');
        expect(plain.result).toMatchObject({ exitCode: 0, stdout: 'plain\n' });
        expect(plain.log).toContain(`oct:${plain.info.nonce}:Z:0`);
        expect(plain.log).not.toContain('oct:x:X:');
        const replaced = await logged('exec sh -c "exit 5"');
        expect(replaced.result.exitCode).toBe(5);
        expect(replaced.log).toContain(`oct:${replaced.info.nonce}:Z:5`);
        expect(replaced.log).not.toContain('oct:x:X:');
        // A command whose shell is killed (not its leader): the leader reports the status, and
        // nothing of its own on the command's stderr (bash would report a job).
        const shot = await logged("sh -c 'kill -9 $PPID'; echo not reached");
        expect(shot.result).toMatchObject({ exitCode: 137, stdout: '', stderr: '' });
        expect(shot.log).toContain(`oct:${shot.info.nonce}:Z:137`);
        // $$ names the leader, which ignores TERM and HUP: the command goes on.
        const term = await logged('kill -s TERM $$; echo still here; echo $$');
        expect(term.result).toMatchObject({
          exitCode: 0,
          stdout: `still here\n${term.info.pid}\n`,
        });
        // kill 0 reaches the command's shell: 143, reported by the leader, which stays.
        const zero = await logged('kill 0; sleep 5; echo not reached');
        expect(zero.result).toMatchObject({ exitCode: 143, stdout: '' });
        expect(zero.log).toContain(`oct:${zero.info.nonce}:Z:143:${zero.info.pid}`);
        // A command that kills its leader with KILL ends with the leader's status, reported by
        // the session shell (X, naming the leader and the request), which kills the leader's
        // group and hands the next command to the spare leader, which the X names.
        const killed = await logged('kill -s KILL $$; sleep 5; echo not reached');
        expect(killed.result).toMatchObject({ exitCode: 137, stdout: '' });
        expect(killed.log).not.toContain(`oct:${killed.info.nonce}:Z`);
        const x = new RegExp(`oct:x:X:${killed.info.pid}:137:(\\d+):${killed.info.seq}${RS}`);
        expect(killed.log).toMatch(x);
        const next = await logged('echo $$');
        expect(next.result.stdout).toBe(`${next.info.pid}\n`);
        expect(next.info.pid).toBe(Number(x.exec(killed.log)![1]));
        expect(next.info.pid).not.toBe(killed.info.pid);
        expect((await sh('echo after')).stdout).toBe('after\n');
        // A leader's group killed from outside while idle (as a timeout's kill that comes just
        // after its command ended): the next command goes to the spare, and reports its group.
        const idle = await logged('echo $$');
        await rt.exec(taskId, {
          command: ['sh', '-c', 'kill -s KILL -- "-$1"', 'sh', `${idle.info.pid}`],
          timeoutMs: 10_000,
          outputCapBytes: 1024,
        });
        const started = await startSh('echo $$; echo e >&2');
        expect(await started.result).toMatchObject({ exitCode: 0, stderr: 'e\n' });
        expect((await started.result).stdout).toBe(`${started.pid()}\n`);
        expect(started.pid()).not.toBe(idle.info.pid);
        expect((await sh('echo fine')).stdout).toBe('fine\n');
      });

      it('consecutive commands share a leader ($$) until one leaves a process behind', async () => {
        const pid = async (shell: string) => {
          const started = await startSh(shell);
          const r = await started.result;
          expect(r.exitCode).toBe(0);
          // The pid known (and journaled) when the command was sent is the command's $$.
          expect(r.stdout.split('\n')[0]).toBe(`${started.session!.pid}`);
          return started.session!.pid!;
        };
        const a = await pid('echo $$');
        expect(await pid('echo $$; ls / >/dev/null; true | cat')).toBe(a);
        expect(await pid('echo $$')).toBe(a);
        // A process left running must never share a group with a later command: its leader
        // retires, and the next command runs in another group.
        const b = await pid('echo $$; sleep 30 >/dev/null 2>&1 & echo $! >/tmp/.bg');
        expect(b).toBe(a);
        const c = await pid('echo $$');
        expect(c).not.toBe(a);
        // ... so a later command's timeout (which kills its own group) leaves it running.
        const loop = await sh('while :; do :; done', { timeoutMs: 300 });
        expect(loop.timedOut).toBe(true);
        expect((await sh('kill "$(cat /tmp/.bg)" && echo was running')).stdout).toBe(
          'was running\n',
        );
        await sh('rm -f /tmp/.bg');
      });

      it("a command that clobbers the protocol's variables leaves the next command's group killable", async () => {
        // The command runs in a subshell of its leader: what it sets or unsets stays there.
        expect(
          await sh('unset __oct_w __oct_rc __oct_k __oct_sp; __oct_mp=/nope; echo ok'),
        ).toMatchObject({ exitCode: 0, stdout: 'ok\n' });
        const loop = await sh('while :; do echo x >>/tmp/.count; done', { timeoutMs: 500 });
        expect(loop.timedOut).toBe(true);
        // A loop still running would go on growing the file.
        const count = () => sh('wc -c </tmp/.count').then((r) => r.stdout);
        const a = await count();
        await new Promise((r) => setTimeout(r, 300));
        expect(await count()).toBe(a);
        await sh('rm -f /tmp/.count');
      });

      it('two concurrent calls on one task run in their own sessions, both correct', async () => {
        const t0 = Date.now();
        const [a, b] = await Promise.all([
          sh('sleep 1; echo a; echo ea >&2; exit 3'),
          sh('sleep 1; echo b; echo eb >&2; exit 4'),
        ]);
        expect(a).toMatchObject({ stdout: 'a\n', stderr: 'ea\n', exitCode: 3 });
        expect(b).toMatchObject({ stdout: 'b\n', stderr: 'eb\n', exitCode: 4 });
        expect(Date.now() - t0).toBeLessThan(1900); // in parallel, not one after the other
        // A third concurrent call waits for a free session (at most 2 here).
        const many = await Promise.all([1, 2, 3, 4, 5].map((i) => sh(`echo ${i}`)));
        expect(many.map((r) => r.stdout)).toEqual(['1\n', '2\n', '3\n', '4\n', '5\n']);
      });

      it('replaces a dead session with only a log line', async () => {
        // Kill every session shell from outside; the next command opens a new session.
        const r = await rt.exec(taskId, {
          command: [
            'sh',
            '-c',
            'for p in /proc/[0-9]*; do [ "$(cat $p/cmdline 2>/dev/null)" = /bin/sh ] && kill -9 ${p#/proc/}; done; true',
          ],
          timeoutMs: 10_000,
          outputCapBytes: 1 << 20,
        });
        expect(r.exitCode).toBe(0);
        await new Promise((res) => setTimeout(res, 200));
        const after = await sh('echo alive; pwd');
        expect(after).toMatchObject({ exitCode: 0, stdout: 'alive\n/workspace\n' });
      });

      it('a session whose shell was killed ends at once and leaves no process behind', async () => {
        const container = docker.getContainer(`oct-${taskId}`);
        /** The session's output relays: the last of its processes to end. */
        const relays = async (dir: string) =>
          (await processes()).split('\n').filter((l) => l.includes(`tee -a ${dir}/`)).length;
        const s = await ExecSession.open(container, { shell: shellSetting });
        const died = new Promise<string>((res) => s.onDeath(res));
        const r = await s.start(
          { command: { shell: 'echo one' }, timeoutMs: 10_000, outputCapBytes: 1 << 20 },
          undefined,
        ).finished;
        expect(r.result.stdout).toBe('one\n');
        expect(await relays(s.dir)).toBe(2);
        const kill = await rt.exec(taskId, {
          command: ['kill', '-9', String(s.shellPid)],
          timeoutMs: 10_000,
          outputCapBytes: 1 << 20,
        });
        expect(kill.exitCode).toBe(0);
        expect(await died).toBe('the session shell exited');
        for (let i = 0; i < 50 && (await relays(s.dir)) > 0; i++) {
          await new Promise((res) => setTimeout(res, 100));
        }
        expect(await relays(s.dir)).toBe(0);
        expect(await processes()).not.toMatch(new RegExp(`\\b${s.shellPid}\\b.*sh`));
      });

      it('fresh: true and argv commands use a clean process', async () => {
        await sh('cd /tmp && export STICKY=1');
        const fresh = await sh('pwd; echo "${STICKY-none}"', { fresh: true });
        expect(fresh.stdout).toBe('/workspace\nnone\n');
        const argv = await rt.exec(taskId, {
          command: ['pwd'],
          timeoutMs: 10_000,
          outputCapBytes: 1 << 20,
        });
        expect(argv.stdout).toBe('/workspace\n');
        await sh('cd /workspace; unset STICKY');
      });

      it('labels: the sandbox is ours and nothing else was created', async () => {
        const c = await docker.getContainer(`oct-${taskId}`).inspect();
        expect(c.Config.Labels['opencode-tools.instance-id']).toBe('exec-session-spec');
      });

      it('reads requests the same way line by line (no /proc) as in blocks (sourced, or read -N in bash)', async () => {
        const container = docker.getContainer(`oct-${taskId}`);
        const big = 'x'.repeat(70_000);
        const results: unknown[] = [];
        for (const source of [true, false]) {
          const s = await ExecSession.open(container, { source, shell: shellSetting });
          // In blocks where the shell can (sourced, or bash's read -N), else line by line.
          expect(s.readMode === 'line').toBe(!source);
          let state: SessionState | undefined;
          const run = async (shell: string, extra: Partial<Omit<ExecRequest, 'command'>> = {}) => {
            const r = await s.start(
              { timeoutMs: 10_000, outputCapBytes: 1 << 20, ...extra, command: { shell } },
              state,
            ).finished;
            state = r.state ?? state;
            const { durationMs: _d, ...rest } = r.result;
            void _d;
            return rest;
          };
          try {
            results.push([
              await run(
                `printf '%s|' "it's" 'two\nlines' "$(printf 'a\tb')" 'ünï' ; echo e >&2; exit 3`,
              ),
              await run('mkdir -p /tmp/src-mode && cd /tmp/src-mode && export Q=\'x "y"\n z\''),
              await run('pwd; printf "%s" "$Q"; echo; echo "$ONE"', { env: { ONE: "o'ne\n2" } }),
              await run(`printf %s '${big}' | wc -c`),
              await run('od -An -tx1 | tr -d " \n"', { stdin: Buffer.from([0, 1, 255, 10, 39]) }),
              await run('cd /workspace; unset Q'),
            ]);
          } finally {
            s.retire();
          }
        }
        expect(results[0]).toEqual(results[1]);
        const [quoted, , carried, size, bin] = results[0] as { stdout: string; exitCode: number }[];
        expect(quoted).toMatchObject({
          stdout: "it's|two\nlines|a\tb|ünï|",
          stderr: 'e\n',
          exitCode: 3,
        });
        expect(carried!.stdout).toBe('/tmp/src-mode\nx "y"\n z\no\'ne\n2\n');
        expect(size!.stdout.trim()).toBe('70000');
        expect(bin!.stdout).toBe('0001ff0a27');
      });
    },
    image,
  );
}

describeDocker('OPENCODE_SANDBOX_SHELL where the image has no bash (real engine)', () => {
  const rts: SandboxRuntime[] = [];
  const taskId = newId('tsk');
  const open = async (shell: SandboxShell) => {
    const rt = await createDockerSandboxRuntime(undefined, { sessionsPerTask: 1, shell });
    rts.push(rt);
    return rt;
  };
  beforeAll(async () => {
    const rt = await open('sh');
    await startSandbox(rt, taskId, TEST_IMAGE);
  });
  afterAll(async () => {
    await rts[0]!.remove(taskId);
    for (const rt of rts) await rt.close();
  });
  const req = (shell: string, fresh = false): ExecRequest => ({
    command: { shell },
    timeoutMs: 10_000,
    outputCapBytes: 1 << 20,
    fresh,
  });

  it('auto falls back to /bin/sh', async () => {
    const rt = await open('auto');
    const probe = 'echo "${BASH_VERSION:-none}"; cd /tmp';
    expect((await rt.exec(taskId, req(probe))).stdout).toBe('none\n');
    expect((await rt.exec(taskId, req('pwd'))).stdout).toBe('/tmp\n');
    expect((await rt.exec(taskId, req(probe, true))).stdout).toBe('none\n');
  });

  it('bash: a session command fails naming the setting; a fresh one exits 127', async () => {
    const rt = await open('bash');
    await expect(rt.exec(taskId, req('echo hi'))).rejects.toThrow(
      /did not start a session.*bash.*OPENCODE_SANDBOX_SHELL=bash needs bash in the image/s,
    );
    const fresh = await rt.exec(taskId, req('echo hi', true));
    expect(fresh.exitCode).toBe(127);
    expect(fresh.stderr).toMatch(/bash/);
  });
});

describeDocker('session logs under OPENCODE_EXEC_LOG_MAX (real engine)', () => {
  const taskId = newId('tsk');
  let rt: SandboxRuntime;
  beforeAll(async () => {
    rt = await createDockerSandboxRuntime(undefined, { sessionsPerTask: 1, logMaxBytes: 1 << 20 });
    await startSandbox(rt, taskId, TEST_IMAGE);
  });
  afterAll(async () => {
    await rt.remove(taskId);
    await rt.close();
  });
  const run = async (shell: string) => {
    const s = await rt.startExec(taskId, {
      command: { shell },
      timeoutMs: 10_000,
      outputCapBytes: 1 << 16,
    });
    return { result: await s.result, info: s.session! };
  };

  it('a command that filled half its log retires the session: the next one starts with room, its end logged', async () => {
    const flood = await run("head -c 600000 /dev/zero | tr '\\0' a");
    // Live, the caller gets everything; the log in the sandbox holds the same 600 KB.
    expect(flood.result).toMatchObject({ exitCode: 0, stdoutBytes: 600_000 });
    const next = await run('echo after; exit 4');
    expect(next.result).toMatchObject({ exitCode: 4, stdout: 'after\n' });
    expect(next.info.sessionDir).not.toBe(flood.info.sessionDir);
    // What a restarted process would read back: the output and the end.
    const logs = await rt.readSessionOutput(taskId, next.info, 1 << 20);
    expect(logs).toMatchObject({ exitCode: 4, stdout: Buffer.from('after\n') });
    const small = await run('echo small');
    expect(small.info.sessionDir).toBe(next.info.sessionDir);
  });
});
