/**
 * The register's clock: host time plus an offset a test (or the CLI) can advance.
 * Device time is kept as "local wall-clock milliseconds": a number whose UTC fields are the register's local
 * date and time (the FN has no time zone), so formatting and the 24 h shift arithmetic need no time-zone logic.
 */
import { p2 } from '../shtrih/bytes.ts';

export interface DeviceClockOptions {
  /** host clock, epoch ms */
  now?: () => number;
  /** starting offset from host time, ms */
  offsetMs?: number;
  /** register's UTC offset in minutes; the host's own by default */
  utcOffsetMinutes?: number;
}

export class DeviceClock {
  private readonly hostNow: () => number;
  private offsetMs: number;
  private readonly zoneMs: number;

  constructor(opts: DeviceClockOptions = {}) {
    this.hostNow = opts.now ?? Date.now;
    this.offsetMs = opts.offsetMs ?? 0;
    this.zoneMs = (opts.utcOffsetMinutes ?? -new Date().getTimezoneOffset()) * 60_000;
  }

  /** local wall-clock ms (read with UTC getters) */
  localMs(): number {
    return this.hostNow() + this.offsetMs + this.zoneMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  get offset(): number {
    return this.offsetMs;
  }

  /** "YYYY-MM-DDTHH:MM:SS" */
  isoLocal(): string {
    return formatLocal(this.localMs());
  }
}

export function formatLocal(localMs: number): string {
  const d = new Date(localMs);
  return `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())}T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}

/** "YYYY-MM-DDTHH:MM[:SS]" → local wall-clock ms */
export function parseLocal(dt: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(dt);
  if (!m) throw new RangeError(`bad date-time ${dt}`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
}

/** YY MM DD HH MM (FN DATE_TIME) */
export function dateTime5(dt: string): Buffer {
  const d = new Date(parseLocal(dt));
  return Buffer.from([d.getUTCFullYear() - 2000, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes()]);
}

/** classic DD MM YY */
export function dateDMY(localMs: number): Buffer {
  const d = new Date(localMs);
  return Buffer.from([d.getUTCDate(), d.getUTCMonth() + 1, d.getUTCFullYear() % 100]);
}

/** classic HH MM SS */
export function timeHMS(localMs: number): Buffer {
  const d = new Date(localMs);
  return Buffer.from([d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]);
}

/** "1d", "25h", "90m", "30s", "1500" (ms), with an optional sign → ms */
export function parseDuration(text: string): number {
  const m = /^([+-]?)(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new RangeError(`bad duration ${text}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[3] ?? 'ms') as 'ms'];
  return (m[1] === '-' ? -1 : 1) * Math.round(Number(m[2]) * unit);
}
