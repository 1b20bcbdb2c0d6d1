/** Byte-level conventions of the Shtrih-M protocol (kkt-protocols.md §1.5): LE integers, CP1251 text, dates. */
import iconv from 'iconv-lite';

/** Unsigned little-endian integer of `len` bytes (len ≤ 6, exact in a JS number). */
export function readUIntLE(buf: Uint8Array, offset: number, len: number): number {
  if (offset + len > buf.length) throw new RangeError(`need ${len} bytes at ${offset}, have ${buf.length - offset}`);
  let v = 0;
  for (let i = len - 1; i >= 0; i--) v = v * 256 + buf[offset + i]!;
  return v;
}

export function writeUIntLE(value: number, len: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** (8 * len)) {
    throw new RangeError(`${value} does not fit ${len} unsigned bytes`);
  }
  const out = Buffer.alloc(len);
  let v = value;
  for (let i = 0; i < len; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** All bytes 0xFF: "not given" / "device computes" in FF46. */
export function allOnes(len: number): Buffer {
  return Buffer.alloc(len, 0xff);
}

export function isAllOnes(buf: Uint8Array, offset: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[offset + i] !== 0xff) return false;
  return true;
}

export function encodeText(text: string): Buffer {
  return iconv.encode(text, 'win1251');
}

export function decodeText(buf: Uint8Array): string {
  let end = buf.length;
  const zero = buf.indexOf(0);
  if (zero >= 0) end = zero;
  return iconv.decode(Buffer.from(buf.subarray(0, end)), 'win1251');
}

/** CP1251 text zero-padded (or cut) to exactly `len` bytes. */
export function fixedText(text: string, len: number): Buffer {
  const out = Buffer.alloc(len);
  encodeText(text).copy(out, 0, 0, len);
  return out;
}

/** CP1251 text cut to at most `max` bytes, not padded. */
export function limitedText(text: string, max: number): Buffer {
  const b = encodeText(text);
  return b.length > max ? b.subarray(0, max) : b;
}

/** FN DATE_TIME: YY MM DD HH MM → "YYYY-MM-DDTHH:MM". */
export function readDateTime5(buf: Uint8Array, offset: number): string {
  const [yy, mo, dd, hh, mi] = [0, 1, 2, 3, 4].map((i) => buf[offset + i]!) as [number, number, number, number, number];
  return `${2000 + yy}-${p2(mo)}-${p2(dd)}T${p2(hh)}:${p2(mi)}`;
}

export function writeDateTime5(dt: string): Buffer {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(dt);
  if (!m) throw new RangeError(`bad date-time ${dt}`);
  return Buffer.from([Number(m[1]) - 2000, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])]);
}

/** Classic date DD MM YY → "YYYY-MM-DD". */
export function readDateDMY(buf: Uint8Array, offset: number): string {
  return `${2000 + buf[offset + 2]!}-${p2(buf[offset + 1]!)}-${p2(buf[offset]!)}`;
}

/** FN date YY MM DD → "YYYY-MM-DD". */
export function readDateYMD(buf: Uint8Array, offset: number): string {
  return `${2000 + buf[offset]!}-${p2(buf[offset + 1]!)}-${p2(buf[offset + 2]!)}`;
}

export function readTimeHMS(buf: Uint8Array, offset: number): string {
  return `${p2(buf[offset]!)}:${p2(buf[offset + 1]!)}:${p2(buf[offset + 2]!)}`;
}

export function p2(n: number): string {
  return String(n).padStart(2, '0');
}

/** TLV for FF0C/FF4D: tag UInt16 LE, length UInt16 LE, value. */
export function tlv(tag: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16LE(tag, 0);
  head.writeUInt16LE(value.length, 2);
  return Buffer.concat([head, value]);
}

export function parseTlvs(buf: Uint8Array): Array<{ tag: number; value: Buffer }> {
  const out: Array<{ tag: number; value: Buffer }> = [];
  let i = 0;
  while (i + 4 <= buf.length) {
    const tag = buf[i]! | (buf[i + 1]! << 8);
    const len = buf[i + 2]! | (buf[i + 3]! << 8);
    if (i + 4 + len > buf.length) throw new RangeError(`TLV ${tag} length ${len} past the end`);
    out.push({ tag, value: Buffer.from(buf.subarray(i + 4, i + 4 + len)) });
    i += 4 + len;
  }
  if (i !== buf.length) throw new RangeError('trailing bytes after TLVs');
  return out;
}
