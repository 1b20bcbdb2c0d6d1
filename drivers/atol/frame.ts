/**
 * ATOL protocol v3 transport frame (kkt-protocols.md §2.1):
 *
 *   FE | LEN0 | LEN1 | ID | DATA… (stuffed) | CRC (stuffed)
 *
 * LEN is the length of the *unstuffed* DATA in 7-bit halves (LEN0 = len & 0x7F, LEN1 = len >> 7). Stuffing applies to
 * DATA and CRC: FE → FD EE, FD → FD ED. CRC-8: polynomial 0x31, init 0xFF, MSB first, no reflection, no final XOR, over
 * ID + the unstuffed DATA (five sources agree; see quirks.ts `crcOverStuffed` for the one that differs).
 */

export const STX = 0xfe;
export const ESC = 0xfd;
export const TSTX = 0xee;
export const TESC = 0xed;
/** packet ID of a frame the device sends on its own (an asynchronous task result) */
export const ASYNC_ID = 0xf0;
/** the host numbers its packets 0x00…MAX_PACKET_ID and wraps */
export const MAX_PACKET_ID = 0xdf;
/** LEN holds 14 bits */
export const MAX_DATA = 0x3fff;

export interface Frame {
  id: number;
  data: Buffer;
}

/** CRC-8/0x31, init 0xFF, MSB first, over the given bytes (continuing from `crc`). */
export function crc8(bytes: Uint8Array, crc = 0xff): number {
  let c = crc & 0xff;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x31) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

/** CRC of a frame: over ID + unstuffed DATA. */
export function frameCrc(id: number, data: Uint8Array): number {
  return crc8(data, crc8(Uint8Array.of(id & 0xff)));
}

export function stuff(bytes: Uint8Array): Buffer {
  const out: number[] = [];
  for (const b of bytes) {
    if (b === STX) out.push(ESC, TSTX);
    else if (b === ESC) out.push(ESC, TESC);
    else out.push(b);
  }
  return Buffer.from(out);
}

/** Builds a frame. `crcOverStuffed` computes the CRC over the stuffed DATA instead ([A1]'s variant). */
export function encodeFrame(id: number, data: Uint8Array, opts: { crcOverStuffed?: boolean } = {}): Buffer {
  if (!Number.isInteger(id) || id < 0 || id > 0xff || id === STX || id === ESC) throw new RangeError(`bad packet ID ${id}`);
  if (data.length > MAX_DATA) throw new RangeError(`frame data must be ≤ ${MAX_DATA} bytes, got ${data.length}`);
  const stuffed = stuff(data);
  const crc = opts.crcOverStuffed ? frameCrc(id, stuffed) : frameCrc(id, data);
  return Buffer.concat([Buffer.from([STX, data.length & 0x7f, data.length >> 7, id]), stuffed, stuff(Uint8Array.of(crc))]);
}

export interface DeframerStats {
  /** frames dropped for a bad CRC */
  badCrc: number;
  /** frames cut short by a new FE, with an impossible length, or with a bad escape */
  broken: number;
  /** bytes outside any frame */
  stray: number;
}

type State = 'idle' | 'len0' | 'len1' | 'id' | 'body';

/**
 * Streaming deframer: bytes in, good frames out. An FE always starts a new frame (stuffing guarantees FE never
 * occurs inside one), so a broken frame costs only itself; frames with a bad CRC are dropped.
 */
export class Deframer {
  readonly stats: DeframerStats = { badCrc: 0, broken: 0, stray: 0 };
  private state: State = 'idle';
  private len = 0;
  private id = 0;
  private body: number[] = [];
  private escaped = false;

  constructor(private readonly opts: { crcOverStuffed?: boolean } = {}) {}

  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    for (const b of chunk) {
      const f = this.byte(b);
      if (f) out.push(f);
    }
    return out;
  }

  private byte(b: number): Frame | undefined {
    if (b === STX) {
      if (this.state !== 'idle') this.stats.broken++;
      this.state = 'len0';
      return undefined;
    }
    switch (this.state) {
      case 'idle':
        this.stats.stray++;
        return undefined;
      case 'len0':
        if (b > 0x7f) return this.broken();
        this.len = b;
        this.state = 'len1';
        return undefined;
      case 'len1':
        if (b > 0x7f) return this.broken();
        this.len |= b << 7;
        this.state = 'id';
        return undefined;
      case 'id':
        if (b === ESC) return this.broken();
        this.id = b;
        this.body = [];
        this.escaped = false;
        this.raw = [];
        this.state = 'body';
        return undefined;
      case 'body':
        return this.bodyByte(b);
    }
  }

  /** stuffed body bytes, kept only for the stuffed-CRC variant */
  private raw: number[] = [];

  private bodyByte(b: number): Frame | undefined {
    let v = b;
    if (this.escaped) {
      this.escaped = false;
      if (b === TSTX) v = STX;
      else if (b === TESC) v = ESC;
      else return this.broken();
      if (this.body.length < this.len) this.raw.push(ESC, b);
    } else if (b === ESC) {
      this.escaped = true;
      return undefined;
    } else if (this.body.length < this.len) this.raw.push(b);
    this.body.push(v);
    if (this.body.length < this.len + 1) return undefined;
    this.state = 'idle';
    const data = Buffer.from(this.body.slice(0, this.len));
    const crc = this.body[this.len]!;
    const want = this.opts.crcOverStuffed ? frameCrc(this.id, Uint8Array.from(this.raw)) : frameCrc(this.id, data);
    if (crc !== want) {
      this.stats.badCrc++;
      return undefined;
    }
    return { id: this.id, data };
  }

  private broken(): undefined {
    this.stats.broken++;
    this.state = 'idle';
    return undefined;
  }
}

/** Decodes exactly one complete frame (tests, probes); undefined when it is not one good frame. */
export function decodeFrame(bytes: Uint8Array, opts: { crcOverStuffed?: boolean } = {}): Frame | undefined {
  const frames = new Deframer(opts).push(bytes);
  return frames.length === 1 ? frames[0] : undefined;
}

export function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').toUpperCase().replace(/(..)(?=.)/g, '$1 ');
}
