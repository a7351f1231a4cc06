const EMPTY = Buffer.alloc(0);

/**
 * The newest `max` bytes of a stream, addressable by absolute byte offset (for `exec_poll`):
 * bytes before `start` were dropped to bound memory.
 */
export class OutputLog {
  private chunks: Buffer[] = [];
  /** Index of the first chunk still held (the ones before it were dropped). */
  private first = 0;
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
    if (this.first >= this.chunks.length) return;
    const one = Buffer.allocUnsafeSlow(this.held);
    let at = 0;
    for (let i = this.first; i < this.chunks.length; i++) at += this.chunks[i]!.copy(one, at);
    this.chunks = [one];
    this.first = 0;
  }

  push(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.held += chunk.length;
    this.total += chunk.length;
    while (this.held > this.max && this.first < this.chunks.length) {
      const head = this.chunks[this.first]!;
      const over = this.held - this.max;
      if (head.length <= over) {
        this.chunks[this.first++] = EMPTY;
        this.held -= head.length;
        this.start += head.length;
      } else {
        this.chunks[this.first] = head.subarray(over);
        this.held -= over;
        this.start += over;
      }
    }
    // Dropped chunks leave the array in batches, not one shift (O(n)) per chunk.
    if (this.first > 1024 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }

  /**
   * Up to `maxBytes` from `offset` on; `skipped` counts bytes before it that were dropped. Copies
   * only the chunks the range covers.
   */
  read(offset: number, maxBytes: number): { data: Buffer; next: number; skipped: number } {
    const from = Math.max(offset, this.start);
    const parts: Buffer[] = [];
    let want = Math.max(0, Math.min(maxBytes, this.total - from));
    let at = this.start;
    for (let i = this.first; i < this.chunks.length && want > 0; i++) {
      const c = this.chunks[i]!;
      if (at + c.length > from) {
        const part = c.subarray(Math.max(0, from - at), Math.max(0, from - at) + want);
        parts.push(part);
        want -= part.length;
      }
      at += c.length;
    }
    const data = Buffer.concat(parts); // a copy, even of one part: the caller may keep it
    return { data, next: from + data.length, skipped: from - offset };
  }
}
