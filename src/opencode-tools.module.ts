import { Module, type DynamicModule, type ModuleMetadata, type Provider } from '@nestjs/common';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { openConfiguredPersistence } from './adapters/persistence-factory';
import { openConfiguredSandboxRuntime } from './adapters/sandbox-factory';
import {
  openConfiguredSnapshotter,
  type SandboxSnapshotterFactory,
} from './adapters/snapshotter-factory';
import { OPENCODE_OPTIONS, resolveOptions, type OpenCodeToolsOptionsInput } from './config/options';
import { CoreModule } from './modules/core/core.module';
import { DockerModule } from './modules/docker/docker.module';
import { HistoryModule } from './modules/history/history.module';
import { SnapshotterModule } from './modules/history/snapshotter.module';
import { HooksModule } from './modules/hooks/hooks.module';
import { LocksModule } from './modules/locks/locks.module';
import { MetricsModule } from './modules/metrics/metrics.module';
import { PersistenceModule } from './modules/persistence/persistence.module';
import { TasksModule } from './modules/tasks/tasks.module';
import type { PersistenceAdaptersFactory } from './ports/persistence-adapters.port';
import type { SandboxRuntimeFactory } from './ports/sandbox-runtime.port';

export interface OpenCodeToolsModuleExtras {
  /** Replace the storage family chosen from `database` (e.g. your own adapters, or fakes in tests). */
  adapters?: PersistenceAdaptersFactory;
  /** Replace the sandbox runtime chosen from `sandbox.runtime` (e.g. the memory fake in tests). */
  sandboxRuntime?: SandboxRuntimeFactory;
  /** Replace how checkpoints capture the sandbox filesystem (return undefined for none). */
  snapshotter?: SandboxSnapshotterFactory;
  /** Set false when the host app already calls `EventEmitterModule.forRoot()`. Default true. */
  eventEmitter?: boolean;
}

export interface OpenCodeToolsAsyncOptions extends OpenCodeToolsModuleExtras {
  imports?: ModuleMetadata['imports'];
  inject?: (string | symbol | Function)[];
  useFactory: (...args: any[]) => OpenCodeToolsOptionsInput | Promise<OpenCodeToolsOptionsInput>;
}

/**
 * The root module: the CLI, the MCP server and embedding apps all start from it. Importing it starts
 * no timers, connections or servers; the database is opened when the Nest container initialises.
 *
 * @example
 * ```ts
 * @Module({ imports: [OpenCodeToolsModule.forRoot({ home: '/var/lib/agents' })] })
 * export class AppModule {}
 * // then inject TasksService anywhere in the app
 * ```
 */
@Module({})
export class OpenCodeToolsModule {
  static forRoot(
    input: OpenCodeToolsOptionsInput = {},
    extras: OpenCodeToolsModuleExtras = {},
  ): DynamicModule {
    return this.build({ provide: OPENCODE_OPTIONS, useValue: resolveOptions(input) }, extras);
  }

  static forRootAsync(async: OpenCodeToolsAsyncOptions): DynamicModule {
    const optionsProvider: Provider = {
      provide: OPENCODE_OPTIONS,
      useFactory: async (...args: unknown[]) => resolveOptions(await async.useFactory(...args)),
      inject: async.inject ?? [],
    };
    return this.build(optionsProvider, async, async.imports);
  }

  private static build(
    optionsProvider: Provider,
    extras: OpenCodeToolsModuleExtras,
    imports: ModuleMetadata['imports'] = [],
  ): DynamicModule {
    return {
      module: OpenCodeToolsModule,
      imports: [
        CoreModule.forRoot(optionsProvider, imports),
        ...(extras.eventEmitter === false ? [] : [EventEmitterModule.forRoot({ wildcard: false })]),
        HooksModule,
        PersistenceModule.forRoot(extras.adapters ?? openConfiguredPersistence),
        TasksModule,
        HistoryModule,
        SnapshotterModule.forRoot(extras.snapshotter ?? openConfiguredSnapshotter),
        LocksModule,
        DockerModule.forRoot(extras.sandboxRuntime ?? openConfiguredSandboxRuntime),
        MetricsModule,
      ],
      providers: [],
      exports: [TasksModule, HooksModule, HistoryModule, LocksModule, DockerModule, MetricsModule],
    };
  }
}
