import {
  Global,
  Module,
  type DynamicModule,
  type ModuleMetadata,
  type Provider,
} from '@nestjs/common';
import { OPENCODE_OPTIONS } from '../../config/options';
import { CLOCK, systemClock } from '../../ports/clock.port';

/** Global configuration and clock: the only global providers besides hooks. */
@Global()
@Module({})
export class CoreModule {
  /** `imports` are what an async options factory needs to inject (forRootAsync). */
  static forRoot(
    optionsProvider: Provider,
    imports: ModuleMetadata['imports'] = [],
  ): DynamicModule {
    return {
      module: CoreModule,
      imports,
      providers: [optionsProvider, { provide: CLOCK, useValue: systemClock }],
      exports: [OPENCODE_OPTIONS, CLOCK],
    };
  }
}
