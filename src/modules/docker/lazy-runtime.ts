import type { SandboxRuntime } from '../../ports/sandbox-runtime.port';

/** Every method of the port. */
const METHODS = new Set<keyof SandboxRuntime>([
  'ping',
  'ensureImage',
  'create',
  'start',
  'stop',
  'pause',
  'unpause',
  'remove',
  'inspect',
  'list',
  'listResources',
  'exec',
  'startExec',
  'readSessionOutput',
  'killSessionCommand',
  'removeSessionLogs',
  'readFile',
  'writeFile',
  'stats',
]);

/**
 * A SandboxRuntime that opens the real one on its first call. Every port method is async, so
 * forwarding each call once `load()` has resolved is indistinguishable from the real thing.
 */
export function lazySandboxRuntime(
  load: () => Promise<SandboxRuntime>,
): SandboxRuntime & { loaded(): boolean } {
  let runtime: Promise<SandboxRuntime> | undefined;
  const get = () =>
    (runtime ??= load().catch((err) => {
      runtime = undefined; // a failed load may succeed later
      throw err;
    }));
  return new Proxy({} as SandboxRuntime & { loaded(): boolean }, {
    get(target, prop, receiver) {
      if (prop === 'loaded') return () => runtime !== undefined;
      if (prop === 'description') return 'sandbox runtime (opened on first use)';
      if (prop === 'close') return async () => (runtime ? (await get()).close() : undefined);
      // Anything else (Nest's lifecycle probes, Object.prototype) behaves as on a plain object.
      if (!METHODS.has(prop as keyof SandboxRuntime)) return Reflect.get(target, prop, receiver);
      return async (...args: unknown[]) => {
        const rt = (await get()) as unknown as Record<string, (...a: unknown[]) => unknown>;
        return rt[prop as string](...args);
      };
    },
  });
}
