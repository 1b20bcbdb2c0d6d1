/** A cursor over a request payload; running past the end throws RangeError (answered as a parameter error). */
import { isAllOnes, readUIntLE } from '../shtrih/bytes.ts';

export class Reader {
  private pos: number;

  constructor(private readonly buf: Buffer, start: number) {
    this.pos = start;
  }

  get remaining(): number {
    return Math.max(0, this.buf.length - this.pos);
  }

  uint(len: number): number {
    const v = readUIntLE(this.buf, this.pos, len);
    this.pos += len;
    return v;
  }

  /** an integer, or undefined when all its bytes are 0xFF */
  optionalUint(len: number): number | undefined {
    if (this.pos + len > this.buf.length) throw new RangeError('short request');
    if (isAllOnes(this.buf, this.pos, len)) {
      this.pos += len;
      return undefined;
    }
    return this.uint(len);
  }

  bytes(len: number): Buffer {
    if (this.pos + len > this.buf.length) throw new RangeError('short request');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** everything left, at most `max` bytes */
  rest(max = Infinity): Buffer {
    const out = this.buf.subarray(this.pos, Math.min(this.buf.length, this.pos + max));
    this.pos = this.buf.length;
    return out;
  }
}
