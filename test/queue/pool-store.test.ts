/**
 * The queue store as a pool uses it: one in-flight record per register (kept across a reopen), completion out of
 * order (a later job finished on another register before an earlier one), the pool's look past the started jobs,
 * and a single register's record of before pools moved to the pool's first register.
 */
import t from 'tap';
import { openStore, receipt, T0 } from './helpers.ts';
import { LEGACY_INFLIGHT } from '../../src/queue/store.ts';

t.test('one in-flight record per register; completion out of order; peek past the started jobs', async (t) => {
  const { store, reopen } = await openStore(t);
  for (let i = 1; i <= 5; i++) await store().accept(receipt(`r-${i}`));
  await store().setInflight(1, { lastFdBefore: 10, startedAt: T0, fn: '9960440300000001' }, 'hall');
  await store().setInflight(2, { lastFdBefore: 70, startedAt: T0, fn: '9960440300000002' }, 'bar');
  t.same([...store().inflightAll().keys()].sort(), ['bar', 'hall']);
  t.same((await store().peek(3)).map((j) => j.seq), [1, 2, 3], 'the first jobs, started or not');

  // the later job finishes first, on its register
  t.ok(await store().complete(2, { status: 'done', result: { n: 2 }, outbox: [] }));
  t.equal(await store().inflight('bar'), undefined, 'its register is free');
  t.same(await store().inflight('hall'), { seq: 1, lastFdBefore: 10, startedAt: T0, fn: '9960440300000001' }, 'the other register keeps its job');
  t.equal((await store().head())?.seq, 1, 'the earlier job is still the head');
  t.equal(store().depth(), 4);
  t.equal((await store().getJob(2)), undefined);
  t.equal((await store().getJob(3))?.externalId, 'r-3');

  const s = await reopen();
  t.same(await s.inflight('hall'), { seq: 1, lastFdBefore: 10, startedAt: T0, fn: '9960440300000001' }, 'kept across a reopen');
  t.equal(s.inflightAll().size, 1);
  t.same((await s.peek(2)).map((j) => j.seq), [1, 3], 'the finished job is gone from the FIFO');
  t.equal((await s.getRecord('r-2'))?.status, 'done');
  t.equal((await s.getRecord('r-1'))?.status, 'accepted');
});

t.test('the single register\'s in-flight record moves to a register id once, never over another record', async (t) => {
  const { store, reopen } = await openStore(t);
  await store().accept(receipt('old'));
  await store().setInflight(1, { lastFdBefore: 5, startedAt: T0 });
  t.ok(await store().inflight(LEGACY_INFLIGHT), 'written under the key of before pools');
  t.ok(await store().moveInflight(LEGACY_INFLIGHT, 'kkt1'));
  t.equal(await store().inflight(LEGACY_INFLIGHT), undefined);
  t.equal((await store().inflight('kkt1'))?.seq, 1);
  t.notOk(await store().moveInflight(LEGACY_INFLIGHT, 'kkt1'), 'nothing left to move');
  await store().setInflight(1, { startedAt: T0 }, 'other');
  t.notOk(await store().moveInflight('other', 'kkt1'), 'an existing record is never overwritten');
  const s = await reopen();
  t.equal((await s.inflight('kkt1'))?.seq, 1, 'the move is durable');
  await s.setMetas({ a: 1, b: { x: 2 } });
  t.same([await s.getMeta('a'), await s.getMeta('b')], [1, { x: 2 }]);
  await s.setMetas({ a: undefined });
  t.equal(await s.getMeta('a'), undefined, 'undefined removes');
});
