/**
 * Accepting new external_ids must not make LevelDB compact. A get that looks in more than one table charges the first
 * one a "seek", and a table out of seeks is compacted into the next level; almost every accept looks up an
 * external_id that does not exist, so with gets every few hundred accepts rewrote the level below (with a history,
 * megabytes of it: P6 of `npm run bench`). Real LevelDB on disk; its own LOG says when it compacted.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { QueueStore } from '../../src/queue/store.ts';
import { receipt } from './helpers.ts';

const compactions = (dir: string): string[] => readFileSync(join(dir, 'LOG'), 'utf8').split('\n').filter((l) => l.includes('Compacting'));

t.test('new external_ids are looked up without charging LevelDB seeks (no compaction from accepts)', async (t) => {
  const dir = t.testdir();
  // a history, pushed down out of level 0
  let store = await QueueStore.open(dir);
  const old = await Promise.all(Array.from({ length: 2000 }, (_, i) => store.accept(receipt(`old-${i}`))));
  for (const r of old) if (r.status === 'accepted') await store.complete(r.seq, { status: 'done', result: { fd: r.seq }, outbox: [] });
  await store.close();
  const raw = new Level(dir);
  // `level` is classic-level on Node; its type does not declare compactRange
  await (raw as unknown as { compactRange(start: string, end: string): Promise<void> }).compactRange('!', '~');
  await raw.close();
  // a few records left in the log: the next open turns them into one small level-0 table that spans the new ids
  store = await QueueStore.open(dir);
  for (const id of ['a-first', 'z-last']) await store.accept(receipt(id));
  await store.close();

  store = await QueueStore.open(dir);
  t.same(compactions(dir), [], 'nothing compacted at open');
  // each a lookup of an id that is nowhere: in the level-0 table's range, then in the level below (100 seeks at most
  // are allowed to a small table)
  for (let i = 0; i < 250; i++) t.equal((await store.accept(receipt(`new-${i}`))).status, 'accepted');
  // and the duplicates are still found, old and new
  t.equal((await store.accept(receipt('old-7'))).status, 'duplicate');
  t.equal((await store.accept(receipt('new-7'))).status, 'duplicate');
  t.equal((await store.accept(receipt('a-first', 5))).status, 'mismatch');
  await store.close(); // waits for LevelDB's background work
  t.same(compactions(dir), [], 'no compaction while accepting');
});
