import { Injectable, Optional } from '@nestjs/common';
import { LiveExecutionsService } from '../../docker/live-executions.service';
import { ReconcilerService } from '../../docker/reconciler.service';
import { SandboxMonitorService } from '../../docker/sandbox-monitor.service';
import { WarmPoolService } from '../../docker/warm-pool.service';

/**
 * What a long-running server process does besides answering: reconcile sandboxes with the engine
 * (at start and periodically), sample their resource use, keep the warm pool filled, kill
 * re-attachable executions at their deadline when no process runs them (found at start-up or
 * left by a dead process) and expire idempotency keys. CLI one-shot commands never start it.
 */
@Injectable()
export class ServerBackgroundWork {
  constructor(
    @Optional() private readonly reconciler?: ReconcilerService,
    @Optional() private readonly monitor?: SandboxMonitorService,
    @Optional() private readonly pool?: WarmPoolService,
    @Optional() private readonly executions?: LiveExecutionsService,
  ) {}

  /** Starts after the transport is up, so the first answer never waits for the engine. */
  start(): void {
    setImmediate(() => {
      this.reconciler?.startTimer();
      this.monitor?.startTimer();
      this.pool?.startTimer();
      this.executions?.startTimer();
    }).unref();
  }

  stop(): void {
    this.reconciler?.stopTimer();
    this.monitor?.stopTimer();
    this.pool?.stopTimer();
    this.executions?.stopTimer();
  }
}
