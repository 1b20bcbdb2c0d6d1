/**
 * FN, OFD and clock watch for health and the status command. Everything is judged by the register's clock (the
 * host of a Raspberry Pi has no RTC and boots with a stale time until NTP syncs): ages and days left come from the
 * register's date-time in the status; the host clock is only compared with it, and its drift reported.
 */
import type { DeviceStatus } from '../../drivers/types.ts';
import type { WatchConfig } from '../config/schema.ts';

export type Level = 'ok' | 'warn' | 'critical';

const DAY = 86_400_000;
const two = (n: number): string => String(n).padStart(2, '0');

/** "YYYY-MM-DDTHH:MM[:SS]" (or a date alone) → wall-clock ms read as UTC; NaN when unreadable. */
export function wallMs(dt: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(dt);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)) : NaN;
}

/** A host epoch time as the host's local wall clock, in the same "ms read as UTC" form as wallMs. */
export function hostWallMs(epochMs: number): number {
  const d = new Date(epochMs);
  return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds());
}

function isoWall(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/**
 * Register clock − host clock in ms, both as local wall clocks, at the moment the status was read (`readAt`, host
 * epoch ms). Positive: the host is behind (a Pi booted with a stale clock). Undefined when the register gave no time.
 */
export function clockDrift(status: DeviceStatus | undefined, readAt: number): number | undefined {
  const reg = status?.dateTime ? wallMs(status.dateTime) : NaN;
  return Number.isFinite(reg) ? reg - hostWallMs(readAt) : undefined;
}

/** The health sections `fn_watch` and `clock`. */
export function watchSections(status: DeviceStatus, readAt: number, cfg: WatchConfig): Record<string, unknown> {
  const regNow = status.dateTime ? wallMs(status.dateTime) : NaN;
  const fn = status.fn;
  let fnWatch: Record<string, unknown> | null = null;
  if (fn) {
    const expiry = fn.expiry ? wallMs(fn.expiry) : NaN;
    const daysLeft = Number.isFinite(expiry) && Number.isFinite(regNow) ? Math.floor((expiry - regNow) / DAY) : null;
    const w = fn.warnings;
    const warnings = { replace_in_3_days: (w & 1) !== 0, replace_in_30_days: (w & 2) !== 0, memory_90_percent: (w & 4) !== 0, ofd_timeout: (w & 8) !== 0 };
    const expiryLevel: Level = daysLeft === null ? (warnings.replace_in_3_days ? 'critical' : warnings.replace_in_30_days ? 'warn' : 'ok')
      : daysLeft <= cfg.fn_critical_days || warnings.replace_in_3_days ? 'critical'
        : daysLeft <= cfg.fn_warn_days || warnings.replace_in_30_days ? 'warn' : 'ok';
    const since = fn.unsentSince ? wallMs(fn.unsentSince) : NaN;
    const unsentAge = (fn.unsentCount ?? 0) > 0 && Number.isFinite(since) && Number.isFinite(regNow) ? Math.max(0, (regNow - since) / DAY) : 0;
    const ofdLevel: Level = unsentAge >= cfg.ofd_critical_days || warnings.ofd_timeout ? 'critical' : unsentAge >= cfg.ofd_warn_days ? 'warn' : 'ok';
    fnWatch = {
      expiry: fn.expiry ?? null,
      days_left: daysLeft,
      expiry_level: expiryLevel,
      warnings,
      memory_level: warnings.memory_90_percent ? 'warn' : 'ok',
      ofd: {
        unsent_count: fn.unsentCount ?? null,
        oldest_unsent: fn.unsentSince ?? null,
        oldest_age_days: Math.floor(unsentAge * 10) / 10,
        days_before_block: (fn.unsentCount ?? 0) > 0 ? Math.max(0, Math.floor(30 - unsentAge)) : null,
        level: ofdLevel,
        warn_days: cfg.ofd_warn_days,
        critical_days: cfg.ofd_critical_days,
      },
    };
  }
  const drift = clockDrift(status, readAt);
  const synced = drift === undefined ? null : Math.abs(drift) <= cfg.clock_drift_max_s * 1000;
  return {
    fn_watch: fnWatch,
    clock: {
      register: status.dateTime ?? null,
      host: isoWall(hostWallMs(readAt)),
      drift_s: drift === undefined ? null : Math.round(drift / 1000),
      host_synced: synced,
      max_drift_s: cfg.clock_drift_max_s,
      ...(synced === false ? { warning: 'host clock differs from the register’s: shifts follow the register clock; gateway timestamps are corrected by the drift' } : {}),
    },
  };
}
