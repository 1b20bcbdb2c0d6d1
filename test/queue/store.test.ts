import t from 'tap';
import { createHash } from 'node:crypto';
import { command, drain, manualClock, openStore, receipt, T0 } from './helpers.ts';

const DAY = 86_400_000;

t.test('strict FIFO over many jobs, kept across a reopen', async (t) => {
  const { store, reopen } = await openStore(t);
  const first = await Promise.all(Array.from({ length: 150 }, (_, i) => store().accept(receipt(`r-${i}`))));
  for (let i = 0; i < 20; i++) await store().accept(i % 5 === 0 ? command('x_report') : receipt(`s-${i}`));
  t.same(first.map((r) => (r.status === 'accepted' ? r.seq : -1)), Array.from({ length: 150 }, (_, i) => i + 1), 'seq follows call order');
  t.equal(store().depth(), 170);

  const s = await reopen();
  t.equal(s.depth(), 170, 'depth comes back from the counters');
  const head = await s.head();
  t.equal(head?.seq, 1);
  t.equal(head?.externalId, 'r-0');
  t.equal(head?.body, receipt('r-0').body, 'the exact body is kept');
  t.equal(head?.hash, createHash('sha256').update(receipt('r-0').body).digest('hex'));
  t.equal(await s.oldestAcceptedAt(), head?.acceptedAt);
  // seq 9, 10 … sort after 1 … 8 although "10" < "9" as strings
  t.same(await drain(s), Array.from({ length: 170 }, (_, i) => i + 1));
  t.equal(s.depth(), 0);
  t.equal(await s.head(), undefined);
  t.equal(await s.oldestAcceptedAt(), undefined);
  const next = await s.accept(receipt('after'));
  t.same(next, { status: 'accepted', seq: 171 }, 'sequence numbers are never reused');
});

t.test('commands carry their name and params', async (t) => {
  const { store } = await openStore(t);
  await store().accept(command('cash_in', { sum: 500 }));
  const job = await store().head();
  t.match(job, { kind: 'command', command: 'cash_in', params: { sum: 500 } });
  t.equal(job?.externalId, undefined);
});

t.test('duplicates: same body answers the stored record, different body is a mismatch', async (t) => {
  const { store, reopen } = await openStore(t);
  const a = receipt('order-1');
  t.same(await store().accept(a), { status: 'accepted', seq: 1 });
  t.match(await store().accept(a), { status: 'duplicate', record: { externalId: 'order-1', seq: 1, status: 'accepted' } });
  t.match(await store().accept(receipt('order-1', 999)), { status: 'mismatch', record: { seq: 1 } });
  t.equal(store().depth(), 1, 'neither was queued');
  t.equal(store().outboxDepth(), 1, 'only the first accepted result is in the outbox');

  await store().complete(1, { status: 'done', result: { fiscal_document_number: 7 }, outbox: [] });
  const s = await reopen();
  t.match(await s.accept(a), { status: 'duplicate', record: { status: 'done', result: { fiscal_document_number: 7 } } }, 'after completion and a restart the result is answered');
  t.match(await s.accept(receipt('order-1', 5)), { status: 'mismatch' });
  t.equal(s.depth(), 0);
});

t.test('duplicates inside one group commit', async (t) => {
  const { store } = await openStore(t);
  const [a, b, c, d] = await Promise.all([
    store().accept(receipt('same')),
    store().accept(receipt('same')),
    store().accept(receipt('same', 2)),
    store().accept(receipt('other')),
  ]);
  t.same(a, { status: 'accepted', seq: 1 });
  t.match(b, { status: 'duplicate', record: { seq: 1, status: 'accepted' } });
  t.match(c, { status: 'mismatch', record: { seq: 1 } });
  t.same(d, { status: 'accepted', seq: 2 });
  t.equal(store().depth(), 2);
});

t.test('QUEUE_FULL at the bound, nothing written, accepting again after a complete', async (t) => {
  const { store } = await openStore(t, { maxJobs: 3 });
  const results = await Promise.all(['a', 'b', 'c', 'd'].map((id) => store().accept(receipt(id))));
  t.same(results.map((r) => r.status), ['accepted', 'accepted', 'accepted', 'full']);
  t.same(await store().accept(receipt('e')), { status: 'full' });
  t.equal(await store().getRecord('d'), undefined, 'a refused job leaves no record');
  t.equal(store().outboxDepth(), 3, 'and no outbox message');
  t.match(await store().accept(receipt('a')), { status: 'duplicate' }, 'a duplicate is still answered when full');
  await store().complete(1, { status: 'done', result: {}, outbox: [] });
  t.same(await store().accept(receipt('e')), { status: 'accepted', seq: 4 });
  t.same(await store().accept(receipt('f')), { status: 'full' });
});

t.test('outbox: FIFO, survives a reopen, ack removes', async (t) => {
  const { store, reopen } = await openStore(t);
  await store().accept(receipt('o-1'));
  await store().enqueueOutbox({ topic: 'kkt/gw/result', payload: 'republish' });
  await store().complete(1, { status: 'done', result: {}, outbox: [{ topic: 'kkt/gw/result', payload: 'done' }, { topic: 'kkt/gw/zreport', payload: 'z' }] });
  t.equal(store().outboxDepth(), 4);

  const s = await reopen();
  t.equal(s.outboxDepth(), 4);
  const batch = await s.outboxBatch(10);
  t.same(batch.map((m) => m.payload), [JSON.stringify({ external_id: 'o-1', status: 'accepted' }), 'republish', 'done', 'z']);
  t.same((await s.outboxBatch(2)).map((m) => m.payload), batch.slice(0, 2).map((m) => m.payload), 'limit is respected');
  t.equal(await s.ackOutbox(batch[0]!.key), true);
  t.equal(await s.ackOutbox(batch[0]!.key), false, 'a second ack is a no-op');
  t.equal(await s.ackOutbox(batch[2]!.key), true, 'acks may come out of order');
  t.equal(await s.ackOutboxMany([batch[0]!.key, batch[1]!.key]), 1, 'several at once: only those still there count');
  t.equal(s.outboxDepth(), 1);

  const s2 = await reopen();
  t.same((await s2.outboxBatch(10)).map((m) => m.payload), ['z']);
  t.equal(s2.outboxDepth(), 1);
});

t.test('inflight survives a reopen and is cleared by complete or clearInflight', async (t) => {
  const { store, reopen } = await openStore(t);
  await store().accept(receipt('i-1'));
  await store().accept(receipt('i-2'));
  await store().setInflight(1, { lastFdBefore: 45817, startedAt: T0, attempt: 2 });
  let s = await reopen();
  t.same(await s.inflight(), { seq: 1, lastFdBefore: 45817, startedAt: T0, attempt: 2 });
  await s.clearInflight();
  s = await reopen();
  t.equal(await s.inflight(), undefined);

  await s.setInflight(1, { startedAt: T0 });
  await s.complete(1, { status: 'done', result: {}, outbox: [] });
  t.equal(await s.inflight(), undefined, 'complete removes the in-flight record of its job');
  await s.setInflight(2, { startedAt: T0 });
  s = await reopen();
  t.same(await s.inflight(), { seq: 2, startedAt: T0 });
});

t.test('complete is one batch and idempotent', async (t) => {
  const writes: number[] = [];
  const clock = manualClock();
  const { store, reopen } = await openStore(t, { clock: clock.now, beforeWrite: (ops) => void writes.push(ops.length) });
  await store().accept(receipt('c-1'));
  await store().accept(receipt('c-2'));
  await store().setInflight(1, { startedAt: clock.now() });
  writes.length = 0;
  clock.advance(2000);
  const outcome = { status: 'fail' as const, result: { error: { code: 'PAPER_OUT' } }, outbox: [{ topic: 'kkt/gw/result', payload: 'fail' }] };
  t.equal(await store().complete(1, outcome), true);
  t.equal(writes.length, 1, 'one batch');
  t.equal(await store().complete(1, outcome), false, 'second call: nothing to do');
  t.equal(writes.length, 1, 'and nothing written');
  t.equal(store().depth(), 1);
  t.equal(store().outboxDepth(), 3, 'two accepted + one fail, not two');

  const s = await reopen();
  t.equal((await s.head())?.seq, 2);
  t.equal(await s.inflight(), undefined);
  t.match(await s.getRecord('c-1'), { status: 'fail', result: { error: { code: 'PAPER_OUT' } }, finishedAt: T0 + 2000, body: receipt('c-1').body });
  t.match(await s.getRecord('c-2'), { status: 'accepted', body: receipt('c-2').body }, 'a queued record shows its body from the job');
});

t.test('complete stores a Z-report with the job; the Z list is newest first', async (t) => {
  const { store, reopen } = await openStore(t);
  await store().addZReport({ shift: 11 });
  await store().accept(command('close_shift'));
  await store().complete(1, { status: 'done', result: {}, outbox: [], zreport: { shift: 12 } });
  await store().addZReport({ shift: 13, manual: true });
  const s = await reopen();
  t.same((await s.listZReports(10)).map((z) => z.report), [{ shift: 13, manual: true }, { shift: 12 }, { shift: 11 }]);
  t.same((await s.listZReports(1)).map((z) => z.report), [{ shift: 13, manual: true }]);
});

t.test('retention: finished records older than retentionDays are purged, queued jobs never', async (t) => {
  const clock = manualClock();
  const { store } = await openStore(t, { clock: clock.now, retentionDays: 30 });
  for (const id of ['old-1', 'old-2', 'new-1', 'queued']) await store().accept(receipt(id));
  await store().complete(1, { status: 'done', result: {}, outbox: [] });
  await store().complete(2, { status: 'fail', result: {}, outbox: [] });
  clock.advance(10 * DAY);
  await store().complete(3, { status: 'done', result: {}, outbox: [] });

  t.equal(await store().purgeExpired(T0 + 30 * DAY), 0, 'exactly 30 days is not older');
  t.equal(await store().purgeExpired(T0 + 35 * DAY), 2);
  t.equal(await store().getRecord('old-1'), undefined);
  t.equal(await store().getRecord('old-2'), undefined);
  t.ok(await store().getRecord('new-1'));
  t.same((await store().listRecords()).records.map((r) => r.externalId), ['queued', 'new-1'], 'journal entries go too');
  t.equal(await store().purgeExpired(T0 + 400 * DAY), 1);
  t.match(await store().getRecord('queued'), { status: 'accepted' }, 'a queued job is never purged');
  t.equal(store().depth(), 1);
});

t.test('retention purges in chunks', async (t) => {
  const clock = manualClock();
  const { store } = await openStore(t, { clock: clock.now, retentionDays: 1 });
  await Promise.all(Array.from({ length: 1203 }, (_, i) => store().accept(receipt(`p-${i}`))));
  for (let seq = 1; seq <= 1203; seq++) await store().complete(seq, { status: 'done', result: {}, outbox: [] });
  t.equal(await store().purgeExpired(T0 + 2 * DAY), 1203);
  t.same((await store().listRecords()).records, []);
});

t.test('journal: newest first, paged, filtered', async (t) => {
  const clock = manualClock();
  const { store } = await openStore(t, { clock: clock.now });
  for (let i = 0; i < 30; i++) {
    await store().accept(receipt(`order-${i}${i % 10 === 3 ? '-special' : ''}`));
    clock.advance(1000);
  }
  for (let seq = 1; seq <= 10; seq++) await store().complete(seq, { status: seq % 2 ? 'done' : 'fail', result: { n: seq }, outbox: [] });

  const p1 = await store().listRecords({ limit: 12 });
  t.equal(p1.records.length, 12);
  t.equal(p1.records[0]?.externalId, 'order-29');
  t.ok(p1.next);
  const p2 = await store().listRecords({ limit: 12, before: p1.next });
  const p3 = await store().listRecords({ limit: 12, before: p2.next });
  const all = [...p1.records, ...p2.records, ...p3.records].map((r) => r.seq);
  t.same(all, Array.from({ length: 30 }, (_, i) => 30 - i), 'pages join without gaps or overlap');
  t.equal(p3.records.length, 6);
  t.equal(p3.next, undefined, 'the last page has no cursor');

  t.same((await store().listRecords({ status: 'fail' })).records.map((r) => r.seq), [10, 8, 6, 4, 2]);
  t.same((await store().listRecords({ search: 'SPECIAL' })).records.map((r) => r.externalId), ['order-23-special', 'order-13-special', 'order-3-special']);
  t.same((await store().listRecords({ from: T0 + 5000, to: T0 + 8000 })).records.map((r) => r.seq), [8, 7, 6], 'from inclusive, to exclusive');
  const done = (await store().listRecords({ status: 'done', limit: 1 })).records[0];
  t.match(done, { seq: 9, result: { n: 9 }, body: receipt('order-8').body });
  t.ok((await store().listRecords({ limit: 1 })).records[0]?.body, 'queued records carry their body too');
});

t.test('a second open of the same directory fails with STORAGE', async (t) => {
  const { dir } = await openStore(t);
  const { QueueStore } = await import('../../src/queue/store.ts');
  await t.rejects(QueueStore.open(dir), { code: 'STORAGE' });
});

t.test('the head after a completion: the next job, also when jobs finish out of order (a pool) and at the end', async (t) => {
  const { store } = await openStore(t);
  for (let i = 1; i <= 4; i++) await store().accept(receipt(`h-${i}`));
  const done = { status: 'done' as const, result: {}, outbox: [] };
  t.equal((await store().head())?.seq, 1);
  t.equal(await store().complete(2, done), true, 'a job behind the head finished on another register');
  t.equal((await store().head())?.seq, 1, 'the head stays');
  t.equal(await store().complete(1, done), true);
  t.equal((await store().head())?.seq, 3, 'the head skips the job already finished');
  const racing = store().head(); // a read of the head while the completion is written
  await store().complete(3, done);
  t.equal((await racing)?.seq, 3);
  t.equal((await store().head())?.seq, 4);
  await store().complete(4, done);
  t.equal(await store().head(), undefined, 'empty');
  await store().accept(receipt('h-5'));
  t.equal((await store().head())?.seq, 5, 'a job accepted into an empty queue is the head');
  t.same((await store().peek(5)).map((j) => j.seq), [5], 'the head agrees with the database');
});

t.test('the head and the job after it, kept in memory, agree with the database through random accepts and completions', async (t) => {
  const { store } = await openStore(t);
  let seed = 17;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const done = { status: 'done' as const, result: {}, outbox: [] };
  let id = 0;
  let mismatches = 0;
  let finished = 0;
  for (let step = 0; step < 400; step++) {
    const op = rand(6);
    const pending: Array<Promise<unknown>> = [];
    if (op <= 1) {
      // a group of accepts, sometimes racing a completion
      for (let k = rand(3) + 1; k > 0; k--) pending.push(store().accept(receipt(`r-${++id}`)));
    }
    if (op >= 1) {
      const onDisk = await store().peek(3);
      // mostly the head (one register), sometimes the one after it (a pool's other register)
      const victim = op === 5 && onDisk.length > 1 ? onDisk[1]! : onDisk[0];
      if (victim) {
        pending.push(store().complete(victim.seq, done).then(async (ok) => {
          if (!ok) mismatches++;
          const rec = await store().getRecord(victim.externalId!);
          if (rec?.status !== 'done' || rec.seq !== victim.seq) mismatches++;
          finished++;
        }));
      }
    }
    if (rand(3) === 0) pending.push(store().head()); // a read racing the writes
    await Promise.all(pending);
    if (rand(2) === 0) await new Promise((r) => setImmediate(r)); // sometimes the read-ahead lands first
    const disk = await store().peek(3);
    const head = await store().head();
    if (head?.seq !== disk[0]?.seq || head?.body !== disk[0]?.body) mismatches++;
  }
  t.ok(finished > 100, `${finished} completions, ${id} accepts`);
  t.equal(mismatches, 0, 'every completion found its job; the head always the database\'s first job');
  const left = (await store().peek(1000)).map((j) => j.seq);
  t.same(await drain(store()), left, 'draining takes the jobs left, in order');
  t.equal(await store().head(), undefined, 'then the queue is empty');
});

t.test('named values: read once, then from memory, as copies; every write that touches them is seen', async (t) => {
  const { store, reopen } = await openStore(t);
  t.equal(await store().getMeta('book'), undefined, 'absent');
  await store().setMeta('book', { n: 1, items: ['a'] });
  const a = await store().getMeta<{ n: number; items: string[] }>('book');
  t.same(a, { n: 1, items: ['a'] });
  a!.n = 99;
  a!.items.push('changed by a caller');
  t.same(await store().getMeta('book'), { n: 1, items: ['a'] }, 'what a caller does with its copy changes nothing');
  await store().accept(receipt('m-1'));
  await store().complete(1, { status: 'done', result: {}, outbox: [], meta: { book: { n: 2, items: [] }, shift: { number: 7 } } });
  t.same(await store().getMeta('book'), { n: 2, items: [] }, 'a value written with a completion');
  t.same(await store().getMeta('shift'), { number: 7 });
  await store().setMetas({ shift: undefined });
  t.equal(await store().getMeta('shift'), undefined, 'removed');
  const s = await reopen();
  t.same(await s.getMeta('book'), { n: 2, items: [] }, 'on disk too');
  t.equal(await s.getMeta('shift'), undefined);
});

t.test('outbox: the same entries in the same order whether they are read from memory or from disk (a long backlog)', async (t) => {
  const { store, reopen } = await openStore(t);
  const payloads: string[] = [];
  const add = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const p = `m-${payloads.length}`;
      payloads.push(p);
      await store().enqueueOutbox({ topic: 'kkt/gw/result', payload: p });
    }
  };
  const drainSome = async (s: typeof store, n: number): Promise<string[]> => {
    const batch = await s().outboxBatch(n);
    t.equal(await s().ackOutboxMany(batch.map((m) => m.key)), batch.length, 'every entry read was there to remove');
    return batch.map((m) => m.payload);
  };
  await add(3); // from an empty outbox: mirrored
  t.same((await store().outboxBatch(10)).map((m) => m.payload), payloads, 'small: all of it, in order');
  await add(1200); // past the mirror's bound: read from disk from here on
  const seen: string[] = [];
  while (store().outboxDepth() > 0) seen.push(...(await drainSome(store, 200)));
  t.same(seen, payloads, 'a long backlog drains in order, nothing twice, nothing skipped');
  t.same(await store().outboxBatch(10), [], 'empty');
  payloads.length = 0;
  await add(5);
  t.same(await drainSome(store, 2), ['m-0', 'm-1'], 'mirrored again once it was empty');
  const s = await reopen(); // not empty at the open: read from disk
  t.same((await s.outboxBatch(10)).map((m) => m.payload), ['m-2', 'm-3', 'm-4']);
  t.equal(await s.ackOutboxMany((await s.outboxBatch(10)).map((m) => m.key)), 3);
  t.equal(s.outboxDepth(), 0);
  await s.enqueueOutbox({ topic: 't', payload: 'after' });
  t.same((await s.outboxBatch(10)).map((m) => m.payload), ['after']);
});
