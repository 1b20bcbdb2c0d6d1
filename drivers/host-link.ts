/**
 * What every host-side protocol link shares (drivers/shtrih/protocol.ts, drivers/atol/tasks.ts): the error of a
 * failed exchange with what the device may know of it, the small logger interface, and one-at-a-time execution.
 */
import type { BytePort } from './transport.ts';
import { DriverError, type DeviceStatus } from './types.ts';

/**
 * What the device may know of a failed command:
 *  - `not_sent`:  certainly not taken (never written, refused, or the device showed itself idle): safe to resend;
 *  - `unknown`:   written but neither acknowledged nor refused;
 *  - `delivered`: acknowledged: the device executes (or executed) it.
 */
export type Delivery = 'not_sent' | 'unknown' | 'delivered';

export class LinkError extends DriverError {
  readonly delivery: Delivery;
  constructor(code: string, message: string, delivery: Delivery, command?: string, cause?: unknown) {
    super(code, 'retryable', message, cause === undefined ? { command } : { command, cause });
    this.name = 'LinkError';
    this.delivery = delivery;
  }

  get possiblyDelivered(): boolean {
    return this.delivery !== 'not_sent';
  }
}

export interface Logger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  /** pino's: lets a per-packet debug line skip building its fields (hex dumps) when debug is off */
  isLevelEnabled?(level: string): boolean;
}

/** whether debug lines are written; a logger that cannot tell is asked to write them */
export function debugOn(log: Logger): boolean {
  return log.isLevelEnabled?.('debug') ?? log !== silentLogger;
}

export const silentLogger: Logger = { debug: () => undefined, warn: () => undefined };

/** Runs async jobs one at a time, in call order; a failed job does not block the next. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.tail.then(job, job);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A new port from the driver's factory; no factory, or a factory that fails: retryable link errors. */
export async function reopenPort(openPort: (() => Promise<BytePort>) | undefined): Promise<BytePort> {
  if (!openPort) throw new DriverError('LINK_GONE', 'retryable', 'the port is gone and there is no way to reopen it');
  try {
    return await openPort();
  } catch (err) {
    throw new DriverError('NO_LINK', 'retryable', `cannot open the port: ${errText(err)}`, { cause: err });
  }
}

/** A read some registers lack: a device refusal or a bad answer → undefined; link failures still throw. */
export async function optionalRead<T>(fn: () => Promise<T>, log: Logger, what: string): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LinkError || !(err instanceof DriverError)) throw err;
    log.debug({ err: errText(err) }, `${what} failed`);
    return undefined;
  }
}

/** A read after a fiscal document: its failure must not turn a printed document into an error. */
export async function bestEffort<T>(fn: () => Promise<T>, fallback: T, log: Logger, what: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    log.warn({ err: errText(err) }, `${what} failed`);
    return fallback;
  }
}

export function badAnswer(command: string, why: string): DriverError {
  return new DriverError('BAD_ANSWER', 'retryable', `${command}: bad answer: ${why}`, { command });
}

/**
 * The closing command of a document (a receipt's close, a Z-report, a shift open, cash in/out) may have been
 * executed; only the FN can tell. `lastFdBefore` is the FN's last fiscal document number read before the document
 * began: a later FD of the right type and total is this document.
 */
export class UncertainError extends DriverError {
  readonly lastFdBefore: number | undefined;
  constructor(message: string, opts: { command?: string; cause?: unknown; lastFdBefore?: number | undefined }) {
    super('RESULT_UNKNOWN', 'uncertain', message, opts);
    this.name = 'UncertainError';
    this.lastFdBefore = opts.lastFdBefore;
  }
}

/**
 * What the driver's own exchanges prove about the register, so that a brief status before a job needs no exchange
 * of its own. Two things are kept:
 *  - `clock`: the register's clock at its last reading against the host's monotonic clock; extrapolated, and only
 *    for `ttlMs` (then it is read again: the shift policy judges by the register's clock, never the host's);
 *  - `state`: a brief status the last exchanges prove. `settled` is one the driver derived from a document it just
 *    closed successfully (shift open, no receipt open, the printer's state read after the print, the FN's last FD
 *    from the closing answer): status({ brief }) answers with it. Otherwise it is a wire reading, good only for the
 *    very next fiscal operation (it saves that operation's own status reads) and never returned to status().
 * Anything else the driver does (another command, an error, a timeout, a new port) forgets the state, and the clock
 * with a new port; both expire after `ttlMs`.
 */
export class KnownState {
  private clock: { register: number; host: number } | undefined;
  private state: { status: DeviceStatus; settled: boolean } | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly mono: () => number = () => performance.now(),
  ) {}

  /** the register's clock read now ("YYYY-MM-DDTHH:MM[:SS]", the register's local time) */
  clockRead(dateTime: string | undefined): void {
    const t = dateTime ? parseLocal(dateTime) : undefined;
    this.clock = t === undefined ? undefined : { register: t, host: this.mono() };
  }

  /** the register's clock now, extrapolated from its last reading; undefined when that is too old */
  now(): string | undefined {
    const c = this.clock;
    if (!c) return undefined;
    const elapsed = this.mono() - c.host;
    if (elapsed < 0 || elapsed > this.ttlMs) return undefined;
    return formatLocal(c.register + elapsed);
  }

  /** a status the driver just read or derived (its clock is extrapolated from `clock`) */
  set(status: DeviceStatus, settled: boolean): void {
    if (this.ttlMs <= 0) return;
    this.state = { status: { ...status, ...(status.fn ? { fn: { ...status.fn } } : {}) }, settled };
  }

  /** the proven state (a copy, its clock extrapolated), or undefined; `settledOnly`: only a derived one */
  get(settledOnly: boolean): DeviceStatus | undefined {
    const s = this.state;
    if (!s || (settledOnly && !s.settled)) return undefined;
    const dateTime = this.now();
    if (dateTime === undefined) return undefined;
    return { ...s.status, ...(s.status.fn ? { fn: { ...s.status.fn } } : {}), dateTime };
  }

  /** takes the proven state for a fiscal operation: it is forgotten (the operation sets a new one when it succeeds) */
  take(): DeviceStatus | undefined {
    const st = this.get(false);
    this.state = undefined;
    return st;
  }

  forget(): void {
    this.state = undefined;
  }

  /** a driver's status(): the settled state for a brief one, else `read` from the wire (kept for the next receipt) */
  async status(brief: boolean, read: () => Promise<DeviceStatus>): Promise<DeviceStatus> {
    const settled = brief ? this.get(true) : undefined;
    if (settled) return settled;
    const st = await read();
    this.set(st, false);
    return st;
  }

  /** one driver operation: any but a status or a receipt (`keep`) forgets the state first; so does any failure */
  async run<T>(job: () => Promise<T>, keep: boolean): Promise<T> {
    if (!keep) this.forget();
    try {
      return await job();
    } catch (err) {
      this.forget();
      throw err;
    }
  }

  /** a new port (maybe another register): nothing is known */
  reset(): void {
    this.state = undefined;
    this.clock = undefined;
  }
}

function parseLocal(dt: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(dt);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  return Number.isFinite(t) ? t : undefined;
}

function formatLocal(t: number): string {
  return new Date(Math.floor(t / 1000) * 1000).toISOString().slice(0, 19);
}
