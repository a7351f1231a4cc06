import { hostname } from 'node:os';

/** This process as the owner of something it is working on: `host:pid`. */
export function processOwner(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * Whether the owner (`host:pid`, see {@link processOwner}) may still be working: true for this
 * process, for a live process on this host, and for any other host's owner (not ours to judge).
 */
export function ownerAlive(owner: string): boolean {
  if (!ownerHere(owner)) return true;
  const pid = Number(owner.slice(owner.lastIndexOf(':') + 1));
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the owner is a process on this host (so that {@link ownerAlive} really knows). */
export function ownerHere(owner: string): boolean {
  return owner.slice(0, owner.lastIndexOf(':')) === hostname();
}
