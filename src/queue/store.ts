/**
 * The durable queue: one LevelDB with sublevels for the FIFO of jobs, the external_id index, the results outbox,
 * the in-flight job, a retention index, the receipts journal and the Z-report list.
 *
 * Every mutation runs under one write lock and is one atomic LevelDB batch; counters (depth, next sequence numbers)
 * live in `meta/counters` and are written in the same batch as the data they count, so nothing is ever scanned to
 * count it. accept() calls are group-committed: all calls that arrive while a write is in flight (or in the same
 * turn of the event loop) become one synced batch, and each promise resolves only after that batch is on disk.
 *
 * Key layout (sublevel / key → value):
 *   meta/counters                    → Counters
 *   jobs/<seq>                       → Job                 FIFO; seq zero-padded, so key order = numeric order
 *   ids/<external_id>                → JobRecord           duplicates, results, journal details
 *   journal/<acceptedAt>.<seq>       → external_id         the web journal, newest first
 *   done/<finishedAt>.<seq>          → external_id         retention index
 *   outbox/<n>                       → OutboxMessage       results not yet acknowledged by the broker, FIFO
 *   inflight/<register id>           → Inflight            the job on the wire of each register of the pool
 *                                                          (`current`: the one register before pools, and tests)
 *   zreports/<n>                     → { addedAt, report }
 */
import { createHash } from 'node:crypto';
import { promises as fsp, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Level, type BatchOperation } from 'level';
import { GatewayError, SystemCodes } from '../errors.ts';
import type { Logger } from '../log.ts';
import type {
  AcceptItem, AcceptResult, Inflight, Job, JobRecord, Outcome, OutboxEntry, OutboxMessage, RecordPage, RecordQuery, StoredZReport,
} from './types.ts';

export type * from './types.ts';

export interface QueueOptions {
  /** bound of the FIFO; accept() answers `full` at this depth (default 100,000) */
  maxJobs?: number;
  /** finished records older than this are removed by purgeExpired() (default 30) */
  retentionDays?: number;
  /** ms since epoch (default Date.now) */
  clock?: () => number;
  logger?: Logger;
  /** called before every batch write with its operations; a throw fails the write (tests: counting, faults) */
  beforeWrite?: (ops: readonly Op[]) => void | Promise<void>;
  /** called after every synced batch, still under the write lock (tests: a copy of the database at each sync point) */
  afterSync?: () => void | Promise<void>;
  /** called with the LevelDB log files made durable by syncLogs() (tests: which log held what, and when it was synced) */
  afterLogSync?: (files: readonly string[]) => void;
  /** LevelDB's memtable size in bytes (default 4 MB); tests make it small to switch logs often */
  writeBufferSize?: number;
}

interface Counters {
  nextSeq: number;
  depth: number;
  nextOutbox: number;
  outboxDepth: number;
  nextZ: number;
}

type Db = Level<string, unknown>;
/** the outbox is mirrored in memory up to this many entries (QueueStore.outboxMirror) */
const OUTBOX_MIRROR_MAX = 1000;
type Op = BatchOperation<Db, string, unknown>;
type Sub<V> = ReturnType<typeof sublevel<V>>;

interface PendingAccept {
  item: AcceptItem;
  resolve: (r: AcceptResult) => void;
  reject: (e: unknown) => void;
}

const DAY_MS = 86_400_000;
/** the in-flight key of a store used without register ids (one register; the key before pools existed) */
export const LEGACY_INFLIGHT = 'current';
const PURGE_CHUNK = 500;
/** most accepts in one batch (bounds a batch's size; the rest go into the next one) */
const MAX_GROUP = 1000;
/** listRecords() examines at most this many journal entries per call, then returns a cursor */
const SCAN_MAX = 5000;

const pad = (n: number): string => String(n).padStart(16, '0');
const journalKey = (r: { acceptedAt: number; seq: number }): string => `${pad(r.acceptedAt)}.${pad(r.seq)}`;
const doneKey = (r: JobRecord): string => `${pad(r.finishedAt ?? 0)}.${pad(r.seq)}`;
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

function sublevel<V>(db: Db, name: string) {
  return db.sublevel<string, V>(name, { valueEncoding: 'json' });
}

const CLOSED_KEY = 'closed';

async function countKeys<V>(sub: Sub<V>): Promise<number> {
  const it = sub.keys();
  let n = 0;
  try {
    for (let batch = await it.nextv(1000); batch.length > 0; batch = await it.nextv(1000)) n += batch.length;
  } finally {
    await it.close();
  }
  return n;
}

function withoutPrev(value: Inflight): Inflight {
  if (value.prev === undefined) return value;
  const { prev: _prev, ...rest } = value;
  return rest;
}

function recordOf(job: Job, externalId: string): JobRecord {
  const { seq, kind, command, hash, acceptedAt } = job;
  return { externalId, seq, kind, command, hash, acceptedAt, status: 'accepted' };
}

function storageError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = new GatewayError(SystemCodes.STORAGE, 'system', `queue storage: ${(err as Error)?.message ?? String(err)}`, true);
  e.cause = err;
  return e;
}

const countersDiffer = (a: Counters, b: Counters): boolean =>
  a.nextSeq !== b.nextSeq || a.depth !== b.depth || a.nextOutbox !== b.nextOutbox || a.outboxDepth !== b.outboxDepth || a.nextZ !== b.nextZ;

/** Operations of one batch, the counters as they will be after it, and memory updates to apply once it is written. */
class Tx {
  readonly ops: Op[] = [];
  readonly after: Array<() => void> = [];
  readonly c: Counters;
  /** whether the batch is synced; build() may relax it (a completion the FN can tell again) */
  sync: boolean;
  /** after the batch, every LevelDB log on disk is made durable, not only the current one (QueueStore.syncLogs) */
  syncLogs = false;
  /** memory updates that hold only once syncLogs() succeeded (tx.after ones follow the batch itself) */
  readonly afterLogs: Array<() => void> = [];
  constructor(c: Counters, sync: boolean) {
    this.c = { ...c };
    this.sync = sync;
  }
  put<V>(sub: Sub<V>, key: string, value: V): void {
    this.ops.push({ type: 'put', sublevel: sub, key, value });
  }
  del<V>(sub: Sub<V>, key: string): void {
    this.ops.push({ type: 'del', sublevel: sub, key });
  }
}

export class QueueStore {
  private readonly meta: Sub<Counters>;
  private readonly jobs: Sub<Job>;
  private readonly ids: Sub<JobRecord>;
  private readonly journal: Sub<string>;
  private readonly done: Sub<string>;
  private readonly outbox: Sub<OutboxMessage>;
  private readonly inflightSub: Sub<Inflight>;
  /** meta/closed: written by close(), removed at open (checkCounters) */
  private readonly closedMark: Sub<number>;
  private readonly zreports: Sub<{ addedAt: number; report: object }>;
  /** small named values other parts keep across restarts (e.g. the current shift) */
  private readonly state: Sub<unknown>;

  private readonly maxJobs: number;
  private readonly retentionMs: number;
  private readonly clock: () => number;
  private readonly log: Logger | undefined;
  private readonly beforeWrite: QueueOptions['beforeWrite'];
  private readonly afterSync: QueueOptions['afterSync'];
  private readonly afterLogSync: QueueOptions['afterLogSync'];
  /**
   * By register: the in-flight record that a receipt's completion written without a sync removed last. That
   * completion may not be on disk yet when the register's next job is bound (putBinding).
   */
  private readonly unsyncedCompletion = new Map<string, Inflight>();

  private c: Counters = { nextSeq: 1, depth: 0, nextOutbox: 1, outboxDepth: 0, nextZ: 1 };
  /** the in-flight record of each register (by register id) */
  private current = new Map<string, Inflight>();
  /**
   * The head job; undefined = not known (re-read on demand); headGen guards against a read racing a write. `next`,
   * when known, is the job after the head (its job undefined: none), so that completing the head reads nothing: it
   * is learnt from accepts into a queue known to end at the head, and read ahead while the head is printed
   * (prefetchNext); nextGen, bumped by every job added or removed, guards that read.
   */
  private headCache: { job: Job | undefined; next?: { job: Job | undefined } } | undefined;
  private headGen = 0;
  private nextGen = 0;
  /**
   * The named values (getMeta) read or written so far, undefined for a name known to be absent: the runner reads the
   * shift's book and the shift for every receipt, and a LevelDB get is a round trip through libuv's pool (issue 17).
   * Every batch that touches them updates this after it is written (write()); metaGen guards a read racing a write.
   */
  private readonly metaCache = new Map<string, unknown>();
  private metaGen = 0;
  /**
   * The outbox as it is on disk, in key order, while it is small: the pump reads a batch and removes what the broker
   * took for every result, and an iterator (or a getMany) per flush was a fifth of the main thread's time per receipt.
   * Complete only while it mirrors every entry: from an empty outbox on, kept by write() after each batch; dropped
   * past OUTBOX_MIRROR_MAX entries (the broker away for long: memory must not grow with the backlog) and complete
   * again once the outbox is empty.
   */
  private readonly outboxMirror = new Map<string, OutboxMessage>();
  private outboxMirrored = false;
  private lock: Promise<unknown> = Promise.resolve();
  private acceptQueue: PendingAccept[] = [];

  private constructor(private readonly db: Db, private readonly dir: string, opts: QueueOptions) {
    this.meta = sublevel(db, 'meta');
    this.jobs = sublevel(db, 'jobs');
    this.ids = sublevel(db, 'ids');
    this.journal = sublevel(db, 'journal');
    this.done = sublevel(db, 'done');
    this.outbox = sublevel(db, 'outbox');
    this.inflightSub = sublevel(db, 'inflight');
    this.closedMark = sublevel(db, 'meta');
    this.zreports = sublevel(db, 'zreports');
    this.state = sublevel(db, 'state');
    this.maxJobs = opts.maxJobs ?? 100_000;
    this.retentionMs = (opts.retentionDays ?? 30) * DAY_MS;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.logger;
    this.beforeWrite = opts.beforeWrite;
    this.afterSync = opts.afterSync;
    this.afterLogSync = opts.afterLogSync;
  }

  /** Opens (creating if missing) the queue in `dir`. Reads the counters, the in-flight record and the head only. */
  static async open(dir: string, opts: QueueOptions = {}): Promise<QueueStore> {
    // sized for a Raspberry Pi: a 2 MB block cache (default 8 MB; reads are few: the head, a journal page), the
    // default 4 MB write buffer (short-lived keys — in-flight, outbox — mostly die in it before reaching the SD card)
    const db: Db = new Level<string, unknown>(dir, { valueEncoding: 'json', cacheSize: 2 * 1024 * 1024, maxOpenFiles: 100, ...(opts.writeBufferSize ? { writeBufferSize: opts.writeBufferSize } : {}) });
    try {
      await db.open();
      const store = new QueueStore(db, dir, opts);
      store.c = (await store.meta.get('counters')) ?? store.c;
      await store.checkCounters();
      await store.loadInflight();
      store.outboxMirrored = store.c.outboxDepth === 0;
      await store.head();
      store.log?.info({ dir, depth: store.c.depth, outbox: store.c.outboxDepth, inflight: Object.fromEntries([...store.current].map(([k, v]) => [k, v.seq])) }, 'queue opened');
      return store;
    } catch (err) {
      await db.close().catch(() => undefined);
      throw storageError(err);
    }
  }

  // ---- jobs ------------------------------------------------------------------------------------------------------

  /**
   * Durably queues a job, or tells why not. Resolves only after the synced write of the batch that holds it
   * (or, for duplicate/mismatch/full, of the group it was part of). Rejects with GatewayError STORAGE (retryable)
   * when the group's write fails; then nothing of the group was written.
   */
  accept(item: AcceptItem): Promise<AcceptResult> {
    return new Promise((resolve, reject) => {
      if (this.acceptQueue.push({ item, resolve, reject }) === 1) this.commitAcceptGroup();
    });
  }

  /** The oldest job (strict FIFO), or undefined when the queue is empty. */
  async head(): Promise<Job | undefined> {
    if (this.headCache) return this.headCache.job;
    const gen = this.headGen;
    const ngen = this.nextGen;
    const [job, next] = await this.jobs.values({ limit: 2 }).all();
    if (gen === this.headGen) this.headCache = ngen === this.nextGen && job ? { job, next: { job: next } } : { job };
    return job;
  }

  depth(): number {
    return this.c.depth;
  }

  async oldestAcceptedAt(): Promise<number | undefined> {
    return (await this.head())?.acceptedAt;
  }

  /**
   * The first `n` jobs in FIFO order (a pool looks past the jobs already on its registers' wires; few are read).
   */
  async peek(n: number): Promise<Job[]> {
    if (n <= 1) {
      const head = await this.head();
      return head ? [head] : [];
    }
    return this.jobs.values({ limit: n }).all();
  }

  /** a queued job by its sequence number */
  async getJob(seq: number): Promise<Job | undefined> {
    return this.jobs.get(pad(seq));
  }

  /**
   * Reads the in-flight records. A record whose `prev` job is still queued was written after that receipt was
   * completed without a sync, and the completion was lost (a power cut; putBinding): the receipt is in the FN and
   * its register settles it first. The record's own job never started (it starts only once its binding and the
   * completion before it are durable), so the register is bound to the finished receipt again.
   */
  private async loadInflight(): Promise<void> {
    const rebind: Array<[string, Inflight]> = [];
    for (const [device, value] of await this.inflightSub.iterator().all()) {
      const prev = value.prev;
      if (prev && (await this.jobs.get(pad(prev.seq))) !== undefined) {
        this.log?.warn({ device, seq: prev.seq, next: value.seq }, 'a receipt\'s completion was lost (power cut); its register settles it from the FN before anything else');
        rebind.push([device, prev]);
      } else {
        this.current.set(device, withoutPrev(value));
      }
    }
    if (rebind.length === 0) return;
    await this.write((tx) => {
      for (const [device, prev] of rebind) {
        tx.put(this.inflightSub, device, prev);
        tx.after.push(() => this.current.set(device, prev));
      }
    });
  }

  /** Binds a job to a register: its in-flight record, synced before the job's first byte is sent. */
  async setInflight(seq: number, info: Omit<Inflight, 'seq'>, device: string = LEGACY_INFLIGHT): Promise<void> {
    const value: Inflight = { ...info, seq };
    await this.write((tx) => {
      this.putBinding(tx, device, value);
      tx.after.push(() => this.current.set(device, value));
    });
  }

  /** every register's in-flight record, by register id */
  inflightAll(): Map<string, Inflight> {
    return new Map(this.current);
  }

  /**
   * Moves an in-flight record to another register id (a single register's record of before pools to the pool's
   * first register; a renamed register). Refuses to overwrite a record, and to move onto a register whose last
   * receipt was completed without a sync (its record would carry that receipt as `prev`, and a start that found the
   * completion lost would bind the register to it instead of to the moved job: putBinding).
   */
  async moveInflight(from: string, to: string): Promise<boolean> {
    return this.write((tx) => {
      const value = this.current.get(from);
      if (!value || from === to || this.current.has(to) || this.unsyncedCompletion.has(to)) return false;
      tx.del(this.inflightSub, from);
      tx.put(this.inflightSub, to, value);
      tx.after.push(() => {
        this.current.delete(from);
        this.current.set(to, value);
      });
      return true;
    });
  }

  /** a small named value kept across restarts */
  async getMeta<T>(name: string): Promise<T | undefined> {
    if (!this.metaCache.has(name)) {
      const gen = this.metaGen;
      const value = await this.state.get(name);
      if (gen !== this.metaGen) return structuredClone(value) as T | undefined;
      this.metaCache.set(name, value);
    }
    // a copy: what a caller does with it must not change the cache
    return structuredClone(this.metaCache.get(name)) as T | undefined;
  }

  /** sets (or with undefined, removes) a named value; synced */
  async setMeta(name: string, value: unknown): Promise<void> {
    await this.write((tx) => (value === undefined ? tx.del(this.state, name) : tx.put(this.state, name, value)));
  }

  async inflight(device: string = LEGACY_INFLIGHT): Promise<Inflight | undefined> {
    return this.current.get(device);
  }

  async clearInflight(device: string = LEGACY_INFLIGHT): Promise<void> {
    // no record known: nothing to clear (and a deletion must not be durable before an unsynced completion it follows)
    if (!this.current.has(device)) return;
    await this.write((tx) => {
      tx.del(this.inflightSub, device);
      tx.after.push(() => this.current.delete(device));
    });
  }

  /** sets (undefined: removes) several named values in one synced batch */
  async setMetas(values: Record<string, unknown>): Promise<void> {
    await this.write((tx) => this.putMeta(tx, values));
  }

  /**
   * Finishes a job in one batch: the job and its in-flight record go, the record gets its final status, the result
   * messages enter the outbox. Returns false (and writes nothing) when the job is already gone.
   *
   * The FN is the log of a printed receipt: a receipt `done` on a register whose in-flight record is on disk is
   * completed WITHOUT its own sync. A power cut can lose only that completion (the register's next in-flight record
   * is synced, carries this job's record, and is followed by a sync of every LevelDB log: putBinding), and then the
   * in-flight record is still there (or rebound to it at open): the reconcile at the next start finds the receipt in
   * the FN and publishes its result again. Failures and
   * commands stay synced (a refused receipt must not be tried again, a cash-in must not be repeated).
   */
  complete(seq: number, outcome: Outcome): Promise<boolean> {
    return this.write(async (tx) => {
      // the head and the job after it known: nothing to read; else the job and the one after it in one read (when
      // this is the head, the next head is known without another)
      const known = this.headCache?.job?.seq === seq ? this.headCache.next : undefined;
      const [first, after] = known ? [this.headCache!.job, known.job] : await this.jobs.values({ gte: pad(seq), limit: 2 }).all();
      const job = first?.seq === seq ? first : undefined;
      if (job === undefined) return false;
      const inflightOnDisk = [...this.current.values()].some((i) => i.seq === seq);
      if (job.kind === 'receipt' && outcome.status === 'done' && inflightOnDisk) tx.sync = false;
      tx.del(this.jobs, pad(seq));
      tx.c.depth--;
      for (const [device, inflight] of this.current) {
        if (inflight.seq !== seq) continue;
        tx.del(this.inflightSub, device);
        tx.after.push(() => this.current.delete(device));
        if (!tx.sync) tx.after.push(() => this.unsyncedCompletion.set(device, inflight));
      }
      if (job.externalId !== undefined) {
        const record: JobRecord = {
          ...recordOf(job, job.externalId),
          status: outcome.status,
          result: outcome.result,
          finishedAt: this.clock(),
          body: job.body,
        };
        tx.put(this.ids, record.externalId, record);
        tx.put(this.done, doneKey(record), record.externalId);
      }
      for (const m of outcome.outbox) this.pushOutbox(tx, m);
      if (outcome.zreport) this.pushZReport(tx, outcome.zreport);
      this.putMeta(tx, outcome.meta);
      tx.after.push(() => {
        this.nextGen++;
        if (this.headCache?.job?.seq !== seq) {
          // a pool finishes jobs out of order: the one after the head may be this one
          if (this.headCache?.next?.job?.seq === seq) this.forgetHead();
          return;
        }
        // no job is older than the head, and none was written meanwhile (the write lock): the next is the new head
        this.forgetHead();
        this.headCache = { job: after };
        if (after) this.prefetchNext(after);
      });
      return true;
    });
  }

  // ---- outbox ----------------------------------------------------------------------------------------------------

  /** The oldest pending messages, in the order they were written. */
  async outboxBatch(limit: number): Promise<OutboxEntry[]> {
    if (this.outboxMirrored) {
      const out: OutboxEntry[] = [];
      for (const [key, m] of this.outboxMirror) {
        if (out.length >= limit) break;
        out.push({ key, topic: m.topic, payload: m.payload });
      }
      return out;
    }
    const entries = await this.outbox.iterator({ limit }).all();
    return entries.map(([key, m]) => ({ key, topic: m.topic, payload: m.payload }));
  }

  /**
   * Removes an acknowledged message. Not synced: losing an ack in a power cut only re-sends a result, which the
   * contract allows. Returns false when the key was already gone.
   */
  ackOutbox(key: string): Promise<boolean> {
    return this.ackOutboxMany([key]).then((n) => n === 1);
  }

  /** Removes several acknowledged messages in one unsynced batch; resolves with how many were still there. */
  ackOutboxMany(keys: readonly string[]): Promise<number> {
    return this.write(async (tx) => {
      const found = this.outboxMirrored ? keys.map((k) => this.outboxMirror.get(k)) : await this.outbox.getMany([...keys]);
      let n = 0;
      for (const [i, key] of keys.entries()) {
        if (found[i] === undefined) continue;
        tx.del(this.outbox, key);
        tx.c.outboxDepth--;
        n++;
      }
      return n;
    }, false);
  }

  /** Adds a message (e.g. a re-publish request); synced. */
  async enqueueOutbox(msg: OutboxMessage): Promise<void> {
    await this.write((tx) => this.pushOutbox(tx, msg));
  }

  outboxDepth(): number {
    return this.c.outboxDepth;
  }

  // ---- records (duplicates, journal, retention) ------------------------------------------------------------------

  async getRecord(externalId: string): Promise<JobRecord | undefined> {
    const record = await this.ids.get(externalId);
    return record && (await this.withBodies([record]))[0];
  }

  /** A page of the journal, newest accepted first; streams the index, never loads it whole. */
  async listRecords(q: RecordQuery = {}): Promise<RecordPage> {
    const limit = q.limit ?? 50;
    const upper = [q.before, q.to === undefined ? undefined : pad(q.to)].filter((k) => k !== undefined).sort()[0];
    // a range option present but undefined empties a sublevel's range (abstract-level 3): set only what is given
    const range: { reverse: true; gte?: string; lt?: string } = { reverse: true };
    if (q.from !== undefined) range.gte = pad(q.from);
    if (upper !== undefined) range.lt = upper;
    const it = this.journal.iterator(range);
    const needle = q.search?.toLowerCase();
    const found: JobRecord[] = [];
    let cursor: string | undefined;
    try {
      for (let scanned = 0; found.length < limit && scanned < SCAN_MAX; ) {
        const entries = await it.nextv(Math.min(100, SCAN_MAX - scanned));
        if (entries.length === 0) return { records: await this.withBodies(found) };
        const records = await this.ids.getMany(entries.map(([, id]) => id));
        for (const [i, [key]] of entries.entries()) {
          scanned++;
          cursor = key;
          const r = records[i];
          if (!r || journalKey(r) !== key) continue;
          if (q.status !== undefined && r.status !== q.status) continue;
          if (needle !== undefined && !r.externalId.toLowerCase().includes(needle)) continue;
          if (found.push(r) === limit) break;
        }
      }
    } finally {
      await it.close();
    }
    return { records: await this.withBodies(found), next: cursor };
  }

  /** Removes finished records that finished before now − retentionDays. Jobs are never purged. */
  async purgeExpired(now: number = this.clock()): Promise<number> {
    const lt = pad(now - this.retentionMs);
    let removed = 0;
    for (let seen = PURGE_CHUNK; seen === PURGE_CHUNK; ) {
      const chunk = await this.write(async (tx) => {
        const entries = await this.done.iterator({ lt, limit: PURGE_CHUNK }).all();
        const records = await this.ids.getMany(entries.map(([, id]) => id));
        let n = 0;
        for (const [i, [key, id]] of entries.entries()) {
          tx.del(this.done, key);
          const r = records[i];
          if (!r || r.status === 'accepted' || doneKey(r) !== key) continue;
          tx.del(this.ids, id);
          tx.del(this.journal, journalKey(r));
          n++;
        }
        return { seen: entries.length, removed: n };
      }, false);
      seen = chunk.seen;
      removed += chunk.removed;
    }
    if (removed > 0) this.log?.info({ removed }, 'expired records purged');
    return removed;
  }

  // ---- Z-reports -------------------------------------------------------------------------------------------------

  /** Stores a Z-report; with its outbox message and named values (setMeta) in the same batch when given. */
  async addZReport(report: object, extra: { outbox?: OutboxMessage; meta?: Record<string, unknown> } = {}): Promise<string> {
    return this.write((tx) => {
      if (extra.outbox) this.pushOutbox(tx, extra.outbox);
      this.putMeta(tx, extra.meta);
      return this.pushZReport(tx, report);
    });
  }

  /** The newest Z-reports first. */
  async listZReports(limit: number): Promise<StoredZReport[]> {
    const entries = await this.zreports.iterator({ reverse: true, limit }).all();
    return entries.map(([key, v]) => ({ key, ...v }));
  }

  /** Waits for the writes already queued, then closes the database. */
  async close(): Promise<void> {
    await this.exclusive(async () => {
      // the counters are exact: the next open need not count (checkCounters)
      const mark: Op = { type: 'put', sublevel: this.closedMark, key: CLOSED_KEY, value: this.clock() };
      if (this.db.status === 'open') await this.db.batch([mark], { sync: true }).catch(() => undefined);
      await this.db.close();
    });
  }

  /**
   * The counters after a stop that was not a close (a crash, a power cut) are counted again. They are written in
   * every batch that changes them, from memory — and a completion or an outbox removal written without a sync can be
   * lost at a LevelDB log switch while a later synced batch (an accept) that counted it survives (putBinding): the
   * queue's depth one too low, the outbox's one too low or high. An outbox counted too low would make the outbox's
   * mirror hold as complete while a result still waits on disk (never published). A clean close leaves a mark; its
   * absence means count: keys only, in batches (about 0.1 s for 100,000 jobs here).
   */
  private async checkCounters(): Promise<void> {
    const clean = (await this.closedMark.get(CLOSED_KEY)) !== undefined;
    let counted: { depth: number; outboxDepth: number } | undefined;
    if (!clean) {
      counted = { depth: await countKeys(this.jobs), outboxDepth: await countKeys(this.outbox) };
      if (counted.depth !== this.c.depth || counted.outboxDepth !== this.c.outboxDepth) {
        this.log?.warn({ stored: { depth: this.c.depth, outbox: this.c.outboxDepth }, counted }, 'queue counters corrected after a stop that was not a clean close');
      }
    }
    // the mark goes before anything else is written: a stop from here on is seen as not clean
    await this.write((tx) => {
      if (counted && (counted.depth !== tx.c.depth || counted.outboxDepth !== tx.c.outboxDepth)) {
        Object.assign(tx.c, counted);
        tx.put(this.meta, 'counters', tx.c);
      }
      if (clean) tx.del(this.closedMark, CLOSED_KEY);
    });
  }

  // ---- internals -------------------------------------------------------------------------------------------------

  /** Takes the accepts queued so far (waiting one turn of the event loop for more) and writes them as one batch. */
  private commitAcceptGroup(): void {
    let group: PendingAccept[] = [];
    this.write(async (tx) => {
      await nextTurn();
      group = this.acceptQueue.splice(0, MAX_GROUP);
      if (this.acceptQueue.length > 0) this.commitAcceptGroup();
      return this.acceptAll(tx, group.map((p) => p.item));
    }).then(
      (results) => group.forEach((p, i) => p.resolve(results[i]!)),
      (err: unknown) => group.forEach((p) => p.reject(err)),
    );
  }

  private async acceptAll(tx: Tx, items: AcceptItem[]): Promise<AcceptResult[]> {
    const ids = [...new Set(items.flatMap((i) => (i.externalId === undefined ? [] : [i.externalId])))];
    const stored = await this.lookupIds(ids);
    const known = new Map(ids.map((id, i) => [id, stored[i]]));
    const acceptedAt = this.clock();
    return items.map((item): AcceptResult => {
      const hash = sha256(item.body);
      const { externalId } = item;
      const existing = externalId === undefined ? undefined : known.get(externalId);
      if (existing) return { status: existing.hash === hash ? 'duplicate' : 'mismatch', record: existing };
      if (tx.c.depth >= this.maxJobs) return { status: 'full' };
      const seq = tx.c.nextSeq++;
      tx.c.depth++;
      const job: Job = { seq, kind: item.kind, externalId, command: item.command, params: item.params, body: item.body, hash, acceptedAt };
      tx.put(this.jobs, pad(seq), job);
      if (externalId !== undefined) {
        const record = recordOf(job, externalId);
        known.set(externalId, record);
        tx.put(this.ids, externalId, record);
        tx.put(this.journal, journalKey(job), externalId);
      }
      if (item.outbox) this.pushOutbox(tx, item.outbox);
      tx.after.push(() => {
        this.nextGen++;
        if (!this.headCache) this.headGen++; // a head() read in progress may have missed this job: don't cache it
        // the queue was known empty: this is the head and the last; or the queue was known to end at the head
        else if (!this.headCache.job) this.headCache = { job, next: { job: undefined } };
        else if (this.headCache.next && this.headCache.next.job === undefined) this.headCache.next = { job };
      });
      return { status: 'accepted', seq };
    });
  }

  /**
   * The records of these external_ids (undefined where there is none), read through one iterator rather than gets:
   * a LevelDB get that looks in more than one table charges the first one a "seek", and a table that runs out of
   * seeks is compacted into the next level. Almost every accepted external_id is new, so each accept's get looked in
   * every level and charged one: with a history, that rewrote megabytes of the bottom level every few hundred
   * receipts. An iterator's seek charges nothing.
   */
  private async lookupIds(ids: string[]): Promise<(JobRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const it = this.ids.iterator();
    try {
      const out: (JobRecord | undefined)[] = [];
      for (const id of ids) {
        it.seek(id);
        const entry = await it.next();
        out.push(entry !== undefined && entry[0] === id ? entry[1] : undefined);
      }
      return out;
    } finally {
      await it.close();
    }
  }

  private pushOutbox(tx: Tx, msg: OutboxMessage): void {
    tx.put(this.outbox, pad(tx.c.nextOutbox++), { topic: msg.topic, payload: msg.payload });
    tx.c.outboxDepth++;
  }

  private putMeta(tx: Tx, meta: Record<string, unknown> | undefined): void {
    for (const [name, value] of Object.entries(meta ?? {})) {
      if (value === undefined) tx.del(this.state, name);
      else tx.put(this.state, name, value);
    }
  }

  private pushZReport(tx: Tx, report: object): string {
    const key = pad(tx.c.nextZ++);
    tx.put(this.zreports, key, { addedAt: this.clock(), report });
    return key;
  }

  /** a written batch's puts and dels of outbox entries, into the mirror (see outboxMirror) */
  private noteOutbox(ops: Op[]): void {
    if (this.c.outboxDepth === 0) {
      this.outboxMirror.clear();
      this.outboxMirrored = true;
      return;
    }
    if (!this.outboxMirrored) return;
    for (const op of ops) {
      if (op.sublevel !== this.outbox) continue;
      if (op.type === 'put') this.outboxMirror.set(op.key, op.value as OutboxMessage);
      else this.outboxMirror.delete(op.key);
    }
    if (this.outboxMirror.size > OUTBOX_MIRROR_MAX) {
      this.outboxMirror.clear();
      this.outboxMirrored = false;
    }
  }

  /** a written batch's puts and dels of named values, into the cache */
  private noteMetas(ops: Op[]): void {
    for (const op of ops) {
      if (op.sublevel !== this.state) continue;
      this.metaGen++;
      this.metaCache.set(op.key, op.type === 'put' ? structuredClone(op.value) : undefined);
    }
  }

  /** reads the job after `head` while it is printed; kept only when no job was added or removed meanwhile */
  private prefetchNext(head: Job): void {
    const gen = this.headGen;
    const ngen = this.nextGen;
    this.jobs.values({ gt: pad(head.seq), limit: 1 }).all().then(([next]) => {
      if (gen !== this.headGen || ngen !== this.nextGen || this.headCache?.job !== head) return;
      this.headCache.next = { job: next };
    }, () => undefined);
  }

  private forgetHead(): void {
    this.headCache = undefined;
    this.headGen++;
  }

  /** Attaches the body of queued jobs (a record keeps its own copy only once finished). */
  private async withBodies(records: JobRecord[]): Promise<JobRecord[]> {
    const queued = records.filter((r) => r.body === undefined);
    if (queued.length === 0) return records;
    const jobs = await this.jobs.getMany(queued.map((r) => pad(r.seq)));
    const bodies = new Map(queued.map((r, i) => [r, jobs[i]?.body]));
    return Promise.all(
      // a job completed between the two reads: its record now holds the body
      records.map(async (r) => (r.body !== undefined ? r : bodies.get(r) !== undefined ? { ...r, body: bodies.get(r) } : ((await this.ids.get(r.externalId)) ?? r))),
    );
  }

  /**
   * Runs `build` under the write lock, then writes what it collected as one batch (synced unless told otherwise),
   * and only then updates the counters and caches in memory. A failure of the batch leaves memory as it was. A
   * failure of syncLogs() after the batch is written updates memory as the batch did (the disk holds it: a binding
   * written is a binding, never released to another register) and still fails the write.
   */
  private write<T>(build: (tx: Tx) => T | Promise<T>, sync = true): Promise<T> {
    return this.exclusive(async () => {
      const tx = new Tx(this.c, sync);
      let out: T;
      let logsFailed: unknown;
      try {
        out = await build(tx);
        if (tx.ops.length > 0) {
          if (countersDiffer(tx.c, this.c)) tx.put(this.meta, 'counters', tx.c);
          await this.beforeWrite?.(tx.ops);
          await this.db.batch(tx.ops, { sync: tx.sync });
          if (tx.syncLogs) await this.syncLogs().catch((err: unknown) => void (logsFailed = err ?? new Error('syncing the logs failed')));
          if (tx.sync && logsFailed === undefined) await this.afterSync?.();
        }
      } catch (err) {
        this.log?.error({ err }, 'queue write failed');
        throw storageError(err);
      }
      this.c = tx.c;
      this.noteMetas(tx.ops);
      this.noteOutbox(tx.ops);
      for (const f of tx.after) f();
      if (logsFailed !== undefined) {
        this.log?.error({ err: logsFailed }, 'queue write failed: the batch is on disk, the older LevelDB logs are not synced');
        throw storageError(logsFailed);
      }
      for (const f of tx.afterLogs) f();
      return out;
    });
  }

  /**
   * Writes a register's in-flight record (synced). When the job before it on that register was a receipt completed
   * without a sync, that completion may not be on disk yet — and may be lost while this record survives (LevelDB
   * closes a full memtable's log unsynced; syncLogs). The finished receipt would then be queued again and bound to
   * nothing: printed twice. So the record carries the finished job's record as `prev` (open() binds the register
   * to that job again when it is still queued: its FN settles it), and after this batch every LevelDB log is made
   * durable, so that by the time the new job can start (its binding resolved) the completion is on disk and `prev`
   * is no longer needed.
   */
  private putBinding(tx: Tx, device: string, value: Inflight): void {
    const prev = this.unsyncedCompletion.get(device);
    if (prev && prev.seq !== value.seq) {
      tx.put(this.inflightSub, device, { ...value, prev: withoutPrev(prev) });
      tx.syncLogs = true;
      // kept when the logs could not be synced: the next binding carries `prev` again
      tx.afterLogs.push(() => {
        if (this.unsyncedCompletion.get(device) === prev) this.unsyncedCompletion.delete(device);
      });
    } else {
      tx.put(this.inflightSub, device, value);
    }
  }

  /**
   * Makes the LevelDB logs older than the current one durable. LevelDB (1.20, in classic-level) closes its log
   * without a sync when the memtable is full and a new log begins, and a synced write syncs the new log only; until
   * the full memtable is flushed into a table (synced) and its log deleted, the old log's tail written without a
   * sync — a completion — can be lost in a power cut while a later synced write survives. Only the current log
   * exists almost always (then: nothing to do, one directory read); after a switch, the older ones are synced here.
   */
  private async syncLogs(): Promise<void> {
    const logs = readdirSync(this.dir)
      .filter((name) => /^\d+\.log$/.test(name))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
    logs.pop(); // the current log: synced by the batch just written (nothing else writes under the lock)
    if (logs.length === 0) return;
    const synced: string[] = [];
    for (const name of logs) {
      let file: fsp.FileHandle;
      try {
        file = await fsp.open(join(this.dir, name), 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // flushed and deleted meanwhile: durable
        throw err;
      }
      try {
        await file.datasync();
      } finally {
        await file.close();
      }
      synced.push(name);
    }
    this.afterLogSync?.(synced);
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.catch(() => undefined);
    return run;
  }
}
