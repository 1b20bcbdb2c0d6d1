/**
 * Host side of the ATOL emulator tests, hand-built from kkt-protocols.md §2 (no code shared with drivers/atol or
 * with the emulator's codec): frames, task-buffer packets, BCD, and a frame collector over any stream.
 */
import iconv from 'iconv-lite';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function crc(bytes: number[]): number {
  let c = 0xff;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x31) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

/** FE len0 len1 id stuffed(data + crc) */
export function frame(id: number, data: Buffer): Buffer {
  const out = [0xfe, data.length & 0x7f, data.length >> 7, id];
  for (const b of [...data, crc([id, ...data])]) {
    if (b === 0xfe) out.push(0xfd, 0xee);
    else if (b === 0xfd) out.push(0xfd, 0xed);
    else out.push(b);
  }
  return Buffer.from(out);
}

/** big-endian packed BCD */
export function bcd(v: number, len: number): Buffer {
  const s = String(v).padStart(len * 2, '0');
  return Buffer.from(s, 'hex');
}

export const unbcd = (b: Uint8Array): number => Number(Buffer.from(b).toString('hex'));

/** device text: CP866 with 0x24/0xFC swapped */
export function text(s: string): Buffer {
  const b = iconv.encode(s, 'cp866');
  for (let i = 0; i < b.length; i++) b[i] = b[i] === 0x24 ? 0xfc : b[i] === 0xfc ? 0x24 : b[i]!;
  return b;
}

/** a task payload: access password 00 00, command, params */
export const task = (...parts: Array<number[] | Buffer>): Buffer => Buffer.concat([Buffer.from([0, 0]), ...parts.map((p) => Buffer.from(p))]);
export const add = (tid: number, payload: Buffer, flags = 0x01): Buffer => Buffer.concat([Buffer.from([0xc1, flags, tid]), payload]);

export interface InFrame {
  id: number;
  data: Buffer;
  crcOk: boolean;
}

/** reads frames the device sends; independent destuffing */
export class FrameCollector {
  private buf: number[] = [];
  private frames: InFrame[] = [];
  private waiters: Array<() => void> = [];

  constructor(stream: { on(ev: 'data', f: (d: Buffer) => void): unknown }) {
    stream.on('data', (d: Buffer) => {
      this.buf.push(...d);
      this.parse();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  private parse(): void {
    for (;;) {
      const start = this.buf.indexOf(0xfe);
      if (start < 0) return void (this.buf = []);
      if (start > 0) this.buf.splice(0, start);
      if (this.buf.length < 4) return;
      const len = (this.buf[1]! & 0x7f) | (this.buf[2]! << 7);
      const id = this.buf[3]!;
      const out: number[] = [];
      let i = 4;
      while (out.length < len + 1 && i < this.buf.length) {
        let b = this.buf[i++]!;
        if (b === 0xfd) {
          if (i >= this.buf.length) return;
          const n = this.buf[i++]!;
          b = n === 0xee ? 0xfe : n === 0xed ? 0xfd : -1;
        }
        out.push(b);
      }
      if (out.length < len + 1) return;
      this.buf.splice(0, i);
      const data = Buffer.from(out.slice(0, len));
      this.frames.push({ id, data, crcOk: crc([id, ...data]) === out[len] });
    }
  }

  get count(): number {
    return this.frames.length;
  }

  /** the next frame (optionally the next one matching) */
  async next(match: (f: InFrame) => boolean = () => true, timeoutMs = 3000): Promise<InFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame; have ${this.frames.map((f) => `${f.id}:${f.data.toString('hex')}`).join(' ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** nothing arrives within ms */
  async quiet(ms = 200): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.length === 0;
  }
}

/** A host over a stream: numbered packets, answers by ID, async results on 0xF0. */
export class Host {
  readonly rx: FrameCollector;
  private id = 0;

  constructor(private readonly stream: { write(b: Buffer): unknown; on(ev: 'data', f: (d: Buffer) => void): unknown }) {
    this.rx = new FrameCollector(stream);
  }

  nextId(): number {
    this.id = this.id >= 0xdf ? 0 : this.id + 1;
    return this.id;
  }

  /** sends a packet, returns its synchronous answer */
  async send(data: Buffer, id = this.nextId()): Promise<Buffer> {
    this.stream.write(frame(id, data));
    const f = await this.rx.next((x) => x.id === id);
    if (!f.crcOk) throw new Error(`bad CRC on answer ${id}`);
    return f.data;
  }

  /** the asynchronous A6/A7 of a task */
  async asyncResult(tid: number, timeoutMs = 3000): Promise<Buffer> {
    const f = await this.rx.next((x) => x.id === 0xf0 && x.data[1] === tid, timeoutMs);
    return f.data;
  }

  /** adds a task needing its result; returns the A6/A7 (status byte, tid, answer) */
  async run(tid: number, payload: Buffer): Promise<Buffer> {
    const sync = await this.send(add(tid, payload));
    if (sync[0] !== 0xa3 && sync[0] !== 0xa4 && sync[0] !== 0xa1) throw new Error(`add answered ${sync.toString('hex')}`);
    return this.asyncResult(tid);
  }

  /** runs a task and acknowledges it; returns the command's answer, failing on A7 */
  async ok(tid: number, payload: Buffer): Promise<Buffer> {
    const r = await this.run(tid, payload);
    await this.send(Buffer.from([0xc2, tid]));
    if (r[0] !== 0xa6) throw new Error(`task ${tid} failed: ${r.toString('hex')}`);
    return r.subarray(2);
  }
}
