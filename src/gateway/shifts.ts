/**
 * Shift policy: a shift is opened before the first job that needs one; an expired shift (24 h, mode 3) is closed
 * with a Z-report first; a shift is closed at the configured local time and in any case `max_hours` after it was
 * opened, then reopened — receipts wait in the queue meanwhile and never fail because of it.
 */
import { DriverError, type DeviceStatus, type FiscalDriver, type ShiftFigures, type ShiftResult, type ZReportResult } from '../../drivers/types.ts';

/** The register's counters read before a Z-report, or why there are none. */
export type FiguresRead = { figures: ShiftFigures } | { unavailable: string };

/**
 * Reads the register's own figures of the shift about to be closed. Never stands in the way of the close (the law's
 * 24 h limit matters more than the figures): a refusal is reported as `unavailable`; a lost link is thrown, as the
 * close would fail on it anyway.
 */
export async function readFigures(driver: FiscalDriver): Promise<FiguresRead> {
  if (!driver.shiftFigures) return { unavailable: 'this register driver reads no shift figures' };
  try {
    return { figures: await driver.shiftFigures() };
  } catch (err) {
    if (err instanceof DriverError && (err.code === 'NO_LINK' || err.code === 'STOPPING')) throw err;
    return { unavailable: `the register refused its figures: ${(err as Error).message}` };
  }
}
import type { DispatchJob } from '../dispatch/dispatcher.ts';
import type { Logger } from '../log.ts';
import type { Mutex } from '../../drivers/host-link.ts';

export interface ShiftDeps {
  logger: Logger;
  cashier: () => { name: string; inn?: string } | undefined;
  /** "HH:MM" local (register) time */
  closeAt: () => string;
  maxHours: () => number;
  /** the contract's Z-report of a closed shift, and the named values to store in the same batch as the report */
  buildZReport: (z: ZReportResult, reason: string, status: DeviceStatus | undefined, figures: FiguresRead) => Promise<ZReportRecord>;
  /** a Z-report was printed automatically (not by command): store and publish it with its named values, one batch */
  onZReport: (z: ZReportRecord) => Promise<void>;
  /** persisted knowledge of the current shift (survives restarts) */
  load: () => Promise<{ number: number; openedAt: string } | undefined>;
  save: (s: { number: number; openedAt: string } | undefined) => Promise<void>;
  /** held while a Z-report prints: one register of a pool closes at a time (the others keep printing) */
  closeLock?: Mutex;
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
  return t >= firstCloseAfter(opened, closeAt) ? 'schedule' : undefined;
}

/** the first scheduled close ("HH:MM", register time) strictly after `opened` (ms, register time read as UTC) */
function firstCloseAfter(opened: number, closeAt: string): number {
  const [hh, mm] = closeAt.split(':').map(Number) as [number, number];
  const day = new Date(opened);
  const next = Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate(), hh, mm);
  return next <= opened ? next + 24 * 3600_000 : next;
}

/** The open shift's clock for the status page: when it opened, hours left before the register's 24 h limit, the next close. */
export function shiftClock(openedAt: string, now: string, closeAt: string, maxHours: number): { opened_at: string; hours_open: number; hours_left_24h: number; next_close: string } | undefined {
  const opened = localMs(openedAt);
  const t = localMs(now);
  if (!Number.isFinite(opened) || !Number.isFinite(t)) return undefined;
  const next = Math.min(firstCloseAfter(opened, closeAt), opened + maxHours * 3600_000);
  const tenths = (ms: number): number => Math.floor(ms / 360_000) / 10;
  return { opened_at: openedAt, hours_open: tenths(t - opened), hours_left_24h: Math.max(0, tenths(opened + 24 * 3600_000 - t)), next_close: new Date(next).toISOString().slice(0, 16) };
}

export interface ZReportRecord {
  report: Record<string, unknown>;
  meta: Record<string, unknown>;
}

/** The internal queued job the gateway's timer adds when a close is due with no receipt waiting. */
export const SHIFT_CHECK = 'shift_check';

export class Shifts {
  constructor(private readonly d: ShiftDeps) {}

  /** this register's daily close time ("HH:MM", register time) */
  closeAt(): string {
    return this.d.closeAt();
  }

  /**
   * Is a close due now, by the register's clock in `status` (never the host's): 'expired' (mode 3), 'max_hours' or
   * 'schedule'. A shift the gateway has no record of (opened elsewhere, or its record lost) is adopted with the
   * register's present time as its opening time: the schedule still applies; the 24 h limit then rests on mode 3.
   */
  async due(status: DeviceStatus): Promise<'expired' | 'max_hours' | 'schedule' | undefined> {
    if (status.shift === 'expired') return 'expired';
    if (status.shift !== 'open' || !status.dateTime || status.shiftNumber === undefined) return undefined;
    let known = await this.d.load();
    if (!known || known.number !== status.shiftNumber) {
      known = { number: status.shiftNumber, openedAt: status.dateTime };
      await this.d.save(known);
      this.d.logger.warn({ shift: status.shiftNumber, at: status.dateTime }, 'an open shift the gateway has no record of: adopted, opening time taken as now');
    }
    return closeDue(known.openedAt, status.dateTime, this.d.closeAt(), this.d.maxHours());
  }

  /** Opens or closes the shift as the policy says; resolves true when a shift document was printed. */
  async beforeJob(status: DeviceStatus, driver: FiscalDriver, job: DispatchJob): Promise<boolean> {
    if (job.command === 'close_shift' || job.command === 'x_report') return false;
    const why = await this.due(status);
    if (why) await this.close(driver, why);
    const shift = why ? 'closed' : status.shift;
    // the timer's check job only closes; the next receipt opens the new shift
    const open = shift === 'closed' && job.command !== 'open_shift' && job.command !== SHIFT_CHECK;
    if (open) await this.open(driver);
    return why !== undefined || open;
  }

  async open(driver: FiscalDriver): Promise<ShiftResult> {
    const opened = await driver.openShift(this.d.cashier());
    await this.d.save({ number: opened.shiftNumber, openedAt: opened.dateTime });
    this.d.logger.info({ shift: opened.shiftNumber, fd: opened.fdNumber }, 'shift opened');
    return opened;
  }

  /** Z-report; `reason` is "command" when asked for, else why the policy closed it. Returns the report to store. */
  async close(driver: FiscalDriver, reason: string): Promise<ZReportRecord> {
    return this.d.closeLock ? this.d.closeLock.run(() => this.closeNow(driver, reason)) : this.closeNow(driver, reason);
  }

  private async closeNow(driver: FiscalDriver, reason: string): Promise<ZReportRecord> {
    // the values the paper Z-report prints, read in the same job just before the close
    const figures = await readFigures(driver);
    const z = await driver.closeShift(this.d.cashier());
    await this.d.save(undefined);
    this.d.logger.info({ shift: z.shiftNumber, fd: z.fdNumber, reason }, 'shift closed (Z-report)');
    // FN number and the OFD queue as they stand after the close; best effort (the Z-report is printed already)
    const status = await driver.status().catch(() => undefined);
    const record = await this.d.buildZReport(z, reason, status, figures);
    if (reason !== 'command') await this.d.onZReport(record);
    return record;
  }
}
