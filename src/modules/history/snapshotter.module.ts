import { Module, type DynamicModule } from '@nestjs/common';
import { OPENCODE_OPTIONS, type OpenCodeToolsOptions } from '../../config/options';
import { SANDBOX_SNAPSHOTTER, type SandboxSnapshotter } from '../../ports/sandbox-snapshotter.port';

type Factory = (options: OpenCodeToolsOptions) => Promise<SandboxSnapshotter | undefined>;

/**
 * Provides `SANDBOX_SNAPSHOTTER` (possibly `undefined`: checkpoints then hold no filesystem) from a
 * factory the root module passes in; global so the history module sees it without naming adapters.
 */
@Module({})
export class SnapshotterModule {
  static forRoot(factory: Factory): DynamicModule {
    return {
      module: SnapshotterModule,
      global: true,
      providers: [
        {
          provide: SANDBOX_SNAPSHOTTER,
          useFactory: (o: OpenCodeToolsOptions) => factory(o),
          inject: [OPENCODE_OPTIONS],
        },
      ],
      exports: [SANDBOX_SNAPSHOTTER],
    };
  }
}
