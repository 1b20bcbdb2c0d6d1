/**
 * The health snapshot (`<base>/health`, the `status` command, the web page): the gateway's sections (queue, MQTT,
 * the pool) and one section per register (`registers`). The first register's section is also spread at the top
 * level, as a gateway of one register always published it (`register`, `paper`, `shift`, `fn`, …).
 */
import type { DeviceStatus } from '../../drivers/types.ts';
import type { DispatcherState } from '../dispatch/dispatcher.ts';
import type { LinkState } from '../device/link.ts';

export interface RegisterHealthInputs {
  id: string;
  name: string;
  port: string;
  link: LinkState;
  /** the configured protocol ('auto': the protocol shown is the one that answered) */
  protocolSetting?: string;
  /** registration data (src/gateway/registration.ts registrationSection) */
  registration?: Record<string, unknown>;
  /** the last Z-report: its figures' source and every difference between the register's figures and the tally */
  zreportCheck?: Record<string, unknown> | null;
  device?: DeviceStatus;
  deviceAt?: number;
  dispatcher: DispatcherState;
  /** the job on this register's wire (bound to it) */
  inflight?: { seq: number; startedAt: number };
  /** extra sections (shift schedule, FN/OFD watch, clock) from the fiscal layer */
  extra?: Record<string, unknown>;
}

export interface HealthInputs {
  gatewayId: string;
  version: string;
  startedAt: number;
  now: number;
  queue: { depth: number; oldestAcceptedAt?: number; outbox: number };
  mqtt: { connected: boolean; broker: string };
  /** registerSection() of every register, in the pool's order */
  registers: Record<string, unknown>[];
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function registerSection(h: RegisterHealthInputs): Record<string, unknown> {
  const d = h.device;
  const b = h.dispatcher.blocked;
  return {
    id: h.id,
    name: h.name || null,
    port: h.port,
    register: {
      link: h.link.up ? 'up' : 'down',
      since: iso(h.link.since),
      last_ok: iso(h.link.lastOkAt),
      protocol: h.link.info?.protocol ?? null,
      protocol_setting: h.protocolSetting ?? null,
      model: h.link.info?.model ?? null,
      serial: h.link.info?.serial ?? null,
      error: h.link.lastError ?? null,
    },
    busy: h.dispatcher.busy,
    blocked: b ? { code: b.code, kind: b.kind, message: b.message, since: iso(b.since) } : null,
    in_flight: h.inflight ? { seq: h.inflight.seq, since: iso(h.inflight.startedAt) } : null,
    registration: h.registration ?? null,
    zreport_check: h.zreportCheck ?? null,
    paper: d ? d.paper : null,
    cover_open: d ? d.coverOpen : null,
    shift: d ? { state: d.shift, number: d.shiftNumber ?? null, receipts: d.receiptNumber ?? null } : null,
    fn: d?.fn
      ? { number: d.fn.serial, last_fd: d.fn.lastFd, warnings: d.fn.warnings, expiry: d.fn.expiry ?? null, unsent_count: d.fn.unsentCount ?? null, unsent_since: d.fn.unsentSince ?? null }
      : null,
    device_read_at: iso(h.deviceAt),
    last_error: h.dispatcher.lastError ? { code: h.dispatcher.lastError.code, message: h.dispatcher.lastError.message, at: iso(h.dispatcher.lastError.at) } : null,
    ...h.extra,
  };
}

export function healthSnapshot(h: HealthInputs): Record<string, unknown> {
  const first = h.registers[0] ?? {};
  const { id: _id, name: _name, port: _port, busy: _busy, blocked, in_flight: _f, ...top } = first;
  const up = h.registers.filter((r) => (r.register as { link?: string } | undefined)?.link === 'up').length;
  const oldestAge = h.queue.oldestAcceptedAt === undefined ? null : Math.max(0, Math.round((h.now - h.queue.oldestAcceptedAt) / 1000));
  return {
    gateway_id: h.gatewayId,
    version: h.version,
    time: iso(h.now),
    uptime_s: Math.round((h.now - h.startedAt) / 1000),
    queue: {
      depth: h.queue.depth,
      oldest_age_s: oldestAge,
      outbox: h.queue.outbox,
      // the first blocked register's reason (a pool of one: the register's)
      blocked: (blocked as unknown) ?? h.registers.map((r) => r.blocked).find((b) => b) ?? null,
    },
    mqtt: h.mqtt,
    ...top,
    pool: {
      registers: h.registers.length,
      up,
      printing: h.registers.filter((r) => r.in_flight).length,
      waiting: h.queue.depth - h.registers.filter((r) => r.in_flight).length,
      oldest_age_s: oldestAge,
    },
    registers: h.registers,
  };
}
