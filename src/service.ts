/**
 * The gateway: wires the queue store, the MQTT bridge and the pool of registers (each with its link, driver,
 * dispatcher and shifts: src/pool/register.ts) sharing one queue (src/pool/queue.ts), and orders their start and
 * stop. Real parts are passed in (composition root: src/app.ts); tests pass their own.
 */
import { EventEmitter } from 'node:events';
import { DriverError, type DeviceStatus, type FiscalDriver, type FnDocumentCopy, type ShiftFigures } from '../drivers/types.ts';
import { Mutex } from '../drivers/host-link.ts';
import type { Config } from './config/index.ts';
import type { PoolDeviceConfig } from './config/schema.ts';
import { registersOf } from './config/devices.ts';
import type { Logger } from './log.ts';
import { LEGACY_INFLIGHT, QueueStore } from './queue/store.ts';
import type { JobRecord } from './queue/types.ts';
import { MqttBridge, topicsFor, type BridgeOptions } from './mqtt/bridge.ts';
import { Ingest, type SubmitOutcome } from './gateway/ingest.ts';
import { OutboxPump } from './gateway/outbox.ts';
import { SHIFT_CHECK } from './gateway/shifts.ts';
import { BOOK_META, ZCHECK_META, type ZBook } from './gateway/zbook.ts';
import { healthSnapshot } from './gateway/health.ts';
import type { EffectiveRegistration } from './gateway/registration.ts';
import { Register, registerKeys } from './pool/register.ts';
import { PoolQueue } from './pool/queue.ts';

export const VERSION = '0.1.0';

export interface GatewayDeps {
  config: Config;
  logger: Logger;
  store: QueueStore;
  /** creates a driver for one register of the pool (not yet opened) */
  driverFactory: (device: PoolDeviceConfig) => () => Promise<FiscalDriver>;
  clock?: () => number;
  connect?: BridgeOptions['connect'];
  /** dispatcher backoff after a device problem */
  backoff?: { minMs: number; maxMs: number };
}

/** a typed refusal of a command or page action that names a register the gateway does not have */
export class UnknownDeviceError extends DriverError {
  constructor(message: string) {
    super('UNKNOWN_DEVICE', 'rejected', message);
  }
}

export class Gateway extends EventEmitter {
  readonly topics;
  readonly store: QueueStore;
  readonly bridge: MqttBridge;
  readonly outbox: OutboxPump;
  /** the registers of the pool, in configuration order */
  readonly registers: readonly Register[];
  readonly pool: PoolQueue;
  private readonly ingest: Ingest;
  private readonly now: () => number;
  private readonly startedAt: number;
  private timers: NodeJS.Timeout[] = [];
  private lastHealth = '';
  private stopped = false;
  /** set by stop(): no new job is started (messages still arriving are stored and acknowledged for the next run) */
  private draining = false;
  private migrated: Promise<void> | undefined;

  constructor(private readonly d: GatewayDeps) {
    super();
    const cfg = d.config;
    this.now = d.clock ?? Date.now;
    this.startedAt = this.now();
    this.store = d.store;
    this.topics = topicsFor(cfg.mqtt.base_topic);
    const logger = d.logger;

    this.bridge = new MqttBridge({ mqtt: cfg.mqtt, logger: logger.child({ part: 'mqtt' }), onMessage: (t, p) => this.ingest.handle(t, p), ...(d.connect ? { connect: d.connect } : {}) });
    this.outbox = new OutboxPump(this.store, this.bridge, logger.child({ part: 'outbox' }));
    this.pool = new PoolQueue({ store: this.store, registers: () => this.registers, logger: logger.child({ part: 'pool' }), wakeAll: () => this.wakeAll() });
    const closeLock = new Mutex();
    this.registers = registersOf(cfg).map((conf, index) => new Register({
      conf,
      index,
      config: cfg,
      logger,
      store: this.store,
      topics: this.topics,
      now: this.now,
      driverFactory: d.driverFactory(conf),
      queue: (reg) => this.pool.forRegister(reg),
      closeLock,
      draining: () => this.draining,
      onOutbox: () => this.outbox.kick(),
      ...(d.backoff ? { backoff: d.backoff } : {}),
    }));
    this.ingest = new Ingest({
      store: this.store,
      topics: this.topics,
      logger: logger.child({ part: 'ingest' }),
      validation: () => ({
        registers: this.pool.targets(),
        maxItems: cfg.fiscal.max_items,
        requireCustomerContact: cfg.fiscal.require_customer_contact,
      }),
      devices: () => this.registers.map((r) => r.id),
      now: () => new Date(this.now()),
      onQueued: () => this.wakeAll(),
      onOutbox: () => this.outbox.kick(),
      status: () => this.statusReport(),
      signing: () => cfg.security.signing,
      publishNow: (topic, payload) => void this.bridge.publish(topic, payload).catch(() => undefined),
    });

    this.bridge.on('connect', () => {
      this.outbox.kick();
      void this.publishHealth(true);
    });
    for (const r of this.registers) r.on('change', () => void this.publishHealth());
  }

  /** the register with this id; without an id the only one (refused when there are several) */
  register(id?: string): Register {
    if (id === undefined || id === '') {
      if (this.registers.length === 1) return this.registers[0]!;
      throw new UnknownDeviceError(`this gateway has ${this.registers.length} registers (${this.registers.map((r) => r.id).join(', ')}): say which (\`device\`)`);
    }
    const r = this.registers.find((x) => x.id === id);
    if (!r) throw new UnknownDeviceError(`no register with the id ${JSON.stringify(id)} (${this.registers.map((x) => x.id).join(', ')})`);
    return r;
  }

  /** the first register (a pool of one: the register) — its link, dispatcher and shifts */
  get link(): Register['link'] {
    return this.registers[0]!.link;
  }

  get dispatcher(): Register['dispatcher'] {
    return this.registers[0]!.dispatcher;
  }

  get shifts(): Register['shifts'] {
    return this.registers[0]!.shifts;
  }

  /** registration data of a register (default: the only one / the first) */
  registration(id?: string): EffectiveRegistration {
    return (id === undefined ? this.registers[0]! : this.register(id)).registration();
  }

  private wakeAll(): void {
    for (const r of this.registers) r.dispatcher.nudge();
  }

  /** the running configuration (sections the web page changes are updated in place and read at each use) */
  get config(): Config {
    return this.d.config;
  }

  /** a receipt from the web page: the same validation, queue and result topic as an MQTT receipt */
  submitReceipt(payload: Buffer): Promise<SubmitOutcome> {
    return this.ingest.submitReceipt(payload);
  }

  /** a queued command from the web page (close_shift …; `params.device` names the register); resolves with the record id to follow */
  submitCommand(command: string, transaction: string, params?: Record<string, unknown>): Promise<string> {
    return this.ingest.submitCommand(command, transaction, params);
  }

  /**
   * A register's own counters of the open shift, read now (the web page's «сегодня»); undefined when the register
   * is away or its driver reads no figures (the page then shows the gateway's tally, marked as such).
   */
  currentFigures(device?: string): Promise<ShiftFigures | undefined> {
    return this.register(device).currentFigures();
  }

  /** a document's copy from a register's FN (the web page's «копия из ФН») */
  documentCopy(fd: number, device?: string): Promise<FnDocumentCopy | undefined> {
    return this.register(device).documentCopy(fd);
  }

  /** a register's shift tally and cumulative totals kept by the gateway (src/gateway/zbook.ts) */
  shiftBook(device?: string): Promise<ZBook | undefined> {
    return this.register(device).shiftBook();
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
   * «проверить связь»: opens the register's link if needed and reads its identity and status now. The driver runs
   * one operation at a time, so this waits for a receipt being printed rather than cutting into it.
   */
  async checkLink(device?: string): Promise<{ ok: boolean; ms: number; device?: string; info?: unknown; status?: DeviceStatus; error?: string }> {
    let reg: Register;
    try {
      reg = this.register(device);
    } catch (err) {
      return { ok: false, ms: 0, error: (err as Error).message };
    }
    const r = await reg.checkLink();
    void this.publishHealth();
    return r;
  }

  /** resolves once the gateway takes receipts: subscribed on the broker (the queue serves from start) */
  ready(): Promise<void> {
    return this.bridge.connected ? Promise.resolve() : new Promise((resolve) => this.bridge.once('connect', () => resolve()));
  }

  /**
   * State kept before pools (one register, unnamed keys) becomes the first register's: its in-flight job, shift,
   * book and last Z-check. Runs once, before any register starts.
   */
  private migrate(): Promise<void> {
    this.migrated ??= (async () => {
      const first = this.registers[0]!;
      if (await this.store.moveInflight(LEGACY_INFLIGHT, first.id)) {
        this.d.logger.warn({ device: first.id }, 'the in-flight job of the single register is now the first register\'s');
      }
      const keys = registerKeys(first.id);
      const moves: Record<string, unknown> = {};
      for (const [legacy, key] of [['shift', keys.shift], [BOOK_META, keys.book], [ZCHECK_META, keys.zcheck]] as const) {
        const v = await this.store.getMeta(legacy);
        if (v === undefined) continue;
        if ((await this.store.getMeta(key)) === undefined) moves[key] = v;
        moves[legacy] = undefined;
      }
      if (Object.keys(moves).length > 0) await this.store.setMetas(moves);
      const ids = new Set(this.registers.map((r) => r.id));
      for (const [id, inflight] of this.store.inflightAll()) {
        if (!ids.has(id)) {
          this.d.logger.error({ device: id, seq: inflight.seq, fn: inflight.fn }, 'a job is in flight on a register that is no longer configured: only its FN can settle it; configure that register again');
        }
      }
    })();
    return this.migrated;
  }

  /** resolves once the state of before pools is the first register's (start() runs it; tests may await it) */
  async prepared(): Promise<void> {
    await this.migrate();
  }

  start(): void {
    const cfg = this.d.config;
    this.bridge.start();
    void this.migrate().then(
      () => {
        if (this.stopped) return;
        for (const r of this.registers) r.dispatcher.start();
        void this.pollDevices();
      },
      (err: unknown) => this.d.logger.error({ err }, 'the queue state could not be prepared; registers not started'),
    );
    this.timers.push(setInterval(() => void this.publishHealth(true), cfg.mqtt.health_interval * 1000).unref());
    this.timers.push(setInterval(() => void this.pollDevices(), cfg.mqtt.health_interval * 1000).unref());
    this.timers.push(setInterval(() => void this.store.purgeExpired(this.now()).catch(() => undefined), 3600_000).unref());
  }

  /** reads each idle register's status (health, paper back, link back) and checks its shift */
  private async pollDevices(): Promise<void> {
    await Promise.all(this.registers.map(async (r) => {
      const status = await r.poll(this.stopped);
      if (status) await this.checkShift(r, status);
    }));
    void this.publishHealth();
  }

  /**
   * The shift timer: with the register idle, a close that is due (by the register's clock in a fresh status) is
   * queued as an internal job pinned to it, so it runs through its dispatcher like everything else and never
   * interleaves with a receipt. A register that prints anyway runs the policy before each of its jobs.
   */
  private async checkShift(reg: Register, status: DeviceStatus): Promise<void> {
    if (this.draining || reg.shiftCheckQueued || reg.dispatcher.state.busy) return;
    if (this.registers.length === 1 && this.store.depth() > 0) return;
    reg.shiftCheckQueued = true;
    let queued = false;
    try {
      const due = await reg.shifts.due(status);
      if (!due) return;
      const r = await this.store.accept({ kind: 'command', command: SHIFT_CHECK, params: { reason: due, device: reg.id }, body: '' });
      queued = r.status === 'accepted';
      this.wakeAll();
    } catch (err) {
      this.d.logger.warn({ err, device: reg.id }, 'shift check failed');
    } finally {
      if (!queued) reg.shiftCheckQueued = false;
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
      registers: await Promise.all(this.registers.map((r) => r.health())),
    });
  }

  /** the `status` command: health plus a fresh read of each register that is free */
  async statusReport(): Promise<Record<string, unknown>> {
    await this.pollDevices();
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
   * Graceful stop: finishes the jobs on the wires, stops taking messages, flushes the outbox (bounded),
   * publishes `offline`, closes the register links and the store.
   */
  async stop(flushMs = 5000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    // Drain: no new job starts; the jobs on the wires finish (a receipt is never cut half-way). Messages arriving
    // meanwhile are stored durably before their PUBACK, as always, and wait in the queue for the next run.
    this.draining = true;
    await Promise.all(this.registers.map((r) => r.dispatcher.stop()));
    await Promise.race([this.outbox.idle(), new Promise((r) => setTimeout(r, flushMs).unref())]);
    await this.bridge.stop();
    await Promise.all(this.registers.map((r) => r.link.close()));
  }
}
