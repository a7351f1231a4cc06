import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointsService } from '../../src/modules/history/checkpoints.service';
import { SandboxService } from '../../src/modules/docker/sandbox.service';
import { TaskStateService } from '../../src/modules/history/task-state.service';
import { TasksService } from '../../src/modules/tasks/tasks.service';
import { OpenCodeToolsModule } from '../../src/opencode-tools.module';
import { tempHome } from '../helpers/temp-home';
import { describeDocker, TEE_OUTPUTS, TEST_IMAGE } from './engine';

const Docker = require('dockerode');

describeDocker('checkpoints with the sandbox filesystem (real Docker engine)', () => {
  let home: ReturnType<typeof tempHome>;
  let app: INestApplicationContext;
  let tasks: TasksService;
  let sandboxes: SandboxService;
  let checkpoints: CheckpointsService;
  const created: string[] = [];

  beforeAll(async () => {
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
    checkpoints = app.get(CheckpointsService);
  });

  afterAll(async () => {
    for (const id of created) await tasks.delete(id, { force: true }).catch(() => undefined);
    await app.close();
    home.cleanup();
  });

  /** Every image labelled with the task's id (tagged or not). */
  const imagesOf = (taskId: string): Promise<{ Id: string; RepoTags?: string[] }[]> =>
    new Docker().listImages({ filters: { label: [`opencode-tools.task-id=${taskId}`] } });

  const sh = async (taskId: string, script: string) => {
    const r = await sandboxes.exec(taskId, { command: ['sh', '-c', script], timeoutMs: 20_000 });
    expect(r.exitCode).toBe(0);
    return r.stdout;
  };

  it('restores the workspace byte for byte and the container’s own changes; forks evolve apart', async () => {
    const task = await tasks.create({ name: 'snap', sandbox: { image: TEST_IMAGE } });
    created.push(task.id);
    await tasks.start(task.id);
    const bytes = randomBytes(256 * 1024);
    await sandboxes.writeFile(task.id, '/workspace/data.bin', bytes);
    await sh(
      task.id,
      'mkdir -p /workspace/sub && echo keep > /workspace/sub/k.txt && echo v1 > /tmp/outside.txt',
    );
    await app.get(TaskStateService).put(task.id, { phase: 1 }, 0);

    const progress: string[] = [];
    const cp = await checkpoints.create({ taskId: task.id, description: 'with files' }, (s) =>
      progress.push(s),
    );
    expect(cp.snapshot).toMatchObject({ kind: 'docker', image: expect.stringContaining(task.id) });
    expect(progress.some((p) => p.includes('committing container'))).toBe(true);
    expect(existsSync(join(home.dir, 'checkpoints', task.id, cp.id, 'workspace.tar'))).toBe(true);

    // Change, delete, add: in the volume and in the container's own filesystem.
    await sandboxes.writeFile(task.id, '/workspace/data.bin', Buffer.from('changed'));
    await sh(
      task.id,
      'rm -f /workspace/data.bin /workspace/sub/k.txt && echo new > /workspace/new.txt && echo v2 > /tmp/outside.txt',
    );

    await checkpoints.restore(task.id, cp.id);
    const back = await sandboxes.readFile(task.id, '/workspace/data.bin');
    expect(Buffer.compare(back, bytes)).toBe(0);
    expect(await sh(task.id, 'cat /workspace/sub/k.txt; cat /tmp/outside.txt; ls /workspace')).toBe(
      'keep\nv1\ndata.bin\nsub\n',
    );

    // Fork: a new container from the same snapshot, independent of the parent.
    const child = await checkpoints.fork(task.id, cp.id, 'snap child');
    created.push(child.id);
    expect(Buffer.compare(await sandboxes.readFile(child.id, '/workspace/data.bin'), bytes)).toBe(
      0,
    );
    await sandboxes.writeFile(child.id, '/workspace/data.bin', Buffer.from('child'));
    expect(Buffer.compare(await sandboxes.readFile(task.id, '/workspace/data.bin'), bytes)).toBe(0);
    // Each sees its own session-FIFO directory (the snapshot's config named the parent's), and
    // the child's shell-string commands run in a session over it.
    const ioSource = async (id: string) =>
      (
        (await new Docker().getContainer(`oct-${id}`).inspect()) as {
          Mounts: { Destination: string; Source: string }[];
        }
      ).Mounts.find((m) => m.Destination === '/run/opencode-tools')?.Source;
    expect(await ioSource(task.id)).toBe(join(home.dir, 'io', `oct-${task.id}`));
    expect(await ioSource(child.id)).toBe(join(home.dir, 'io', `oct-${child.id}`));
    const tees = await sandboxes.exec(child.id, { command: { shell: TEE_OUTPUTS } });
    expect(tees.stdout).toMatch(/^\/run\/opencode-tools\/[0-9a-f]{32}\.o \(deleted\)$/m);

    // Deleting the checkpoint's task removes the snapshot image and archive.
    await tasks.delete(task.id, { force: true });
    created.shift();
    const images = await new Docker().listImages({
      filters: { reference: [`opencode-tools-snapshot:${task.id}*`] },
    });
    expect(images).toEqual([]);
    expect(readdirSync(join(home.dir, 'checkpoints')).includes(task.id)).toBe(false);

    // The child still runs from the parent's snapshot image (untagged now); it goes with the child.
    expect(await imagesOf(task.id)).toHaveLength(1);
    await tasks.delete(child.id, { force: true });
    created.splice(created.indexOf(child.id), 1);
    expect(await imagesOf(task.id)).toEqual([]);
  }, 120_000);

  it('a deleted checkpoint’s image stays while the restored container runs from it, then goes with the task', async () => {
    const task = await tasks.create({ name: 'snap2', sandbox: { image: TEST_IMAGE } });
    created.push(task.id);
    await tasks.start(task.id);
    const cp1 = await checkpoints.create({ taskId: task.id, description: 'one' });
    const cp2 = await checkpoints.create({ taskId: task.id, description: 'two' });
    await checkpoints.restore(task.id, cp1.id);
    await checkpoints.delete(task.id, cp1.id);
    // Untagged but in use: the container runs from it.
    expect(await imagesOf(task.id)).toHaveLength(2);
    expect(await sh(task.id, 'echo alive')).toBe('alive\n');
    // Restoring another checkpoint replaces the container: the first image has no user left.
    await checkpoints.restore(task.id, cp2.id);
    const left = await imagesOf(task.id);
    expect(left.map((i) => i.RepoTags)).toEqual([
      [`opencode-tools-snapshot:${task.id}-${cp2.id}`.toLowerCase()],
    ]);
    await checkpoints.delete(task.id, cp2.id);
    expect(await imagesOf(task.id)).toHaveLength(1);
    await tasks.delete(task.id, { force: true });
    created.splice(created.indexOf(task.id), 1);
    expect(await imagesOf(task.id)).toEqual([]);
  }, 120_000);
});
