/**
 * What every host-side protocol link shares (drivers/shtrih/protocol.ts, drivers/atol/tasks.ts): the error of a
 * failed exchange with what the device may know of it, the small logger interface, and one-at-a-time execution.
 */
import type { BytePort } from './transport.ts';
import { DriverError } from './types.ts';

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
