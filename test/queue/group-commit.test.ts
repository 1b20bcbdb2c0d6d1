import t from 'tap';
import { GatewayError } from '../../src/errors.ts';
import { openStore, receipt } from './helpers.ts';

t.test('concurrent accepts of one tick are one synced batch', async (t) => {
  let batches = 0;
  const { store } = await openStore(t, { beforeWrite: () => void batches++ });
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store().accept(receipt(`g-${i}`))));
  t.equal(batches, 1);
  t.same(results.map((r) => r.status === 'accepted' && r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
  t.equal(store().depth(), 50);
  t.equal(store().outboxDepth(), 50);
});

t.test('a group is capped at 1000 accepts; the rest follow in the next batches', async (t) => {
  const sizes: number[] = [];
  const { store } = await openStore(t, { beforeWrite: (ops) => void sizes.push(ops.length) });
  const results = await Promise.all(Array.from({ length: 2500 }, (_, i) => store().accept({ kind: 'command', command: 'x_report', body: String(i) })));
  t.same(sizes, [1001, 1001, 501], 'jobs + the counters');
  t.same(results.at(-1), { status: 'accepted', seq: 2500 });
  t.match(await store().head(), { seq: 1, kind: 'command', command: 'x_report', body: '0' });
});

t.test('accepts arriving while a write is in flight are coalesced into the next batch', async (t) => {
  const sizes: number[] = [];
  let release: () => void = () => {};
  let gate: Promise<void> | undefined = new Promise<void>((r) => (release = r));
  let entered: () => void = () => {};
  const inFlight = new Promise<void>((r) => (entered = r));
  const { store } = await openStore(t, {
    beforeWrite: async (ops) => {
      sizes.push(ops.length);
      entered();
      const g = gate;
      gate = undefined;
      await g; // holds the first write open
    },
  });
  const first = store().accept(receipt('w-0'));
  await inFlight;
  const later = Array.from({ length: 20 }, (_, i) => store().accept(receipt(`w-${i + 1}`)));
  // later ones arrive in separate turns of the event loop, still while the first write is held open
  await new Promise((r) => setImmediate(r));
  later.push(store().accept(receipt('w-21')));
  await new Promise((r) => setTimeout(r, 5));
  later.push(store().accept(receipt('w-22')));
  let firstDone = false;
  void first.then(() => (firstDone = true));
  await new Promise((r) => setImmediate(r));
  t.equal(firstDone, false, 'accept does not resolve before its write completes');
  release();
  t.same(await first, { status: 'accepted', seq: 1 });
  const results = await Promise.all(later);
  t.equal(sizes.length, 2, 'two batches for 23 accepts');
  t.same(results.map((r) => r.status === 'accepted' && r.seq), Array.from({ length: 22 }, (_, i) => i + 2));
});

t.test('a failed write rejects the whole group and leaves nothing behind', async (t) => {
  let fail = true;
  let batches = 0;
  const { store, reopen } = await openStore(t, {
    beforeWrite: () => {
      batches++;
      if (fail) throw new Error('EIO: simulated SD card failure');
    },
  });
  const group = Array.from({ length: 5 }, (_, i) => store().accept(receipt(`f-${i}`)));
  group.push(store().accept(receipt('f-0'))); // a duplicate inside the failing group
  const settled = await Promise.allSettled(group);
  t.equal(batches, 1);
  for (const s of settled) {
    t.equal(s.status, 'rejected');
    if (s.status === 'rejected') {
      t.type(s.reason, GatewayError);
      t.match(s.reason, { code: 'STORAGE', type: 'system', retryable: true });
    }
  }
  t.equal(store().depth(), 0, 'counters not advanced');
  t.equal(store().outboxDepth(), 0);
  t.equal(await store().head(), undefined);
  t.equal(await store().getRecord('f-0'), undefined);

  fail = false;
  const s = await reopen();
  t.equal(s.depth(), 0);
  t.same(await s.outboxBatch(10), []);
  t.same((await s.listRecords()).records, []);
  t.same(await s.accept(receipt('f-0')), { status: 'accepted', seq: 1 }, 'the same id is accepted on retry, seq 1 again');
});

t.test('a closed database underneath: accept rejects with STORAGE', async (t) => {
  const { store } = await openStore(t);
  await store().accept(receipt('c-0'));
  const pending = [store().accept(receipt('c-1')), store().accept(receipt('c-2'))];
  const closing = store().close();
  // queued before close(): written first; queued after: rejected
  t.same((await Promise.all(pending)).map((r) => r.status), ['accepted', 'accepted']);
  await closing;
  await t.rejects(store().accept(receipt('c-3')), { code: 'STORAGE', retryable: true });
  await t.rejects(store().complete(1, { status: 'done', result: {}, outbox: [] }), { code: 'STORAGE' });
});
