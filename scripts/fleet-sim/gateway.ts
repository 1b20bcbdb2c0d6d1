/**
 * One simulated gateway: the gateway's real MQTT bridge (src/mqtt/bridge.ts: fixed client id, persistent session,
 * retained `online` with the `offline` last will) and its real health code (src/gateway/health.ts healthSnapshot
 * with the FN/OFD watch sections and the shift clock of src/gateway), fed with a simulated register whose clock runs
 * compressed: one register "day" takes `dayMs` of real time, with a Z-report at the day's close.
 *
 * Faults: paper out (health on change, as the gateway publishes it), register down, and offline — the socket closed
 * without a DISCONNECT, so the broker publishes the last will — then back after a while.
 */
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { MqttBridge } from '../../src/mqtt/bridge.ts';
import { healthSnapshot, registerSection } from '../../src/gateway/health.ts';
import { watchSections } from '../../src/gateway/watch.ts';
import { shiftClock } from '../../src/gateway/shifts.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { VERSION } from '../../src/service.ts';
import type { DeviceStatus, PaperState } from '../../drivers/types.ts';
import type { LinkState } from '../../src/device/link.ts';

export type Fault = 'paper_out' | 'register_down' | 'offline';

export interface SimClock {
  /** real epoch ms at which register time 0 of day 0 (a 08:00 shift opening) happened */
  t0: number;
  /** real ms per simulated day */
  dayMs: number;
}

const DAY = 86_400_000;
const REGISTER_EPOCH = Date.UTC(2026, 0, 12, 8, 0, 0); // a Monday, 08:00, the first shift opens
const two = (n: number): string => String(n).padStart(2, '0');
const wall = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}T${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
};
const silent = pino({ level: 'silent' });

/** a small deterministic PRNG (mulberry32) */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimGateway {
  readonly id: string;
  readonly config: Config;
  bridge: MqttBridge;
  private client: MqttClient | undefined;
  private readonly startedAt = Date.now();
  private paper: PaperState = 'ok';
  private linkUp = true;
  private linkSince = Date.now();
  private shiftNumber: number;
  private receipts = 0;
  private lastFd: number;
  private lastZDay = -1;
  private healthTimer: NodeJS.Timeout | undefined;
  private zTimer: NodeJS.Timeout | undefined;
  private readonly fnExpiry: string;
  private readonly unsent: number;
  /** messages published (health, zreport), for the rate */
  published = 0;
  zreports = 0;

  constructor(index: number, private readonly url: string, private readonly clock: SimClock, private readonly healthMs: number, rand: () => number) {
    this.id = `sim-${String(index).padStart(4, '0')}`;
    this.config = parseConfig({ gateway_id: this.id, mqtt: { url, protocol_version: 4, health_interval: Math.max(1, Math.round(healthMs / 1000)), reconnect_min_ms: 500, reconnect_max_ms: 5000 }, device: { port: '/dev/null' } }, {}, 'fleet-sim');
    this.shiftNumber = 100 + Math.floor(rand() * 200);
    this.lastFd = 1000 + Math.floor(rand() * 50_000);
    // FN expiries months away (no alert), a realistic share with a few unsent documents
    this.fnExpiry = wall(REGISTER_EPOCH + (90 + Math.floor(rand() * 600)) * DAY).slice(0, 10);
    this.unsent = rand() < 0.2 ? 1 + Math.floor(rand() * 3) : 0;
    this.bridge = this.makeBridge();
  }

  private makeBridge(): MqttBridge {
    return new MqttBridge({
      mqtt: this.config.mqtt,
      logger: silent as never,
      // the simulator takes no receipts: acknowledge what comes (nothing does in this run)
      onMessage: async () => undefined,
      connect: (url, opts) => (this.client = mqtt.connect(url, opts)),
    });
  }

  /** register time now (compressed) */
  registerNow(now = Date.now()): number {
    return REGISTER_EPOCH + ((now - this.clock.t0) / this.clock.dayMs) * DAY;
  }

  private status(now: number): DeviceStatus {
    const reg = this.registerNow(now);
    const sinceOpen = (reg - REGISTER_EPOCH) % DAY;
    const open = sinceOpen < 14 * 3600_000; // 08:00–22:00 open, the Z at 22:00
    this.receipts = open ? Math.floor(sinceOpen / 600_000) : 0; // a receipt every 10 register minutes
    return {
      mode: open ? 2 : 4,
      submode: 0,
      receiptOpen: false,
      shift: open ? 'open' : 'closed',
      shiftNumber: this.shiftNumber,
      receiptNumber: this.receipts,
      paper: this.paper,
      coverOpen: false,
      dateTime: wall(reg),
      fn: {
        serial: `99990789${this.id.slice(4)}00001`,
        phase: 3,
        lastFd: this.lastFd + this.receipts,
        warnings: 0,
        expiry: this.fnExpiry,
        unsentCount: this.unsent,
        ...(this.unsent > 0 ? { unsentSince: wall(reg - 3600_000) } : {}),
      },
    };
  }

  health(now = Date.now()): Record<string, unknown> {
    const st = this.status(now);
    const link: LinkState = this.linkUp
      ? { up: true, since: this.linkSince, lastOkAt: now, info: { protocol: 'shtrih', model: 'ШТРИХ-М-01Ф (simulated)', modelCode: 0, serial: `SIM${this.id.slice(4)}`, inn: '7700000000', fnNumber: st.fn!.serial, firmware: 'sim' } }
      : { up: false, since: this.linkSince, lastError: 'no answer from the register (simulated)' };
    const openedAt = wall(REGISTER_EPOCH + Math.floor((this.registerNow(now) - REGISTER_EPOCH) / DAY) * DAY);
    return healthSnapshot({
      gatewayId: this.id,
      version: VERSION,
      startedAt: this.startedAt,
      now,
      queue: { depth: 0, outbox: 0 },
      mqtt: { connected: this.bridge.connected, broker: this.url },
      registers: [registerSection({
        id: 'kkt1',
        name: '',
        port: '/dev/ttyACM0',
        link,
        protocolSetting: 'auto',
        device: st,
        deviceAt: now,
        dispatcher: this.paper === 'ok' ? { busy: false } : { busy: false, blocked: { code: 'PAPER_OUT', kind: 'device', message: 'out of paper', since: now } },
        extra: {
          ...watchSections(st, now, this.config.watch),
          shift_clock: st.shift === 'open' ? (shiftClock(openedAt, st.dateTime!, this.config.shift.close_at, this.config.shift.max_hours) ?? null) : null,
        },
      })],
    });
  }

  /** connects; resolves once subscribed (the bridge's 'connect') */
  async start(): Promise<void> {
    const up = new Promise<void>((resolve) => this.bridge.once('connect', () => resolve()));
    this.bridge.start();
    await up;
    await this.publishHealth();
    this.schedule();
  }

  private schedule(): void {
    // spread over the interval so N gateways do not publish in one burst
    const phase = Math.floor(Math.random() * this.healthMs);
    this.healthTimer = setTimeout(() => {
      void this.publishHealth();
      this.healthTimer = setInterval(() => void this.publishHealth(), this.healthMs);
    }, phase);
    this.zTimer = setInterval(() => void this.maybeZ(), Math.max(250, this.clock.dayMs / 40));
  }

  private unschedule(): void {
    clearTimeout(this.healthTimer);
    clearInterval(this.healthTimer);
    clearInterval(this.zTimer);
  }

  async publishHealth(): Promise<void> {
    if (!this.bridge.connected) return;
    this.published++;
    await this.bridge.publish(this.bridge.topics.health, JSON.stringify(this.health()), { retain: true }).catch(() => undefined);
  }

  /** the day's Z-report once the register clock passed 22:00 */
  private async maybeZ(): Promise<void> {
    const reg = this.registerNow();
    const day = Math.floor((reg - REGISTER_EPOCH) / DAY);
    if ((reg - REGISTER_EPOCH) % DAY < 14 * 3600_000 || day === this.lastZDay || !this.bridge.connected) return;
    this.lastZDay = day;
    const closeAt = REGISTER_EPOCH + day * DAY + 14 * 3600_000;
    const receipts = 84;
    const report = {
      shift_number: this.shiftNumber,
      fiscal_document_number: this.lastFd + receipts + 1,
      fiscal_document_attribute: String(1_000_000_000 + this.lastFd),
      datetime: wall(closeAt).replace('T', ' ').replace(/^(\d{4})-(\d{2})-(\d{2})/, '$3.$2.$1'),
      reason: 'schedule',
      receipts_count: receipts,
      total: 84 * 350,
      fn_number: this.status(Date.now()).fn!.serial,
      registration_number: '0000000001000001',
      ofd_unsent: { count: this.unsent, since: null },
      figures_source: 'register',
      closed_at: new Date().toISOString(),
    };
    this.shiftNumber++;
    this.lastFd += receipts + 2;
    this.zreports++;
    this.published++;
    await this.bridge.publish(this.bridge.topics.zreport, JSON.stringify(report)).catch(() => undefined);
  }

  /** injects a fault; resolves at the moment it is visible to the broker side (the message or the closed socket) */
  async fault(kind: Fault): Promise<void> {
    if (kind === 'paper_out') {
      this.paper = 'out';
      await this.publishHealth();
    } else if (kind === 'register_down') {
      this.linkUp = false;
      this.linkSince = Date.now();
      await this.publishHealth();
    } else {
      // no DISCONNECT: the socket is destroyed (MQTT.js end(force) does not send one), the broker fires the will
      this.unschedule();
      const c = this.client;
      await new Promise<void>((resolve) => (c ? c.end(true, {}, () => resolve()) : resolve()));
    }
  }

  /** undoes the fault */
  async recover(kind: Fault): Promise<void> {
    if (kind === 'paper_out') {
      this.paper = 'ok';
      await this.publishHealth();
    } else if (kind === 'register_down') {
      this.linkUp = true;
      this.linkSince = Date.now();
      await this.publishHealth();
    } else {
      this.bridge = this.makeBridge();
      await this.start();
    }
  }

  async stop(): Promise<void> {
    this.unschedule();
    await this.bridge.stop();
  }
}
