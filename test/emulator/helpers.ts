/** Hand-built host requests and an in-memory emulator, for the emulator tests (no shared codec with the driver). */
import { Duplex } from 'node:stream';
import iconv from 'iconv-lite';
import { DeviceClock } from '../../drivers/emulator/clock.ts';
import { ShtrihDevice, type DeviceOptions } from '../../drivers/emulator/device.ts';
import { Journal } from '../../drivers/emulator/journal.ts';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export function le(value: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let v = value;
  for (let i = 0; i < len; i++) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}

export const SYSADMIN = le(30, 4);

/** classic command: code + password + params */
export const cmd = (code: number, ...params: Buffer[]): Buffer => Buffer.concat([Buffer.from([code]), SYSADMIN, ...params]);
/** FN command FFxx */
export const fn = (sub: number, ...params: Buffer[]): Buffer => Buffer.concat([Buffer.from([0xff, sub]), SYSADMIN, ...params]);

export interface ItemSpec {
  type?: number;
  /** millionths */
  qty?: number;
  price: number;
  sum?: number;
  taxSum?: number;
  tax?: number;
  method?: number;
  object?: number;
  name?: string;
}

export function ff46(i: ItemSpec): Buffer {
  return fn(
    0x46,
    Buffer.from([i.type ?? 1]), le(i.qty ?? 1_000_000, 6), le(i.price, 5),
    i.sum === undefined ? Buffer.alloc(5, 0xff) : le(i.sum, 5),
    i.taxSum === undefined ? Buffer.alloc(5, 0xff) : le(i.taxSum, 5),
    Buffer.from([i.tax ?? 0xcb, 1, i.method ?? 4, i.object ?? 1]), iconv.encode(i.name ?? 'Товар', 'win1251'),
  );
}

export interface CloseSpec {
  cash?: number;
  electronic?: number;
  prepaid?: number;
  credit?: number;
  other?: number;
  taxSystem?: number;
}

export function ff45(c: CloseSpec): Buffer {
  const slots = Array.from({ length: 16 }, () => 0);
  slots[0] = c.cash ?? 0;
  slots[1] = c.electronic ?? 0;
  slots[13] = c.prepaid ?? 0;
  slots[14] = c.credit ?? 0;
  slots[15] = c.other ?? 0;
  return fn(0x45, ...slots.map((s) => le(s, 5)), Buffer.from([0]), Buffer.alloc(30), Buffer.from([c.taxSystem ?? 1]));
}

export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([le(tag, 2), le(value.length, 2), value]);
}

export const cp866 = (s: string): Buffer => iconv.encode(s, 'cp866');

/** an in-memory device whose clock a test moves */
export function makeDevice(opts: Partial<DeviceOptions> = {}, start = Date.UTC(2026, 0, 15, 10, 0, 0)): { dev: ShtrihDevice; journal: Journal; clock: DeviceClock } {
  const clock = new DeviceClock({ now: () => start, utcOffsetMinutes: 0 });
  const journal = opts.journal ?? new Journal({ identity: { secret: '00112233445566778899aabbccddeeff' } });
  return { dev: new ShtrihDevice({ journal, clock, ...opts }), journal, clock };
}

/** error byte of an answer */
export const errOf = (answer: Buffer): number => (answer[0] === 0xff ? answer[2]! : answer[1]!);

/** collects what a stream end receives; read() waits for bytes */
export class Collector {
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  constructor(stream: Pick<Duplex, 'on'>) {
    stream.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get pending(): number {
    return this.buf.length;
  }

  async read(n: number, timeoutMs = 2000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`wanted ${n} bytes, have ${this.buf.length}: ${this.buf.toString('hex')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** reads one STX frame */
  async frame(): Promise<Buffer> {
    const head = await this.read(2);
    return Buffer.concat([head, await this.read(head[1]! + 1)]);
  }

  /** nothing more arrives within ms */
  async quiet(ms = 150): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.buf.length === 0;
  }
}
