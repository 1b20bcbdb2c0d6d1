/**
 * A receipt's completion is written without a sync (the FN is its log); the register's next in-flight record is
 * synced. LevelDB (1.20) closes a full memtable's log without a sync and then syncs only the new log, so a completion
 * at the old log's tail can be lost in a power cut while the next in-flight record survives: the finished receipt
 * would be queued again and bound to nothing — printed twice. Real LevelDB on disk.
 */
import t from 'tap';
import { cpSync, promises as fsp, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { diskAfterCut, prefixOf, receipt } from './helpers.ts';
import { QueueStore } from '../../src/queue/store.ts';

const logs = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => /^\d+\.log$/.test(n))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));

t.test('a log switch at the next binding: the log that held the completion is synced before the binding resolves', async (t) => {
  const calls: string[][] = [];
  const dir = t.testdir();
  const db = await QueueStore.open(dir, { writeBufferSize: 1024 * 1024, afterLogSync: (files) => calls.push([...files]) });
  const store = (): QueueStore => db;
  const accepted = await Promise.all(Array.from({ length: 80 }, (_, i) => store().accept(receipt(`s-${i}`))));
  const big = 'z'.repeat(1536 * 1024);
  let seen = 0;
  for (let i = 0; i + 1 < accepted.length && seen < 2; i++) {
    const [a, b] = [accepted[i]!, accepted[i + 1]!];
    if (a.status !== 'accepted' || b.status !== 'accepted') throw new Error('not accepted');
    if (i === 0) await store().setInflight(a.seq, { lastFdBefore: 0, startedAt: 0 }, 'reg-1');
    // a completion larger than the memtable: it is written into the current log, and the next write switches logs
    await store().complete(a.seq, { status: 'done', result: {}, outbox: [{ topic: 'kkt/gw/result', payload: big }] });
    const atCompletion = logs(dir).at(-1)!;
    calls.length = 0;
    await store().setInflight(b.seq, { lastFdBefore: i + 1, startedAt: i + 1 }, 'reg-1');
    await store().ackOutboxMany((await store().outboxBatch(10)).map((e) => e.key));
    const now = logs(dir);
    t.not(now.at(-1), atCompletion, `round ${i}: the binding was written into a new log`);
    // while the old memtable is flushed its log stays; once flushed (into a synced table) it is deleted
    if (now.includes(atCompletion)) {
      seen++;
      t.ok(calls.some((c) => c.includes(atCompletion)), `round ${i}: ${atCompletion}, which held the completion, was synced by the binding`);
    }
  }
  await db.close(); // waits for LevelDB's background work
  t.ok(seen > 0, `the old log was seen still on disk after the binding (${seen} times)`);
});

t.test('a power cut that kept the next binding but lost the completion before it: the register is bound to the finished receipt again', async (t) => {
  const base = t.testdir();
  const live = join(base, 'live');
  const atSync = join(base, 'at-sync');
  let capture = false;
  let captured: any[] = [];
  let unsyncedWrites = 0;
  let syncs = 0;
  const store = await QueueStore.open(live, {
    beforeWrite: (ops) => {
      unsyncedWrites++;
      if (capture) captured = [...ops];
    },
    afterSync: () => {
      syncs++;
      unsyncedWrites = 0;
      if (!capture) cpSync(live, atSync, { recursive: true });
    },
  });
  const [k, next] = [await store.accept(receipt('k-1')), await store.accept(receipt('k-2'))];
  if (k.status !== 'accepted' || next.status !== 'accepted') throw new Error('not accepted');
  await store.setInflight(k.seq, { lastFdBefore: 41, startedAt: 1, fn: '9999078900001234' }, 'reg-1');
  const before = syncs;
  await store.complete(k.seq, { status: 'done', result: { fiscal_document_number: 42 }, outbox: [{ topic: 'kkt/gw/result', payload: 'done' }] });
  t.equal(syncs, before, 'the completion was written without a sync');
  t.equal(unsyncedWrites, 1, 'and is the only write since the last sync point');
  capture = true;
  await store.setInflight(next.seq, { lastFdBefore: 42, startedAt: 2 }, 'reg-1');
  await store.close();
  const binding = captured.find((op) => prefixOf(op) === '!inflight!');
  t.equal(binding?.value?.seq, next.seq, 'the binding of the next receipt was captured');
  t.same(binding?.value?.prev, { seq: k.seq, lastFdBefore: 41, startedAt: 1, fn: '9999078900001234' }, 'it carries the record of the receipt completed before it');

  // the disk after the cut: the last sync point, plus the binding (durable in a new log), without the completion
  const cut = join(base, 'cut');
  await diskAfterCut(atSync, captured, cut);

  let reopened = await QueueStore.open(cut);
  t.equal((await reopened.inflight('reg-1'))?.seq, k.seq, 'the register is bound to the finished receipt again');
  t.equal((await reopened.inflight('reg-1'))?.lastFdBefore, 41, 'with its FN number before it: the reconcile finds it there');
  t.equal((await reopened.head())?.seq, k.seq, 'which is still queued (its completion was lost)');
  await reopened.close();
  reopened = await QueueStore.open(cut);
  t.equal((await reopened.inflight('reg-1'))?.seq, k.seq, 'and stays bound after another restart');
  await reopened.close();

  // without the cut: the completion is on disk, the binding's `prev` is of a job gone, the next receipt stays bound
  const whole = await QueueStore.open(live);
  t.equal((await whole.inflight('reg-1'))?.seq, next.seq, 'no cut: the next receipt is bound');
  t.equal((await whole.inflight('reg-1'))?.prev, undefined, 'and the record as read has no prev');
  t.equal((await whole.head())?.seq, next.seq, 'the finished receipt is gone');
  await whole.close();
});

t.test('the older logs cannot be synced after the binding is written: the job stays bound, the next binding carries prev again', async (t) => {
  const dir = t.testdir();
  const captured: any[][] = [];
  const db = await QueueStore.open(dir, { writeBufferSize: 1024 * 1024, beforeWrite: (ops) => void captured.push([...ops]) });
  const realOpen = fsp.open;
  let armed = false;
  fsp.open = (async (...args: Parameters<typeof fsp.open>) => {
    if (armed) {
      armed = false;
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' });
    }
    return realOpen.apply(fsp, args);
  }) as typeof fsp.open;
  t.teardown(() => void (fsp.open = realOpen));
  const accepted = await Promise.all(Array.from({ length: 80 }, (_, i) => db.accept(receipt(`f-${i}`))));
  const big = 'w'.repeat(1536 * 1024);
  let failed = false;
  for (let i = 0; i + 1 < accepted.length && !failed; i++) {
    const [x, y] = [accepted[i]!, accepted[i + 1]!];
    if (x.status !== 'accepted' || y.status !== 'accepted') throw new Error('not accepted');
    if (i === 0) await db.setInflight(x.seq, { lastFdBefore: 0, startedAt: 0 }, 'A');
    await db.complete(x.seq, { status: 'done', result: {}, outbox: [{ topic: 'kkt/gw/result', payload: big }] });
    armed = true; // the next file the store opens fails: an older log it syncs
    try {
      await db.setInflight(y.seq, { lastFdBefore: i + 1, startedAt: i + 1 }, 'A');
      armed = false; // the older log was flushed and gone before it was looked for: nothing opened
    } catch (err) {
      failed = true;
      t.match(String(err), /EMFILE/, `round ${i}: the binding fails with the disk's error`);
      t.equal((await db.inflight('A'))?.seq, y.seq, 'the binding written stays the register\'s: the job is not released to another register');
      captured.length = 0;
      await db.setInflight(y.seq, { lastFdBefore: i + 1, startedAt: i + 2, attempt: 2 }, 'A');
      const binding = captured.flat().find((op) => prefixOf(op) === '!inflight!');
      t.equal(binding?.value?.prev?.seq, x.seq, 'the next attempt carries the completed receipt as prev again');
    }
    await db.ackOutboxMany((await db.outboxBatch(10)).map((e) => e.key));
  }
  await db.close();
  t.ok(failed, 'a sync of an older log failed');
});

t.test('a record is not moved onto a register whose last completion is not synced', async (t) => {
  const db = await QueueStore.open(t.testdir());
  const [x, y] = [await db.accept(receipt('m-1')), await db.accept(receipt('m-2'))];
  if (x.status !== 'accepted' || y.status !== 'accepted') throw new Error('not accepted');
  await db.setInflight(x.seq, { lastFdBefore: 1, startedAt: 1 }, 'B');
  await db.complete(x.seq, { status: 'done', result: {}, outbox: [] });
  await db.setInflight(y.seq, { lastFdBefore: 5, startedAt: 2 }, 'A');
  t.equal(await db.moveInflight('A', 'B'), false, 'refused');
  t.equal((await db.inflight('A'))?.seq, y.seq, 'the record stays where it was');
  t.equal(await db.moveInflight('A', 'C'), true, 'onto a register without one, it moves');
  t.equal((await db.inflight('C'))?.seq, y.seq);
  await db.close();
});

t.test('an outbox removal lost behind a later accept (log switch): the counters are counted again at the next start', async (t) => {
  const base = t.testdir();
  const live = join(base, 'live');
  const atSync = join(base, 'at-sync');
  let capture = false;
  let captured: any[] = [];
  const store = await QueueStore.open(live, {
    beforeWrite: (ops) => void (capture && (captured = [...ops])),
    afterSync: () => void (!capture && cpSync(live, atSync, { recursive: true })),
  });
  t.equal((await store.accept(receipt('o-1'))).status, 'accepted');
  const first = await store.outboxBatch(10);
  t.equal(first.length, 1, 'the accepted result waits in the outbox');
  await store.ackOutboxMany(first.map((e) => e.key)); // unsynced: lost in the cut
  capture = true;
  t.equal((await store.accept(receipt('o-2'))).status, 'accepted'); // synced into a new log: kept
  await store.close();

  const cut = join(base, 'cut');
  await diskAfterCut(atSync, captured, cut);
  const raw = new Level<string, unknown>(cut, { valueEncoding: 'json' });
  t.equal(((await raw.get('!meta!counters')) as { outboxDepth: number }).outboxDepth, 1, 'the kept batch counts one outbox entry (the removal lost)');
  await raw.close();

  const reopened = await QueueStore.open(cut);
  t.equal(reopened.outboxDepth(), 2, 'counted again: both results wait');
  t.equal(reopened.depth(), 2, 'and both jobs');
  const waiting = await reopened.outboxBatch(10);
  t.equal(waiting.length, 2);
  await reopened.ackOutboxMany([waiting[0]!.key]);
  t.same((await reopened.outboxBatch(10)).map((e) => e.key), [waiting[1]!.key], 'after one is published, the other still waits');
  await reopened.close();

  // a clean close leaves exact counters: the next start trusts them (nothing counted)
  const db = new Level<string, unknown>(cut, { valueEncoding: 'json' });
  await db.put('!meta!counters', { ...(await db.get('!meta!counters') as object), depth: 7 });
  await db.close();
  const trusted = await QueueStore.open(cut);
  t.equal(trusted.depth(), 7, 'after a clean close the stored counters are used as they are');
  await trusted.close();
});
