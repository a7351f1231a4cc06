import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, posix, relative } from 'node:path';
import { z } from 'zod';
import type { OpenCodeToolsOptions } from '../../config/options';
import type { SandboxOptions } from '../../config/sandbox-options';
import { ValidationError } from '../../domain/errors';
import type { SandboxSpec } from '../../domain/task';
import { sandboxSpecSchema } from '../../domain/task.schema';
import { parseOrThrow } from '../../domain/validation';
import {
  SANDBOX_LABELS,
  SESSION_IO_TARGET,
  type HostMount,
  type SandboxConfig,
} from '../../ports/sandbox-runtime.port';

const VERSION = (require('../../../package.json') as { version: string }).version;

/**
 * Identifies the task registry sandboxes belong to (a hash of the database location, credentials
 * left out), so that several data homes sharing one engine never reap each other's sandboxes.
 */
export function registryId(options: OpenCodeToolsOptions): string {
  const db = options.database;
  const where =
    db.driver === 'sqlite'
      ? `sqlite:${db.path}`
      : db.driver === 'postgres'
        ? `postgres:${db.url.replace(/\/\/[^@/]*@/, '//')}`
        : `memory:${options.instanceId}`;
  return createHash('sha256').update(where).digest('hex').slice(0, 16);
}

/** `child` is `root` or inside it, compared by path components (never by string prefix). */
export function isWithin(root: string, child: string): boolean {
  const rel = relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split('/')[0] !== '..');
}

/**
 * Turns a task's sandbox spec into a runtime config: operator defaults fill gaps, and every
 * override is checked against the operator's maximums and allow-lists. Errors name the field
 * (`sandbox.limits.memoryMb`) and the limit, so the caller knows what to change.
 */
export function resolveSandboxConfig(
  taskId: string,
  spec: SandboxSpec | undefined,
  options: OpenCodeToolsOptions,
): SandboxConfig {
  const s = parseOrThrow(sandboxSpecSchema, spec ?? {}, 'sandbox');
  const o: SandboxOptions = options.sandbox;
  const limits = { ...o.defaults, ...s.limits };
  const max = o.max;
  const check = (field: keyof typeof limits, unit: string, env: string) => {
    if (limits[field] > max[field]) {
      throw new ValidationError(
        `sandbox.limits.${field}`,
        `${limits[field]}${unit} is above the operator maximum ${max[field]}${unit} (${env})`,
        { max: max[field] },
      );
    }
  };
  check('cpus', '', 'OPENCODE_SANDBOX_MAX_CPUS');
  check('memoryMb', ' MiB', 'OPENCODE_SANDBOX_MAX_MEMORY');
  check('pids', '', 'OPENCODE_SANDBOX_MAX_PIDS');
  const network = s.network ?? 'none';
  if (network !== 'none' && !o.allowedNetworks.includes(network)) {
    throw new ValidationError(
      'sandbox.network',
      `'${network}' is not allowed here; allowed: none${o.allowedNetworks
        .filter((n) => n !== 'none')
        .map((n) => `, ${n}`)
        .join('')} (OPENCODE_SANDBOX_NETWORKS)`,
    );
  }
  return {
    taskId,
    image: s.image ?? options.sandboxImage,
    cpus: limits.cpus,
    memoryMb: limits.memoryMb,
    pids: limits.pids,
    network,
    env: s.env ?? {},
    workdir: s.workdir ?? '/workspace',
    mounts: (s.mounts ?? []).map((m, i) => checkMount(m, i, o.mountAllowList)),
    labels: {
      [SANDBOX_LABELS.instanceId]: options.instanceId,
      [SANDBOX_LABELS.version]: VERSION,
      [SANDBOX_LABELS.registry]: registryId(options),
    },
    logMaxSize: o.logMaxSize,
    logMaxFiles: o.logMaxFiles,
    pull: o.pull,
  };
}

function checkMount(
  m: { source: string; target: string; readOnly?: boolean },
  i: number,
  allow: string[],
): HostMount {
  const field = `sandbox.mounts.${i}.source`;
  if (!allow.length) {
    throw new ValidationError(field, 'host mounts are disabled (OPENCODE_SANDBOX_MOUNTS is empty)');
  }
  if (!existsSync(m.source)) throw new ValidationError(field, `${m.source} does not exist`);
  // Resolve symlinks so a link inside an allowed directory cannot point outside it.
  const real = realpathSync(m.source);
  const roots = allow.filter(existsSync).map((r) => realpathSync(r));
  if (!roots.some((r) => isWithin(r, real))) {
    throw new ValidationError(
      field,
      `${m.source} is not inside an allowed host directory (OPENCODE_SANDBOX_MOUNTS: ${allow.join(':')})`,
    );
  }
  const target = parseOrThrow(
    z.string().refine((t) => !t.split('/').includes('..'), "must not contain '..'"),
    m.target,
    `sandbox.mounts.${i}.target`,
  );
  if (target === '/workspace' || target === '/') {
    throw new ValidationError(`sandbox.mounts.${i}.target`, `cannot mount over ${target}`);
  }
  // The sessions' FIFO directory (OPENCODE_SESSION_IO=fifo) is mounted there.
  if (isWithin(SESSION_IO_TARGET, posix.normalize(target))) {
    throw new ValidationError(
      `sandbox.mounts.${i}.target`,
      `${target} is reserved for opencode-tools' session FIFOs (${SESSION_IO_TARGET}); mount elsewhere`,
    );
  }
  return { source: real, target, readOnly: m.readOnly ?? true };
}
