import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * SQLite copies the WAL back into the database file (a checkpoint) inside the commit that leaves
 * the WAL 1,000 pages long, on the committing thread: the page copies and two fsyncs block the
 * event loop ~20-28 ms on this machine's disk, once every ~250 journal inserts, and every call in
 * flight waits. A process that keeps running moves that work to a worker thread of its own, with
 * a connection of its own: every {@link CHECKPOINT_EVERY_MS} a PASSIVE checkpoint (it never waits
 * for readers or writers, and costs nothing when the WAL holds nothing new). Small and often:
 * the main thread still stalls while a large checkpoint's fsync runs (the file system's journal),
 * ~15 ms at most every 50 ms, ~30 ms every 100 ms, 60-100 ms every 250 ms (5,000 journal
 * inserts, measured: 2-7 stalls over 5 ms in all, against 22 inline). The main connection's own
 * checkpoints start only past {@link BACKSTOP_PAGES} (a bound on the WAL should the worker stop
 * or fall behind); a worker that fails puts back SQLite's default.
 */
export const CHECKPOINT_EVERY_MS = 50;
/** WAL pages at which the main connection still checkpoints itself (~40 MiB of 4 KiB pages). */
export const BACKSTOP_PAGES = 10_000;
/** SQLite's own threshold, put back if the worker fails. */
const DEFAULT_PAGES = 1_000;
/**
 * The worker starts this long after the database is opened (a timer that keeps no process
 * alive): a CLI call has ended by then and never pays for a thread; a server has one.
 */
export const CHECKPOINTER_DELAY_MS = 1_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs, fileMustExist: true });
db.pragma('synchronous = NORMAL');
// Pages copied in all: SQLite reports the WAL's frames checkpointed so far, since the WAL last
// started over (it then holds fewer frames than before).
let pages = 0;
let last = { log: 0, checkpointed: 0 };
const run = () => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.checkpointed >= 0) {
      const restarted = r.log < last.log || r.checkpointed < last.checkpointed;
      pages += restarted ? r.checkpointed : r.checkpointed - last.checkpointed;
      last = r;
    }
  } catch (e) {
    // SQLITE_BUSY from a checkpoint of another connection: the next round tries again.
  }
};
const timer = setInterval(run, workerData.everyMs);
parentPort.on('message', (m) => {
  if (m === 'checkpoint') {
    run();
    parentPort.postMessage({ pages });
  } else if (m === 'close') {
    clearInterval(timer);
    run();
    db.close();
    parentPort.close();
  }
});
parentPort.postMessage({ ready: true });
`;

export interface Checkpointer {
  /** Runs a checkpoint now (tests); resolves with the pages the worker has copied in all. */
  checkpointNow(): Promise<number>;
  /** Whether the worker runs (started, not failed or closed). */
  readonly running: boolean;
  close(): Promise<void>;
}

/**
 * Starts the background checkpointer of a file database after {@link CHECKPOINTER_DELAY_MS}
 * (`delayMs: 0` at once); `onError` hears why a worker stopped.
 */
export function startCheckpointer(
  db: Database.Database,
  path: string,
  opts: { busyTimeoutMs: number; delayMs?: number; onError?: (message: string) => void },
): Checkpointer | undefined {
  if (path === ':memory:' || path === '') return undefined;
  let worker: Worker | undefined;
  let closed = false;
  let running = false;
  const waiting: ((pages: number) => void)[] = [];
  const fail = (message: string) => {
    if (!running && !worker) return;
    running = false;
    worker = undefined;
    if (!closed && db.open) db.pragma(`wal_autocheckpoint = ${DEFAULT_PAGES}`);
    for (const w of waiting.splice(0)) w(0);
    opts.onError?.(message);
  };
  const start = () => {
    if (closed) return;
    try {
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          module: require.resolve('better-sqlite3'),
          path,
          busyTimeoutMs: opts.busyTimeoutMs,
          everyMs: CHECKPOINT_EVERY_MS,
        },
      });
      worker = w;
      w.unref();
      w.on('message', (m: { ready?: boolean; pages?: number }) => {
        if (m.ready) {
          running = true;
          if (!closed && db.open) db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
        } else if (m.pages !== undefined) waiting.shift()?.(m.pages);
      });
      w.on('error', (e) => fail(`the SQLite checkpoint worker failed: ${e.message}`));
      w.on('exit', (code) => {
        if (!closed) fail(`the SQLite checkpoint worker exited (code ${code})`);
      });
    } catch (e) {
      fail(`could not start the SQLite checkpoint worker: ${(e as Error).message}`);
    }
  };
  const timer = setTimeout(start, opts.delayMs ?? CHECKPOINTER_DELAY_MS);
  timer.unref();
  return {
    get running() {
      return running;
    },
    checkpointNow: () =>
      new Promise<number>((resolve) => {
        if (!worker || !running) return resolve(0);
        waiting.push(resolve);
        worker.postMessage('checkpoint');
      }),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      const w = worker;
      worker = undefined;
      running = false;
      for (const r of waiting.splice(0)) r(0);
      if (!w) return;
      // The worker's last checkpoint, then its connection closes before the main one does.
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
        w.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        w.postMessage('close');
      });
    },
  };
}
