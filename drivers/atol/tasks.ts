/**
 * ATOL v3 packet and task-buffer layers (kkt-protocols.md §2.1–2.2): packet IDs, resend on an empty answer,
 * asynchronous 0xF0 results, C1 add / C2 acknowledge / C3 state / C4 abort, every A1…A8 / B1…B4 answer, per-command timeouts
 * and lost-answer recovery. One task in flight (a mutex).
 *
 * A task's result may reach the host three ways, and all are taken (quirks.ts `addFlags`): in the synchronous answer
 * to C1 (A3/A4 + data), as an asynchronous A6/A7 + TID + data on packet ID 0xF0, or in the answer to C3 TID, which
 * the host asks every `pollMs` while the task is pending (A1/A2/A8).
 *
 * Lost-answer recovery: a C1 whose answer never came is never sent again blindly. The host asks C3 TID:
 *  - A1/A2/A8/A3/A4: the device has the task — it is followed to its result (never added twice);
 *  - B3 "not found": the C1 never reached the device. That is only proof if the device keeps a NEED_RESULT task
 *    until it is acknowledged (C2) or the buffer aborted (C4) — what [A3]/[A2] rely on, and the host sends neither in
 *    between. So the task is added again only when it is `idempotent` (reads, mode changes the driver re-checks);
 *    any other task fails with ANSWER_LOST, delivery 'unknown', and the driver decides: a receipt-body step cancels
 *    the receipt, a closing command (4A, 5A …) becomes `uncertain` — settled only by the FN.
 */
import type { BytePort } from '../transport.ts';
import { DriverError } from '../types.ts';
import { DriverCodes, hex2 } from './errors.ts';
import { ASYNC_ID, Deframer, MAX_PACKET_ID, encodeFrame, hexOf, type Frame } from './frame.ts';
import { DEFAULT_QUIRKS, type AtolQuirks } from './quirks.ts';
import { debugOn, LinkError, Mutex, silentLogger, type Delivery, type Logger } from '../host-link.ts';
export { LinkError, Mutex, silentLogger, type Delivery, type Logger } from '../host-link.ts';

export const Buf = { ADD: 0xc1, ACK: 0xc2, REQ: 0xc3, ABORT: 0xc4, ACK_ADD: 0xc5 } as const;
export const St = {
  PENDING: 0xa1, IN_PROGRESS: 0xa2, RESULT: 0xa3, ERROR: 0xa4, STOPPED: 0xa5,
  ASYNC_RESULT: 0xa6, ASYNC_ERROR: 0xa7, WAITING: 0xa8,
  OVERFLOW: 0xb1, EXISTS: 0xb2, NOT_FOUND: 0xb3, ILLEGAL: 0xb4,
} as const;
export const TaskFlag = { NEED_RESULT: 0x01, IGNORE_ERROR: 0x02, WAIT_ASYNC: 0x04 } as const;
export const MAX_TID = 0xdf;

/** How long a task may take to execute, by command code (ms); others: DEFAULT_TASK_TIMEOUT_MS. */
export const DEFAULT_TASK_TIMEOUTS: Readonly<Record<number, number>> = {
  0x4a: 60_000, // close receipt: prints
  0x5a: 120_000, // Z report
  0x67: 60_000, // X report
  0x9a: 60_000, // open shift: prints
  0x59: 30_000,
};
export const DEFAULT_TASK_TIMEOUT_MS = 30_000;

export type LinkQuirks = Pick<AtolQuirks, 'ackResults' | 'ackWaitMs' | 'ackWithNextAdd' | 'addFlags' | 'pollMs' | 'crcOverStuffed' | 'abortAfterError'>;

export interface LinkOptions {
  /** wait for the device's answer to one packet; default 1000 ms */
  packetTimeoutMs?: number;
  /** silent packets in a row before NO_LINK; default 5 */
  retries?: number;
  /** resends of one packet asked for by empty answers; default 5 */
  resends?: number;
  /** per command code (0x4a …): how long a task may run, overriding DEFAULT_TASK_TIMEOUTS */
  taskTimeouts?: Partial<Record<number, number>>;
  defaultTaskTimeoutMs?: number;
  quirks?: Partial<LinkQuirks>;
  logger?: Logger;
}

export interface TaskOptions {
  /** how long the task may run; default by command code */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** adding it again after a lost C1 answer and B3 is harmless (reads; steps the driver re-checks) */
  idempotent?: boolean;
}

export interface TaskResult {
  /** A3/A6 → 'result', A4/A7 → 'error' (the command refused; `data` is its error answer) */
  status: 'result' | 'error';
  /** the command's answer: `55 err ext`, `44 …` for 3F, … */
  data: Buffer;
  tid: number;
  /** how it came: 'sync' (answer to C1 or C3) or 'async' (0xF0) */
  via: 'sync' | 'async';
}

interface Waiter {
  match: (f: Frame) => boolean;
  resolve: (f: Frame | undefined) => void;
}

/** A command payload's name for logs and errors: "4A", "A4 31", "91 33". */
export function taskName(payload: Uint8Array): string {
  const code = payload[2];
  if (code === undefined) return '??';
  if ((code === 0xa4 || code === 0x91 || code === 0x67) && payload[3] !== undefined) return `${hex2(code)} ${hex2(payload[3])}`;
  return hex2(code);
}

export class AtolLink {
  readonly log: Logger;
  private readonly deframer: Deframer;
  private readonly mutex = new Mutex();
  private waiters: Waiter[] = [];
  private readonly asyncResults = new Map<number, TaskResult>();
  private asyncListeners: Array<() => void> = [];
  private packetId = MAX_PACKET_ID; // first packet is 0x00
  private tid = MAX_TID; // first task is 0x00
  private goneReason: Error | undefined;
  private readonly s: Required<Omit<LinkOptions, 'taskTimeouts' | 'quirks' | 'logger'>> & { taskTimeouts: Partial<Record<number, number>> };
  private readonly q: LinkQuirks;
  /** counters for tests and logs */
  readonly counters = { packets: 0, resends: 0, adds: 0, reqs: 0, acks: 0, aborts: 0, asyncs: 0 };
  /** @internal the last task's result, to be acknowledged in the packet that adds the next one (C5) */
  pendingAck: number | undefined;
  /** @internal the device refused C5: C1 + C2 from now on */
  noAckAdd = false;

  constructor(readonly port: BytePort, opts: LinkOptions = {}) {
    this.log = opts.logger ?? silentLogger;
    this.s = {
      packetTimeoutMs: opts.packetTimeoutMs ?? 1000,
      retries: opts.retries ?? 5,
      resends: opts.resends ?? 5,
      defaultTaskTimeoutMs: opts.defaultTaskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
      taskTimeouts: { ...DEFAULT_TASK_TIMEOUTS, ...opts.taskTimeouts },
    };
    this.q = { ...pick(DEFAULT_QUIRKS), ...opts.quirks };
    this.deframer = new Deframer({ crcOverStuffed: this.q.crcOverStuffed });
    port.onData((chunk) => {
      for (const f of this.deframer.push(chunk)) this.onFrame(f);
    });
    port.onGone((reason) => {
      this.goneReason = reason;
      for (const w of this.waiters.splice(0)) w.resolve(undefined);
      this.wakeAsync();
    });
  }

  get gone(): Error | undefined {
    return this.goneReason;
  }

  get deframerStats(): Deframer['stats'] {
    return this.deframer.stats;
  }

  taskTimeout(code: number): number {
    return this.s.taskTimeouts[code] ?? this.s.defaultTaskTimeoutMs;
  }

  /** Runs one command (access password + code + parameters) as a task; resolves with its result or error answer. */
  task(payload: Buffer, opts: TaskOptions = {}): Promise<TaskResult> {
    return this.mutex.run(() => new TaskRun(this, payload, opts).run());
  }

  /** C4: abort every task and clear the buffer (also the link's initialisation). */
  abort(signal?: AbortSignal): Promise<void> {
    return this.mutex.run(async () => {
      await this.abortNow(signal, 'C4');
    });
  }

  async close(): Promise<void> {
    await this.mutex.run(() => this.port.close());
  }

  // ---------------------------------------------------------------------------------------- packet layer (internal)

  /** @internal C4 outside the mutex (the task run holds it) */
  async abortNow(signal: AbortSignal | undefined, command: string): Promise<void> {
    this.counters.aborts++;
    this.pendingAck = undefined; // C4 clears the buffer, results included
    for (let i = 0; ; i++) {
      const ans = await this.exchange(Buffer.from([Buf.ABORT]), signal, command);
      if (ans !== undefined) {
        this.asyncResults.clear();
        return;
      }
      if (i + 1 >= this.s.retries) throw new LinkError(DriverCodes.NO_LINK, `${command}: no answer to C4 (${i + 1} tries)`, 'not_sent', command);
    }
  }

  /**
   * Sends one packet and waits for the answer with its ID. An empty answer asks for the same packet again (resent,
   * same ID, ≤ `resends`). Resolves undefined when no answer came within the packet timeout.
   */
  async exchange(data: Buffer, signal: AbortSignal | undefined, command: string, timeoutMs = this.s.packetTimeoutMs): Promise<Buffer | undefined> {
    const id = this.nextPacketId();
    const frame = encodeFrame(id, data, { crcOverStuffed: this.q.crcOverStuffed });
    for (let resend = 0; ; resend++) {
      this.checkUsable(signal, command);
      const answer = this.waitFrame((f) => f.id === id, timeoutMs, signal);
      this.counters.packets++;
      if (debugOn(this.log)) this.log.debug({ command, id, out: hexOf(data) }, 'atol: packet');
      await this.port.write(frame);
      const f = await answer;
      this.checkUsable(signal, command);
      if (!f) return undefined;
      if (f.data.length > 0) return f.data;
      if (resend >= this.s.resends) throw new LinkError(DriverCodes.LINK_ERROR, `${command}: the device asked for packet ${id} ${resend + 1} times`, 'unknown', command);
      this.counters.resends++;
      this.log.debug({ command, id }, 'atol: empty answer, packet sent again');
    }
  }

  /** @internal async result for a task, taken once */
  takeAsync(tid: number): TaskResult | undefined {
    const r = this.asyncResults.get(tid);
    if (r) this.asyncResults.delete(tid);
    return r;
  }

  /** @internal resolves when an async result arrives, the link dies, or after ms */
  waitAsync(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.asyncListeners = this.asyncListeners.filter((l) => l !== done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.asyncListeners.push(done);
    });
  }

  /** @internal */
  nextTid(): number {
    this.tid = this.tid >= MAX_TID ? 0 : this.tid + 1;
    return this.tid;
  }

  /** @internal */
  get settings(): { retries: number; packetTimeoutMs: number } & LinkQuirks {
    return { retries: this.s.retries, packetTimeoutMs: this.s.packetTimeoutMs, ...this.q };
  }

  checkUsable(signal: AbortSignal | undefined, command: string): void {
    if (this.goneReason) throw new LinkError(DriverCodes.LINK_GONE, `${command}: link gone: ${this.goneReason.message}`, 'unknown', command, this.goneReason);
    if (signal?.aborted) throw new LinkError(DriverCodes.ABORTED, `${command}: aborted`, 'unknown', command);
  }

  private nextPacketId(): number {
    this.packetId = this.packetId >= MAX_PACKET_ID ? 0 : this.packetId + 1;
    return this.packetId;
  }

  private onFrame(f: Frame): void {
    if (f.id === ASYNC_ID) {
      this.onAsync(f.data);
      return;
    }
    const i = this.waiters.findIndex((w) => w.match(f));
    if (i < 0) {
      this.log.debug({ id: f.id, data: hexOf(f.data) }, 'atol: answer to no packet in flight, dropped');
      return;
    }
    const [w] = this.waiters.splice(i, 1);
    w!.resolve(f);
  }

  private onAsync(data: Buffer): void {
    const st = data[0];
    if ((st !== St.ASYNC_RESULT && st !== St.ASYNC_ERROR) || data.length < 2) {
      this.log.warn({ data: hexOf(data) }, 'atol: unknown asynchronous packet, dropped');
      return;
    }
    this.counters.asyncs++;
    const tid = data[1]!;
    this.asyncResults.set(tid, { status: st === St.ASYNC_RESULT ? 'result' : 'error', data: Buffer.from(data.subarray(2)), tid, via: 'async' });
    if (this.asyncResults.size > 64) this.asyncResults.delete(this.asyncResults.keys().next().value!);
    this.wakeAsync();
  }

  private wakeAsync(): void {
    for (const l of this.asyncListeners.slice()) l();
  }

  private waitFrame(match: (f: Frame) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<Frame | undefined> {
    return new Promise((resolve) => {
      const w: Waiter = {
        match,
        resolve: (f) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(f);
        },
      };
      const drop = (): void => {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(undefined);
      };
      const onAbort = (): void => drop();
      const timer = setTimeout(drop, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }
}

function pick(q: AtolQuirks): LinkQuirks {
  return { ackResults: q.ackResults, ackWaitMs: q.ackWaitMs, ackWithNextAdd: q.ackWithNextAdd, addFlags: q.addFlags, pollMs: q.pollMs, crcOverStuffed: q.crcOverStuffed, abortAfterError: q.abortAfterError };
}

type Answer =
  | { kind: 'done'; result: TaskResult }
  | { kind: 'pending' }
  | { kind: 'stopped' }
  | { kind: 'buffer'; status: number }
  | { kind: 'unknown'; status: number };

/** A synchronous answer to C1 or C3: status byte, then (A3/A4) the command's answer — no TID ([A1] vectors, [A2]). */
function parseAnswer(data: Buffer, tid: number): Answer {
  const st = data[0]!;
  switch (st) {
    case St.RESULT:
    case St.ERROR:
      return { kind: 'done', result: { status: st === St.RESULT ? 'result' : 'error', data: Buffer.from(data.subarray(1)), tid, via: 'sync' } };
    case St.ASYNC_RESULT:
    case St.ASYNC_ERROR:
      // tolerated in a synchronous answer: status, TID, data
      if (data[1] === tid) return { kind: 'done', result: { status: st === St.ASYNC_RESULT ? 'result' : 'error', data: Buffer.from(data.subarray(2)), tid, via: 'sync' } };
      return { kind: 'unknown', status: st };
    case St.PENDING:
    case St.IN_PROGRESS:
    case St.WAITING:
      return { kind: 'pending' };
    case St.STOPPED:
      return { kind: 'stopped' };
    case St.OVERFLOW:
    case St.EXISTS:
    case St.NOT_FOUND:
    case St.ILLEGAL:
      return { kind: 'buffer', status: st };
    default:
      return { kind: 'unknown', status: st };
  }
}

/** One task: add, follow to its result, acknowledge. */
class TaskRun {
  private readonly name: string;
  private readonly code: number;
  private readonly timeoutMs: number;
  private delivery: Delivery = 'not_sent';
  private tid = -1;
  private deadline = 0;
  private silent = 0;
  private bufferRetries = 0;

  constructor(private readonly link: AtolLink, private readonly payload: Buffer, private readonly opts: TaskOptions) {
    this.name = taskName(payload);
    this.code = payload[2] ?? 0;
    this.timeoutMs = opts.timeoutMs ?? link.taskTimeout(this.code);
  }

  async run(): Promise<TaskResult> {
    try {
      const result = await this.execute();
      if (result.status === 'error' && this.link.settings.abortAfterError) {
        // [A2]: a failed task stops the buffer (ignore-error is not set); C4 restarts it, and clears the result too
        await this.link.abortNow(this.opts.signal, this.name).catch((err: unknown) => {
          this.link.log.debug({ command: this.name, err: err instanceof Error ? err.message : String(err) }, 'atol: C4 after an error failed');
        });
        return result;
      }
      await this.acknowledge(result.tid);
      return result;
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private async execute(): Promise<TaskResult> {
    this.tid = this.link.nextTid();
    this.deadline = Date.now() + this.timeoutMs;
    let answer = await this.add();
    for (;;) {
      const settled = await this.settle(answer);
      if (settled) return settled;
      answer = await this.req();
    }
  }

  /** C1; on a lost answer the state is asked with C3 (recover). */
  private async add(): Promise<Answer | undefined> {
    const s = this.link.settings;
    // the previous task's acknowledgement rides on this add (C5), when the device takes it
    const ackTid = this.link.pendingAck;
    this.link.pendingAck = undefined;
    const packet = ackTid === undefined
      ? Buffer.concat([Buffer.from([Buf.ADD, s.addFlags, this.tid]), this.payload])
      : Buffer.concat([Buffer.from([Buf.ACK_ADD, ackTid, s.addFlags, this.tid]), this.payload]);
    this.link.counters.adds++;
    this.delivery = 'unknown';
    const ans = await this.link.exchange(packet, this.opts.signal, this.name);
    if (ans === undefined) {
      this.link.log.warn({ command: this.name, tid: this.tid }, 'atol: no answer to C1, asking the task state (C3)');
      return this.recover();
    }
    if (ackTid === undefined) return parseAnswer(ans, this.tid);
    if (ans.length === 1 && ans[0] === St.ILLEGAL) {
      // C5 unknown to this device: nothing was added (an illegal packet adds no task); C1 from now on
      this.link.log.warn({ command: this.name }, 'atol: C5 (acknowledge + add) refused; C1 and C2 from now on');
      this.link.noAckAdd = true;
      this.delivery = 'not_sent';
      return this.add();
    }
    // the answer to C5: the acknowledgement's status, then the add's answer
    return parseAnswer(ans.subarray(1), this.tid);
  }

  /** The answer to C1 was lost: C3 tells whether the device has the task. */
  private async recover(): Promise<Answer | undefined> {
    for (;;) {
      const ans = await this.req();
      if (ans === undefined) continue; // counted by req(); NO_LINK after the limit
      if (ans.kind === 'buffer' && ans.status === St.NOT_FOUND) {
        if (!this.opts.idempotent) {
          throw this.fail(DriverCodes.ANSWER_LOST, 'the answer to C1 was lost and the device does not know the task (B3); not added again', 'unknown');
        }
        this.link.log.warn({ command: this.name, tid: this.tid }, 'atol: C1 never reached the device (B3); adding it again');
        this.delivery = 'not_sent';
        return this.add();
      }
      return ans;
    }
  }

  /** Interprets an answer; returns the result when the task is done, undefined while pending. */
  private async settle(answer: Answer | undefined): Promise<TaskResult | undefined> {
    if (answer === undefined) return this.waitPending();
    switch (answer.kind) {
      case 'done':
        this.delivery = 'delivered';
        return answer.result;
      case 'pending':
        this.delivery = 'delivered';
        return this.waitPending();
      case 'stopped':
        // the buffer stopped on an earlier failed task: ours did not run; C4 restarts the buffer, then one more add
        if (this.bufferRetries >= 1) throw this.fail(DriverCodes.TASK_BUFFER, 'the task buffer is stopped (A5); the task was not executed', 'not_sent');
        return this.bufferAnswer(St.STOPPED);
      case 'buffer':
        return this.bufferAnswer(answer.status);
      case 'unknown':
        throw this.fail(DriverCodes.BAD_ANSWER, `unknown task state ${hex2(answer.status)}h`, this.delivery);
    }
  }

  /** B1 overflow / B2 TID exists (on C1): the task was not added — clear the buffer (C4), add once more. */
  private async bufferAnswer(status: number): Promise<TaskResult | undefined> {
    if (status === St.NOT_FOUND) {
      // C3 after the task was accepted: the device lost it (restart?) — it may have run
      if (this.delivery === 'delivered') throw this.fail(DriverCodes.ANSWER_LOST, 'the device no longer knows the task (B3)', 'delivered');
      throw this.fail(DriverCodes.ANSWER_LOST, 'the device does not know the task (B3)', this.delivery);
    }
    if (status === St.ILLEGAL) throw this.fail(DriverCodes.TASK_BUFFER, 'illegal value in the task command (B4)', 'not_sent');
    if ((this.delivery === 'delivered' && status !== St.STOPPED) || this.bufferRetries >= 1) {
      throw this.fail(DriverCodes.TASK_BUFFER, `task buffer answer ${hex2(status)}h`, this.delivery === 'delivered' ? 'delivered' : 'not_sent');
    }
    this.bufferRetries++;
    this.link.log.warn({ command: this.name, status: hex2(status) }, 'atol: task not taken (buffer full, TID taken or buffer stopped); C4, then added again');
    this.delivery = 'not_sent';
    await this.link.abortNow(this.opts.signal, this.name);
    this.tid = this.link.nextTid();
    const again = await this.add();
    return this.settle(again);
  }

  /** Waits for an async result up to one poll interval; undefined when C3 should ask. */
  private async waitPending(): Promise<TaskResult | undefined> {
    const got = this.link.takeAsync(this.tid);
    if (got) return got;
    if (Date.now() >= this.deadline) {
      throw this.fail(DriverCodes.ANSWER_TIMEOUT, `no result within ${this.timeoutMs} ms`, this.delivery);
    }
    await this.link.waitAsync(Math.min(this.link.settings.pollMs, Math.max(1, this.deadline - Date.now())), this.opts.signal);
    this.link.checkUsable(this.opts.signal, this.name);
    return this.link.takeAsync(this.tid);
  }

  /** C3 TID; undefined when unanswered (NO_LINK after `retries` silent packets in a row). */
  private async req(): Promise<Answer | undefined> {
    const got = this.link.takeAsync(this.tid);
    if (got) return { kind: 'done', result: got };
    this.link.counters.reqs++;
    const ans = await this.link.exchange(Buffer.from([Buf.REQ, this.tid]), this.opts.signal, this.name);
    if (ans === undefined) {
      const late = this.link.takeAsync(this.tid);
      if (late) return { kind: 'done', result: late };
      if (++this.silent >= this.link.settings.retries) {
        throw this.fail(DriverCodes.NO_LINK, `no answer to C3 (${this.silent} tries)`, this.delivery);
      }
      return undefined;
    }
    this.silent = 0;
    return parseAnswer(ans, this.tid);
  }

  /** C2 (quirk `ackResults`): its answer is awaited briefly and never required. */
  private async acknowledge(tid: number): Promise<void> {
    const s = this.link.settings;
    if (!s.ackResults) return;
    this.link.counters.acks++;
    if (s.ackWithNextAdd && !this.link.noAckAdd) {
      this.link.pendingAck = tid; // sent with the next add (C5)
      return;
    }
    try {
      await this.link.exchange(Buffer.from([Buf.ACK, tid]), undefined, this.name, s.ackWaitMs);
    } catch (err) {
      this.link.log.debug({ command: this.name, err: err instanceof Error ? err.message : String(err) }, 'atol: C2 failed (ignored)');
    }
  }

  private fail(code: string, message: string, delivery: Delivery): LinkError {
    return new LinkError(code, `${this.name}: ${message}`, delivery, this.name);
  }

  private wrap(err: unknown): LinkError {
    if (err instanceof LinkError) {
      // a failure of a later packet must not understate what the device may have of the task
      if (err.delivery === 'not_sent' && this.delivery !== 'not_sent' && err.code !== DriverCodes.TASK_BUFFER) {
        return new LinkError(err.code, err.message, this.delivery, this.name, err);
      }
      return err;
    }
    if (this.opts.signal?.aborted) return this.fail(DriverCodes.ABORTED, 'aborted', this.delivery);
    const msg = err instanceof Error ? err.message : String(err);
    return new LinkError(DriverCodes.LINK_GONE, `${this.name}: link gone: ${msg}`, this.delivery, this.name, err);
  }
}
