import t from 'tap';
import { join } from 'node:path';
import { makeRig, type Rig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

const receiptDocs = (rig: Rig): any[] => readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d: any) => d.type === 3 || d.type === 31);

t.test('a 3-item card receipt published over MQTT is fiscalized once and its result published', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', sampleReceipt('order-1'));
  await rig.store.until(() => rig.store.final('order-1') !== undefined, 'done result');
  const results = rig.store.results('order-1');
  t.equal(results[0]?.status, 'accepted', 'accepted first');
  const done = rig.store.final('order-1')!;
  t.equal(done.status, 'done');
  const docs = receiptDocs(rig);
  t.equal(docs.length, 1, 'exactly one receipt in the FN');
  const doc = docs[0];
  t.equal(done.payload?.fiscal_document_number, doc.fd);
  t.equal(done.payload?.fiscal_document_attribute, doc.fiscalSign);
  t.equal(done.payload?.total, 3989);
  t.equal(doc.total, 398900);
  t.same(doc.items.map((i: any) => [i.name, i.price, i.sum]), [['Кофемолка', 199000, 199000], ['Кофе в зёрнах 1 кг', 84950, 169900], ['Доставка', 30000, 30000]]);
  t.equal(doc.payments.electronic, 398900);
  t.match(done.payload?.qr, /^t=\d{8}T\d{4}&s=3989\.00&fn=\d+&i=\d+&fp=\d+&n=1$/);
});

t.test('duplicates: same body re-publishes the result, a different body is refused; nothing printed twice', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  await rig.startGateway();
  const r = sampleReceipt('dup-1');
  await rig.store.publish('receipt', r);
  await rig.store.until(() => rig.store.final('dup-1') !== undefined, 'first result');
  await rig.store.publish('receipt', r);
  await rig.store.until(() => rig.store.results('dup-1').filter((x) => x.status === 'done').length === 2, 'republished result');
  const changed = structuredClone(r) as any;
  changed.receipt.client.email = 'other@example.ru';
  await rig.store.publish('receipt', changed);
  await rig.store.until(() => rig.store.results('dup-1').some((x) => x.status === 'fail'), 'mismatch');
  const fail = rig.store.results('dup-1').find((x) => x.status === 'fail')!;
  t.equal(fail.error?.code, 'DUPLICATE_MISMATCH');
  t.equal(receiptDocs(rig).length, 1, 'one document for the id');
});

t.test('invalid inputs get a typed fail result, are never queued, and do not disturb valid receipts', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  await rig.startGateway();
  const bad = structuredClone(sampleReceipt('bad-sum')) as any;
  bad.receipt.items[1].sum = 1700;
  await rig.store.publish('receipt', bad);
  await rig.store.publish('receipt', '{not json');
  await rig.store.publish('receipt', Buffer.from([0xff, 0xfe, 0x00]).toString('latin1'));
  await rig.store.publish('receipt', sampleReceipt('good-after-bad'));
  await rig.store.until(() => rig.store.final('good-after-bad') !== undefined && rig.store.final('bad-sum') !== undefined, 'results');
  t.equal(rig.store.final('bad-sum')?.error?.code, 'ITEM_SUM_MISMATCH');
  t.equal(rig.store.final('bad-sum')?.error?.type, 'validation');
  t.notOk(rig.store.results('bad-sum').some((x) => x.status === 'accepted'), 'never accepted');
  await rig.store.until(() => rig.store.results().filter((x) => x.status === 'fail').length >= 3, 'fail for unparseable bodies');
  t.equal(rig.store.final('good-after-bad')?.status, 'done');
  t.equal(receiptDocs(rig).length, 1);
});

t.test('QUEUE_FULL at the bound, retryable; accepted ones all print', async (t) => {
  const rig = await makeRig({ config: { queue: { max_receipts: 2 } } });
  t.teardown(() => rig.close());
  // the register is away: jobs stay queued
  rig.emulator.faults.silent = true;
  await rig.startGateway();
  for (const id of ['q1', 'q2', 'q3']) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.store.until(() => rig.store.final('q3') !== undefined, 'q3 refused');
  t.equal(rig.store.final('q3')?.error?.code, 'QUEUE_FULL');
  t.equal(rig.store.final('q3')?.error?.retryable, true);
  rig.emulator.faults.silent = false;
  await rig.store.until(() => rig.store.final('q1') !== undefined && rig.store.final('q2') !== undefined, 'q1, q2 done', 60_000);
  t.same(receiptDocs(rig).length, 2);
});
