/**
 * Takes the head of the queue and fiscalizes it, exactly once.
 *
 * Before a job touches the register, the FN's last document number is written (synced) as the job's in-flight
 * record. After any uncertainty — an `uncertain` driver error, a lost link, a crash and restart — the in-flight job
 * is reconciled against the FN before anything is printed again: documents after the recorded number are looked up;
 * one that matches the job (document type, operation, total) is the job's result; a receipt left open is cancelled;
 * only then is the job printed again.
 */
import { EventEmitter } from 'node:events';
import { DriverError, type DocumentRef, type FiscalDriver, type FiscalReceipt, type FiscalResult, type DeviceStatus, type FnDocumentCopy } from '../../drivers/types.ts';
import { copyDifferences, copyIsComparable } from './fn-copy.ts';
import type { Logger } from '../log.ts';

export interface InflightInfo {
  seq: number;
  lastFdBefore?: number;
  startedAt: number;
  attempt?: number;
  /** the serial number of the FN the job was started on (a pool binds the job to it) */
  fn?: string;
}

/** What the dispatcher needs of a job (the queue store's job, with its parsed content). */
export interface DispatchJob {
  seq: number;
  kind: 'receipt' | 'command';
  externalId?: string;
  command?: string;
  params?: Record<string, unknown>;
}

export type JobOutcome =
  | { status: 'done'; receipt?: FiscalResult; data?: unknown; recovered?: boolean }
  | { status: 'fail'; error: DriverError | Error };

/** The parts of the queue store the dispatcher uses. */
export interface DispatchStore {
  head(): Promise<DispatchJob | undefined>;
  inflight(): Promise<InflightInfo | undefined>;
  setInflight(seq: number, info: Omit<InflightInfo, 'seq'>): Promise<void>;
  clearInflight(): Promise<void>;
  /** the job from head() was not started (nothing sent): another register may take it (a pool) */
  release?(job: DispatchJob): void;
  /** the job from head() was finished */
  finished?(job: DispatchJob): void;
}

/** Executes jobs; the service supplies it (receipt parsing, commands, shift policy). */
export interface JobRunner {
  /** the receipt of a receipt job, for printing and for matching against the FN */
  receiptOf(job: DispatchJob): FiscalReceipt | undefined;
  /** runs a command job on the driver */
  runCommand(job: DispatchJob, driver: FiscalDriver): Promise<unknown>;
  /** FFD document types a command job produces (for reconcile), e.g. close_shift → [5] */
  commandDocTypes(job: DispatchJob): number[];
  /** called before every job with the device status: open or close shifts as policy says */
  /** resolves true when it printed something (a shift document), so the FN's last number moved */
  prepare(status: DeviceStatus, driver: FiscalDriver, job: DispatchJob): Promise<boolean>;
  /** records the outcome durably and publishes it; the job leaves the queue */
  finish(job: DispatchJob, outcome: JobOutcome): Promise<void>;
}

export interface DispatcherOptions {
  store: DispatchStore;
  runner: JobRunner;
  /** returns an opened driver, (re)connecting as needed; throws DriverError NO_LINK when the register is away */
  driver: () => Promise<FiscalDriver>;
  /** the link is bad: drop the driver so the next call reconnects */
  dropDriver: (reason: Error) => Promise<void>;
  logger: Logger;
  backoff?: { minMs: number; maxMs: number };
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

export interface DispatcherState {
  busy: boolean;
  /** set while the head is blocked by a device state */
  blocked?: { code: string; kind: string; message: string; since: number; deviceCode?: number };
  lastError?: { code: string; message: string; at: number };
  lastDoneAt?: number;
}

const defaultSleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class Dispatcher extends EventEmitter {
  readonly state: DispatcherState = { busy: false };
  private wake: (() => void) | undefined;
  private retryWake: (() => void) | undefined;
  /** ends waits (idle, backoff) when stopping; never the job on the wire */
  private readonly abort = new AbortController();
  /** aborts the exchange on the wire: only for a hard stop (the next start reconciles it) */
  private readonly hard = new AbortController();
  private loopDone: Promise<void> | undefined;
  private failures = 0;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private paused = false;

  constructor(private readonly o: DispatcherOptions) {
    super();
    this.sleep = o.sleep ?? defaultSleep;
    this.now = o.now ?? Date.now;
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  /** something was queued: wakes an idle dispatcher (a backoff after a device problem runs its course) */
  nudge(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** a status read shows the register healthy again (paper back, cover closed): no longer reported blocked */
  unblock(): void {
    if (!this.state.blocked || this.state.busy) return;
    this.state.blocked = undefined;
    this.emit('change');
    this.retryNow();
  }

  /** the device may be back (hot-plug, a status read succeeded): ends a backoff too */
  retryNow(): void {
    const r = this.retryWake;
    this.retryWake = undefined;
    r?.();
    this.nudge();
  }

  /**
   * Stops taking jobs. The job on the wire is finished first (a receipt is never cut in the middle), unless `hard`:
   * then its exchange is aborted and the reconcile at the next start settles it.
   */
  async stop(opts: { hard?: boolean } = {}): Promise<void> {
    this.paused = true;
    this.abort.abort();
    if (opts.hard) this.hard.abort();
    this.retryNow();
    await this.loopDone;
  }

  /** waits for a nudge (or stop) */
  private async idle(): Promise<void> {
    if (this.abort.signal.aborted) return;
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private async loop(): Promise<void> {
    while (!this.paused) {
      let job: DispatchJob | undefined;
      try {
        job = await this.o.store.head();
      } catch (err) {
        this.o.logger.error({ err }, 'queue read failed');
        await this.sleep(1000, this.abort.signal);
        continue;
      }
      if (!job) {
        await this.idle();
        continue;
      }
      this.state.busy = true;
      try {
        await this.process(job);
        this.o.store.finished?.(job);
        this.failures = 0;
        if (this.state.blocked) {
          this.state.blocked = undefined;
          this.emit('change');
        }
      } catch (err) {
        // not bound (nothing of it sent): free for another register of a pool
        if ((await this.o.store.inflight().catch(() => undefined))?.seq !== job.seq) this.o.store.release?.(job);
        if (this.paused) break;
        await this.onBlocked(err as Error);
      } finally {
        this.state.busy = false;
      }
    }
  }

  private async onBlocked(err: Error): Promise<void> {
    const de = err instanceof DriverError ? err : undefined;
    const code = de?.code ?? 'SYSTEM';
    const prev = this.state.blocked;
    this.state.blocked = { code, kind: de?.kind ?? 'retryable', message: err.message, since: prev?.code === code ? prev.since : this.now(), ...(de?.deviceCode !== undefined ? { deviceCode: de.deviceCode } : {}) };
    this.state.lastError = { code, message: err.message, at: this.now() };
    if (!prev || prev.code !== code) {
      this.o.logger.warn({ code, kind: de?.kind, err: err.message }, 'queue head blocked; will retry');
      this.emit('change');
    }
    // a link that failed or left us unsure is reopened from scratch; device states (paper, busy) keep the link
    if (!de || de.code === 'NO_LINK' || de.code === 'LINK_GONE' || de.kind === 'uncertain') await this.o.dropDriver(err).catch(() => undefined);
    this.failures++;
    const { minMs, maxMs } = this.o.backoff ?? { minMs: 200, maxMs: 10_000 };
    const delay = Math.min(maxMs, minMs * 2 ** Math.min(this.failures - 1, 16));
    // new receipts do not cut the backoff short (with the register away every message would retry the port at
    // once); stop() and retryNow() do. One AbortController per wait, so no listener outlives it.
    const local = new AbortController();
    const onStop = (): void => local.abort();
    this.abort.signal.addEventListener('abort', onStop, { once: true });
    this.retryWake = () => local.abort();
    try {
      await this.sleep(delay, local.signal);
    } finally {
      this.abort.signal.removeEventListener('abort', onStop);
      this.retryWake = undefined;
    }
  }

  /** One attempt at the head job. Throws to keep the head (retryable states); resolves when the job is finished. */
  private async process(job: DispatchJob): Promise<void> {
    const driver = await this.o.driver();
    const inflight = await this.o.store.inflight();
    if (inflight && inflight.seq === job.seq) {
      const found = await this.reconcile(job, inflight, driver);
      if (found) {
        await this.o.runner.finish(job, found);
        this.state.lastDoneAt = this.now();
        return;
      }
    } else if (inflight) {
      // an in-flight record of a job that is no longer the head was already finished
      await this.o.store.clearInflight();
    }

    // brief: the FN expiry and OFD queue are health's business (read while idle), not needed before a job
    let status = await driver.status({ brief: true });
    if (status.paper === 'waiting_continue') {
      // paper was replaced after it ran out mid-print: finish that print (B0h) before anything else
      await driver.continuePrint();
      status = await driver.status({ brief: true });
    }
    if (status.receiptOpen) {
      // reconcile has cleared ours; anything open now is a leftover no job accounts for
      await driver.cancelReceipt();
      status = await driver.status({ brief: true });
    }
    const printed = await this.o.runner.prepare(status, driver, job);
    // the FN's last number before the job: re-read only when a shift document was just printed
    const before = printed ? (await driver.status({ brief: true })).fn?.lastFd : status.fn?.lastFd;
    // The job's binding (its in-flight record, synced) must be on disk before anything of it can start a document.
    // A receipt's driver overlaps the sync with what starts nothing (Shtrih's ENQ before the first frame) and waits
    // for it before its first fiscal command; everything else waits here.
    const bound = this.o.store.setInflight(job.seq, { ...(before !== undefined ? { lastFdBefore: before } : {}), startedAt: this.now(), attempt: (inflight?.attempt ?? 0) + 1 });
    const receipt = job.kind === 'receipt' ? this.o.runner.receiptOf(job) : undefined;
    if (!receipt) await bound;

    let outcome: JobOutcome;
    try {
      if (job.kind === 'receipt') {
        outcome = receipt
          ? { status: 'done', receipt: await driver.fiscalize(receipt, this.hard.signal, { ready: bound.then(() => true, () => false) }).finally(() => bound) }
          : { status: 'fail', error: new DriverError('BAD_JOB', 'rejected', `job ${job.seq} holds no readable receipt`) };
      } else {
        outcome = { status: 'done', data: await this.o.runner.runCommand(job, driver) };
      }
    } catch (err) {
      // settled before anything is decided: a failed binding is the reason (nothing of the job was sent), and a
      // binding still being written must not meet a release of the job to another register
      await bound;
      if (err instanceof DriverError && err.kind === 'rejected') {
        outcome = { status: 'fail', error: err };
      } else {
        throw err; // keep the head and the in-flight record: the next attempt reconciles first
      }
    }
    await this.o.runner.finish(job, outcome);
    this.state.lastDoneAt = this.now();
  }

  /**
   * Looks for the job's document in the FN after the number recorded before it started. Returns the outcome when
   * found; otherwise cancels a receipt left open, clears the in-flight record and returns undefined (print again).
   */
  private async reconcile(job: DispatchJob, inflight: InflightInfo, driver: FiscalDriver): Promise<JobOutcome | undefined> {
    const status = await driver.status();
    const last = status.fn?.lastFd;
    const log = this.o.logger.child({ seq: job.seq, externalId: job.externalId, lastFdBefore: inflight.lastFdBefore, lastFd: last });
    const fnNow = driver.info()?.fnNumber ?? status.fn?.serial;
    if (inflight.fn && fnNow && inflight.fn !== fnNow) {
      // another FN behind this port (register swapped, ports exchanged): only the job's own FN can settle it
      throw new DriverError('FN_MISMATCH', 'fatal', `the job was started on FN ${inflight.fn}, but this register's FN is ${fnNow}; connect the register with FN ${inflight.fn} to settle it`);
    }
    if (last === undefined || inflight.lastFdBefore === undefined) {
      throw new DriverError('RECONCILE_IMPOSSIBLE', 'fatal', 'the FN last document number is unknown; cannot tell whether the job was printed');
    }
    const receipt = job.kind === 'receipt' ? this.o.runner.receiptOf(job) : undefined;
    const wantTypes = job.kind === 'receipt' ? [receipt?.correction ? 31 : 3] : this.o.runner.commandDocTypes(job);
    for (let fd = inflight.lastFdBefore + 1; fd <= last; fd++) {
      const doc = await driver.findDocument(fd);
      if (!doc || !wantTypes.includes(doc.type)) continue;
      if (receipt && (doc.operation !== receipt.operation || doc.total !== receipt.total)) continue;
      let copy: FnDocumentCopy | undefined;
      if (receipt) {
        copy = await this.readCopy(driver, fd, log);
        if (copy) {
          const diff = copyDifferences(copy, receipt);
          if (diff.length > 0) {
            log.warn({ fd, diff }, 'reconcile: FD of the same type and total, but its FN copy is another receipt; not ours');
            continue;
          }
        }
      }
      log.warn({ fd, compared: copy ? 'fn copy' : 'type and total' }, 'reconcile: the FN holds the in-flight job; not printing it again');
      return receipt ? { status: 'done', receipt: await this.resultFromDocument(doc, receipt, status, driver, copy), recovered: true } : { status: 'done', data: { document: doc }, recovered: true };
    }
    if (status.receiptOpen) {
      log.warn('reconcile: a receipt was left open on the device; cancelling it');
      await driver.cancelReceipt();
    }
    if (job.kind === 'command' && wantTypes.length === 0 && inflight.attempt !== undefined) {
      log.info('reconcile: non-fiscal command; running it again');
    } else {
      log.info('reconcile: the FN does not hold the in-flight job; printing it again');
    }
    // the in-flight record stays: the job remains bound to this register (a pool never moves a started job), and
    // the attempt that follows writes it anew with the FN's number before it
    return undefined;
  }

  /** the FN's copy of a document, when the driver can read it and it says enough to compare */
  private async readCopy(driver: FiscalDriver, fd: number, log: Logger): Promise<FnDocumentCopy | undefined> {
    if (!driver.documentCopy) return undefined;
    try {
      const copy = await driver.documentCopy(fd);
      return copy && copyIsComparable(copy) ? copy : undefined;
    } catch (err) {
      if (err instanceof DriverError && (err.code === 'NO_LINK' || err.code === 'STOPPING')) throw err;
      log.warn({ fd, err: (err as Error).message }, 'reconcile: the FN copy could not be read; comparing type and total only');
      return undefined;
    }
  }

  private async resultFromDocument(doc: DocumentRef, receipt: FiscalReceipt, status: DeviceStatus, driver: FiscalDriver, copy?: FnDocumentCopy): Promise<FiscalResult> {
    const info = driver.info();
    // The receipt number within the shift is not in FF0A; the shift's last receipt number is ours when the
    // document is the FN's last receipt (the usual case: the answer of the closing command was lost).
    const shift = await driver.status();
    return {
      fdNumber: doc.fdNumber,
      fiscalSign: doc.fiscalSign,
      dateTime: doc.dateTime,
      shiftNumber: copy?.shiftNumber ?? shift.shiftNumber ?? status.shiftNumber ?? 0,
      receiptNumber: copy?.receiptNumber ?? (shift.fn?.lastFd === doc.fdNumber ? shift.receiptNumber ?? 0 : 0),
      fnNumber: info?.fnNumber ?? shift.fn?.serial ?? '',
      operation: receipt.operation,
      total: receipt.total,
      change: 0,
    };
  }
}
