import { Global, Module, type DynamicModule, type Provider } from '@nestjs/common';
import { OPENCODE_OPTIONS } from '../../config/options';
import { CLOCK, systemClock } from '../../ports/clock.port';

/** Global configuration and clock: the only global providers besides hooks. */
@Global()
@Module({})
export class CoreModule {
  static forRoot(optionsProvider: Provider): DynamicModule {
    return {
      module: CoreModule,
      providers: [optionsProvider, { provide: CLOCK, useValue: systemClock }],
      exports: [OPENCODE_OPTIONS, CLOCK],
    };
  }
}
