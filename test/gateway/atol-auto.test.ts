/**
 * End to end on ATOL, found by itself: a gateway configured with `device.protocol: "auto"` in front of the ATOL
 * emulator on a real pty; a 3-item receipt paid by card published over MQTT comes back `done` with FD, FP, FN and QR,
 * and the emulator's FN journal holds exactly that document. Health says which protocol answered.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeRig } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';

t.test('a 3-item card receipt over MQTT to a gateway on the ATOL emulator, protocol auto: done with FD, FP, FN, QR; one document in the FN', async (t) => {
  const rig = await makeRig({ protocol: 'atol', config: { device: { protocol: 'auto' } } });
  t.teardown(() => rig.close());
  t.equal(rig.config.device?.protocol, 'auto', 'the gateway is not told the protocol');
  await rig.startGateway();

  const body = sampleReceipt('atol-auto-1') as any;
  await rig.store.publish('receipt', body);
  await rig.store.until(() => rig.store.final('atol-auto-1') !== undefined, 'the final result', 30_000);
  const results = rig.store.results('atol-auto-1');
  t.same(results.map((r) => r.status), ['accepted', 'done'], 'accepted, then done');
  const res = results[1]!;
  t.equal(res.error, null);
  const p = res.payload as Record<string, any>;

  const journal = readJournal(join(rig.dir, 'fn.jsonl'));
  const receipts = journal.documents.filter((d) => d.type === 3 || d.type === 31);
  t.equal(receipts.length, 1, 'exactly one receipt in the FN');
  const doc = receipts[0]!;
  t.equal(p.fiscal_document_number, doc.fd, 'FD');
  t.equal(p.fiscal_document_attribute, doc.fiscalSign, 'FP');
  t.equal(p.fn_number, journal.identity?.fnSerial, 'FN');
  t.equal(p.ecr_registration_number, journal.identity?.registrationNumber, 'registration number (1037), read from the register');
  t.equal(p.total, 3989);
  t.equal(p.fiscal_receipt_number, doc.receiptNo);
  t.equal(p.shift_number, doc.shift);
  const [, y, mo, d, h, mi] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(doc.dateTime)!;
  t.equal(p.qr, `t=${y}${mo}${d}T${h}${mi}&s=3989.00&fn=${journal.identity?.fnSerial}&i=${doc.fd}&fp=${doc.fiscalSign}&n=1`, 'QR of that document');

  t.equal(doc.operation, 1, 'sell');
  t.equal(doc.total, 398900);
  t.same(doc.payments, { cash: 0, electronic: 398900, prepaid: 0, credit: 0, other: 0 }, 'paid by card');
  const vat = body.receipt.items[0].vat.type;
  t.same(
    (doc.items ?? []).map((i) => ({ name: i.name, price: i.price, quantity: i.quantity, sum: i.sum, vat: i.vat, method: i.paymentMethod, object: i.paymentObject })),
    [
      { name: 'Кофемолка', price: 199000, quantity: 1_000_000, sum: 199000, vat, method: 4, object: 1 },
      { name: 'Кофе в зёрнах 1 кг', price: 84950, quantity: 2_000_000, sum: 169900, vat, method: 4, object: 1 },
      { name: 'Доставка', price: 30000, quantity: 1_000_000, sum: 30000, vat, method: 4, object: 4 },
    ],
    'the three items as sent',
  );
  t.match(doc.tags, { 1008: 'client@example.ru' }, 'customer contact');

  await rig.store.until(() => rig.store.messages.some((m) => m.topic.endsWith('/health') && m.body?.register?.protocol === 'atol'), 'health with the protocol', 15_000);
  const health = [...rig.store.messages].reverse().find((m) => m.topic.endsWith('/health') && m.body?.register?.protocol === 'atol')!.body;
  t.match(health.register, { link: 'up', protocol: 'atol', protocol_setting: 'auto' }, 'health: ATOL found by auto');
});
