/** Limits of a {@link BoundedKeep}: every one applies at once. */
export interface KeepLimits {
  /** How long an entry is kept after it was added. */
  ttlMs: number;
  /** The most entries kept. */
  maxEntries: number;
  /** The most bytes (as the caller sizes its entries) kept together. */
  maxBytes: number;
}

/**
 * Entries kept for a while, in the order they were added, within a time, count and size budget:
 * the oldest go first when a new one does not fit, and an expired one is never returned. An
 * entry larger than the whole byte budget is not kept at all. `now` is injectable for tests.
 */
export class BoundedKeep<V> {
  private readonly entries = new Map<string, { value: V; bytes: number; until: number }>();
  private held = 0;

  constructor(
    private readonly limits: KeepLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Bytes of the entries kept now. */
  get bytes(): number {
    return this.held;
  }

  /** Keeps `value` (sized `bytes`) under `key`, replacing an entry of that key; true if kept. */
  set(key: string, value: V, bytes: number): boolean {
    this.delete(key);
    this.expire();
    if (bytes > this.limits.maxBytes || this.limits.maxEntries < 1) return false;
    while (
      this.entries.size >= this.limits.maxEntries ||
      this.held + bytes > this.limits.maxBytes
    ) {
      this.delete(this.entries.keys().next().value!);
    }
    this.entries.set(key, { value, bytes, until: this.now() + this.limits.ttlMs });
    this.held += bytes;
    return true;
  }

  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.delete(key);
      return undefined;
    }
    return e.value;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  delete(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    this.entries.delete(key);
    this.held -= e.bytes;
    return true;
  }

  /** Drops the expired entries at the front (entries are in the order they were added). */
  private expire(): void {
    const now = this.now();
    for (const [key, e] of this.entries) {
      if (e.until > now) break;
      this.delete(key);
    }
  }
}
