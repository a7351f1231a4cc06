/** Most directories handed to one wrapper to remove (they travel as one argument). */
const TAKE_MAX = 64;

/**
 * Log directories of wrapped execs whose end this process saw (and journals itself), per task:
 * nobody will read them back. They are removed for free by the task's next wrapped exec (its
 * wrapper gets them as CLEAN), or, when none comes within `idleMs`, by one `rm` exec; `flush`
 * (at shutdown) removes what is left. A directory is handed out only `minAgeMs` after its
 * command ended, so that a poll from another process that read the record just before this
 * process marked it completed still finds the logs.
 */
export class ExecLogCleanup {
  private readonly pending = new Map<string, { dir: string; at: number }[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly remove: (taskId: string, dirs: string[]) => Promise<void>,
    private readonly idleMs = 2_000,
    private readonly minAgeMs = 1_000,
  ) {}

  /** Directories for the next wrapper of `taskId` to remove (give them back if it never ran). */
  take(taskId: string): string[] {
    const list = this.pending.get(taskId);
    if (!list?.length) return [];
    const ripe = Date.now() - this.minAgeMs;
    const taken: string[] = [];
    for (let i = 0; i < list.length && taken.length < TAKE_MAX;) {
      if (list[i]!.at <= ripe) taken.push(list.splice(i, 1)[0]!.dir);
      else i++;
    }
    if (!list.length) this.drop(taskId);
    return taken;
  }

  add(taskId: string, ...dirs: string[]): void {
    if (!dirs.length) return;
    const list = this.pending.get(taskId) ?? [];
    const at = Date.now();
    list.push(...dirs.map((dir) => ({ dir, at })));
    this.pending.set(taskId, list);
    clearTimeout(this.timers.get(taskId));
    const t = setTimeout(() => void this.removeNow(taskId), this.idleMs);
    t.unref();
    this.timers.set(taskId, t);
  }

  /** The task's sandbox is gone: nothing to remove. */
  forget(taskId: string): void {
    this.drop(taskId);
  }

  /** Removes every pending directory now. */
  async flush(): Promise<void> {
    await Promise.all([...this.pending.keys()].map((t) => this.removeNow(t)));
  }

  private async removeNow(taskId: string): Promise<void> {
    const dirs = (this.pending.get(taskId) ?? []).map((e) => e.dir);
    this.drop(taskId);
    if (dirs.length) await this.remove(taskId, dirs).catch(() => undefined);
  }

  private drop(taskId: string): void {
    clearTimeout(this.timers.get(taskId));
    this.timers.delete(taskId);
    this.pending.delete(taskId);
  }
}
