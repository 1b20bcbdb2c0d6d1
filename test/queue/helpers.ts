/** Shared bits of the queue tests: a store on a real LevelDB in a temp dir, items, a controllable clock. */
import type { Test } from 'tap';
import { cpSync } from 'node:fs';
import { Level } from 'level';
import { QueueStore, type QueueOptions } from '../../src/queue/store.ts';
import type { AcceptItem } from '../../src/queue/types.ts';

export const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);

/** A clock the test moves by hand. */
export function manualClock(start = T0): { now: () => number; set: (ms: number) => void; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, set: (ms) => (t = ms), advance: (ms) => (t += ms) };
}

export function receipt(externalId: string, total = 100): AcceptItem {
  const body = JSON.stringify({ operation: 'sell', external_id: externalId, timestamp: '28.11.2026 10:00:00', receipt: { total } });
  return { kind: 'receipt', externalId, body, outbox: { topic: 'kkt/gw/result', payload: JSON.stringify({ external_id: externalId, status: 'accepted' }) } };
}

export function command(command: string, params: Record<string, unknown> = {}): AcceptItem {
  return { kind: 'command', command, params, body: JSON.stringify({ transaction: 't1', ...params }) };
}

/** Opens a store in a fresh temp dir; closes it when the test ends (reopen() replaces it). */
export async function openStore(t: Test, opts: QueueOptions = {}): Promise<{ dir: string; store: () => QueueStore; reopen: (o?: QueueOptions) => Promise<QueueStore> }> {
  const dir = t.testdir();
  let store = await QueueStore.open(dir, opts);
  t.teardown(() => store.close());
  return {
    dir,
    store: () => store,
    reopen: async (o = opts) => {
      await store.close();
      store = await QueueStore.open(dir, o);
      return store;
    },
  };
}

/** All jobs in FIFO order, by draining heads (test helper; completes every job). */
export async function drain(store: QueueStore): Promise<number[]> {
  const seqs: number[] = [];
  for (let job = await store.head(); job; job = await store.head()) {
    seqs.push(job.seq);
    await store.complete(job.seq, { status: 'done', result: {}, outbox: [] });
  }
  return seqs;
}

/** the sublevel prefix of a captured batch operation (e.g. '!inflight!') */
export const prefixOf = (op: any): string => String(op.sublevel?.prefix ?? '');

/**
 * The disk after a power cut that kept one batch (`ops`, synced into a new log) and lost every write since the copy
 * `atSync`: `atSync` copied to `into`, then the batch applied to the database at `into/<db>`.
 */
export async function diskAfterCut(atSync: string, ops: readonly any[], into: string, db = '.'): Promise<void> {
  cpSync(atSync, into, { recursive: true });
  const raw = new Level<string, unknown>(`${into}/${db}`, { valueEncoding: 'json' });
  for (const op of ops) {
    if (op.type === 'put') await raw.put(prefixOf(op) + op.key, op.value);
    else await raw.del(prefixOf(op) + op.key);
  }
  await raw.close();
}
