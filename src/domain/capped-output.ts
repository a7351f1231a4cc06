/**
 * Keeps at most `cap` bytes of a stream: the first half and the last half, and counts everything.
 * Used for exec stdout/stderr so a flood never grows the orchestrator's memory past the cap.
 */
export class CappedOutput {
  private readonly headCap: number;
  private readonly tailCap: number;
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  /** Ring of the newest bytes once the head is full. */
  private tail: Buffer;
  private tailLen = 0;
  private tailPos = 0;
  /** Bytes counted but never seen (see {@link skip}): the head takes no more after them. */
  private skipped = 0;
  total = 0;

  constructor(readonly cap: number) {
    this.headCap = Math.ceil(cap / 2);
    this.tailCap = cap - this.headCap;
    this.tail = Buffer.alloc(0);
  }

  get truncated(): boolean {
    return this.total > this.cap || this.skipped > 0;
  }

  /**
   * Counts `n` bytes of the stream that were not read (a gap): what is pushed next is kept as
   * the tail, not joined to what came before the gap.
   */
  skip(n: number): void {
    if (n <= 0) return;
    this.total += n;
    this.skipped += n;
    this.tailLen = 0;
    this.tailPos = 0;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.headCap && !this.skipped) {
      const take = Math.min(this.headCap - this.headBytes, rest.length);
      this.head.push(Buffer.from(rest.subarray(0, take)));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    if (!rest.length || this.tailCap === 0) return;
    if (this.tail.length === 0) this.tail = Buffer.alloc(this.tailCap);
    if (rest.length >= this.tailCap) {
      rest.copy(this.tail, 0, rest.length - this.tailCap);
      this.tailPos = 0;
      this.tailLen = this.tailCap;
      return;
    }
    const first = Math.min(rest.length, this.tailCap - this.tailPos);
    rest.copy(this.tail, this.tailPos, 0, first);
    rest.copy(this.tail, 0, first);
    this.tailPos = (this.tailPos + rest.length) % this.tailCap;
    this.tailLen = Math.min(this.tailCap, this.tailLen + rest.length);
  }

  /** Head and tail joined; when bytes were dropped a marker line says how many. */
  toBuffer(): Buffer {
    const head = Buffer.concat(this.head);
    const tail =
      this.tailLen < this.tailCap
        ? this.tail.subarray(0, this.tailLen)
        : Buffer.concat([this.tail.subarray(this.tailPos), this.tail.subarray(0, this.tailPos)]);
    if (!this.truncated) return Buffer.concat([head, tail]);
    const dropped = this.total - head.length - tail.length;
    const marker = Buffer.from(`\n[… ${dropped} bytes omitted …]\n`);
    return Buffer.concat([head, marker, tail]);
  }

  toString(): string {
    return this.toBuffer().toString('utf8');
  }
}
