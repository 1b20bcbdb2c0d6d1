/**
 * Test doubles for the ATOL host side: an in-memory byte port and a scripted device peer with the task buffer of
 * kkt-protocols.md §2.2 and injectable faults. Deliberately independent of drivers/emulator AND of drivers/atol (its
 * own framing code), so a framing mistake in the driver cannot hide behind the same mistake here.
 */
import { MemPort, hex } from '../helpers/mem-port.ts';

export { MemPort, hex };


// --- framing, written again on purpose (see the header)

function crc(bytes: number[]): number {
  let c = 0xff;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x31) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

export function peerFrame(id: number, data: Uint8Array, badCrc = false): Buffer {
  const out = [0xfe, data.length & 0x7f, data.length >> 7, id];
  const put = (b: number): void => {
    if (b === 0xfe) out.push(0xfd, 0xee);
    else if (b === 0xfd) out.push(0xfd, 0xed);
    else out.push(b);
  };
  for (const b of data) put(b);
  let c = crc([id, ...data]);
  if (badCrc) c ^= 0x5a;
  put(c);
  return Buffer.from(out);
}

class PeerDeframer {
  private buf: number[] | undefined;
  private esc = false;
  push(b: number): { id: number; data: Buffer } | undefined {
    if (b === 0xfe) {
      this.buf = [];
      this.esc = false;
      return undefined;
    }
    if (!this.buf) return undefined;
    if (this.buf.length >= 3) {
      if (this.esc) {
        this.esc = false;
        b = b === 0xee ? 0xfe : b === 0xed ? 0xfd : -1;
        if (b < 0) {
          this.buf = undefined;
          return undefined;
        }
      } else if (b === 0xfd) {
        this.esc = true;
        return undefined;
      }
    }
    this.buf.push(b);
    if (this.buf.length < 3) return undefined;
    const len = this.buf[0]! | (this.buf[1]! << 7);
    if (this.buf.length < 3 + len + 1) return undefined;
    const [, , id, ...rest] = this.buf;
    this.buf = undefined;
    const data = rest.slice(0, len);
    if (crc([id!, ...data]) !== rest[len]) return undefined;
    return { id: id!, data: Buffer.from(data) };
  }
}


/**
 * How results reach the host:
 *  - 'sync':  the answer to C1 carries A3/A4 + data;
 *  - 'async': C1 is answered A1, the result comes later as A6/A7 TID data on packet ID 0xF0 (and C3 answers it too);
 *  - 'poll':  C1 is answered A1; the task runs when it is asked for with C3 (first C3: A2, then A3/A4 + data).
 */
export type PeerDelivery = 'sync' | 'async' | 'poll';

export interface AtolPeerFaults {
  /** answers nothing */
  silent?: boolean;
  /** the next n C1 packets are lost on the way to the device */
  dropAdds?: number;
  /** the next n answers to C1 are lost (the task was added and runs) */
  loseAddAnswers?: number;
  /** the next n answers to any packet are lost (the device acted on it) */
  loseAnswers?: number;
  /** the next n packets are answered with empty data, asking for a resend (the device did not act) */
  emptyAnswers?: number;
  /** the next n answers go out with a bad CRC (the device acted) */
  corruptAnswers?: number;
  /** bytes sent before every answer */
  junkBeforeAnswer?: Buffer;
  /** the next n asynchronous results are lost */
  loseAsync?: number;
  /** tasks stay "in progress" (A2) for ever */
  hang?: boolean;
  /** the next n C1 are answered A5 (buffer stopped) */
  stopped?: number;
  /** the next n C1 are answered B1 (overflow) */
  overflow?: number;
  /** the next C1 is taken and run, then the device goes silent (its answer lost too) */
  silentAfterAdd?: boolean;
  /** the device restarted: its buffer is empty (C3 → B3) — applied once, at the next C3 */
  forgetOnReq?: boolean;
}

interface Task {
  tid: number;
  payload: Buffer;
  state: 'pending' | 'running' | 'done';
  status?: number;
  data?: Buffer;
}

export type Handler = (payload: Buffer) => Buffer;

export class AtolPeer {
  /** command payloads executed, in order (password + code + params) */
  readonly executed: Buffer[] = [];
  /** host packets seen: [id, data] */
  readonly packets: Array<{ id: number; data: Buffer }> = [];
  readonly tasks = new Map<number, Task>();
  asyncDelayMs = 2;
  private readonly deframer = new PeerDeframer();
  /** faults armed when a C1 of that command (hex code "4A", "A4", …) first arrives */
  readonly faultsOn = new Map<string, AtolPeerFaults>();

  constructor(readonly port: MemPort, public handler: Handler, public delivery: PeerDelivery = 'sync', public faults: AtolPeerFaults = {}) {
    port.fromHost = (chunk) => {
      for (const b of chunk) {
        const f = this.deframer.push(b);
        if (f) this.onPacket(f.id, f.data);
      }
    };
  }

  executedCodes(): string[] {
    return this.executed.map((p) => codeOf(p));
  }

  count(kind: number): number {
    return this.packets.filter((p) => p.data[0] === kind).length;
  }

  private answer(id: number, data: Buffer): void {
    const f = this.faults;
    if (take(f, 'loseAnswers')) return;
    if (f.junkBeforeAnswer) this.port.toHost(f.junkBeforeAnswer);
    this.port.toHost(peerFrame(id, data, take(f, 'corruptAnswers')));
  }

  private onPacket(id: number, data: Buffer): void {
    this.packets.push({ id, data });
    const f = this.faults;
    if (data[0] === 0xc1 && data.length >= 3) {
      const armed = this.faultsOn.get(codeOf(data.subarray(3)));
      if (armed) {
        this.faultsOn.delete(codeOf(data.subarray(3)));
        Object.assign(f, armed);
      }
    }
    if (f.silent) return;
    if (data[0] === 0xc1 && take(f, 'dropAdds')) return;
    if (take(f, 'emptyAnswers')) {
      this.port.toHost(peerFrame(id, Buffer.alloc(0)));
      return;
    }
    switch (data[0]) {
      case 0xc4:
        this.tasks.clear();
        return this.answer(id, Buffer.from([0xa3]));
      case 0xc1:
        return this.add(id, data[1]!, data[2]!, Buffer.from(data.subarray(3)));
      case 0xc3:
        return this.req(id, data[1]!);
      case 0xc2: {
        const t = this.tasks.get(data[1]!);
        if (!t) return this.answer(id, Buffer.from([0xb3]));
        this.tasks.delete(t.tid);
        return this.answer(id, Buffer.from([t.status ?? 0xa2]));
      }
      default:
        return this.answer(id, Buffer.from([0xb4]));
    }
  }

  private add(id: number, _flags: number, tid: number, payload: Buffer): void {
    const f = this.faults;
    if (take(f, 'stopped')) return this.answer(id, Buffer.from([0xa5]));
    if (take(f, 'overflow')) return this.answer(id, Buffer.from([0xb1]));
    if (this.tasks.has(tid)) return this.answer(id, Buffer.from([0xb2]));
    const task: Task = { tid, payload, state: 'pending' };
    this.tasks.set(tid, task);
    if (f.silentAfterAdd) {
      f.silentAfterAdd = false;
      f.silent = true;
      this.run(task);
      return;
    }
    const loseAnswer = take(f, 'loseAddAnswers');
    const reply = (data: Buffer): void => {
      if (!loseAnswer) this.answer(id, data);
    };
    if (f.hang) return reply(Buffer.from([0xa2]));
    if (this.delivery === 'sync') {
      this.run(task);
      return reply(Buffer.concat([Buffer.from([task.status!]), task.data!]));
    }
    reply(Buffer.from([0xa1]));
    if (this.delivery === 'async') {
      setTimeout(() => {
        if (!this.tasks.has(tid) || task.state === 'done') return;
        this.run(task);
        if (take(this.faults, 'loseAsync') || this.faults.silent) return;
        const st = task.status === 0xa3 ? 0xa6 : 0xa7;
        this.port.toHost(peerFrame(0xf0, Buffer.concat([Buffer.from([st, tid]), task.data!])));
      }, this.asyncDelayMs);
    }
  }

  private req(id: number, tid: number): void {
    if (this.faults.forgetOnReq) {
      this.faults.forgetOnReq = false;
      this.tasks.clear();
    }
    const t = this.tasks.get(tid);
    if (!t) return this.answer(id, Buffer.from([0xb3]));
    if (this.faults.hang) return this.answer(id, Buffer.from([0xa2]));
    if (t.state === 'pending' && this.delivery === 'poll') {
      t.state = 'running';
      return this.answer(id, Buffer.from([0xa2]));
    }
    if (t.state === 'running' && this.delivery === 'poll') this.run(t);
    if (t.state !== 'done') return this.answer(id, Buffer.from([0xa2]));
    this.answer(id, Buffer.concat([Buffer.from([t.status!]), t.data!]));
  }

  /** the handler marks a refused 45 by answering exactly `55 err 00` with err ≥ 0x60 (no mode byte is that high) */
  private failed45(data: Buffer): boolean {
    return data[1]! >= 0x60 && data[2] === 0;
  }

  private run(t: Task): void {
    this.executed.push(t.payload);
    const data = this.handler(t.payload);
    t.state = 'done';
    t.data = data;
    // a refusal is `55 err ext` with err ≠ 0 — except 45, whose success answer is `55 mode flags`
    const refused = data[0] === 0x55 && data.length >= 2 && data[1] !== 0 && (t.payload[2] !== 0x45 || data.length === 3 && this.failed45(data));
    t.status = refused ? 0xa4 : 0xa3;
  }
}

type CountFault = 'dropAdds' | 'loseAddAnswers' | 'loseAnswers' | 'emptyAnswers' | 'corruptAnswers' | 'loseAsync' | 'stopped' | 'overflow';

function take(f: AtolPeerFaults, key: CountFault): boolean {
  const n = f[key] ?? 0;
  if (n <= 0) return false;
  f[key] = n - 1;
  return true;
}

/** "4A", "A4 31", "91 33" … of a command payload (password 2 bytes, code, params) */
export function codeOf(p: Uint8Array): string {
  const code = p[2];
  if (code === undefined) return '??';
  const h = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
  if ((code === 0xa4 || code === 0x91) && p[3] !== undefined) return `${h(code)} ${h(p[3])}`;
  return h(code);
}

/** Link options for tests: short timeouts so failures are quick. */
export const fastLink = {
  packetTimeoutMs: 40,
  retries: 4,
  defaultTaskTimeoutMs: 400,
  taskTimeouts: { 0x4a: 400, 0x5a: 400, 0x67: 400, 0x9a: 400, 0x59: 400 },
  quirks: { pollMs: 5, ackWaitMs: 20 },
};
