/**
 * The gateway: wires the queue store, the MQTT bridge, the register link and the dispatcher, and orders their
 * start and stop. Real parts are passed in (composition root: src/main.ts); tests pass their own.
 */
import { EventEmitter } from 'node:events';
import { DriverError, type DeviceStatus, type FiscalDriver, type FnDocumentCopy, type ShiftFigures, type ZReportResult } from '../drivers/types.ts';
import type { Config } from './config/index.ts';
import type { Logger } from './log.ts';
import { QueueStore } from './queue/store.ts';
import type { JobRecord } from './queue/types.ts';
import { MqttBridge, topicsFor, type BridgeOptions } from './mqtt/bridge.ts';
import { DeviceLink } from './device/link.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { Ingest, type SubmitOutcome } from './gateway/ingest.ts';
import { Runner } from './gateway/runner.ts';
import { OutboxPump } from './gateway/outbox.ts';
import { SHIFT_CHECK, Shifts, shiftClock, type FiguresRead, type ZReportRecord } from './gateway/shifts.ts';
import { BOOK_META, ZCHECK_META, zReport, type Mismatch, type ZBook } from './gateway/zbook.ts';
import { ofdLink } from './fiscal/link.ts';
import { clockDrift, watchSections } from './gateway/watch.ts';
import { healthSnapshot } from './gateway/health.ts';
import { effectiveRegistration, registrationSection, type EffectiveRegistration } from './gateway/registration.ts';
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
  private shiftCheckQueued = false;
  private stopped = false;
  /** set by stop(): no new job is started (messages still arriving are stored and acknowledged for the next run) */
  private draining = false;

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
      buildZReport: (z, reason, status, figures) => this.buildZReport(z, reason, status, figures),
      onZReport: (z) => this.recordZReport(z),
      load: () => this.store.getMeta<{ number: number; openedAt: string }>('shift'),
      save: (s) => this.store.setMeta('shift', s),
    });
    const runner = new Runner({
      store: this.store,
      topics: this.topics,
      logger: logger.child({ part: 'runner' }),
      now: () => this.stampNow(),
      registrationNumber: () => this.registration().registrationNumber,
      link: (fd, fp, qr) => this.ofdLink(fd, fp, qr),
      shifts: this.shifts,
      onOutbox: () => {
        this.link.touch();
        this.outbox.kick();
      },
    });
    this.dispatcher = new Dispatcher({
      store: this.store,
      runner,
      driver: () => (this.draining ? Promise.reject(new DriverError('STOPPING', 'retryable', 'the gateway is stopping')) : this.link.get()),
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
        registeredTaxSystems: this.registration().taxSystems,
        ...(this.registration().companyInn ? { companyInn: this.registration().companyInn } : {}),
        maxItems: cfg.fiscal.max_items,
        requireCustomerContact: cfg.fiscal.require_customer_contact,
      }),
      now: () => new Date(this.now()),
      onQueued: () => this.dispatcher.nudge(),
      onOutbox: () => this.outbox.kick(),
      status: () => this.statusReport(),
      signing: () => cfg.security.signing,
      publishNow: (topic, payload) => this.bridge.publish(topic, payload),
    });

    this.bridge.on('connect', () => {
      this.outbox.kick();
      void this.publishHealth(true);
    });
    this.link.on('change', () => {
      this.logRegistrationWarnings();
      void this.publishHealth();
    });
    this.dispatcher.on('change', () => void this.publishHealth());
  }

  /** registration data: the register's, with the configuration's overrides (src/gateway/registration.ts) */
  registration(): EffectiveRegistration {
    return effectiveRegistration(this.link.state.info, this.d.config.fiscal);
  }

  private loggedRegistration = '';
  /** the last Z-report's cross-check of the register's figures against the tally; loaded lazily from the store */
  private lastZCheck: Record<string, unknown> | undefined | null = null;

  private async zCheck(): Promise<Record<string, unknown> | undefined> {
    if (this.lastZCheck === null) this.lastZCheck = await this.store.getMeta<Record<string, unknown>>(ZCHECK_META);
    return this.lastZCheck;
  }

  /** fiscal.ofd_link filled for one document of this register, when configured */
  ofdLink(fd: number, fp: number, qr?: string): string | undefined {
    const info = this.link.state.info;
    const reg = this.registration();
    return ofdLink(this.d.config.fiscal.ofd_link, { inn: reg.companyInn ?? info?.inn ?? '', rn: reg.registrationNumber, fn: info?.fnNumber ?? '', fd, fp, ...(qr ? { qr } : {}) });
  }

  private logRegistrationWarnings(): void {
    const w = this.registration().warnings;
    const key = w.join('\n');
    if (key === this.loggedRegistration) return;
    this.loggedRegistration = key;
    for (const line of w) this.d.logger.warn(line);
  }

  /** The contract's Z-report: the register's document plus the gateway's book of the shift (src/gateway/zbook.ts). */
  private async buildZReport(z: ZReportResult, reason: string, status: DeviceStatus | undefined, figures: FiguresRead): Promise<ZReportRecord> {
    const info = this.link.state.info;
    const { report, book } = zReport(await this.store.getMeta<ZBook>(BOOK_META), z, {
      reason,
      ...(status ? { status } : {}),
      ...(info?.fnNumber ? { fnNumber: info.fnNumber } : {}),
      registrationNumber: this.registration().registrationNumber,
      taxSystems: this.registration().taxSystems,
      recordedAt: formatTimestamp(this.stampNow()),
      ...('figures' in figures ? { figures: figures.figures } : { figuresUnavailable: figures.unavailable }),
      link: (fd, fp) => this.ofdLink(fd, fp),
    });
    const mismatch = (report.mismatch as Mismatch[] | undefined) ?? [];
    if (mismatch.length > 0) {
      this.d.logger.warn({ shift: z.shiftNumber, mismatch }, 'the register\'s Z-report figures differ from the gateway\'s tally (receipts printed outside the gateway?)');
    }
    const check = { shift_number: z.shiftNumber, fiscal_document_number: z.fdNumber, figures_source: report.figures_source, mismatch, at: formatTimestamp(this.stampNow()) };
    this.lastZCheck = check;
    return { report, meta: { [BOOK_META]: book, [ZCHECK_META]: check } };
  }

  /**
   * Host time for stamps (results, Z-reports), corrected by the register's clock when the host's is off by more
   * than watch.clock_drift_max_s (a Raspberry Pi boots without RTC and keeps a stale time until NTP syncs).
   */
  private stampNow(): Date {
    const t = this.now();
    const drift = this.device ? clockDrift(this.device.status, this.device.at) : undefined;
    return new Date(drift !== undefined && Math.abs(drift) > this.d.config.watch.clock_drift_max_s * 1000 ? t + drift : t);
  }

  /** An automatic Z-report: stored, queued for `<base>/zreport` and the book reset, in one batch. */
  private async recordZReport(z: ZReportRecord): Promise<void> {
    await this.store.addZReport(z.report, { outbox: { topic: this.topics.zreport, payload: JSON.stringify(z.report) }, meta: z.meta });
    this.outbox.kick();
  }

  /**
   * The shift timer: with no job waiting, a close that is due (by the register's clock in a fresh status) is queued
   * as an internal job, so it runs through the dispatcher like everything else and never interleaves with a receipt.
   * With jobs waiting the policy runs before the next of them anyway.
   */
  private async checkShift(status: DeviceStatus): Promise<void> {
    if (this.draining || this.shiftCheckQueued || this.store.depth() > 0) return;
    this.shiftCheckQueued = true;
    try {
      const due = await this.shifts.due(status);
      if (!due) return;
      await this.store.accept({ kind: 'command', command: SHIFT_CHECK, params: { reason: due }, body: '' });
      this.dispatcher.nudge();
    } catch (err) {
      this.d.logger.warn({ err }, 'shift check failed');
    } finally {
      this.shiftCheckQueued = false;
    }
  }

  /** the running configuration (sections the web page changes are updated in place and read at each use) */
  get config(): Config {
    return this.d.config;
  }

  /** a receipt from the web page: the same validation, queue and result topic as an MQTT receipt */
  submitReceipt(payload: Buffer): Promise<SubmitOutcome> {
    return this.ingest.submitReceipt(payload);
  }

  /** a queued command from the web page (close_shift …); resolves with the record id to follow */
  submitCommand(command: string, transaction: string, params?: Record<string, unknown>): Promise<string> {
    return this.ingest.submitCommand(command, transaction, params);
  }

  /**
   * The register's own counters of the open shift, read now (the web page's «сегодня»); undefined when the register
   * is away or its driver reads no figures (the page then shows the gateway's tally, marked as such).
   */
  async currentFigures(): Promise<ShiftFigures | undefined> {
    if (!this.link.state.up) return undefined;
    try {
      const driver = await this.link.get();
      return driver.shiftFigures ? await driver.shiftFigures() : undefined;
    } catch {
      return undefined;
    }
  }

  /** a document's copy from the register's FN (the web page's «копия из ФН») */
  async documentCopy(fd: number): Promise<FnDocumentCopy | undefined> {
    const driver = await this.link.get();
    if (!driver.documentCopy) throw new DriverError('UNSUPPORTED', 'rejected', 'this register driver cannot read documents from the FN');
    return driver.documentCopy(fd);
  }

  /** the open shift's tally and the cumulative totals kept by the gateway (src/gateway/zbook.ts) */
  shiftBook(): Promise<ZBook | undefined> {
    return this.store.getMeta<ZBook>(BOOK_META);
  }

  /** publishes a finished job's result again (receipts on `<base>/result`, commands on their response topic) */
  async republish(externalId: string): Promise<JobRecord | undefined> {
    const rec = await this.store.getRecord(externalId);
    if (!rec?.result) return rec;
    const topic = rec.kind === 'receipt' ? this.topics.result : this.topics.response(rec.command ?? '');
    await this.store.enqueueOutbox({ topic, payload: JSON.stringify(rec.result) });
    this.outbox.kick();
    return rec;
  }

  /**
   * «проверить связь»: opens the link if needed and reads the register's identity and status now. The driver runs
   * one operation at a time, so this waits for a receipt being printed rather than cutting into it.
   */
  async checkLink(): Promise<{ ok: boolean; ms: number; info?: unknown; status?: DeviceStatus; error?: string }> {
    const t0 = this.now();
    try {
      const status = await this.readDevice();
      return { ok: true, ms: this.now() - t0, info: this.link.state.info, status };
    } catch (err) {
      return { ok: false, ms: this.now() - t0, error: (err as Error).message };
    }
  }

  /**
   * Reads the register's full status now (opening the link if needed) for health; a good read ends a backoff.
   * Health is published without waiting: called from the `status` command inside the MQTT message handler, waiting
   * there for the PUBACK of the health message would wait forever (the client takes no packet while it runs).
   */
  private async readDevice(): Promise<DeviceStatus> {
    const driver = await this.link.get();
    const status = await driver.status();
    this.device = { status, at: this.now() };
    this.link.touch();
    if (this.dispatcher.state.blocked) this.dispatcher.retryNow();
    void this.publishHealth();
    return status;
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
      await this.checkShift(await this.readDevice());
    } catch (err) {
      // a register that stopped answering while idle: drop the link as the dispatcher would, so health says
      // `down` now (not only once a receipt comes) and the next read reopens it; device states keep the link
      const de = err instanceof DriverError ? err : undefined;
      if (!this.stopped && !this.dispatcher.state.busy && this.link.state.up && (!de || de.code === 'NO_LINK' || de.code === 'LINK_GONE')) {
        await this.link.drop(err as Error).catch(() => undefined);
      }
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
      protocolSetting: this.d.config.device.protocol,
      registration: registrationSection(this.registration()),
      zreportCheck: (await this.zCheck()) ?? null,
      ...(this.device ? { device: this.device.status, deviceAt: this.device.at } : {}),
      dispatcher: this.dispatcher.state,
      ...(this.device ? { extra: { ...watchSections(this.device.status, this.device.at, this.d.config.watch), shift_clock: await this.shiftClock(this.device.status) } } : {}),
    });
  }

  private async shiftClock(status: DeviceStatus): Promise<Record<string, unknown> | null> {
    if (status.shift === 'closed' || !status.dateTime) return null;
    const known = await this.store.getMeta<{ number: number; openedAt: string }>('shift');
    if (!known || known.number !== status.shiftNumber) return null;
    const { close_at, max_hours } = this.d.config.shift;
    return shiftClock(known.openedAt, status.dateTime, close_at, max_hours) ?? null;
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
    // Drain: no new job starts; the job on the wire finishes (a receipt is never cut half-way). Messages arriving
    // meanwhile are stored durably before their PUBACK, as always, and wait in the queue for the next run.
    this.draining = true;
    await this.dispatcher.stop();
    await Promise.race([this.outbox.idle(), new Promise((r) => setTimeout(r, flushMs).unref())]);
    await this.bridge.stop();
    await this.link.close();
  }
}
