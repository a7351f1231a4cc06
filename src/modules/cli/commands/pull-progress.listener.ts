import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { SingleBar } from 'cli-progress';
import { SANDBOX_EVENTS, type SandboxPullEvent } from '../../docker/sandbox.events';

/**
 * Shows image pull progress on stderr while a CLI command creates a sandbox: a progress bar on a
 * terminal, otherwise a line every 10 %. stdout stays clean for --json.
 */
@Injectable()
export class PullProgressListener {
  private bar?: SingleBar;
  private lastDecile = -1;

  @OnEvent(SANDBOX_EVENTS.pullProgress)
  onProgress(e: SandboxPullEvent): void {
    if (e.status === 'done') {
      this.bar?.stop();
      this.bar = undefined;
      process.stderr.write(`pulled ${e.image}\n`);
      return;
    }
    if (!e.total) return;
    if (process.stderr.isTTY) {
      if (!this.bar) {
        this.bar = new SingleBar({
          format: `pulling ${e.image} [{bar}] {percentage}% {value}/{total} bytes`,
          stream: process.stderr,
          hideCursor: true,
        });
        this.bar.start(e.total, e.current ?? 0);
      }
      this.bar.setTotal(e.total);
      this.bar.update(e.current ?? 0);
      return;
    }
    const decile = Math.floor(((e.current ?? 0) / e.total) * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      process.stderr.write(`pulling ${e.image}: ${decile * 10}% of ${e.total} bytes\n`);
    }
  }
}
