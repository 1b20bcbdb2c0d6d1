/**
 * The fleet monitor's picture of every gateway: the latest `state`, `health` and Z-reports seen on MQTT, stored as
 * parsed JSON with the time they arrived. Nothing is computed per message beyond storing; metrics, alerts and the
 * page read from here.
 */
import { registerSilentS } from './alerts.ts';

export interface GatewayRecord {
  id: string;
  /** 'online' | 'offline' as published on `<base>/<id>/state`; undefined until seen */
  state?: 'online' | 'offline';
  stateAt?: number;
  health?: Record<string, unknown>;
  healthAt?: number;
  /** the latest Z-reports, newest first */
  zreports: Array<{ at: number; report: Record<string, unknown> }>;
  /** epoch ms of the last message of any kind from this gateway */
  lastSeen: number;
}

export type Kind = 'state' | 'health' | 'zreport';

const obj = (v: unknown): Record<string, any> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

export class FleetState {
  readonly gateways = new Map<string, GatewayRecord>();
  /** messages that were not JSON objects (counted, otherwise ignored) */
  malformed = 0;

  constructor(private readonly zreportsKept = 10) {}

  get(id: string): GatewayRecord | undefined {
    return this.gateways.get(id);
  }

  private record(id: string, now: number): GatewayRecord {
    let g = this.gateways.get(id);
    if (!g) {
      g = { id, zreports: [], lastSeen: now };
      this.gateways.set(id, g);
    }
    return g;
  }

  /**
   * Stores one message. `retained`: a message the broker kept (replayed at subscribe) — it tells the latest value but
   * not that the gateway spoke now, so it does not count as "seen" unless nothing else was. Returns the record, or
   * undefined when the payload was unusable.
   */
  ingest(id: string, kind: Kind, payload: Buffer | string, now: number, retained = false): GatewayRecord | undefined {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      body = undefined;
    }
    const o = obj(body);
    if (!o) {
      // an empty retained payload is a deletion: a gateway removed from the fleet
      if (payload.length === 0 && kind !== 'zreport') {
        const g = this.gateways.get(id);
        if (g && kind === 'state') delete g.state;
        if (g && kind === 'health') delete g.health;
        if (g && g.state === undefined && g.health === undefined && g.zreports.length === 0) this.gateways.delete(id);
        return g;
      }
      this.malformed++;
      return undefined;
    }
    const g = this.record(id, now);
    if (!retained || g.lastSeen === undefined) g.lastSeen = now;
    if (kind === 'state') {
      g.state = o.state === 'online' ? 'online' : 'offline';
      g.stateAt = now;
    } else if (kind === 'health') {
      g.health = o;
      g.healthAt = now;
    } else {
      g.zreports.unshift({ at: now, report: o });
      if (g.zreports.length > this.zreportsKept) g.zreports.length = this.zreportsKept;
    }
    return g;
  }
}

/** The register's id for the `device` label: health's `device_id` when the gateway gives one, else "main". */
export function deviceOf(g: GatewayRecord): string {
  const d = g.health?.device_id;
  return typeof d === 'string' && d !== '' ? d : 'main';
}

/**
 * A date-time as the gateway writes it ("dd.mm.yyyy HH:MM[:SS]" or ISO "YYYY-MM-DDTHH:MM[:SS]") → epoch ms, read as
 * the monitor host's local time (the gateway writes its local wall clock without a zone); NaN when unreadable.
 */
export function parseGatewayTime(s: unknown): number {
  if (typeof s !== 'string') return NaN;
  let m = /^(\d{2})\.(\d{2})\.(\d{4})[ T](\d{2}):(\d{2})(?::(\d{2}))?/.exec(s);
  if (m) return new Date(+m[3]!, +m[2]! - 1, +m[1]!, +m[4]!, +m[5]!, +(m[6] ?? 0)).getTime();
  m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?/.exec(s);
  if (m) return m[7] ? Date.parse(s) : new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +(m[6] ?? 0)).getTime();
  return NaN;
}

/** The figures of one gateway the metrics and the page show (undefined: not known). */
export interface Figures {
  up: boolean;
  lastSeenAgeS: number;
  queueDepth?: number;
  queueOldestS?: number;
  registerUp?: boolean;
  paperOk?: boolean;
  shiftOpenHours?: number;
  fnDaysLeft?: number;
  ofdUnsent?: number;
  ofdOldestDays?: number;
  /** epoch seconds of the last Z-report (a Z-report message, else health's zreport_check) */
  zreportLastS?: number;
}

type RegisterFigures = Pick<Figures, 'registerUp' | 'paperOk' | 'shiftOpenHours' | 'fnDaysLeft' | 'ofdUnsent' | 'ofdOldestDays'>;

/** one register's figures from its section of health (a gateway of one register: the top level) */
function registerFigures(h: Record<string, any>, silentAfterS: number): RegisterFigures {
  const f: RegisterFigures = {};
  const reg = obj(h.register);
  if (reg && typeof reg.link === 'string') f.registerUp = reg.link === 'up' && !((registerSilentS(h) ?? 0) >= silentAfterS);
  if (typeof h.paper === 'string') f.paperOk = h.paper === 'ok';
  const shift = obj(h.shift);
  if (shift?.state === 'closed') f.shiftOpenHours = 0;
  else f.shiftOpenHours = num(obj(h.shift_clock)?.hours_open);
  const fw = obj(h.fn_watch);
  f.fnDaysLeft = num(fw?.days_left);
  const ofd = obj(fw?.ofd);
  f.ofdUnsent = num(ofd?.unsent_count) ?? num(obj(h.fn)?.unsent_count);
  f.ofdOldestDays = num(ofd?.oldest_age_days);
  return f;
}

/**
 * `silentAfterS`: the register counts as down when its last good exchange is this much older than the health
 * message (src/fleet/alerts.ts registerSilentS), even though the gateway still says "up".
 */
export function figures(g: GatewayRecord, now: number, silentAfterS = Infinity): Figures {
  const h = g.health;
  const f: Figures = { up: g.state === 'online', lastSeenAgeS: Math.max(0, (now - g.lastSeen) / 1000) };
  if (h) {
    const q = obj(h.queue);
    f.queueDepth = num(q?.depth);
    f.queueOldestS = q ? (num(q.oldest_age_s) ?? 0) : undefined;
    // a pool: one section per register (the top level is the first register's); the gateway's figure is the worst
    const sections: Record<string, any>[] = Array.isArray(h.registers) && h.registers.length > 0 ? h.registers.map((r: Record<string, any>) => ({ ...r, time: h.time })) : [h];
    const per = sections.map((r) => registerFigures(r, silentAfterS));
    const all = <K extends keyof RegisterFigures>(k: K): Array<NonNullable<RegisterFigures[K]>> => per.flatMap((p) => (p[k] === undefined ? [] : [p[k]!]));
    if (all('registerUp').length > 0) f.registerUp = all('registerUp').every(Boolean);
    if (all('paperOk').length > 0) f.paperOk = all('paperOk').every(Boolean);
    const worst = (k: 'shiftOpenHours' | 'fnDaysLeft' | 'ofdUnsent' | 'ofdOldestDays', pick: (...n: number[]) => number): number | undefined => (all(k).length > 0 ? pick(...all(k)) : undefined);
    f.shiftOpenHours = worst('shiftOpenHours', Math.max);
    f.fnDaysLeft = worst('fnDaysLeft', Math.min);
    f.ofdUnsent = worst('ofdUnsent', (...n) => n.reduce((a, b) => a + b, 0));
    f.ofdOldestDays = worst('ofdOldestDays', Math.max);
  }
  const z = g.zreports[0]?.report;
  let zt = parseGatewayTime(z?.datetime);
  if (!Number.isFinite(zt)) zt = parseGatewayTime(obj(h?.zreport_check)?.at);
  if (Number.isFinite(zt)) f.zreportLastS = Math.floor(zt / 1000);
  return f;
}
