import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { HooksService } from './hooks.service';

/** Global so any module's providers can declare `@TaskHook` methods or call `register()`. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [HooksService],
  exports: [HooksService],
})
export class HooksModule {}
