/** Shapes stored by the queue (src/queue/store.ts). All values are JSON-encoded in LevelDB. */

export type JobKind = 'receipt' | 'command';
export type RecordStatus = 'accepted' | 'done' | 'fail';

/** A message for the broker, kept in the outbox until the broker acknowledged it. */
export interface OutboxMessage {
  topic: string;
  payload: string;
}

export interface OutboxEntry extends OutboxMessage {
  /** opaque key for ackOutbox() */
  key: string;
}

/** What the MQTT side hands to accept(). */
export interface AcceptItem {
  kind: JobKind;
  /** the idempotency key; without it there is no duplicate detection and no journal record */
  externalId?: string;
  command?: string;
  params?: Record<string, unknown>;
  /** the exact original payload */
  body: string;
  /** the `accepted` result, written in the same batch as the job */
  outbox?: OutboxMessage;
}

/** One entry of the FIFO. */
export interface Job {
  seq: number;
  kind: JobKind;
  externalId?: string;
  command?: string;
  params?: Record<string, unknown>;
  body: string;
  /** sha256 hex of body */
  hash: string;
  acceptedAt: number;
}

/** What is known about an external_id (ids/<external_id>), for duplicates and the web journal. */
export interface JobRecord {
  externalId: string;
  seq: number;
  kind: JobKind;
  command?: string;
  hash: string;
  acceptedAt: number;
  status: RecordStatus;
  finishedAt?: number;
  result?: object;
  /** stored once the job is finished; getRecord()/listRecords() fill it from the job while it is queued */
  body?: string;
}

export type AcceptResult =
  | { status: 'accepted'; seq: number }
  | { status: 'duplicate'; record: JobRecord }
  | { status: 'mismatch'; record: JobRecord }
  | { status: 'full' };

export interface Inflight {
  seq: number;
  /** the FN's last fiscal document number before the job was sent */
  lastFdBefore?: number;
  startedAt: number;
  attempt?: number;
  /** the serial number of the FN the job was started on: only that FN settles it */
  fn?: string;
  /**
   * on disk only: the record of the receipt completed on this register just before, while that completion might
   * not be durable yet (QueueStore.putBinding)
   */
  prev?: Inflight;
}

export interface Outcome {
  status: 'done' | 'fail';
  result: object;
  outbox: OutboxMessage[];
  /** a Z-report produced by this job (close_shift), stored in the same batch */
  zreport?: object;
  /** named values (getMeta/setMeta) written in the same batch; undefined removes one */
  meta?: Record<string, unknown>;
}

export interface RecordQuery {
  status?: RecordStatus;
  /** acceptedAt ≥ from (ms) */
  from?: number;
  /** acceptedAt < to (ms) */
  to?: number;
  /** case-insensitive substring of external_id */
  search?: string;
  limit?: number;
  /** the `next` cursor of the previous page */
  before?: string;
}

export interface RecordPage {
  /** newest first */
  records: JobRecord[];
  /** pass as `before` for the next page; absent when there is nothing more */
  next?: string;
}

export interface StoredZReport {
  key: string;
  addedAt: number;
  report: object;
}
