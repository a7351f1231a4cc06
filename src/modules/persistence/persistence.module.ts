import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  PERSISTENCE_ADAPTERS,
  type PersistenceAdapters,
  type PersistenceAdaptersFactory,
} from '../../ports/persistence-adapters.port';
import { LOCK_STORE } from '../../ports/lock-store.port';
import { TASK_REPOSITORY } from '../../ports/task-repository.port';
import { RUNTIME_RECORD_STORE } from '../../ports/runtime-record-store.port';
import { MEMORY_STORE_TOKENS } from './memory-store.tokens';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';

export const PERSISTENCE_FACTORY = Symbol('opencode-tools:PersistenceFactory');

@Injectable()
class PersistenceLifecycle implements OnApplicationShutdown {
  constructor(@Inject(PERSISTENCE_ADAPTERS) private readonly adapters: PersistenceAdapters) {}

  async onApplicationShutdown(): Promise<void> {
    await this.adapters.close();
  }
}

/**
 * Exposes the persistence ports. Which storage family backs them is decided by the factory the
 * root module passes in (chosen from configuration); this module never names an adapter.
 */
@Module({})
export class PersistenceModule {
  static forRoot(factory: PersistenceAdaptersFactory): DynamicModule {
    return {
      module: PersistenceModule,
      // Global like TypeOrmModule.forRoot: one storage family per container, shared by every module.
      global: true,
      providers: [
        { provide: PERSISTENCE_FACTORY, useValue: factory },
        {
          provide: PERSISTENCE_ADAPTERS,
          useFactory: (f: PersistenceAdaptersFactory, o: OpenCodeToolsOptions) => f(o),
          inject: [PERSISTENCE_FACTORY, OPENCODE_OPTIONS],
        },
        {
          provide: TASK_REPOSITORY,
          useFactory: (a: PersistenceAdapters) => a.tasks,
          inject: [PERSISTENCE_ADAPTERS],
        },
        {
          provide: LOCK_STORE,
          useFactory: (a: PersistenceAdapters) => a.locks,
          inject: [PERSISTENCE_ADAPTERS],
        },
        {
          provide: RUNTIME_RECORD_STORE,
          useFactory: (a: PersistenceAdapters) => a.records,
          inject: [PERSISTENCE_ADAPTERS],
        },
        ...MEMORY_STORE_TOKENS.map(([token, key]) => ({
          provide: token,
          useFactory: (a: PersistenceAdapters) => a[key],
          inject: [PERSISTENCE_ADAPTERS],
        })),
        PersistenceLifecycle,
      ],
      exports: [
        PERSISTENCE_ADAPTERS,
        TASK_REPOSITORY,
        LOCK_STORE,
        RUNTIME_RECORD_STORE,
        ...MEMORY_STORE_TOKENS.map(([t]) => t),
      ],
    };
  }
}
