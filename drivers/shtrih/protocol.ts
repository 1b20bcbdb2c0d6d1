/**
 * Host side of the Shtrih-M v1 exchange (kkt-protocols.md §1.3) over a byte port: ENQ / frame / ACK / answer, with
 * lost-ACK and lost-answer recovery. One command in flight. A failed exchange reports whether the device may have
 * taken the command (`LinkError.delivery`); a command the device may have taken is never sent again.
 */
import { ByteQueue, ReadTimeout } from '../byte-queue.ts';
import type { BytePort } from '../transport.ts';
import { DriverError } from '../types.ts';
import { DriverCodes } from './errors.ts';
import { ACK, ENQ, FILLER, NAK, STX, commandCode, commandName, decodeFrame, encodeFrame } from './frame.ts';
import { LinkError, Mutex, silentLogger, type Delivery, type Logger } from '../host-link.ts';
export { LinkError, Mutex, silentLogger, type Delivery, type Logger } from '../host-link.ts';

/** javapos answer timeouts by command code (ms); everything else: DEFAULT_ANSWER_TIMEOUT_MS. */
export const DEFAULT_ANSWER_TIMEOUTS: Readonly<Record<number, number>> = {
  0x10: 3_000,
  0x11: 3_000,
  0x40: 30_000,
  0x41: 65_000,
  0xe0: 120_000,
  0xff61: 40_000,
  0xff67: 40_000,
};
export const DEFAULT_ANSWER_TIMEOUT_MS = 30_000;

export interface LinkOptions {
  /** wait for the device's reply to ENQ; default 1000 ms */
  enqTimeoutMs?: number;
  /** wait for ACK after a frame; default 1000 ms */
  ackTimeoutMs?: number;
  /** LEN, data and LRC after STX; default 2000 ms (255 bytes at 4800 baud take 0.55 s) */
  frameTimeoutMs?: number;
  /** line must be quiet this long before an ENQ that follows trouble; default 50 ms */
  quietMs?: number;
  /** limit for each of: silent ENQs (then NO_LINK), frame resends, damaged answers, foreign answers; default 10 */
  retries?: number;
  /** waits for an answer of a command the device took (each up to its answer timeout); default 3 */
  answerWaits?: number;
  /**
   * While waiting for an answer, ask with ENQ this often (the device answers ACK while it prepares or holds an
   * answer, §1.3): a lost answer is then recovered in about this time instead of a whole answer timeout; default 1000 ms
   */
  answerPollMs?: number;
  /** per command code (0x10, 0xff45 …), overriding DEFAULT_ANSWER_TIMEOUTS */
  answerTimeouts?: Partial<Record<number, number>>;
  defaultAnswerTimeoutMs?: number;
  logger?: Logger;
}

export interface SendOptions {
  /** answer timeout for this call, overriding the per-command table */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * The frame is written only after this resolves true; the ENQ before it is not held back (it starts nothing on
   * the device). false: the exchange ends with ABORTED, the frame never sent. A wait longer than the device's
   * 50 ms inter-byte timeout is followed by a fresh ENQ before the frame.
   */
  ready?: Promise<boolean>;
}

/** after a `ready` wait longer than this the device's NAK is asked again (§1.1: 50 ms inter-byte timeout) */
const READY_STALE_MS = 50;

type Settings = Required<Omit<LinkOptions, 'answerTimeouts' | 'logger'>> & { answerTimeouts: Partial<Record<number, number>> };

export class ShtrihLink {
  readonly rx = new ByteQueue();
  readonly settings: Settings;
  readonly log: Logger;
  private readonly mutex = new Mutex();
  private goneReason: Error | undefined;

  constructor(readonly port: BytePort, opts: LinkOptions = {}) {
    this.log = opts.logger ?? silentLogger;
    this.settings = {
      enqTimeoutMs: opts.enqTimeoutMs ?? 1000,
      ackTimeoutMs: opts.ackTimeoutMs ?? 1000,
      frameTimeoutMs: opts.frameTimeoutMs ?? 2000,
      quietMs: opts.quietMs ?? 50,
      retries: opts.retries ?? 10,
      answerWaits: opts.answerWaits ?? 3,
      answerPollMs: opts.answerPollMs ?? 1000,
      answerTimeouts: { ...DEFAULT_ANSWER_TIMEOUTS, ...opts.answerTimeouts },
      defaultAnswerTimeoutMs: opts.defaultAnswerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS,
    };
    port.onData((chunk) => this.rx.push(chunk));
    port.onGone((reason) => {
      this.goneReason = reason;
      this.rx.close(reason);
    });
  }

  /** set once the port closed or failed; the link is then dead */
  get gone(): Error | undefined {
    return this.goneReason;
  }

  answerTimeout(code: number): number {
    return this.settings.answerTimeouts[code] ?? this.settings.defaultAnswerTimeoutMs;
  }

  /** Sends one request payload (code + params); resolves with the answer payload (code, error byte, data). */
  send(request: Buffer, opts: SendOptions = {}): Promise<Buffer> {
    return this.mutex.run(() => new Exchange(this, request, opts).run());
  }

  async close(): Promise<void> {
    await this.mutex.run(async () => {
      await this.flushAck();
      await this.port.close();
    });
  }

  /** the ACK of the last answer read, not written yet (see ack) */
  private ackDue = false;

  /**
   * Acknowledges an answer. The ACK goes out in one write with whatever the host sends next at once, which is the
   * next command's ENQ (`06 05` in §1.2's capture: one write and one read on each side instead of two), and on its
   * own at the next turn of the event loop when nothing follows: never later than that, so the device is not left
   * holding the answer.
   */
  ack(): void {
    this.ackDue = true;
    setImmediate(() => void this.flushAck().catch(() => undefined));
  }

  /** `bytes` with a due ACK in front of them */
  withAck(bytes: Buffer): Buffer {
    if (!this.ackDue) return bytes;
    this.ackDue = false;
    return Buffer.concat([ACK_BYTE, bytes]);
  }

  private flushAck(): Promise<void> {
    if (!this.ackDue || this.goneReason) return Promise.resolve();
    this.ackDue = false;
    return this.port.write(ACK_BYTE);
  }
}

const ACK_BYTE = Buffer.from([ACK]);

/** One request's exchange: the §1.3 host algorithm, with its counters and what the device may know. */
class Exchange {
  private delivery: Delivery = 'not_sent';
  private readonly frame: Buffer;
  private readonly code: number;
  private readonly name: string;
  private readonly timeoutMs: number;
  private readonly s: Settings;
  private troubled = false;
  private silentEnqs = 0;
  private frameSends = 0;
  private badFrames = 0;
  private foreign = 0;
  private answerWaits = 0;
  /** SendOptions.ready until it has been waited for */
  private ready: Promise<boolean> | undefined;
  /** when waiting for the answer must end: answerWaits × the command's answer timeout after the first wait */
  private answerDeadline: number | undefined;

  constructor(private readonly link: ShtrihLink, request: Buffer, private readonly opts: SendOptions) {
    this.frame = encodeFrame(request);
    this.code = commandCode(request);
    this.name = commandName(this.code);
    this.timeoutMs = opts.timeoutMs ?? link.answerTimeout(this.code);
    this.s = link.settings;
    this.ready = opts.ready;
  }

  async run(): Promise<Buffer> {
    try {
      if (this.link.gone) throw this.fail(DriverCodes.LINK_GONE, `link gone: ${this.link.gone.message}`);
      this.link.rx.drain();
      return await this.loop();
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private async loop(): Promise<Buffer> {
    for (;;) {
      const reply = await this.enquire();
      if (reply === undefined) {
        this.countSilentEnq();
        continue;
      }
      this.silentEnqs = 0;
      const answer = reply === NAK ? await this.deviceIdle() : await this.readFrame(reply === ACK);
      if (answer === undefined) continue;
      if (this.isOurs(answer)) return answer;
      this.discard(answer);
    }
  }

  /** ENQ → ACK (answer pending), NAK (idle), STX (answer already coming) or undefined (silence). */
  private async enquire(): Promise<number | undefined> {
    if (this.troubled) await this.waitQuiet();
    this.troubled = true;
    await this.write(ENQ);
    return this.waitControl(this.s.enqTimeoutMs);
  }

  /** The device holds no answer: a command it took is lost; one it did not take is sent (again). */
  private async deviceIdle(): Promise<Buffer | undefined> {
    if (this.delivery === 'delivered') {
      throw this.fail(DriverCodes.ANSWER_LOST, 'the device took the command but holds no answer for it');
    }
    this.delivery = 'not_sent';
    if (this.ready) {
      const since = Date.now();
      const go = await this.ready;
      this.ready = undefined;
      if (!go) throw this.fail(DriverCodes.ABORTED, 'not sent: the job is not bound to the register');
      if (Date.now() - since > READY_STALE_MS) return undefined; // ask with ENQ again, then send
    }
    return this.sendFrame();
  }

  private async sendFrame(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.frameSends >= this.s.retries) {
        throw this.fail(DriverCodes.LINK_ERROR, `the device did not accept the frame after ${this.frameSends} sends`);
      }
      this.frameSends++;
      this.delivery = 'unknown';
      this.link.log.debug({ command: this.name, attempt: this.frameSends }, 'shtrih: frame');
      await this.link.port.write(this.link.withAck(this.frame));
      const c = await this.waitControl(this.s.ackTimeoutMs);
      if (c === NAK) {
        this.delivery = 'not_sent';
        continue;
      }
      if (c === undefined) return undefined; // neither ACK nor NAK: ask with ENQ
      if (c === ACK) this.delivery = 'delivered';
      return this.readFrame(c === ACK);
    }
  }

  /** Reads an answer frame (after waiting for its STX if `waitStx`); ACKs a good one, NAKs a damaged one. */
  private async readFrame(waitStx: boolean): Promise<Buffer | undefined> {
    if (waitStx && !(await this.waitStx())) {
      this.answerWaits++;
      if (Date.now() >= this.answerDeadline!) {
        throw this.fail(DriverCodes.ANSWER_TIMEOUT, `no answer within ${this.timeoutMs} ms × ${this.s.answerWaits} (${this.answerWaits} ENQ polls)`);
      }
      return undefined; // ask again with ENQ
    }
    const payload = await this.readBody();
    if (payload === undefined) {
      this.link.log.warn({ command: this.name }, 'shtrih: damaged answer frame, NAK');
      await this.write(NAK);
      if (++this.badFrames >= this.s.retries) throw this.fail(DriverCodes.LINK_ERROR, `${this.badFrames} damaged answers`);
      return undefined;
    }
    // not awaited, and sent with the next ENQ when it follows at once: the answer is ours already. A lost ACK leaves
    // the answer pending on the device; the next ENQ finds it (ACK) and discards it.
    this.link.ack();
    this.troubled = false;
    return payload;
  }

  /** LEN, payload, LRC after an STX; undefined when damaged or incomplete. */
  private async readBody(): Promise<Buffer | undefined> {
    const len = await this.tryRead(1, this.s.frameTimeoutMs);
    if (len === undefined || len[0] === 0) return undefined;
    const rest = await this.tryRead(len[0]! + 1, this.s.frameTimeoutMs);
    if (rest === undefined) return undefined;
    return decodeFrame(Buffer.concat([Buffer.from([STX]), len, rest])) ?? undefined;
  }

  private isOurs(answer: Buffer): boolean {
    return this.delivery !== 'not_sent' && commandCode(answer) === this.code;
  }

  private discard(answer: Buffer): void {
    const code = commandName(commandCode(answer));
    this.link.log.warn({ command: this.name, answer: code }, 'shtrih: discarded an answer to an earlier command');
    if (++this.foreign >= this.s.retries) throw this.fail(DriverCodes.LINK_ERROR, `${this.foreign} foreign answers`);
  }

  private countSilentEnq(): void {
    if (++this.silentEnqs >= this.s.retries) {
      throw this.fail(DriverCodes.NO_LINK, `no answer to ENQ (${this.silentEnqs} tries)`);
    }
  }

  /** Next ACK, NAK or STX within the time; 0xFF fillers and other stray bytes are skipped. */
  private async waitControl(timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const b = await this.tryRead(1, deadline - Date.now());
      if (b === undefined) return undefined;
      const c = b[0]!;
      if (c === ACK || c === NAK || c === STX) return c;
      if (c !== FILLER) this.link.log.debug({ command: this.name, byte: c }, 'shtrih: stray byte skipped');
    }
  }

  /** waits for STX until the next ENQ poll is due (or the answer deadline) */
  private async waitStx(): Promise<boolean> {
    this.answerDeadline ??= Date.now() + this.timeoutMs * this.s.answerWaits;
    const deadline = Math.min(this.answerDeadline, Date.now() + Math.min(this.s.answerPollMs, this.timeoutMs));
    for (;;) {
      const b = await this.tryRead(1, deadline - Date.now());
      if (b === undefined) return false;
      if (b[0] === STX) return true;
    }
  }

  /** Lets a burst of unexpected bytes end, then drops them, so that none is taken for a control byte. */
  private async waitQuiet(): Promise<void> {
    const limit = Date.now() + this.s.frameTimeoutMs;
    this.link.rx.drain();
    while (Date.now() < limit && (await this.tryRead(1, this.s.quietMs)) !== undefined) this.link.rx.drain();
  }

  private async tryRead(n: number, timeoutMs: number): Promise<Buffer | undefined> {
    if (timeoutMs <= 0) return this.link.rx.length >= n ? this.link.rx.read(n, 0) : undefined;
    try {
      return await this.link.rx.read(n, timeoutMs, 'byte', this.opts.signal);
    } catch (err) {
      if (err instanceof ReadTimeout) return undefined;
      throw err;
    }
  }

  private write(byte: number): Promise<void> {
    return this.link.port.write(this.link.withAck(Buffer.from([byte])));
  }

  private fail(code: string, message: string, cause?: unknown): LinkError {
    return new LinkError(code, `${this.name}: ${message}`, this.delivery, this.name, cause);
  }

  private wrap(err: unknown): LinkError {
    if (err instanceof LinkError) return err;
    if (this.opts.signal?.aborted) return this.fail(DriverCodes.ABORTED, 'aborted', err);
    const msg = err instanceof Error ? err.message : String(err);
    return this.fail(DriverCodes.LINK_GONE, `link gone: ${msg}`, err);
  }
}
