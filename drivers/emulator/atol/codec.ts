/**
 * ATOL v3 byte conventions, device side (kkt-protocols.md §2.1, §2.3): the FE frame (7-bit length halves of the
 * unstuffed data, FE→FD EE / FD→FD ED stuffing over data and CRC, CRC-8 poly 0x31 init 0xFF over ID + unstuffed
 * data), big-endian packed BCD, and the device code page (CP866 with 0x24 and 0xFC swapped: 0x24 = №, 0xFC = $).
 * Written from the spec for the emulator; shares no code with the host driver (drivers/atol).
 */
import iconv from 'iconv-lite';

export const STX = 0xfe;
export const ESC = 0xfd;
export const TSTX = 0xee;
export const TESC = 0xed;
/** packet ID of frames the device sends on its own */
export const ASYNC_ID = 0xf0;
/** largest data length the two 7-bit halves can carry */
export const MAX_DATA = 0x3fff;

export function crc8(bytes: Iterable<number>, init = 0xff): number {
  let crc = init;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function stuff(bytes: Iterable<number>, out: number[]): void {
  for (const b of bytes) {
    if (b === STX) out.push(ESC, TSTX);
    else if (b === ESC) out.push(ESC, TESC);
    else out.push(b);
  }
}

/** FE LEN0 LEN1 ID stuffed(DATA) stuffed(CRC) */
export function encodeFrame(id: number, data: Buffer): Buffer {
  if (data.length > MAX_DATA) throw new RangeError(`frame data of ${data.length} bytes`);
  const out = [STX, data.length & 0x7f, data.length >> 7, id];
  stuff(data, out);
  stuff([crc8([id, ...data])], out);
  return Buffer.from(out);
}

export interface DecodedFrame {
  id: number;
  data: Buffer;
  /** CRC matched */
  ok: boolean;
}

/**
 * Incremental frame reader: bytes in, frames out. Bytes before an FE are skipped. An FE inside a frame (which
 * stuffing never produces) starts a new frame; an invalid escape makes the frame bad (ok = false).
 */
export class FrameReader {
  private state: 'hunt' | 'len0' | 'len1' | 'id' | 'body' = 'hunt';
  private len = 0;
  private id = 0;
  private body: number[] = [];
  private esc = false;
  private badEscape = false;

  get inFrame(): boolean {
    return this.state !== 'hunt';
  }

  reset(): void {
    this.state = 'hunt';
  }

  push(chunk: Uint8Array): DecodedFrame[] {
    const frames: DecodedFrame[] = [];
    for (const b of chunk) {
      if (b === STX) {
        this.state = 'len0';
        continue;
      }
      switch (this.state) {
        case 'hunt':
          break;
        case 'len0':
          this.len = b & 0x7f;
          this.state = 'len1';
          break;
        case 'len1':
          this.len |= b << 7;
          this.state = 'id';
          break;
        case 'id':
          this.id = b;
          this.body = [];
          this.esc = false;
          this.badEscape = false;
          this.state = 'body';
          break;
        case 'body': {
          let v = b;
          if (this.esc) {
            this.esc = false;
            if (b === TSTX) v = STX;
            else if (b === TESC) v = ESC;
            else this.badEscape = true;
          } else if (b === ESC) {
            this.esc = true;
            break;
          }
          this.body.push(v);
          if (this.body.length === this.len + 1) {
            const data = Buffer.from(this.body.slice(0, this.len));
            const ok = !this.badEscape && crc8([this.id, ...data]) === this.body[this.len];
            frames.push({ id: this.id, data, ok });
            this.state = 'hunt';
          }
          break;
        }
      }
    }
    return frames;
  }
}

// ---------------------------------------------------------------- BCD

/** big-endian packed BCD of `len` bytes */
export function bcd(value: number | bigint, len: number): Buffer {
  let v = BigInt(value);
  if (v < 0n || v >= 10n ** BigInt(2 * len)) throw new RangeError(`${value} does not fit ${len} BCD bytes`);
  const out = Buffer.alloc(len);
  for (let i = len - 1; i >= 0; i--) {
    const lo = Number(v % 10n);
    v /= 10n;
    const hi = Number(v % 10n);
    v /= 10n;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** reads big-endian packed BCD; a nibble above 9 is a RangeError */
export function readBcd(buf: Uint8Array, offset: number, len: number): number {
  if (offset + len > buf.length) throw new RangeError(`need ${len} BCD bytes at ${offset}, have ${buf.length - offset}`);
  let v = 0;
  for (let i = 0; i < len; i++) {
    const b = buf[offset + i]!;
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) throw new RangeError(`bad BCD byte ${b.toString(16)}`);
    v = v * 100 + hi * 10 + lo;
  }
  return v;
}

/** one byte that should be BCD; a byte that is not valid BCD is taken as binary */
export function bcdOrBinary(b: number): number {
  return (b >> 4) > 9 || (b & 0x0f) > 9 ? b : (b >> 4) * 10 + (b & 0x0f);
}

// ---------------------------------------------------------------- text

/** CP866 differs from the device page in two places: 0x24 ($ → №) and 0xFC (№ → $) */
function swap(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0x24) out[i] = 0xfc;
    else if (out[i] === 0xfc) out[i] = 0x24;
  }
  return out;
}

export function encodeText(text: string): Buffer {
  return swap(iconv.encode(text, 'cp866'));
}

/** device text; trailing NULs and spaces are cut */
export function decodeText(buf: Uint8Array): string {
  let end = buf.length;
  while (end > 0 && (buf[end - 1] === 0 || buf[end - 1] === 0x20)) end--;
  return iconv.decode(swap(Buffer.from(buf.subarray(0, end))), 'cp866');
}

/** fixed-width device text, padded with `pad` */
export function fixedText(text: string, len: number, pad = 0x00): Buffer {
  const b = encodeText(text).subarray(0, len);
  return Buffer.concat([b, Buffer.alloc(len - b.length, pad)]);
}
