/**
 * The gateway: wires the queue store, the MQTT bridge, the register link and the dispatcher, and orders their
 * start and stop. Real parts are passed in (composition root: src/main.ts); tests pass their own.
 */
import { EventEmitter } from 'node:events';
import type { DeviceStatus, FiscalDriver, ZReportResult } from '../drivers/types.ts';
import type { Config } from './config/index.ts';
import type { Logger } from './log.ts';
import { QueueStore } from './queue/store.ts';
import { MqttBridge, topicsFor, type BridgeOptions } from './mqtt/bridge.ts';
import { DeviceLink } from './device/link.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { Ingest } from './gateway/ingest.ts';
import { Runner } from './gateway/runner.ts';
import { OutboxPump } from './gateway/outbox.ts';
import { Shifts } from './gateway/shifts.ts';
import { healthSnapshot } from './gateway/health.ts';
import { formatTimestamp } from './fiscal/result.ts';

export const VERSION = '0.1.0';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  store: QueueStore;
  /** creates a driver for the configured register (not yet opened) */
  driverFactory: () => Promise<FiscalDriver>;
  clock?: () => number;
  connect?: BridgeOptions['connect'];
  /** dispatcher backoff after a device problem */
  backoff?: { minMs: number; maxMs: number };
}

export class Gateway extends EventEmitter {
  readonly topics;
  readonly store: QueueStore;
  readonly link: DeviceLink;
  readonly bridge: MqttBridge;
  readonly dispatcher: Dispatcher;
  readonly outbox: OutboxPump;
  readonly shifts: Shifts;
  private readonly ingest: Ingest;
  private readonly now: () => number;
  private readonly startedAt: number;
  private device: { status: DeviceStatus; at: number } | undefined;
  private timers: NodeJS.Timeout[] = [];
  private lastHealth = '';
  private stopped = false;

  constructor(private readonly d: GatewayDeps) {
    super();
    const cfg = d.config;
    this.now = d.clock ?? Date.now;
    this.startedAt = this.now();
    this.store = d.store;
    this.topics = topicsFor(cfg.mqtt.base_topic);
    const logger = d.logger;
    const cashier = (): { name: string; inn?: string } | undefined => cfg.fiscal.cashier;

    this.link = new DeviceLink(d.driverFactory, logger.child({ part: 'link' }), this.now);
    this.bridge = new MqttBridge({ mqtt: cfg.mqtt, logger: logger.child({ part: 'mqtt' }), onMessage: (t, p) => this.ingest.handle(t, p), ...(d.connect ? { connect: d.connect } : {}) });
    this.outbox = new OutboxPump(this.store, this.bridge, logger.child({ part: 'outbox' }));
    this.shifts = new Shifts({
      logger: logger.child({ part: 'shifts' }),
      cashier,
      closeAt: () => cfg.shift.close_at,
      maxHours: () => cfg.shift.max_hours,
      onZReport: (z, reason) => this.recordZReport(z, reason),
      load: () => this.store.getMeta<{ number: number; openedAt: string }>('shift'),
      save: (s) => this.store.setMeta('shift', s),
    });
    const runner = new Runner({
      store: this.store,
      topics: this.topics,
      logger: logger.child({ part: 'runner' }),
      now: () => new Date(this.now()),
      registrationNumber: () => this.link.state.info?.registrationNumber ?? '',
      shifts: this.shifts,
      onOutbox: () => {
        this.link.touch();
        this.outbox.kick();
      },
    });
    this.dispatcher = new Dispatcher({
      store: this.store,
      runner,
      driver: () => this.link.get(),
      dropDriver: (reason) => this.link.drop(reason),
      logger: logger.child({ part: 'dispatch' }),
      now: this.now,
      ...(d.backoff ? { backoff: d.backoff } : {}),
    });
    this.ingest = new Ingest({
      store: this.store,
      topics: this.topics,
      logger: logger.child({ part: 'ingest' }),
      validation: () => ({
        registeredTaxSystems: this.link.state.info?.taxSystems ?? cfg.fiscal.tax_systems,
        ...(cfg.fiscal.company_inn ? { companyInn: cfg.fiscal.company_inn } : {}),
        maxItems: cfg.fiscal.max_items,
        requireCustomerContact: cfg.fiscal.require_customer_contact,
      }),
      now: () => new Date(this.now()),
      onQueued: () => this.dispatcher.nudge(),
      onOutbox: () => this.outbox.kick(),
      status: () => this.statusReport(),
    });

    this.bridge.on('connect', () => {
      this.outbox.kick();
      void this.publishHealth(true);
    });
    this.link.on('change', () => void this.publishHealth());
    this.dispatcher.on('change', () => void this.publishHealth());
  }

  private async recordZReport(z: ZReportResult, reason: string): Promise<void> {
    const report = { ...z, reason, closed_at: formatTimestamp(new Date(this.now())) };
    await this.store.addZReport(report);
    await this.store.enqueueOutbox({ topic: this.topics.zreport, payload: JSON.stringify(report) });
    this.outbox.kick();
  }

  /** resolves once the gateway takes receipts: subscribed on the broker (the queue serves from start) */
  ready(): Promise<void> {
    return this.bridge.connected ? Promise.resolve() : new Promise((resolve) => this.bridge.once('connect', () => resolve()));
  }

  start(): void {
    const cfg = this.d.config;
    this.bridge.start();
    this.dispatcher.start();
    this.timers.push(setInterval(() => void this.publishHealth(true), cfg.mqtt.health_interval * 1000).unref());
    this.timers.push(setInterval(() => void this.pollDevice(), cfg.mqtt.health_interval * 1000).unref());
    this.timers.push(setInterval(() => void this.store.purgeExpired(this.now()).catch(() => undefined), 3600_000).unref());
    void this.pollDevice();
  }

  /** reads the device status while the dispatcher is idle (health, paper back, link back) */
  private async pollDevice(): Promise<void> {
    if (this.stopped || this.dispatcher.state.busy) return;
    try {
      const driver = await this.link.get();
      const status = await driver.status();
      this.device = { status, at: this.now() };
      this.link.touch();
      if (this.dispatcher.state.blocked) this.dispatcher.nudge();
      await this.publishHealth();
    } catch {
      /* the link reports itself */
    }
  }

  async health(): Promise<Record<string, unknown>> {
    const oldest = await this.store.oldestAcceptedAt();
    return healthSnapshot({
      gatewayId: this.d.config.gateway_id,
      version: VERSION,
      startedAt: this.startedAt,
      now: this.now(),
      queue: { depth: this.store.depth(), outbox: this.store.outboxDepth(), ...(oldest !== undefined ? { oldestAcceptedAt: oldest } : {}) },
      mqtt: { connected: this.bridge.connected, broker: this.bridge.brokerUrl },
      link: this.link.state,
      ...(this.device ? { device: this.device.status, deviceAt: this.device.at } : {}),
      dispatcher: this.dispatcher.state,
    });
  }

  /** the `status` command: health plus a fresh device read when the register is free */
  async statusReport(): Promise<Record<string, unknown>> {
    await this.pollDevice();
    return this.health();
  }

  /** publishes health (retained) on change, or always when `force` */
  async publishHealth(force = false): Promise<void> {
    if (!this.bridge.connected) return;
    const h = await this.health();
    const { time: _t, uptime_s: _u, ...stable } = h;
    const key = JSON.stringify(stable);
    if (!force && key === this.lastHealth) return;
    this.lastHealth = key;
    await this.bridge.publish(this.topics.health, JSON.stringify(h), { retain: true }).catch(() => undefined);
  }

  /**
   * Graceful stop: finishes the job on the wire, stops taking messages, flushes the outbox (bounded),
   * publishes `offline`, closes the register link and the store.
   */
  async stop(flushMs = 5000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.dispatcher.stop();
    await Promise.race([this.outbox.idle(), new Promise((r) => setTimeout(r, flushMs).unref())]);
    await this.bridge.stop();
    await this.link.close();
  }
}
