import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  createMemoryAdapters,
  OpenCodeToolsModule,
  TasksService,
  type PersistenceAdapters,
} from '../../src';
import { tempHome } from '../helpers/temp-home';

describe('embedding OpenCodeToolsModule in a host app', () => {
  const home = tempHome('oct-embed-');
  afterAll(() => home.cleanup());

  it('forRoot() builds a module without touching disk; the database opens at init and closes with the app', async () => {
    const dir = join(home.dir, 'a');
    const mod = OpenCodeToolsModule.forRoot({ home: dir });
    expect(existsSync(dir)).toBe(false);
    @Injectable()
    class HostService {
      constructor(readonly tasks: TasksService) {}
    }
    @Module({ imports: [mod], providers: [HostService] })
    class HostModule {}
    const app = await NestFactory.createApplicationContext(HostModule, { logger: false });
    const t = await app.get(HostService).tasks.create({ name: 'from host' });
    expect(existsSync(join(dir, 'opencode.db'))).toBe(true);
    await app.close();
    const again = await NestFactory.createApplicationContext(HostModule, { logger: false });
    expect((await again.get(TasksService).get(t.id)).name).toBe('from host');
    await again.close();
  });

  it('forRootAsync() takes options from an injected factory and custom adapters', async () => {
    let opened = 0;
    let closed = 0;
    const adapters = async (): Promise<PersistenceAdapters> => {
      opened++;
      const a = await createMemoryAdapters();
      return { ...a, description: 'custom', close: async () => void closed++ };
    };
    @Module({ providers: [{ provide: 'HOME', useValue: join(home.dir, 'b') }], exports: ['HOME'] })
    class SettingsModule {}
    @Module({
      imports: [
        OpenCodeToolsModule.forRootAsync({
          imports: [SettingsModule],
          inject: ['HOME'],
          useFactory: (h: string) => ({ home: h }),
          adapters,
        }),
      ],
    })
    class HostModule {}
    const app = await NestFactory.createApplicationContext(HostModule, { abortOnError: false });
    await app.get(TasksService).create({ name: 'x' });
    expect(opened).toBe(1);
    await app.close();
    expect(closed).toBe(1);
  });

  it('requiring the package starts no timers, connections or servers (the process exits at once)', () => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(join(__dirname, '../../dist/index.js'))}); console.log('loaded')`,
      ],
      {
        encoding: 'utf8',
        timeout: 10_000,
        cwd: home.dir,
      },
    );
    expect(r.stdout.trim()).toBe('loaded');
    expect(r.status).toBe(0);
    expect(existsSync(join(home.dir, '.opencode'))).toBe(false);
  });
});
