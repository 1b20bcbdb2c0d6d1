/** Two connected in-memory Duplex streams (what one writes, the other reads); node:stream's duplexPair needs Node 22. */
import { Duplex } from 'node:stream';

class End extends Duplex {
  other: End | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.other?.push(chunk);
    cb();
  }

  override _read(): void {}

  override _final(cb: (err?: Error | null) => void): void {
    this.other?.push(null);
    cb();
  }
}

export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.other = b;
  b.other = a;
  return [a, b];
}
