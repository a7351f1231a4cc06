import Module from 'node:module';

/**
 * nest-commander requires `inquirer` (interactive prompts) and `cosmiconfig` (CLI plugins) at
 * load time, though a command only needs them when it prompts or loads plugins. Together with
 * their dependencies (lodash, rxjs operators, chardet, …) they add tens of milliseconds to every
 * CLI start. Installed before nest-commander loads, this hands out a proxy for each that loads the
 * real module on first use. The proxy claims `__esModule` so TypeScript's `__importStar` helper
 * passes it through instead of copying (and so loading) every export.
 */
const LAZY = new Set(['inquirer', 'cosmiconfig']);

/**
 * What Nest asks of every provider value while booting: `then` (the injector awaits it), the
 * `constructor` (the discovery service), lifecycle hooks. Neither module exports these, so they
 * are answered without loading it.
 */
const PROBES: Record<string, unknown> = {
  __esModule: true,
  then: undefined,
  constructor: Object,
  onModuleInit: undefined,
  onApplicationBootstrap: undefined,
  onModuleDestroy: undefined,
  beforeApplicationShutdown: undefined,
  onApplicationShutdown: undefined,
};

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;

export function installLazyRequires(): void {
  const mod = Module as unknown as { _load: Loader };
  const original = mod._load;
  mod._load = function (this: unknown, request, parent, isMain) {
    if (!LAZY.has(request)) return original.call(this, request, parent, isMain);
    let real: Record<PropertyKey, unknown> | undefined;
    const load = () => (real ??= original.call(this, request, parent, isMain) as typeof real)!;
    // A null prototype: providers scanned for decorated methods show none without loading.
    return new Proxy(Object.create(null) as object, {
      get: (_t, prop) => (Object.hasOwn(PROBES, prop) ? PROBES[prop as string] : load()[prop]),
      has: (_t, prop) => prop in load(),
      ownKeys: () => Reflect.ownKeys(load()),
      getOwnPropertyDescriptor: (_t, prop) => {
        const d = Reflect.getOwnPropertyDescriptor(load(), prop);
        return d && { ...d, configurable: true };
      },
    });
  };
}
