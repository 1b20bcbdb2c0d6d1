/** What a queued job does on the register, and how its outcome is recorded and published. */
import { DriverError, type DeviceStatus, type FiscalDriver, type FiscalReceipt } from '../../drivers/types.ts';
import type { DispatchJob, JobOutcome, JobRunner } from '../dispatch/dispatcher.ts';
import { parseReceiptMessage } from '../fiscal/parse.ts';
import { doneResult, failResult, formatTimestamp } from '../fiscal/result.ts';
import { toKopecks, MAX_TOTAL_KOPECKS } from '../fiscal/money.ts';
import { GatewayError, type GatewayErrorJson } from '../errors.ts';
import type { Topics } from '../mqtt/bridge.ts';
import type { Logger } from '../log.ts';
import type { QueueStore } from '../queue/store.ts';
import type { Job, OutboxMessage } from '../queue/types.ts';
import { responseMessage } from './ingest.ts';
import { SHIFT_CHECK, type Shifts } from './shifts.ts';

/** the internal command printing a non-fiscal service slip (`params.lines`; `params.device` picks the register) */
export const PRINT_SLIP = 'print_slip';
import { addReceipt, BOOK_META, type ZBook } from './zbook.ts';

export interface RunnerDeps {
  store: QueueStore;
  topics: Topics;
  logger: Logger;
  now: () => Date;
  registrationNumber: () => string;
  /** fiscal.ofd_link for a document, when configured */
  link?: (fd: number, fp: number, qr: string) => string | undefined;
  shifts: Shifts;
  /** the named value (getMeta) of this register's book of the shift */
  bookKey?: string;
  /** the register's id, named in results */
  device?: string;
  /** a job was finished (recorded) */
  onFinish?: (job: DispatchJob) => void;
  /** an outcome was recorded: flush the outbox */
  onOutbox: () => void;
  /** a Z-report was produced */
  onZReport?: (z: object) => void;
}

export function driverErrorJson(err: Error): GatewayErrorJson {
  if (err instanceof DriverError) {
    return new GatewayError(err.code, 'device', err.message, err.retryable, undefined, err.deviceCode).toJSON();
  }
  if (err instanceof GatewayError) return err.toJSON();
  return new GatewayError('SYSTEM', 'system', err.message, false).toJSON();
}

export class Runner implements JobRunner {
  /** the parsed head receipt: parsing happens once per job, not once per attempt */
  private cached: { seq: number; receipt: FiscalReceipt } | undefined;
  /** the named values a close_shift job stores with its Z-report */
  private closing: { seq: number; meta: Record<string, unknown> } | undefined;

  constructor(private readonly d: RunnerDeps) {}

  receiptOf(job: DispatchJob): FiscalReceipt | undefined {
    if (this.cached?.seq === job.seq) return this.cached.receipt;
    // the body was fully validated when accepted; the register-dependent checks are not repeated here
    const parsed = parseReceiptMessage((job as Job).body, { requireCustomerContact: false, maxItems: Number.MAX_SAFE_INTEGER });
    if (!parsed.ok) return undefined;
    this.cached = { seq: job.seq, receipt: parsed.request.receipt };
    return parsed.request.receipt;
  }

  commandDocTypes(job: DispatchJob): number[] {
    if (job.command === 'open_shift') return [2];
    if (job.command === 'close_shift') return [5];
    return [];
  }

  async prepare(status: DeviceStatus, driver: FiscalDriver, job: DispatchJob): Promise<boolean> {
    // a service slip neither opens nor closes a shift
    if (job.command === PRINT_SLIP) return false;
    return this.d.shifts.beforeJob(status, driver, job);
  }

  async runCommand(job: DispatchJob, driver: FiscalDriver): Promise<unknown> {
    const p = job.params ?? {};
    switch (job.command) {
      case 'open_shift':
        return this.d.shifts.open(driver);
      case 'close_shift': {
        const { report, meta } = await this.d.shifts.close(driver, 'command');
        this.closing = { seq: job.seq, meta };
        return report;
      }
      case SHIFT_CHECK:
        // the close (if still due) happened in prepare(); nothing else to do
        return {};
      case PRINT_SLIP: {
        // a non-fiscal service slip (the web page's setup code): never a fiscal document
        const lines = Array.isArray(p.lines) ? p.lines.filter((l): l is string => typeof l === 'string') : [];
        if (!driver.printText) throw new GatewayError('NOT_SUPPORTED', 'system', 'this register\'s driver prints no text');
        await driver.printText(lines);
        return {};
      }
      case 'x_report':
        await driver.xReport();
        return {};
      case 'cash_in':
      case 'cash_out': {
        const sum = toKopecks(p.sum, 'sum', MAX_TOTAL_KOPECKS);
        await (job.command === 'cash_in' ? driver.cashIn(sum) : driver.cashOut(sum));
        return { sum: p.sum };
      }
      default:
        throw new GatewayError('UNKNOWN_COMMAND', 'system', `unknown command ${job.command}`);
    }
  }

  async finish(job: DispatchJob, outcome: JobOutcome): Promise<void> {
    const now = this.d.now();
    const outbox: OutboxMessage[] = [];
    let result: object;
    let zreport: object | undefined;
    let meta: Record<string, unknown> | undefined;
    if (job.kind === 'receipt') {
      const id = job.externalId ?? '';
      const receipt = this.receiptOf(job);
      result = outcome.status === 'done' && outcome.receipt
        ? doneResult(id, outcome.receipt, { registrationNumber: this.d.registrationNumber(), now, ...(this.d.link ? { link: this.d.link } : {}) })
        : failResult(id, driverErrorJson(outcome.status === 'fail' ? outcome.error : new Error('no fiscal result')), now);
      // the register that printed it (or, for a failure, on which it was tried)
      if (this.d.device !== undefined) result = { ...result, device: this.d.device };
      outbox.push({ topic: this.d.topics.result, payload: JSON.stringify(result) });
      // the shift's book for the Z-report, in the same batch as the completion
      if (outcome.status === 'done' && outcome.receipt && receipt) {
        const key = this.d.bookKey ?? BOOK_META;
        meta = { [key]: addReceipt(await this.d.store.getMeta<ZBook>(key), receipt, outcome.receipt) };
      }
    } else if (job.command === SHIFT_CHECK || job.command === PRINT_SLIP) {
      // internal jobs: nothing published (a slip's text is a secret)
      result = { status: outcome.status };
    } else {
      const command = job.command ?? 'unknown';
      const transaction = job.params?.transaction;
      const msg = outcome.status === 'done'
        ? responseMessage(this.d.topics, command, transaction, { status: 'ok', data: outcome.data })
        : responseMessage(this.d.topics, command, transaction, { status: 'error', error: driverErrorJson(outcome.error) });
      result = JSON.parse(msg.payload) as object;
      if (this.d.device !== undefined) {
        result = { ...result, device: this.d.device };
        msg.payload = JSON.stringify(result);
      }
      outbox.push(msg);
      if (command === 'close_shift' && outcome.status === 'done') {
        // a report built by Shifts.close; a close recovered from the FN after a crash has only the document
        zreport = this.closing?.seq === job.seq ? (outcome.data as object) : { ...(this.d.device !== undefined ? { device: this.d.device } : {}), ...(outcome.data as object), closed_at: formatTimestamp(now) };
        if (this.closing?.seq === job.seq) meta = this.closing.meta;
        outbox.push({ topic: this.d.topics.zreport, payload: JSON.stringify(zreport) });
      }
    }
    if (this.closing?.seq === job.seq) this.closing = undefined;
    await this.d.store.complete(job.seq, { status: outcome.status, result, outbox, ...(zreport ? { zreport } : {}), ...(meta ? { meta } : {}) });
    if (zreport) this.d.onZReport?.(zreport);
    this.d.onFinish?.(job);
    // The publish (and its log line) waits for the next turn of the event loop: the outcome is on disk and in the
    // outbox already, and in a burst the dispatcher's way to the next receipt's first byte on the wire (its head, its
    // binding, the ENQ) is all in this turn, so the line does not stand idle while the result is published.
    const line = { seq: job.seq, externalId: job.externalId, command: job.command, status: outcome.status };
    setImmediate(() => {
      this.d.logger.info(line, 'job finished');
      this.d.onOutbox();
    });
  }
}
