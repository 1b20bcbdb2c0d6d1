/**
 * Incoming MQTT messages → validated, durably queued jobs (write-before-ack), or immediate answers.
 * Every path answers on a result/response topic through the outbox; nothing here throws on input.
 */
import { parseReceiptMessage } from '../fiscal/parse.ts';
import { acceptedResult, failResult } from '../fiscal/result.ts';
import type { ValidationContext } from '../fiscal/model.ts';
import { GatewayError, SystemCodes, type GatewayErrorJson } from '../errors.ts';
import type { Topics } from '../mqtt/bridge.ts';
import type { Logger } from '../log.ts';
import type { QueueStore } from '../queue/store.ts';
import type { JobRecord, OutboxMessage } from '../queue/types.ts';
import { verifyEnvelope, externalIdOf, type SigningConfig } from '../security/signature.ts';

/** Commands that go through the queue, in order with receipts. */
export const QUEUED_COMMANDS = new Set(['open_shift', 'close_shift', 'x_report', 'cash_in', 'cash_out']);

export interface IngestDeps {
  store: QueueStore;
  topics: Topics;
  logger: Logger;
  validation: () => ValidationContext;
  now: () => Date;
  /** a job was queued */
  onQueued: () => void;
  /** answers `status` */
  status: () => Promise<unknown>;
  /** the outbox has something new */
  onOutbox: () => void;
  /**
   * publishes at once, bypassing the outbox (used when the disk refuses writes); best effort, and nothing to wait
   * for: inside the MQTT handler the broker's PUBACK for it cannot be read until the handler returns
   */
  publishNow?: (topic: string, payload: string) => void;
  /** the ids of the gateway's registers: a command's `device` must be one; without it, there must be one only */
  devices?: () => string[];
  /** signed messages (security.signing); off when absent or disabled */
  signing?: () => SigningConfig;
}

export function responseMessage(topics: Topics, command: string, transaction: unknown, body: { status: 'ok'; data?: unknown } | { status: 'error'; error: GatewayErrorJson }): OutboxMessage {
  return { topic: topics.response(command), payload: JSON.stringify({ transaction: transaction ?? null, ...body }) };
}

/** What became of a receipt handed to the gateway (MQTT or the web page). */
export type SubmitOutcome =
  | { status: 'accepted'; externalId: string }
  | { status: 'duplicate'; externalId: string; record: JobRecord }
  | { status: 'rejected'; externalId: string | null; error: GatewayErrorJson };

function fail(code: string, message: string, retryable = false): GatewayErrorJson {
  return new GatewayError(code, 'system', message, retryable).toJSON();
}

export class Ingest {
  constructor(private readonly d: IngestDeps) {}

  /** Resolves once the message is durably handled (then the broker gets its PUBACK). */
  async handle(topic: string, raw: Buffer): Promise<void> {
    const { topics } = this.d;
    const isReceipt = topic === topics.receipt;
    const command = topic.startsWith(topics.requestPrefix) ? topic.slice(topics.requestPrefix.length) : undefined;
    if (!isReceipt && command === undefined) {
      this.d.logger.warn({ topic }, 'message on an unexpected topic ignored');
      return;
    }
    let payload = raw;
    const signing = this.d.signing?.();
    if (signing?.enabled) {
      try {
        payload = verifyEnvelope(raw, signing, Math.floor(this.d.now().getTime() / 1000));
      } catch (err) {
        const error = (err as GatewayError).toJSON();
        this.d.logger.warn({ topic, code: error.code, reason: error.text }, 'message refused: signature');
        if (isReceipt) return this.answer({ topic: topics.result, payload: JSON.stringify(failResult(externalIdOf(raw) as string, error, this.d.now())) });
        return this.answer(responseMessage(topics, command!, null, { status: 'error', error }));
      }
    }
    return isReceipt ? this.receipt(payload) : this.request(command!, payload, signing?.enabled === true);
  }

  private async answer(msg: OutboxMessage): Promise<void> {
    await this.d.store.enqueueOutbox(msg);
    this.d.onOutbox();
  }

  private async receipt(payload: Buffer): Promise<void> {
    await this.submitReceipt(payload);
  }

  /**
   * One receipt through validation into the queue, its answer on the result topic: the path of MQTT receipts and of
   * the web page's manual receipts alike. Throws only when the disk refuses the write (then nothing is stored).
   */
  async submitReceipt(payload: Buffer): Promise<SubmitOutcome> {
    const { store, topics, now } = this.d;
    const parsed = parseReceiptMessage(payload, this.d.validation());
    if (!parsed.ok) {
      const externalId = parsed.externalId ?? null;
      const error = parsed.error.toJSON();
      this.d.logger.info({ externalId, code: parsed.error.code, field: parsed.error.field }, 'receipt rejected');
      await this.answer({ topic: topics.result, payload: JSON.stringify(failResult(externalId as string, error, now())) });
      return { status: 'rejected', externalId, error };
    }
    const { externalId } = parsed.request;
    const accepted: OutboxMessage = { topic: topics.result, payload: JSON.stringify(acceptedResult(externalId, now())) };
    let res;
    try {
      res = await store.accept({ kind: 'receipt', externalId, body: payload.toString('utf8'), outbox: accepted });
    } catch (err) {
      // the disk refused it: say so at once (the outbox is on that disk), and leave the message unacknowledged
      const error = err instanceof GatewayError ? err.toJSON() : fail(SystemCodes.STORAGE, String(err), true);
      this.d.publishNow?.(topics.result, JSON.stringify(failResult(externalId, error, now())));
      throw err;
    }
    const refuse = async (error: GatewayErrorJson): Promise<SubmitOutcome> => {
      await this.answer({ topic: topics.result, payload: JSON.stringify(failResult(externalId, error, now())) });
      return { status: 'rejected', externalId, error };
    };
    switch (res.status) {
      case 'accepted':
        this.d.onOutbox();
        this.d.onQueued();
        return { status: 'accepted', externalId };
      case 'duplicate':
        this.d.logger.info({ externalId, status: res.record.status }, 'duplicate receipt: re-publishing its result, printing nothing');
        await this.answer({ topic: topics.result, payload: JSON.stringify(res.record.result ?? acceptedResult(externalId, now())) });
        return { status: 'duplicate', externalId, record: res.record };
      case 'mismatch':
        this.d.logger.warn({ externalId }, 'a different body under a known external_id: refused');
        return refuse(fail(SystemCodes.DUPLICATE_MISMATCH, `Чек с external_id «${externalId}» уже принят с другим содержимым / a different receipt with this external_id was already accepted`));
      case 'full':
        this.d.logger.warn({ externalId, depth: store.depth() }, 'queue full: receipt refused');
        return refuse(fail(SystemCodes.QUEUE_FULL, 'Очередь чеков заполнена, повторите позже / the receipt queue is full, retry later', true));
    }
  }

  /**
   * A queued command from the web page (e.g. close_shift): the same path as `<base>/request/<command>`. The
   * transaction makes it idempotent and names its record (`<command>:<transaction>`) for the caller to follow.
   */
  async submitCommand(command: string, transaction: string, params: Record<string, unknown> = {}): Promise<string> {
    await this.request(command, Buffer.from(JSON.stringify({ ...params, transaction })));
    return `${command}:${transaction}`;
  }

  private async request(command: string, payload: Buffer, signed = false): Promise<void> {
    const { store, topics } = this.d;
    let params: Record<string, unknown> = {};
    try {
      const v: unknown = JSON.parse(payload.toString('utf8') || '{}');
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      params = v as Record<string, unknown>;
    } catch {
      return this.answer(responseMessage(topics, command, null, { status: 'error', error: fail(SystemCodes.BAD_JSON, 'the request must be a JSON object') }));
    }
    const transaction = params.transaction;
    const reply = (body: Parameters<typeof responseMessage>[3]): Promise<void> => this.answer(responseMessage(topics, command, transaction, body));
    switch (command) {
      case 'status':
        return reply({ status: 'ok', data: await this.d.status() });
      case 'result': {
        const id = params.external_id;
        const rec = typeof id === 'string' ? await store.getRecord(id) : undefined;
        if (!rec) return reply({ status: 'error', error: fail(SystemCodes.NOT_FOUND, `no receipt with external_id ${JSON.stringify(id)}`) });
        await store.enqueueOutbox({ topic: topics.result, payload: JSON.stringify(rec.result ?? acceptedResult(rec.externalId, this.d.now())) });
        return reply({ status: 'ok', data: { external_id: rec.externalId, status: rec.status } });
      }
      case 'zreports': {
        const limit = typeof params.limit === 'number' && params.limit > 0 ? Math.min(params.limit, 1000) : 50;
        return reply({ status: 'ok', data: (await store.listZReports(limit)).map((z) => z.report) });
      }
      default:
        if (!QUEUED_COMMANDS.has(command)) {
          return reply({ status: 'error', error: fail(SystemCodes.UNKNOWN_COMMAND, `unknown command ${command}`) });
        }
        if (signed && (transaction === undefined || transaction === null)) {
          // a replayed signed command must be an idempotent duplicate: the transaction is its key
          return reply({ status: 'error', error: new GatewayError('SIGNATURE', 'validation', 'signed commands need a `transaction`').toJSON() });
        }
        return this.queueCommand(command, params, payload);
    }
  }

  private async queueCommand(command: string, params: Record<string, unknown>, payload: Buffer): Promise<void> {
    const { store, topics } = this.d;
    if ((command === 'cash_in' || command === 'cash_out') && !(Number.isSafeInteger(Math.round(Number(params.sum) * 100)) && Number(params.sum) > 0)) {
      return this.answer(responseMessage(topics, command, params.transaction, { status: 'error', error: fail('BAD_AMOUNT', '`sum` must be a positive amount in rubles') }));
    }
    const devices = this.d.devices?.() ?? [];
    if (devices.length > 0) {
      const device = params.device;
      if (device !== undefined && (typeof device !== 'string' || !devices.includes(device))) {
        return this.answer(responseMessage(topics, command, params.transaction, { status: 'error', error: new GatewayError('UNKNOWN_DEVICE', 'validation', `no register with the id ${JSON.stringify(device)} (${devices.join(', ')})`).toJSON() }));
      }
      if (device === undefined && devices.length > 1) {
        return this.answer(responseMessage(topics, command, params.transaction, { status: 'error', error: new GatewayError('DEVICE_REQUIRED', 'validation', `this gateway has ${devices.length} registers (${devices.join(', ')}): give \`device\``).toJSON() }));
      }
      if (device === undefined) params = { ...params, device: devices[0] };
    }
    // a transaction id makes a redelivered command idempotent
    const externalId = params.transaction !== undefined && params.transaction !== null ? `${command}:${String(params.transaction)}` : undefined;
    const { transaction, ...rest } = params;
    const res = await store.accept({ kind: 'command', command, params: { ...rest, transaction }, body: payload.toString('utf8'), ...(externalId ? { externalId } : {}) });
    if (res.status === 'accepted') return this.d.onQueued();
    if (res.status === 'full') {
      return this.answer(responseMessage(topics, command, transaction, { status: 'error', error: fail(SystemCodes.QUEUE_FULL, 'the queue is full', true) }));
    }
    if (res.status === 'duplicate' && res.record.result) {
      return this.answer({ topic: topics.response(command), payload: JSON.stringify(res.record.result) });
    }
    // a duplicate still queued will answer when it runs
  }
}
