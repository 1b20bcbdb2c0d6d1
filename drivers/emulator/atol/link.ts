/**
 * The device side of the ATOL v3 transport and task buffer (kkt-protocols.md §2.1–§2.2) over any Duplex stream.
 *
 * - Every host frame with a good CRC is answered once, with the same packet ID. A bad CRC (or an invalid escape)
 *   is answered with an empty frame of that ID: "send it again". A host frame with empty data asks for the
 *   answer of that ID again; it is resent unchanged.
 * - C1 flags TID payload: B2 when the TID is still in the buffer, B1 when 16 tasks are waiting; otherwise the task
 *   is queued, run at once when the printer is free, and the answer is A1 (accepted). With flag bit0 (need result)
 *   the result is sent unasked, A6/A7 TID answer on packet ID 0xF0, right after that answer. A failed task without
 *   bit1 (ignore error) also sends A7, and stops the tasks queued behind it (A5). C3 always tells the result.
 * - C2 TID: the result is consumed (answer: its state byte), C3 TID: state (+ answer), unknown TID → B3.
 *   C4: the buffer is emptied (answer A3). C5 TIDack flags TID payload: C2 and C1 in one, both answers in one frame.
 *   Results nobody acknowledges stay until 64 tasks are kept, then the oldest finished ones are dropped.
 * - Printing commands keep the printer busy for `printMs` after their result: tasks other than queries wait (A1),
 *   X shows mode byte 0x22, Z 0x23 then 0x17.
 * Faults (LinkFaults, shared with the Shtrih link): see README.md.
 */
import type { Duplex } from 'node:stream';
import { LinkFaults } from '../faults.ts';
import { ASYNC_ID, FrameReader, encodeFrame } from './codec.ts';
import { AtolDevice, type AtolInterface, type TaskOutcome } from './device.ts';

export interface AtolLinkOptions {
  /** print time of receipts and reports, ms; default 0 */
  printMs?: number;
  /** pace output at this line speed (bytes × 10 / baud); 0 = instant (default) */
  baud?: number;
  /** a partial frame is dropped after this silence, ms; default 500 */
  interByteTimeoutMs?: number;
  faults?: LinkFaults;
  /** what 3F reports as the interface: 4 USB (default; a pty), 6 Ethernet (TCP) */
  interfaceId?: AtolInterface;
  log?: (event: string) => void;
}

export const ST = {
  PENDING: 0xa1,
  IN_PROGRESS: 0xa2,
  RESULT: 0xa3,
  ERROR: 0xa4,
  STOPPED: 0xa5,
  ASYNC_RESULT: 0xa6,
  ASYNC_ERROR: 0xa7,
  WAITING: 0xa8,
  OVERFLOW: 0xb1,
  EXISTS: 0xb2,
  NOT_FOUND: 0xb3,
  ILLEGAL: 0xb4,
} as const;

const FLAG_NEED_RESULT = 0x01;
const FLAG_IGNORE_ERROR = 0x02;
const MAX_KEPT = 64;
const MAX_WAITING = 16;

interface Task {
  tid: number;
  flags: number;
  payload: Buffer;
  state: 'pending' | 'done' | 'stopped';
  outcome?: TaskOutcome;
  /** the unasked result of this task is not sent (drop-answer) */
  mute: boolean;
}

export class AtolLink {
  readonly faults: LinkFaults;
  private readonly reader = new FrameReader();
  private readonly tasks = new Map<number, Task>();
  private queue: Task[] = [];
  private printing = false;
  private printTimers: NodeJS.Timeout[] = [];
  private rxTimer: NodeJS.Timeout | undefined;
  /** answers by packet ID, for a host's resend request */
  private readonly answers = new Map<number, Buffer>();
  /** unasked frames produced while a packet is handled go out after its answer */
  private outbox: Buffer[] | undefined;
  private outChain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly printMs: number;
  private readonly baud: number;
  private readonly interByteMs: number;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);

  constructor(private readonly stream: Duplex, readonly device: AtolDevice, private readonly opts: AtolLinkOptions = {}) {
    this.faults = opts.faults ?? new LinkFaults();
    this.printMs = opts.printMs ?? 0;
    this.baud = opts.baud ?? 0;
    this.interByteMs = opts.interByteTimeoutMs ?? 500;
    stream.on('data', this.onData);
    stream.on('error', (e) => this.log(`stream error: ${e.message}`));
  }

  /** 'busy' while the printer prints, else 'idle' */
  get linkState(): 'idle' | 'busy' {
    return this.printing ? 'busy' : 'idle';
  }

  close(): void {
    this.closed = true;
    this.stream.off('data', this.onData);
    clearTimeout(this.rxTimer);
    for (const t of this.printTimers) clearTimeout(t);
    this.device.setPrintPhase(undefined);
  }

  // ---------------------------------------------------------------- frames

  private receive(chunk: Buffer): void {
    if (this.faults.silent) {
      this.reader.reset();
      return;
    }
    for (const f of this.reader.push(chunk)) {
      if (!f.ok) {
        this.log(`bad CRC on packet ${f.id}: asking for it again`);
        this.send(encodeFrame(f.id, Buffer.alloc(0)));
      } else if (f.data.length === 0) {
        const again = this.answers.get(f.id);
        this.log(`host asks for the answer of packet ${f.id} again${again ? '' : ': none'}`);
        if (again) this.send(again);
      } else {
        this.packet(f.id, f.data);
      }
    }
    clearTimeout(this.rxTimer);
    if (this.reader.inFrame) {
      this.rxTimer = setTimeout(() => {
        this.log('inter-byte timeout: partial frame dropped');
        this.reader.reset();
      }, this.interByteMs);
    }
  }

  private packet(id: number, data: Buffer): void {
    const addsTask = data[0] === 0xc1 || data[0] === 0xc5;
    if (addsTask && this.faults.take('nak-frame')) {
      this.log(`fault: packet ${id} treated as a bad CRC`);
      return this.send(encodeFrame(id, Buffer.alloc(0)));
    }
    const dropAnswer = addsTask && this.faults.take('drop-answer');
    const dropAck = addsTask && !dropAnswer && this.faults.take('drop-ack');
    const stall = addsTask ? this.faults.takeStall() : 0;
    this.outbox = [];
    const answer = this.handle(data, dropAnswer);
    const unasked = this.outbox;
    this.outbox = undefined;
    const frame = encodeFrame(id, answer);
    this.answers.set(id, frame);
    if (this.answers.size > 256) this.answers.delete(this.answers.keys().next().value!);
    const out = (): void => {
      if (dropAnswer || dropAck) this.log(`fault: answer to packet ${id} not sent`);
      else this.send(frame);
      for (const f of unasked) this.send(f);
    };
    if (stall > 0) {
      this.log(`fault: answer to packet ${id} stalled ${stall} ms`);
      setTimeout(out, stall);
    } else {
      out();
    }
  }

  // ---------------------------------------------------------------- task buffer

  private handle(data: Buffer, mute: boolean): Buffer {
    switch (data[0]) {
      case 0xc1:
        if (data.length < 4) return Buffer.from([ST.ILLEGAL]);
        return this.add(data[1]!, data[2]!, data.subarray(3), mute);
      case 0xc2:
        if (data.length < 2) return Buffer.from([ST.ILLEGAL]);
        return this.ack(data[1]!);
      case 0xc3: {
        if (data.length < 2) return Buffer.from([ST.ILLEGAL]);
        const task = this.tasks.get(data[1]!);
        return task ? this.stateOf(task) : Buffer.from([ST.NOT_FOUND]);
      }
      case 0xc4:
        this.abort();
        return Buffer.from([ST.RESULT]);
      case 0xc5: {
        if (data.length < 5) return Buffer.from([ST.ILLEGAL]);
        const acked = this.ack(data[1]!);
        return Buffer.concat([acked.subarray(0, 1), this.add(data[2]!, data[3]!, data.subarray(4), mute)]);
      }
      default:
        return Buffer.from([ST.ILLEGAL]);
    }
  }

  private add(flags: number, tid: number, payload: Buffer, mute: boolean): Buffer {
    if (this.tasks.has(tid)) return Buffer.from([ST.EXISTS]);
    if (this.queue.length >= MAX_WAITING) return Buffer.from([ST.OVERFLOW]);
    this.evict();
    if (this.tasks.size >= MAX_KEPT) return Buffer.from([ST.OVERFLOW]);
    const task: Task = { tid, flags, payload: Buffer.from(payload), state: 'pending', mute };
    this.tasks.set(tid, task);
    this.queue.push(task);
    this.pump();
    // the answer to an add is "accepted" (A1), whatever happened since: the result is reported once, on F0 (bit0)
    // or by C3 — see README.md for why ([A1] takes the first packet after an answer as the next add's answer)
    return Buffer.from([task.state === 'stopped' ? ST.STOPPED : ST.PENDING]);
  }

  private reportsUnasked(task: Task): boolean {
    return !task.mute && (Boolean(task.flags & FLAG_NEED_RESULT) || (task.outcome!.error && !(task.flags & FLAG_IGNORE_ERROR)));
  }

  private ack(tid: number): Buffer {
    const task = this.tasks.get(tid);
    if (!task) return Buffer.from([ST.NOT_FOUND]);
    const state = this.stateOf(task).subarray(0, 1);
    if (task.state !== 'pending') this.tasks.delete(tid);
    return state;
  }

  private abort(): void {
    for (const t of this.queue) t.state = 'stopped';
    this.queue = [];
    this.tasks.clear();
  }

  /** drops the oldest finished tasks beyond the keep limit */
  private evict(): void {
    for (const [tid, t] of this.tasks) {
      if (this.tasks.size < MAX_KEPT) return;
      if (t.state !== 'pending') this.tasks.delete(tid);
    }
  }

  private stateOf(task: Task): Buffer {
    if (task.state === 'pending') return Buffer.from([ST.PENDING]);
    if (task.state === 'stopped') return Buffer.from([ST.STOPPED]);
    const o = task.outcome!;
    return Buffer.concat([Buffer.from([o.error ? ST.ERROR : ST.RESULT]), o.data]);
  }

  /** runs the queued tasks the printer lets run */
  private pump(): void {
    for (let i = 0; i < this.queue.length;) {
      const task = this.queue[i]!;
      if (this.printing && !AtolDevice.isQuery(task.payload)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.run(task);
    }
  }

  private run(task: Task): void {
    this.device.interfaceId = this.opts.interfaceId ?? 4;
    const outcome = this.device.execute(task.payload);
    task.outcome = outcome;
    task.state = 'done';
    const stops = outcome.error && !(task.flags & FLAG_IGNORE_ERROR);
    if (stops) {
      for (const t of this.queue) t.state = 'stopped';
      this.queue = [];
    }
    if (this.reportsUnasked(task)) {
      const head = Buffer.from([outcome.error ? ST.ASYNC_ERROR : ST.ASYNC_RESULT, task.tid]);
      this.unasked(encodeFrame(ASYNC_ID, Buffer.concat([head, outcome.data])));
    }
    if (outcome.prints && this.printMs > 0) this.startPrint(outcome.prints);
  }

  private startPrint(kind: 'receipt' | 'x' | 'z'): void {
    this.printing = true;
    const end = (): void => {
      this.printing = false;
      this.device.setPrintPhase(undefined);
      this.printTimers = [];
      if (!this.closed) this.pump();
    };
    if (kind === 'z') {
      this.device.setPrintPhase('z');
      this.printTimers = [
        setTimeout(() => this.device.setPrintPhase('z-fn'), this.printMs / 2),
        setTimeout(end, this.printMs),
      ];
    } else {
      if (kind === 'x') this.device.setPrintPhase('x');
      this.printTimers = [setTimeout(end, this.printMs)];
    }
  }

  // ---------------------------------------------------------------- output

  /** an unasked frame: after the answer of the packet being handled, or now */
  private unasked(frame: Buffer): void {
    if (this.outbox) this.outbox.push(frame);
    else this.send(frame);
  }

  private send(frame: Buffer): void {
    if (this.closed || this.faults.silent) return;
    let bytes = frame;
    if (this.faults.take('garble-answer')) {
      bytes = Buffer.from(frame);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x5a;
      if (bytes[bytes.length - 1] === 0xfe || bytes[bytes.length - 1] === 0xfd) bytes[bytes.length - 1]! ^= 0x01;
      this.log('fault: garbled frame');
    }
    if (this.baud <= 0) return this.write(bytes);
    const ms = (bytes.length * 10 * 1000) / this.baud;
    this.outChain = this.outChain.then(() => new Promise<void>((r) => setTimeout(r, ms))).then(() => this.write(bytes));
  }

  private write(bytes: Buffer): void {
    if (this.closed || this.stream.destroyed || !this.stream.writable) return;
    try {
      this.stream.write(bytes);
    } catch (e) {
      this.log(`write failed: ${(e as Error).message}`);
    }
  }

  private log(event: string): void {
    this.opts.log?.(event);
  }
}
