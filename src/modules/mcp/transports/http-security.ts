import { createHash, timingSafeEqual } from 'node:crypto';
import { hostname, networkInterfaces } from 'node:os';
import { ValidationError } from '../../../domain/errors';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function bracket(address: string): string {
  return address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
}

/**
 * Host names (as they appear in a `Host` header, without port) a request may name. Loopback names
 * always; the bind address; for a wildcard bind, this machine's addresses and name; plus `extra`.
 */
export function allowedHostnames(bindHost: string, extra: readonly string[] = []): Set<string> {
  const names = new Set([...LOOPBACK_NAMES, bracket(bindHost.toLowerCase())]);
  if (bindHost === '0.0.0.0' || bindHost === '::') {
    for (const list of Object.values(networkInterfaces())) {
      for (const nic of list ?? []) names.add(bracket(nic.address.toLowerCase()));
    }
    names.add(hostname().toLowerCase());
  }
  for (const e of extra) names.add(bracket(e.trim().toLowerCase()));
  return names;
}

/** The hostname part of a Host header (`[::1]` keeps its brackets), or undefined if malformed. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * DNS-rebinding defence: a browser page on an attacker's domain reaches us with that domain in
 * `Host` and `Origin`. Returns why the request is refused, or undefined when it may proceed.
 */
export function checkHostAndOrigin(
  headers: { host?: string; origin?: string },
  hosts: ReadonlySet<string>,
  origins: readonly string[],
): string | undefined {
  const host = hostnameOf(headers.host);
  if (!host || !hosts.has(host)) return `Host header '${headers.host ?? ''}' is not allowed`;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  if (origins.includes(origin)) return undefined;
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).hostname.toLowerCase();
  } catch {
    originHost = undefined;
  }
  if (!originHost || !hosts.has(originHost)) return `Origin '${origin}' is not allowed`;
  return undefined;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time check of `Authorization: Bearer <token>`. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return !!m && timingSafeEqual(digest(m[1].trim()), digest(token));
}

/** Name of the dashboard's session cookie. */
export const SESSION_COOKIE = 'opencode_session';

/** The cookie value: a digest of the token, so the token itself never sits in the browser. */
function sessionValue(token: string): string {
  return createHash('sha256').update(`opencode-tools dashboard\0${token}`).digest('hex');
}

/** `Set-Cookie` for a browser that proved it knows the token (HttpOnly, SameSite=Strict). */
export function sessionCookie(token: string): string {
  return `${SESSION_COOKIE}=${sessionValue(token)}; HttpOnly; SameSite=Strict; Path=/`;
}

/** Constant-time check of the session cookie in a `Cookie` header. */
export function cookieMatches(cookieHeader: string | undefined, token: string): boolean {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    if (timingSafeEqual(digest(part.slice(eq + 1).trim()), digest(sessionValue(token)))) {
      return true;
    }
  }
  return false;
}

export const MIN_TOKEN_LENGTH = 16;

/** Refuses a configuration that would expose the server without a token. */
export function assertSafeBind(host: string, token: string | undefined): void {
  if (isLoopback(host)) return;
  if (!token) {
    throw new ValidationError(
      'OPENCODE_MCP_TOKEN',
      `is required to bind to ${host}, which is reachable from other machines; set it to a long random secret (e.g. \`openssl rand -hex 32\`), or bind to 127.0.0.1`,
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ValidationError(
      'OPENCODE_MCP_TOKEN',
      `must be at least ${MIN_TOKEN_LENGTH} characters when binding beyond loopback`,
    );
  }
}
