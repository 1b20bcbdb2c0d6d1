/**
 * Fleet alert rules. Each rule is a condition over one gateway's latest state and health; a condition that holds
 * for the rule's duration raises the alert once, and it is cleared once when the condition stops holding (a state
 * machine per gateway × alert: inactive → pending → active → inactive). The engine only computes transitions; the
 * monitor publishes the active list (retained) and posts the transitions to the webhook.
 */
import type { GatewayRecord } from './state.ts';

export interface Thresholds {
  /** the gateway's state is offline (its last will) or unknown for this long */
  offline_minutes: number;
  /** the register link is down for this long (0: at once) */
  register_down_minutes: number;
  /**
   * the register counts as down too when its last good exchange (health `register.last_ok`) is this much older than
   * the health message itself (`time`): an idle gateway polls its register every health interval, and a register that
   * stopped answering while idle leaves the link "up" with an ageing last_ok
   */
  register_silent_minutes: number;
  /** paper out for this long */
  paper_out_minutes: number;
  /** the shift has been open this many hours (the 54-FZ limit is 24) */
  shift_hours: number;
  /** the FN expires in this many days or fewer (or the FN itself says "replace in 30 days") */
  fn_days: number;
  /** the oldest document not sent to the OFD is this many days old: warning / critical (the FN blocks at 30) */
  ofd_warn_days: number;
  ofd_critical_days: number;
  /** the oldest receipt in the queue has waited this many minutes */
  queue_minutes: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  offline_minutes: 5,
  register_down_minutes: 1,
  register_silent_minutes: 3,
  paper_out_minutes: 0,
  shift_hours: 23,
  fn_days: 30,
  ofd_warn_days: 3,
  ofd_critical_days: 20,
  queue_minutes: 10,
};

export type Severity = 'warning' | 'critical';

export const ALERT_NAMES = ['offline', 'register_down', 'paper_out', 'shift_24h', 'fn_expiring', 'ofd_backlog_warning', 'ofd_backlog_critical', 'queue_stuck'] as const;
export type AlertName = (typeof ALERT_NAMES)[number];

export interface ActiveAlert {
  alert: AlertName;
  severity: Severity;
  /** what was seen, in English (the page translates by `alert`) */
  message: string;
  /** epoch ms it was raised */
  since: number;
}

export interface AlertEvent {
  event: 'raised' | 'cleared';
  gateway_id: string;
  alert: AlertName;
  severity: Severity;
  message: string;
  /** ISO time of the transition */
  at: string;
  /** ISO time it was raised (on `cleared` too) */
  since: string;
}

interface Hit {
  severity: Severity;
  message: string;
  /** how long the condition must hold before the alert is raised, ms */
  forMs: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, any> | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined);
const MIN = 60_000;

/** seconds between the register's last good exchange and the health message, both by the gateway's clock */
export function registerSilentS(h: Record<string, any> | undefined): number | undefined {
  const lastOk = Date.parse(String(obj(h?.register)?.last_ok ?? ''));
  const at = Date.parse(String(h?.time ?? ''));
  return Number.isFinite(lastOk) && Number.isFinite(at) ? Math.max(0, (at - lastOk) / 1000) : undefined;
}

/** the conditions of one register, from its section of health */
function registerHits(h: Record<string, any>, th: Thresholds): Map<AlertName, Hit> {
  const hits = new Map<AlertName, Hit>();
  const reg = obj(h.register);
  const silentS = registerSilentS(h);
  if (reg?.link === 'down') hits.set('register_down', { severity: 'critical', message: `the register does not answer${reg.error ? `: ${String(reg.error)}` : ''}`, forMs: th.register_down_minutes * MIN });
  else if (silentS !== undefined && silentS >= th.register_silent_minutes * 60) hits.set('register_down', { severity: 'critical', message: `the register has not answered for ${Math.round(silentS)} s`, forMs: th.register_down_minutes * MIN });
  if (typeof h.paper === 'string' && h.paper !== 'ok') hits.set('paper_out', { severity: 'critical', message: `paper: ${h.paper}`, forMs: th.paper_out_minutes * MIN });
  const shift = obj(h.shift);
  const hoursOpen = num(obj(h.shift_clock)?.hours_open);
  if (shift?.state === 'expired') hits.set('shift_24h', { severity: 'critical', message: 'the shift is over 24 hours: the register refuses receipts until it is closed', forMs: 0 });
  else if (shift?.state === 'open' && hoursOpen !== undefined && hoursOpen >= th.shift_hours) hits.set('shift_24h', { severity: 'warning', message: `the shift has been open ${hoursOpen} h`, forMs: 0 });
  const fw = obj(h.fn_watch);
  const daysLeft = num(fw?.days_left);
  if ((daysLeft !== undefined && daysLeft <= th.fn_days) || (fw && fw.expiry_level !== undefined && fw.expiry_level !== 'ok')) {
    const critical = fw?.expiry_level === 'critical' || (daysLeft !== undefined && daysLeft <= 3);
    hits.set('fn_expiring', { severity: critical ? 'critical' : 'warning', message: daysLeft !== undefined ? `the FN expires in ${daysLeft} days` : 'the FN asks to be replaced', forMs: 0 });
  }
  const ofd = obj(fw?.ofd);
  const age = num(ofd?.oldest_age_days);
  const unsent = num(ofd?.unsent_count) ?? num(obj(h.fn)?.unsent_count) ?? 0;
  if (unsent > 0 && age !== undefined) {
    const msg = `${unsent} documents not sent to the OFD, the oldest ${age} days`;
    if (age >= th.ofd_critical_days) hits.set('ofd_backlog_critical', { severity: 'critical', message: msg, forMs: 0 });
    else if (age >= th.ofd_warn_days) hits.set('ofd_backlog_warning', { severity: 'warning', message: msg, forMs: 0 });
  }
  return hits;
}

/** Which alert conditions hold for a gateway now. */
export function conditions(g: GatewayRecord, th: Thresholds): Map<AlertName, Hit> {
  const hits = new Map<AlertName, Hit>();
  if (g.state !== 'online') hits.set('offline', { severity: 'critical', message: g.state === 'offline' ? 'the gateway is offline' : 'no state from the gateway', forMs: th.offline_minutes * MIN });
  const h = obj(g.health);
  if (!h) return hits;
  // a pool: every register's section (the top level is the first register's); the first register with a condition names it
  const sections: Array<Record<string, any>> = Array.isArray(h.registers) && h.registers.length > 1 ? h.registers.map((r: Record<string, any>) => ({ ...r, time: h.time })) : [h];
  for (const sec of sections) {
    for (const [name, hit] of registerHits(sec, th)) {
      if (!hits.has(name)) hits.set(name, sections.length > 1 ? { ...hit, message: `${String(sec.name || sec.id)}: ${hit.message}` } : hit);
    }
  }
  const oldest = num(obj(h.queue)?.oldest_age_s);
  if (oldest !== undefined && oldest >= th.queue_minutes * 60) hits.set('queue_stuck', { severity: 'warning', message: `the oldest receipt has waited ${Math.round(oldest / 60)} min`, forMs: 0 });
  return hits;
}

/** The state machine of every gateway × alert. */
export class AlertEngine {
  private readonly active = new Map<string, Map<AlertName, ActiveAlert>>();
  private readonly pending = new Map<string, Map<AlertName, number>>();
  readonly thresholds: Thresholds;

  constructor(thresholds: Partial<Thresholds> = {}) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...thresholds };
  }

  /** the active alerts of a gateway, oldest first */
  list(id: string): ActiveAlert[] {
    return [...(this.active.get(id)?.values() ?? [])].sort((a, b) => a.since - b.since);
  }

  /** gateways with at least one active alert */
  gatewaysWithAlerts(): string[] {
    return [...this.active].filter(([, m]) => m.size > 0).map(([id]) => id);
  }

  /**
   * Takes the active list published before (retained, by an earlier run of the monitor) so a restart does not raise
   * again what is still true; what is no longer true is cleared at the first evaluation.
   */
  restore(id: string, alerts: unknown): void {
    if (!Array.isArray(alerts)) return;
    const m = new Map<AlertName, ActiveAlert>();
    for (const a of alerts) {
      const o = obj(a);
      if (!o || !(ALERT_NAMES as readonly string[]).includes(o.alert)) continue;
      const since = Date.parse(String(o.since));
      m.set(o.alert as AlertName, { alert: o.alert as AlertName, severity: o.severity === 'warning' ? 'warning' : 'critical', message: String(o.message ?? ''), since: Number.isFinite(since) ? since : 0 });
    }
    if (m.size > 0) this.active.set(id, m);
  }

  /** Evaluates one gateway at `now`: the transitions (empty when nothing changed). */
  evaluate(g: GatewayRecord, now: number): AlertEvent[] {
    const hits = conditions(g, this.thresholds);
    const active = this.active.get(g.id) ?? new Map<AlertName, ActiveAlert>();
    const pending = this.pending.get(g.id) ?? new Map<AlertName, number>();
    const events: AlertEvent[] = [];
    const ev = (event: 'raised' | 'cleared', a: ActiveAlert): AlertEvent => ({ event, gateway_id: g.id, alert: a.alert, severity: a.severity, message: a.message, at: new Date(now).toISOString(), since: new Date(a.since).toISOString() });
    for (const [name, a] of active) {
      if (!hits.has(name)) {
        active.delete(name);
        events.push(ev('cleared', a));
      }
    }
    for (const name of [...pending.keys()]) if (!hits.has(name)) pending.delete(name);
    for (const [name, hit] of hits) {
      const cur = active.get(name);
      if (cur) {
        // still active: the message and severity follow what is seen, without a new event
        cur.message = hit.message;
        cur.severity = hit.severity;
        continue;
      }
      const since = pending.get(name) ?? now;
      if (now - since >= hit.forMs) {
        pending.delete(name);
        const a: ActiveAlert = { alert: name, severity: hit.severity, message: hit.message, since: now };
        active.set(name, a);
        events.push(ev('raised', a));
      } else pending.set(name, since);
    }
    if (active.size > 0) this.active.set(g.id, active);
    else this.active.delete(g.id);
    if (pending.size > 0) this.pending.set(g.id, pending);
    else this.pending.delete(g.id);
    return events;
  }

  /** the JSON published retained on `<base>/fleet/alert/<gateway_id>` */
  payload(id: string, now: number): string {
    return JSON.stringify({
      gateway_id: id,
      time: new Date(now).toISOString(),
      alerts: this.list(id).map((a) => ({ alert: a.alert, severity: a.severity, message: a.message, since: new Date(a.since).toISOString() })),
    });
  }
}

export interface WebhookOptions {
  url: string;
  /** extra request headers (e.g. an Authorization token) */
  headers?: Record<string, string>;
  /** attempts per event before it is dropped (default 8) */
  maxAttempts?: number;
  /** first retry delay, doubled each time up to maxDelayMs (defaults 1 s and 60 s) */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** events kept waiting at most; the oldest is dropped beyond (default 10,000) */
  maxQueued?: number;
  timeoutMs?: number;
}

/**
 * Posts alert events to a webhook in order, one at a time, retried with exponential backoff. `push` never blocks
 * and never throws: the monitor's MQTT handling does not wait for a slow or dead receiver.
 */
export class Webhook {
  private readonly queue: AlertEvent[] = [];
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  delivered = 0;
  dropped = 0;

  constructor(private readonly o: WebhookOptions, private readonly log: (msg: string, extra?: object) => void = () => undefined) {}

  push(e: AlertEvent): void {
    if (this.stopped) return;
    this.queue.push(e);
    const max = this.o.maxQueued ?? 10_000;
    while (this.queue.length > max) {
      this.queue.shift();
      this.dropped++;
    }
    if (!this.running) void this.run();
  }

  get pendingCount(): number {
    return this.queue.length;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
      this.timer.unref();
    });
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const e = this.queue[0]!;
        let delay = this.o.minDelayMs ?? 1000;
        const max = this.o.maxAttempts ?? 8;
        let ok = false;
        for (let attempt = 1; attempt <= max && !this.stopped; attempt++) {
          try {
            const res = await fetch(this.o.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...this.o.headers },
              body: JSON.stringify(e),
              signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
            });
            await res.arrayBuffer().catch(() => undefined);
            if (res.ok) {
              ok = true;
              break;
            }
            this.log('webhook answered with an error; retrying', { status: res.status, attempt });
          } catch (err) {
            this.log('webhook unreachable; retrying', { error: (err as Error).message, attempt });
          }
          if (attempt < max) {
            await this.sleep(delay);
            delay = Math.min(delay * 2, this.o.maxDelayMs ?? 60_000);
          }
        }
        this.queue.shift();
        if (ok) this.delivered++;
        else if (!this.stopped) {
          this.dropped++;
          this.log('webhook event dropped after every attempt', { gateway_id: e.gateway_id, alert: e.alert, event: e.event });
        }
      }
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
  }
}
