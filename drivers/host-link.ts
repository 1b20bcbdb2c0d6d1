/**
 * What every host-side protocol link shares (drivers/shtrih/protocol.ts, drivers/atol/tasks.ts): the error of a
 * failed exchange with what the device may know of it, the small logger interface, and one-at-a-time execution.
 */
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
