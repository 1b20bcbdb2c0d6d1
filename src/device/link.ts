/** Keeps one opened driver for the register; reopens it after the link is dropped. */
import { EventEmitter } from 'node:events';
import { DriverError, type DeviceInfo, type FiscalDriver } from '../../drivers/types.ts';
import type { Logger } from '../log.ts';

export interface LinkState {
  up: boolean;
  info?: DeviceInfo;
  lastOkAt?: number;
  lastError?: string;
  since: number;
}

export class DeviceLink extends EventEmitter {
  private driver: FiscalDriver | undefined;
  private opening: Promise<FiscalDriver> | undefined;
  readonly state: LinkState;

  constructor(
    private readonly factory: () => Promise<FiscalDriver>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.state = { up: false, since: now() };
  }

  /** the opened driver; opens (identifies the device) when needed */
  get(): Promise<FiscalDriver> {
    if (this.closing) return Promise.reject(new DriverError('STOPPING', 'retryable', 'the register link is closed'));
    if (this.driver) return Promise.resolve(this.driver);
    this.opening ??= this.open().finally(() => (this.opening = undefined));
    return this.opening;
  }

  private async open(): Promise<FiscalDriver> {
    let driver: FiscalDriver | undefined;
    try {
      driver = await this.factory();
      const info = await driver.open();
      // closed while it was opening: the port must not stay open behind the stop (it would keep the process alive)
      if (this.closing) throw new DriverError('STOPPING', 'retryable', 'the register link was closed while opening');
      this.driver = driver;
      this.setUp(true, info);
      this.logger.info({ model: info.model, serial: info.serial, fn: info.fnNumber }, 'register connected');
      return driver;
    } catch (err) {
      await driver?.close().catch(() => undefined);
      this.setUp(false, undefined, (err as Error).message);
      throw err instanceof DriverError ? err : new DriverError('NO_LINK', 'retryable', `register not reachable: ${(err as Error).message}`, { cause: err });
    }
  }

  /** marks an exchange as successful (for health: last successful exchange) */
  touch(): void {
    this.state.lastOkAt = this.now();
  }

  async drop(reason: Error): Promise<void> {
    const d = this.driver;
    this.driver = undefined;
    if (d) {
      if (!this.closing) this.logger.warn({ reason: reason.message }, 'register link dropped; will reconnect');
      await d.close().catch(() => undefined);
    }
    this.setUp(false, this.state.info, reason.message);
  }

  private setUp(up: boolean, info?: DeviceInfo, error?: string): void {
    const changed = this.state.up !== up;
    this.state.up = up;
    if (info) this.state.info = info;
    if (up) {
      this.state.lastOkAt = this.now();
      delete this.state.lastError;
    } else if (error) this.state.lastError = error;
    if (changed) {
      this.state.since = this.now();
      this.emit('change', this.state);
    }
  }

  private closing = false;

  /** closes the link, waiting for an open in progress (whose port is then closed too) */
  async close(): Promise<void> {
    this.closing = true;
    await this.opening?.catch(() => undefined);
    await this.drop(new Error('stopping'));
  }
}
