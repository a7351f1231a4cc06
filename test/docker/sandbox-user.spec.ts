import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { DomainError } from '../../src/domain/errors';
import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEST_IMAGE } from './engine';

const Docker = require('dockerode');

jest.setTimeout(120_000);

/** Images whose `USER` is not root: the test image committed with another `USER`. */
const USERS = { nobody: 'nobody', numeric: '4321:4321', ghost: 'ghost' } as const;
const tag = (k: string) => `opencode-tools-test:user-${k}-${process.pid}`;

describeDocker('sandboxes of images whose USER is not root (real engine)', () => {
  const docker = new Docker();
  let home: ReturnType<typeof tempHome>;
  let app: INestApplicationContext;
  let tasks: TasksService;
  let sandboxes: SandboxService;
  const created: string[] = [];

  beforeAll(async () => {
    const base = await docker.createContainer({ Image: TEST_IMAGE, Cmd: ['true'] });
    try {
      for (const [k, user] of Object.entries(USERS)) {
        const [repo, t] = tag(k).split(':');
        await base.commit({ repo, tag: t, changes: `USER ${user}` });
      }
    } finally {
      await base.remove({ force: true });
    }
    home = tempHome();
    @Module({
      imports: [
        OpenCodeToolsModule.forRoot({
          home: home.dir,
          sandbox: { runtime: 'docker', pull: 'never' },
          persistence: { logFsync: 'off' },
        }),
      ],
    })
    class M {}
    app = await NestFactory.createApplicationContext(M, { logger: false });
    tasks = app.get(TasksService);
    sandboxes = app.get(SandboxService);
  });

  afterAll(async () => {
    for (const id of created) await tasks.delete(id, { force: true }).catch(() => undefined);
    await app?.close();
    home?.cleanup();
    for (const k of Object.keys(USERS)) {
      await docker
        .getImage(tag(k))
        .remove({ force: true })
        .catch(() => undefined);
    }
  });

  const started = async (image: string) => {
    const task = await tasks.create({ name: 'user', sandbox: { image } });
    created.push(task.id);
    await tasks.start(task.id);
    return task.id;
  };
  const sh = async (taskId: string, command: string) => {
    const r = await sandboxes.exec(taskId, { command, timeoutMs: 20_000 });
    expect({ stderr: r.stderr, exitCode: r.exitCode }).toEqual({ stderr: '', exitCode: 0 });
    return r.stdout;
  };

  it('a named user owns the new /workspace, and what write_file creates there', async () => {
    const id = await started(tag('nobody'));
    expect(await sh(id, 'id -u; id -g')).toBe('65534\n65534\n');
    expect(await sh(id, 'ls -ldn /workspace | tr -s " " | cut -d" " -f1,3,4')).toBe(
      'drwxr-xr-x 65534 65534\n',
    );
    expect(await sh(id, 'echo made > /workspace/by-shell.txt && cat /workspace/by-shell.txt')).toBe(
      'made\n',
    );

    // Parents write_file creates are the user's too, so the agent can keep working in them.
    await sandboxes.writeFile(id, 'src/deep/app.txt', 'hello');
    await sandboxes.writeFile(id, '/tmp/outside.txt', 'x');
    expect(
      await sh(
        id,
        'cd /workspace && for p in src src/deep src/deep/app.txt /tmp/outside.txt; do ls -ldn $p | tr -s " " | cut -d" " -f1,3,4; done',
      ),
    ).toBe(
      [
        'drwxr-xr-x 65534 65534',
        'drwxr-xr-x 65534 65534',
        '-rw-r--r-- 65534 65534',
        '-rw-r--r-- 65534 65534',
        '',
      ].join('\n'),
    );
    await sh(id, 'echo more > /workspace/src/deep/more.txt && mkdir /workspace/src/new');
    // An existing directory is left as it is (mode and owner), not re-made by a write into it.
    await sh(id, 'chmod 700 /workspace/src');
    await sandboxes.writeFile(id, 'src/other.txt', 'y');
    expect(await sh(id, 'ls -ldn /workspace/src | cut -c1-10')).toBe('drwx------\n');
    expect((await sandboxes.readFile(id, 'src/other.txt')).toString()).toBe('y');
    // The stat of an existing parent left no request to the engine open (it held a connection
    // for minutes, and kept the test process from exiting).
    const open = (process as unknown as { _getActiveHandles(): unknown[] })
      ._getActiveHandles()
      .map((h) => (h as { _httpMessage?: { path?: string } })._httpMessage?.path ?? '')
      .filter((p) => p.includes('/archive'));
    expect(open).toEqual([]);
  });

  it('a numeric uid:gid the image has no entry for', async () => {
    const id = await started(tag('numeric'));
    expect(await sh(id, 'id -u; id -g')).toBe('4321\n4321\n');
    await sandboxes.writeFile(id, 'a/b.txt', 'z');
    expect(await sh(id, 'ls -ldn /workspace /workspace/a | tr -s " " | cut -d" " -f3,4')).toBe(
      '4321 4321\n4321 4321\n',
    );
    await sh(id, 'echo ok >> /workspace/a/b.txt');
  });

  it('a user the image does not know is a validation error naming the image and the user; nothing is left', async () => {
    const ours = async () => {
      const f = { label: ['opencode-tools.managed=true'] };
      const [c, v] = await Promise.all([
        docker.listContainers({ all: true, filters: f }),
        docker.listVolumes({ filters: f }),
      ]);
      return c.length + ':' + (v.Volumes ?? []).length;
    };
    const before = await ours();
    const err = await tasks
      .create({ name: 'ghost', sandbox: { image: tag('ghost') } })
      .then((t) => created.push(t.id))
      .then(
        () => null,
        (e: DomainError) => e,
      );
    expect(err?.code).toBe('VALIDATION');
    expect(err?.message).toMatch(
      /^sandbox\.image: image '.*user-ghost.*' runs as USER 'ghost', which its \/etc\/passwd/,
    );
    expect(await ours()).toBe(before);
    expect((await tasks.list({})).items.filter((t) => t.name === 'ghost')).toEqual([]);
  });

  it('root images keep root-owned writes (nothing changes for them)', async () => {
    const id = await started(TEST_IMAGE);
    await sandboxes.writeFile(id, 'r/x.txt', 'x');
    expect(
      await sh(id, 'ls -ldn /workspace/r /workspace/r/x.txt | tr -s " " | cut -d" " -f3,4'),
    ).toBe('0 0\n0 0\n');
  });
});
