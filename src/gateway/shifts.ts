/**
 * Shift policy: a shift is opened before the first job that needs one; an expired shift (24 h, mode 3) is closed
 * with a Z-report first; a shift is closed at the configured local time and in any case `max_hours` after it was
 * opened, then reopened — receipts wait in the queue meanwhile and never fail because of it.
 */
import type { DeviceStatus, FiscalDriver, ShiftResult, ZReportResult } from '../../drivers/types.ts';
import type { DispatchJob } from '../dispatch/dispatcher.ts';
import type { Logger } from '../log.ts';

export interface ShiftDeps {
  logger: Logger;
  cashier: () => { name: string; inn?: string } | undefined;
  /** "HH:MM" local (register) time */
  closeAt: () => string;
  maxHours: () => number;
  /** a Z-report was printed automatically: record and publish it */
  onZReport: (z: ZReportResult, reason: string) => Promise<void>;
  /** persisted knowledge of the current shift (survives restarts) */
  load: () => Promise<{ number: number; openedAt: string } | undefined>;
  save: (s: { number: number; openedAt: string } | undefined) => Promise<void>;
}

/** "YYYY-MM-DDTHH:MM[:SS]" → ms, read as UTC (register local time compared with register local time). */
export function localMs(dt: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(dt);
  if (!m) return NaN;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0));
}

/** Is a close due: past `max_hours` since opening, or a scheduled close time passed since opening? */
export function closeDue(openedAt: string, now: string, closeAt: string, maxHours: number): 'max_hours' | 'schedule' | undefined {
  const opened = localMs(openedAt);
  const t = localMs(now);
  if (!Number.isFinite(opened) || !Number.isFinite(t)) return undefined;
  if (t - opened >= maxHours * 3600_000) return 'max_hours';
  const [hh, mm] = closeAt.split(':').map(Number) as [number, number];
  // the first scheduled close strictly after opening
  const day = new Date(opened);
  let next = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hh, mm);
  if (next <= opened) next += 24 * 3600_000;
  return t >= next ? 'schedule' : undefined;
}

export class Shifts {
  constructor(private readonly d: ShiftDeps) {}

  async beforeJob(status: DeviceStatus, driver: FiscalDriver, job: DispatchJob): Promise<void> {
    if (job.command === 'close_shift' || job.command === 'x_report') return;
    let shift = status.shift;
    if (shift === 'open' && status.dateTime) {
      const known = await this.d.load();
      const why = known && known.number === status.shiftNumber ? closeDue(known.openedAt, status.dateTime, this.d.closeAt(), this.d.maxHours()) : undefined;
      if (why) {
        await this.close(driver, why);
        shift = 'closed';
      }
    }
    if (shift === 'expired') {
      await this.close(driver, 'expired');
      shift = 'closed';
    }
    if (shift === 'closed' && job.command !== 'open_shift') await this.open(driver);
  }

  async open(driver: FiscalDriver): Promise<ShiftResult> {
    const opened = await driver.openShift(this.d.cashier());
    await this.d.save({ number: opened.shiftNumber, openedAt: opened.dateTime });
    this.d.logger.info({ shift: opened.shiftNumber, fd: opened.fdNumber }, 'shift opened');
    return opened;
  }

  /** Z-report; `reason` is "command" when asked for, else why the policy closed it */
  async close(driver: FiscalDriver, reason: string): Promise<ZReportResult> {
    const z = await driver.closeShift(this.d.cashier());
    await this.d.save(undefined);
    this.d.logger.info({ shift: z.shiftNumber, fd: z.fdNumber, reason }, 'shift closed (Z-report)');
    if (reason !== 'command') await this.d.onZReport(z, reason);
    return z;
  }
}
