/**
 * Bytes arriving from a stream, read one at a time or in runs with a deadline.
 * Used by both sides of a byte-oriented protocol; never buffers without bound (oldest bytes are dropped past `limit`).
 */
export class ReadTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`no ${what} within ${ms} ms`);
    this.name = 'ReadTimeout';
  }
}

export class ByteQueue {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closedReason: Error | undefined;

  constructor(private readonly limit = 64 * 1024) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > this.limit) this.buf = this.buf.subarray(this.buf.length - this.limit);
    this.wake();
  }

  /** Rejects pending and future reads (the link is gone). */
  close(reason: Error): void {
    this.closedReason = reason;
    this.wake();
  }

  reopen(): void {
    this.closedReason = undefined;
    this.buf = Buffer.alloc(0);
  }

  get length(): number {
    return this.buf.length;
  }

  /** Drops whatever is buffered; returns it. */
  drain(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }

  async readByte(timeoutMs: number, what = 'byte', signal?: AbortSignal): Promise<number> {
    const b = await this.read(1, timeoutMs, what, signal);
    return b[0]!;
  }

  /** Reads exactly n bytes, all of them within timeoutMs from the call. */
  async read(n: number, timeoutMs: number, what = 'data', signal?: AbortSignal): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.buf.length >= n) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.closedReason) throw this.closedReason;
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const left = deadline - Date.now();
      if (left <= 0) throw new ReadTimeout(what, timeoutMs);
      await this.waitData(left, signal);
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private waitData(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        if (this.waiter === done) this.waiter = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.waiter = done;
    });
  }
}
