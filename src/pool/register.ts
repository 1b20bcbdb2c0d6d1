/**
 * One register of the gateway's pool: its link and driver, its own dispatcher (one job on its wire at a time), its
 * shift policy, its book of the shift, its device status and its section of health. The pool (src/pool/queue.ts)
 * decides which job a register takes; everything a register keeps across restarts is stored under its id.
 */
import { EventEmitter } from 'node:events';
import { DriverError, type DeviceStatus, type FiscalDriver, type FnDocumentCopy, type ShiftFigures, type ZReportResult } from '../../drivers/types.ts';
import type { Config, PoolDeviceConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { QueueStore } from '../queue/store.ts';
import type { Topics } from '../mqtt/bridge.ts';
import { DeviceLink } from '../device/link.ts';
import { Dispatcher, type DispatchStore } from '../dispatch/dispatcher.ts';
import { Runner } from '../gateway/runner.ts';
import { SHIFT_CHECK, Shifts, shiftClock, type FiguresRead, type ZReportRecord } from '../gateway/shifts.ts';
import { zReport, type Mismatch, type ZBook } from '../gateway/zbook.ts';
import { ofdLink } from '../fiscal/link.ts';
import { clockDrift, watchSections } from '../gateway/watch.ts';
import { effectiveRegistration, registrationSection, type EffectiveRegistration } from '../gateway/registration.ts';
import { formatTimestamp } from '../fiscal/result.ts';
import { registerSection } from '../gateway/health.ts';
import type { Mutex } from '../../drivers/host-link.ts';

/** the names under which a register keeps its state (src/queue/store.ts getMeta/setMeta), by register id */
export function registerKeys(id: string): { shift: string; book: string; zcheck: string } {
  return { shift: `shift@${id}`, book: `zbook@${id}`, zcheck: `zcheck@${id}` };
}

/** "HH:MM" + minutes, wrapping at midnight */
export function addMinutes(hhmm: string, minutes: number): string {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const t = (((h * 60 + m + minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`;
}

export interface RegisterDeps {
  conf: PoolDeviceConfig;
  /** the register's place in the pool: its daily close is staggered by `index × shift.stagger_minutes` */
  index: number;
  config: Config;
  logger: Logger;
  store: QueueStore;
  topics: Topics;
  now: () => number;
  driverFactory: () => Promise<FiscalDriver>;
  /** the pool's view of the queue for this register (src/pool/queue.ts) */
  queue: (reg: Register) => DispatchStore;
  /** one Z-report of the pool at a time: the others keep printing */
  closeLock: Mutex;
  /** true once the gateway stops: no new job starts */
  draining: () => boolean;
  onOutbox: () => void;
  backoff?: { minMs: number; maxMs: number };
}

export class Register extends EventEmitter {
  readonly id: string;
  readonly name: string;
  readonly index: number;
  readonly link: DeviceLink;
  readonly shifts: Shifts;
  readonly runner: Runner;
  readonly dispatcher: Dispatcher;
  readonly keys: ReturnType<typeof registerKeys>;
  device: { status: DeviceStatus; at: number } | undefined;
  /** a SHIFT_CHECK job of this register is queued and not finished */
  shiftCheckQueued = false;
  private loggedRegistration = '';
  private lastZCheck: Record<string, unknown> | undefined | null = null;
  private readonly log: Logger;

  constructor(private readonly d: RegisterDeps) {
    super();
    this.id = d.conf.id;
    this.name = d.conf.name ?? '';
    this.index = d.index;
    this.keys = registerKeys(this.id);
    this.log = d.logger.child({ device: this.id });
    const cfg = d.config;
    this.link = new DeviceLink(d.driverFactory, this.log.child({ part: 'link' }), d.now);
    this.shifts = new Shifts({
      logger: this.log.child({ part: 'shifts' }),
      cashier: () => cfg.fiscal.cashier,
      closeAt: () => addMinutes(cfg.shift.close_at, this.index * cfg.shift.stagger_minutes),
      maxHours: () => cfg.shift.max_hours,
      buildZReport: (z, reason, status, figures) => this.buildZReport(z, reason, status, figures),
      onZReport: (z) => this.recordZReport(z),
      load: () => d.store.getMeta<{ number: number; openedAt: string }>(this.keys.shift),
      save: (s) => d.store.setMeta(this.keys.shift, s),
      closeLock: d.closeLock,
    });
    this.runner = new Runner({
      store: d.store,
      topics: d.topics,
      logger: this.log.child({ part: 'runner' }),
      now: () => this.stampNow(),
      registrationNumber: () => this.registration().registrationNumber,
      link: (fd, fp, qr) => this.ofdLink(fd, fp, qr),
      shifts: this.shifts,
      bookKey: this.keys.book,
      device: this.id,
      onFinish: (job) => {
        if (job.command === SHIFT_CHECK) this.shiftCheckQueued = false;
      },
      onOutbox: () => {
        this.link.touch();
        d.onOutbox();
      },
    });
    this.dispatcher = new Dispatcher({
      store: d.queue(this),
      runner: this.runner,
      driver: () => (d.draining() ? Promise.reject(new DriverError('STOPPING', 'retryable', 'the gateway is stopping')) : this.link.get()),
      dropDriver: (reason) => this.link.drop(reason),
      logger: this.log.child({ part: 'dispatch' }),
      now: d.now,
      ...(d.backoff ? { backoff: d.backoff } : {}),
    });
    this.link.on('change', () => {
      this.logRegistrationWarnings();
      this.emit('change');
    });
    this.dispatcher.on('change', () => this.emit('change'));
  }

  get port(): string {
    return this.d.conf.port;
  }

  get conf(): PoolDeviceConfig {
    return this.d.conf;
  }

  /** registration data: the register's, with the configuration's overrides (this register's, then `fiscal.*`) */
  registration(): EffectiveRegistration {
    const c = this.d.conf;
    return effectiveRegistration(this.link.state.info, {
      ...this.d.config.fiscal,
      ...(c.company_inn ? { company_inn: c.company_inn } : {}),
      ...(c.tax_systems ? { tax_systems: c.tax_systems } : {}),
      ...(c.registration_number ? { registration_number: c.registration_number } : {}),
    });
  }

  /** the FN's serial number as last read (the FN a job bound to this register must be settled by) */
  fnNumber(): string | undefined {
    return this.link.state.info?.fnNumber ?? this.device?.status.fn?.serial;
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
    for (const line of w) this.log.warn(line);
  }

  async zCheck(): Promise<Record<string, unknown> | undefined> {
    if (this.lastZCheck === null) this.lastZCheck = await this.d.store.getMeta<Record<string, unknown>>(this.keys.zcheck);
    return this.lastZCheck;
  }

  /** The contract's Z-report: the register's document plus the gateway's book of the shift (src/gateway/zbook.ts). */
  private async buildZReport(z: ZReportResult, reason: string, status: DeviceStatus | undefined, figures: FiguresRead): Promise<ZReportRecord> {
    const info = this.link.state.info;
    const { report, book } = zReport(await this.d.store.getMeta<ZBook>(this.keys.book), z, {
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
      this.log.warn({ shift: z.shiftNumber, mismatch }, 'the register\'s Z-report figures differ from the gateway\'s tally (receipts printed outside the gateway?)');
    }
    const check = { shift_number: z.shiftNumber, fiscal_document_number: z.fdNumber, figures_source: report.figures_source, mismatch, at: formatTimestamp(this.stampNow()) };
    this.lastZCheck = check;
    return { report: { device: this.id, device_name: this.name || null, ...report }, meta: { [this.keys.book]: book, [this.keys.zcheck]: check } };
  }

  /** An automatic Z-report: stored, queued for `<base>/zreport` and the book reset, in one batch. */
  private async recordZReport(z: ZReportRecord): Promise<void> {
    await this.d.store.addZReport(z.report, { outbox: { topic: this.d.topics.zreport, payload: JSON.stringify(z.report) }, meta: z.meta });
    this.d.onOutbox();
  }

  /**
   * Host time for stamps (results, Z-reports), corrected by the register's clock when the host's is off by more
   * than watch.clock_drift_max_s (a Raspberry Pi boots without RTC and keeps a stale time until NTP syncs).
   */
  stampNow(): Date {
    const t = this.d.now();
    const drift = this.device ? clockDrift(this.device.status, this.device.at) : undefined;
    return new Date(drift !== undefined && Math.abs(drift) > this.d.config.watch.clock_drift_max_s * 1000 ? t + drift : t);
  }

  /**
   * Reads the register's full status now (opening the link if needed); a good read ends a backoff, and a register
   * that reads healthy again (paper back, cover closed) stops being reported blocked.
   */
  async readDevice(): Promise<DeviceStatus> {
    const driver = await this.link.get();
    const status = await driver.status();
    this.device = { status, at: this.d.now() };
    this.link.touch();
    if (this.dispatcher.state.blocked) {
      if (status.paper === 'ok' && !status.coverOpen && !status.receiptOpen && status.shift !== 'expired' && !['FN_MISMATCH', 'RECONCILE_IMPOSSIBLE'].includes(this.dispatcher.state.blocked.code)) this.dispatcher.unblock();
      else this.dispatcher.retryNow();
    }
    this.emit('change');
    return status;
  }

  /**
   * While the register's dispatcher is idle: reads its status (health, paper back, link back) and returns it, or
   * undefined when the register is busy or did not answer (then a register that stopped answering is dropped, so
   * health says `down` now and the next read reopens it; device states keep the link).
   */
  async poll(stopped: boolean): Promise<DeviceStatus | undefined> {
    if (stopped || this.dispatcher.state.busy) return undefined;
    try {
      return await this.readDevice();
    } catch (err) {
      const de = err instanceof DriverError ? err : undefined;
      if (!stopped && !this.dispatcher.state.busy && this.link.state.up && (!de || de.code === 'NO_LINK' || de.code === 'LINK_GONE')) {
        await this.link.drop(err as Error).catch(() => undefined);
      }
      return undefined;
    }
  }

  async checkLink(): Promise<{ ok: boolean; ms: number; device: string; info?: unknown; status?: DeviceStatus; error?: string }> {
    const t0 = this.d.now();
    try {
      const status = await this.readDevice();
      return { ok: true, ms: this.d.now() - t0, device: this.id, info: this.link.state.info, status };
    } catch (err) {
      return { ok: false, ms: this.d.now() - t0, device: this.id, error: (err as Error).message };
    }
  }

  async currentFigures(): Promise<ShiftFigures | undefined> {
    if (!this.link.state.up) return undefined;
    try {
      const driver = await this.link.get();
      return driver.shiftFigures ? await driver.shiftFigures() : undefined;
    } catch {
      return undefined;
    }
  }

  async documentCopy(fd: number): Promise<FnDocumentCopy | undefined> {
    const driver = await this.link.get();
    if (!driver.documentCopy) throw new DriverError('UNSUPPORTED', 'rejected', 'this register driver cannot read documents from the FN');
    return driver.documentCopy(fd);
  }

  shiftBook(): Promise<ZBook | undefined> {
    return this.d.store.getMeta<ZBook>(this.keys.book);
  }

  private async shiftClock(status: DeviceStatus): Promise<Record<string, unknown> | null> {
    if (status.shift === 'closed' || !status.dateTime) return null;
    const known = await this.d.store.getMeta<{ number: number; openedAt: string }>(this.keys.shift);
    if (!known || known.number !== status.shiftNumber) return null;
    return shiftClock(known.openedAt, status.dateTime, this.shifts.closeAt(), this.d.config.shift.max_hours) ?? null;
  }

  /** this register's section of health (and, for the first register, the top level of a single register's health) */
  async health(): Promise<Record<string, unknown>> {
    const dev = this.device;
    const inflight = await this.d.store.inflight(this.id);
    return registerSection({
      id: this.id,
      name: this.name,
      port: this.port,
      link: this.link.state,
      protocolSetting: this.d.conf.protocol,
      registration: registrationSection(this.registration()),
      zreportCheck: (await this.zCheck()) ?? null,
      ...(dev ? { device: dev.status, deviceAt: dev.at } : {}),
      dispatcher: this.dispatcher.state,
      ...(inflight ? { inflight: { seq: inflight.seq, startedAt: inflight.startedAt } } : {}),
      ...(dev ? { extra: { ...watchSections(dev.status, dev.at, this.d.config.watch), shift_clock: await this.shiftClock(dev.status) } } : {}),
    });
  }
}
