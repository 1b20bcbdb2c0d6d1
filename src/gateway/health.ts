/** The health snapshot (`<base>/health`, the `status` command, the web page). */
import type { DeviceStatus } from '../../drivers/types.ts';
import type { DispatcherState } from '../dispatch/dispatcher.ts';
import type { LinkState } from '../device/link.ts';

export interface HealthInputs {
  gatewayId: string;
  version: string;
  startedAt: number;
  now: number;
  queue: { depth: number; oldestAcceptedAt?: number; outbox: number };
  mqtt: { connected: boolean; broker: string };
  link: LinkState;
  /** the configured `device.protocol` ('auto': the protocol shown is the one that answered) */
  protocolSetting?: string;
  /** registration data (src/gateway/registration.ts registrationSection) */
  registration?: Record<string, unknown>;
  /** the last Z-report: its figures' source and every difference between the register's figures and the tally */
  zreportCheck?: Record<string, unknown> | null;
  device?: DeviceStatus;
  deviceAt?: number;
  dispatcher: DispatcherState;
  /** extra sections (shift schedule, FN/OFD watch, clock) from the fiscal layer */
  extra?: Record<string, unknown>;
}

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

export function healthSnapshot(h: HealthInputs): Record<string, unknown> {
  const d = h.device;
  return {
    gateway_id: h.gatewayId,
    version: h.version,
    time: iso(h.now),
    uptime_s: Math.round((h.now - h.startedAt) / 1000),
    queue: {
      depth: h.queue.depth,
      oldest_age_s: h.queue.oldestAcceptedAt === undefined ? null : Math.max(0, Math.round((h.now - h.queue.oldestAcceptedAt) / 1000)),
      outbox: h.queue.outbox,
      blocked: h.dispatcher.blocked ? { code: h.dispatcher.blocked.code, kind: h.dispatcher.blocked.kind, message: h.dispatcher.blocked.message, since: iso(h.dispatcher.blocked.since) } : null,
    },
    mqtt: h.mqtt,
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
