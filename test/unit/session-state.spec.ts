import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { MemoryRuntimeRecordStore } from '../../src/adapters/memory/memory-runtime-record.store';
import { createSqliteAdapters } from '../../src/adapters/sqlite';
import {
  SESSION_STATE_KIND,
  SessionStateService,
} from '../../src/modules/docker/session-state.service';
import type { RuntimeRecordStore } from '../../src/ports/runtime-record-store.port';
import { describePg, freshPgAdapters } from '../helpers/postgres';
import { tempHome } from '../helpers/temp-home';

type Open = () => Promise<{
  a: RuntimeRecordStore;
  b: RuntimeRecordStore;
  close: () => Promise<void>;
}>;

/** Two services (two processes' views) over stores that share one database. */
function describeSessionStates(name: string, open: Open): void {
  describe(`SessionStateService over ${name}`, () => {
    let a: SessionStateService;
    let b: SessionStateService;
    let store: RuntimeRecordStore;
    let close: () => Promise<void>;
    beforeEach(async () => {
      const o = await open();
      store = o.a;
      a = new SessionStateService(o.a);
      b = new SessionStateService(o.b);
      close = o.close;
    });
    afterEach(() => close());

    const version = async (id: string) => (await store.get(SESSION_STATE_KIND, id))?.version;

    it('stores a state once per change; any instance loads it', async () => {
      expect(await a.load('t1')).toBeUndefined();
      await a.save('t1', undefined); // unchanged: nothing written
      expect(await version('t1')).toBeUndefined();
      await a.save('t1', { text: 'export FOO=bar', finishedAt: 100 });
      expect(await b.load('t1')).toEqual({ text: 'export FOO=bar', finishedAt: 100 });
      await b.save('t1', { text: 'export FOO=baz', finishedAt: 200 });
      await a.save('t1', { text: 'export FOO=qux', finishedAt: 300 }); // a's version hint is stale
      expect(await b.load('t1')).toEqual({ text: 'export FOO=qux', finishedAt: 300 });
      expect(await version('t1')).toBe(3);
    });

    it('the command that finished last wins, whatever order the writes arrive in', async () => {
      await a.save('t2', { text: 'new', finishedAt: 500 });
      await b.save('t2', { text: 'old', finishedAt: 400 }); // finished earlier, written later
      expect(await a.load('t2')).toEqual({ text: 'new', finishedAt: 500 });
      expect(await version('t2')).toBe(1);
    });

    it('concurrent writes from two instances never interleave; the newest survives', async () => {
      const saves = Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? a : b).save('t3', { text: `state ${i}`, finishedAt: 1000 + ((i * 7) % 40) }),
      );
      await Promise.all(saves);
      const newest = Array.from({ length: 40 }, (_, i) => i).find((i) => (i * 7) % 40 === 39)!;
      expect(await a.load('t3')).toEqual({ text: `state ${newest}`, finishedAt: 1039 });
    });

    it('forget removes it; a late write of the removed sandbox does not bring it back', async () => {
      await a.save('t4', { text: 'export SECRET=x', finishedAt: 1 });
      expect(await b.load('t4')).toBeDefined();
      await b.forget('t4');
      await a.save('t4', { text: 'export SECRET=y', finishedAt: 2 }); // a still knows a version
      expect(await version('t4')).toBeUndefined();
      expect(await a.load('t4')).toBeUndefined();
    });
  });
}

describeSessionStates('the memory store', async () => {
  const s = new MemoryRuntimeRecordStore();
  return { a: s, b: s, close: async () => undefined };
});

describeSessionStates('two SQLite connections on one file', async () => {
  const home = tempHome('oct-session-state-');
  const opts = {
    path: join(home.dir, 'db.sqlite'),
    busyTimeoutMs: 5000,
    home: home.dir,
    persistence: { stateMaxBytes: 4096, logMaxBytes: 65536, logFsync: 'off' as const },
  };
  const x = await createSqliteAdapters(opts);
  const y = await createSqliteAdapters(opts);
  return {
    a: x.records,
    b: y.records,
    close: async () => {
      await x.close();
      await y.close();
      home.cleanup();
    },
  };
});

describePg('session states on Postgres', () => {
  describeSessionStates('Postgres (throwaway server)', async () => {
    const { adapters, close } = await freshPgAdapters();
    return { a: adapters.records, b: adapters.records, close };
  });
});

describe('SessionStateService when the store fails', () => {
  it('never fails the command: load gives nothing, save and its error are logged', async () => {
    const broken = new Proxy({} as RuntimeRecordStore, {
      get: () => () => Promise.reject(new Error('database is locked')),
    });
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const s = new SessionStateService(broken);
    expect(await s.load('t')).toBeUndefined();
    await expect(s.save('t', { text: 'export A=secret', finishedAt: 1 })).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledTimes(2);
    // The state may hold secrets: the log line names the task, never the text.
    expect(JSON.stringify(warn.mock.calls)).not.toContain('secret');
    warn.mockRestore();
  });
});
