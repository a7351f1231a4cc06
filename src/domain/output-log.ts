/**
 * The newest `max` bytes of a stream, addressable by absolute byte offset (for `exec_poll`):
 * bytes before `start` were dropped to bound memory.
 */
export class OutputLog {
  private chunks: Buffer[] = [];
  private held = 0;
  /** Absolute offset of the first byte still held. */
  start = 0;
  /** Bytes seen in total (the next byte's offset). */
  total = 0;

  constructor(private readonly max: number) {}

  /** Bytes held now (at most the limit). */
  get size(): number {
    return this.held;
  }

  /**
   * Joins what is held into one buffer of its own: small chunks are slices of Node's shared
   * 8 KiB pool, and one kept for long pins the whole slab.
   */
  compact(): void {
    if (this.chunks.length === 0) return;
    const one = Buffer.allocUnsafeSlow(this.held);
    let at = 0;
    for (const c of this.chunks) at += c.copy(one, at);
    this.chunks = [one];
  }

  push(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.held += chunk.length;
    this.total += chunk.length;
    while (this.held > this.max && this.chunks.length) {
      const first = this.chunks[0]!;
      const over = this.held - this.max;
      if (first.length <= over) {
        this.chunks.shift();
        this.held -= first.length;
        this.start += first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.held -= over;
        this.start += over;
      }
    }
  }

  /** Up to `maxBytes` from `offset` on; `skipped` counts bytes before it that were dropped. */
  read(offset: number, maxBytes: number): { data: Buffer; next: number; skipped: number } {
    const from = Math.max(offset, this.start);
    const all = Buffer.concat(this.chunks);
    const data = all.subarray(from - this.start, from - this.start + maxBytes);
    return { data, next: from + data.length, skipped: from - offset };
  }
}
