/**
 * The seed scenarios (/work/shared/reference/fiscal-scenarios.md) end to end: each receipt is published over MQTT
 * to a real broker, fiscalized by the gateway on the emulated register over a real pty, and every resulting fiscal
 * document is checked in the emulator's FN journal: FD type, operation (1054), per item 1214 / 1212 / VAT name and
 * FF46 tax byte, payment kinds and totals, and the receipt-level tags.
 */
import t from 'tap';
import { join } from 'node:path';
import type { Test } from 'tap';
import { makeRig, RIG_PROTOCOLS, type Rig, type RigProtocol } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { TAX_ROWS as ATOL_TAX_ROWS } from '../../drivers/emulator/atol/device.ts';

type Json = Record<string, any>;
type Kind = 'cash' | 'electronic' | 'prepaid' | 'credit' | 'other';

const COMPANY = { email: 'shop@shop.ru', sno: 'osn', inn: '5010051677', payment_address: 'https://shop.ru' };
/** ATOL v5 payments.type of each kind */
const PAY_TYPE: Record<Kind, number> = { cash: 0, electronic: 1, prepaid: 2, credit: 3, other: 4 };
/** FF46 tax byte of each rate (kkt-protocols.md §1.8) */
const SHTRIH_TAX_BYTE: Record<string, number> = {
  vat22: 0xcb, vat122: 0xcc, vat120: 0x10, vat110: 0x20, vat20: 0x01, vat10: 0x02, none: 0x08, vat0: 0x04, vat5: 0x81, vat7: 0x82, vat105: 0x84, vat107: 0x88,
};
/**
 * The rate as coded on the wire, as the emulator's journal records it (`taxByte`), per protocol: Shtrih's FF46 byte;
 * ATOL's EB taxType, the row of the device's own tax table (the driver reads the table, kkt-protocols.md §2.3 ⚠).
 */
const TAX_BYTE: Record<RigProtocol, Record<string, number>> = {
  shtrih: SHTRIH_TAX_BYTE,
  atol: Object.fromEntries(ATOL_TAX_ROWS.map((r) => [r.vat, r.row])),
};
const OPERATION: Record<string, number> = { sell: 1, sell_refund: 2, buy: 3, buy_refund: 4, sell_correction: 1, buy_correction: 3 };

interface Line { name: string; price: number; qty?: number; method: string; object: number; vat: string }

function item(l: Line): Json {
  const qty = l.qty ?? 1;
  // test data: prices in whole kopecks, sums computed in kopecks
  const sum = Math.round(l.price * 100) * qty / 100;
  return { name: l.name, price: l.price, quantity: qty, measure: 0, sum, payment_method: l.method, payment_object: l.object, vat: { type: l.vat } };
}

function receipt(operation: string, id: string, timestamp: string, lines: Line[], pays: Array<[Kind, number]>, extra: Json = {}): Json {
  const items = lines.map(item);
  const totalKop = items.reduce((s, i) => s + Math.round(i.sum * 100), 0);
  const body = {
    client: { email: 'client@client.ru' },
    company: { ...COMPANY },
    items,
    payments: pays.map(([k, sum]) => ({ type: PAY_TYPE[k], sum })),
    total: totalKop / 100,
    ...extra,
  };
  return operation.endsWith('_correction')
    ? { operation, external_id: id, timestamp, correction: body }
    : { operation, external_id: id, timestamp, receipt: body };
}

/** What a document must look like in the journal. */
interface Expect {
  type?: number;
  operation: number;
  items: Array<{ method: number; object: number; vat: string; sum: number }>;
  payments: Partial<Record<Kind, number>>;
  taxSystem?: number;
}

async function fiscalize(t: any, rig: Rig, body: Json, exp: Expect): Promise<Json> {
  const id = body.external_id as string;
  await rig.store.publish('receipt', body);
  await rig.store.until(() => rig.store.final(id) !== undefined, `result of ${id}`, 30_000);
  const res = rig.store.final(id)!;
  t.equal(res.status, 'done', `${id}: done ${res.error ? JSON.stringify(res.error) : ''}`);
  const fd = res.payload?.fiscal_document_number;
  const docs = readJournal(join(rig.dir, 'fn.jsonl')).documents as Json[];
  const doc = docs.find((d) => d.fd === fd);
  if (!doc) {
    t.fail(`${id}: FD ${String(fd)} not in the journal`);
    return {};
  }
  t.equal(doc.type, exp.type ?? 3, `${id}: FD type`);
  t.equal(doc.operation, exp.operation, `${id}: 1054`);
  const taxByte = TAX_BYTE[rig.protocol];
  t.same(
    doc.items.map((i: Json) => ({ method: i.paymentMethod, object: i.paymentObject, vat: i.vat, taxByte: i.taxByte, sum: i.sum })),
    exp.items.map((i) => ({ ...i, taxByte: taxByte[i.vat] })),
    `${id}: items 1214 / 1212 / VAT / tax byte / sum`,
  );
  const payments = { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0, ...exp.payments };
  t.same(doc.payments, payments, `${id}: payment kinds`);
  const total = Object.values(payments).reduce((a, b) => a + b, 0);
  t.equal(doc.total, total, `${id}: total`);
  t.equal(doc.taxSystem, exp.taxSystem ?? 1, `${id}: 1055 taxation system`);
  t.equal(res.payload?.total, total / 100, `${id}: result total`);
  t.match(res.payload?.qr, new RegExp(`^t=\\d{8}T\\d{4}&s=${(total / 100).toFixed(2).replace('.', '\\.')}&fn=\\d+&i=${fd}&fp=${doc.fiscalSign}&n=${exp.operation}$`), `${id}: QR`);
  return doc;
}

const coffee = (method: string, vat: string, object = 1): Line[] => [
  { name: 'Кофемолка', price: 1990, method, object, vat },
  { name: 'Кофе в зёрнах 1 кг', price: 849.5, qty: 2, method, object, vat },
  { name: 'Доставка', price: 300, method, object: object === 10 ? 10 : 4, vat },
];
const exp = (method: number, object: number[], vat: string, sums: number[]): Expect['items'] =>
  sums.map((sum, i) => ({ method, object: object[i] ?? object[0]!, vat, sum }));

for (const protocol of RIG_PROTOCOLS) {
  t.test(`the seed scenarios on ${protocol}`, async (t) => {
    // the emulated register is registered for osn and usn_income (journal identity 1062 = 0x03)
    const rig = await makeRig({ protocol, config: { fiscal: { tax_systems: ['osn', 'usn_income'] } } });
    t.teardown(() => rig.close());
    await rig.startGateway();
    scenarios(t, rig);
  });
}

function scenarios(t: Test, rig: Rig): void {
  t.test('3 items prepaid in full by card (1214 = 1, 1212 = 10, vat122), then settled at shipment with the advance offset (1214 = 4, 1215, vat22)', async (t) => {
    await fiscalize(t, rig, receipt('sell', 's1/prepay', '28.11.2026 10:15:00', coffee('full_prepayment', 'vat122', 10), [['electronic', 3989]]), {
      operation: 1, items: exp(1, [10], 'vat122', [199000, 169900, 30000]), payments: { electronic: 398900 },
    });
    await fiscalize(t, rig, receipt('sell', 's1/final', '30.11.2026 15:00:00', coffee('full_payment', 'vat22'), [['prepaid', 3989]]), {
      operation: 1, items: exp(4, [1, 1, 4], 'vat22', [199000, 169900, 30000]), payments: { prepaid: 398900 },
    });
  });

  t.test('2025: prepayment at vat120, settlement at vat20 (the 20 % era)', async (t) => {
    await fiscalize(t, rig, receipt('sell', 's2025/prepay', '05.03.2025 12:05:31', coffee('full_prepayment', 'vat120', 1), [['electronic', 3989]]), {
      operation: 1, items: exp(1, [1, 1, 4], 'vat120', [199000, 169900, 30000]), payments: { electronic: 398900 },
    });
    await fiscalize(t, rig, receipt('sell', 's2025/final', '06.03.2025 12:00:00', coffee('full_payment', 'vat20'), [['prepaid', 3989]]), {
      operation: 1, items: exp(4, [1, 1, 4], 'vat20', [199000, 169900, 30000]), payments: { prepaid: 398900 },
    });
  });

  t.test('an item missing and replaced: dearer replacement → extra prepayment receipt; cheaper → sell_refund of the difference', async (t) => {
    const grinder: Line = { name: 'Кофемолка', price: 1990, method: 'full_prepayment', object: 10, vat: 'vat122' };
    const beans: Line = { name: 'Кофе в зёрнах 1 кг', price: 849.5, method: 'full_prepayment', object: 10, vat: 'vat122' };
    // dearer: beans (849.50) missing, replaced by a 1 kg pack at 999.00: +149.50 prepaid, offset = 1990 + 999
    await fiscalize(t, rig, receipt('sell', 'r1/prepay', '28.11.2026 11:00:00', [grinder, beans], [['electronic', 2839.5]]), {
      operation: 1, items: exp(1, [10], 'vat122', [199000, 84950]), payments: { electronic: 283950 },
    });
    await fiscalize(t, rig, receipt('sell', 'r1/extra', '29.11.2026 09:00:00', [{ name: 'Доплата за замену: кофе Арабика 1 кг', price: 149.5, method: 'full_prepayment', object: 10, vat: 'vat122' }], [['electronic', 149.5]]), {
      operation: 1, items: exp(1, [10], 'vat122', [14950]), payments: { electronic: 14950 },
    });
    await fiscalize(t, rig, receipt('sell', 'r1/final', '29.11.2026 18:00:00', [
      { name: 'Кофемолка', price: 1990, method: 'full_payment', object: 1, vat: 'vat22' },
      { name: 'Кофе Арабика 1 кг', price: 999, method: 'full_payment', object: 1, vat: 'vat22' },
    ], [['prepaid', 2989]]), { operation: 1, items: exp(4, [1], 'vat22', [199000, 99900]), payments: { prepaid: 298900 } });

    // cheaper: beans replaced by a pack at 799.00: the 50.50 difference is refunded as a prepayment refund
    await fiscalize(t, rig, receipt('sell', 'r2/prepay', '28.11.2026 11:30:00', [grinder, beans], [['electronic', 2839.5]]), {
      operation: 1, items: exp(1, [10], 'vat122', [199000, 84950]), payments: { electronic: 283950 },
    });
    await fiscalize(t, rig, receipt('sell_refund', 'r2/refund-diff', '29.11.2026 10:00:00', [{ ...beans, name: 'Кофе в зёрнах 1 кг (разница в цене замены)', price: 50.5 }], [['electronic', 50.5]]), {
      operation: 2, items: exp(1, [10], 'vat122', [5050]), payments: { electronic: 5050 },
    });
    await fiscalize(t, rig, receipt('sell', 'r2/final', '29.11.2026 18:30:00', [
      { name: 'Кофемолка', price: 1990, method: 'full_payment', object: 1, vat: 'vat22' },
      { name: 'Кофе Робуста 1 кг', price: 799, method: 'full_payment', object: 1, vat: 'vat22' },
    ], [['prepaid', 2789]]), { operation: 1, items: exp(4, [1], 'vat22', [199000, 79900]), payments: { prepaid: 278900 } });
  });

  t.test('money for a missing item kept as an advance (1214 = 3 «Аванс»), the rest shipped with the offset, the advance spent later', async (t) => {
    await fiscalize(t, rig, receipt('sell', 'a1/prepay', '28.11.2026 12:00:00', coffee('full_prepayment', 'vat122', 10), [['electronic', 3989]]), {
      operation: 1, items: exp(1, [10], 'vat122', [199000, 169900, 30000]), payments: { electronic: 398900 },
    });
    // shipped: grinder + delivery, offset 2290
    await fiscalize(t, rig, receipt('sell', 'a1/final', '29.11.2026 12:00:00', [
      { name: 'Кофемолка', price: 1990, method: 'full_payment', object: 1, vat: 'vat22' },
      { name: 'Доставка', price: 300, method: 'full_payment', object: 4, vat: 'vat22' },
    ], [['prepaid', 2290]]), { operation: 1, items: exp(4, [1, 4], 'vat22', [199000, 30000]), payments: { prepaid: 229000 } });
    // the beans' prepayment leaves the order (refund of the prepayment) and lands on the internal account as an advance
    await fiscalize(t, rig, receipt('sell_refund', 'a1/unprepay', '29.11.2026 12:01:00', [{ name: 'Кофе в зёрнах 1 кг', price: 849.5, qty: 2, method: 'full_prepayment', object: 10, vat: 'vat122' }], [['electronic', 1699]]), {
      operation: 2, items: exp(1, [10], 'vat122', [169900]), payments: { electronic: 169900 },
    });
    await fiscalize(t, rig, receipt('sell', 'a1/advance', '29.11.2026 12:02:00', [{ name: 'Аванс', price: 1699, method: 'advance', object: 10, vat: 'vat122' }], [['electronic', 1699]]), {
      operation: 1, items: exp(3, [10], 'vat122', [169900]), payments: { electronic: 169900 },
    });
    // prepaid 3989 = shipped 2290 + kept 1699; the advance is spent on a later order
    await fiscalize(t, rig, receipt('sell', 'a2/final', '05.12.2026 10:00:00', [{ name: 'Кофе Арабика 1 кг', price: 999, method: 'full_payment', object: 1, vat: 'vat22' }, { name: 'Фильтры бумажные', price: 700, method: 'full_payment', object: 1, vat: 'vat22' }], [['prepaid', 1699]]), {
      operation: 1, items: exp(4, [1], 'vat22', [99900, 70000]), payments: { prepaid: 169900 },
    });
  });

  t.test('two items refused at delivery: sell_refund of their prepayment (1214 = 1, vat122, to the card), the rest settled with the offset', async (t) => {
    await fiscalize(t, rig, receipt('sell', 'd1/prepay', '28.11.2026 13:00:00', coffee('full_prepayment', 'vat122', 10), [['electronic', 3989]]), {
      operation: 1, items: exp(1, [10], 'vat122', [199000, 169900, 30000]), payments: { electronic: 398900 },
    });
    await fiscalize(t, rig, receipt('sell_refund', 'd1/refund', '29.11.2026 14:00:00', coffee('full_prepayment', 'vat122', 10).slice(0, 2), [['electronic', 3689]]), {
      operation: 2, items: exp(1, [10], 'vat122', [199000, 169900]), payments: { electronic: 368900 },
    });
    await fiscalize(t, rig, receipt('sell', 'd1/final', '29.11.2026 14:00:30', [{ name: 'Доставка', price: 300, method: 'full_payment', object: 4, vat: 'vat22' }], [['prepaid', 300]]), {
      operation: 1, items: exp(4, [4], 'vat22', [30000]), payments: { prepaid: 30000 },
    });
  });

  t.test('shipment on credit (1214 = 6, 1216), then the credit paid (1214 = 7) in cash and by card', async (t) => {
    await fiscalize(t, rig, receipt('sell', 'c1/ship', '28.11.2026 16:00:00', coffee('credit', 'vat22'), [['credit', 3989]]), {
      operation: 1, items: exp(6, [1, 1, 4], 'vat22', [199000, 169900, 30000]), payments: { credit: 398900 },
    });
    await fiscalize(t, rig, receipt('sell', 'c1/pay-1', '05.12.2026 11:00:00', [{ name: 'Оплата кредита по заказу 1017', price: 2000, method: 'credit_payment', object: 10, vat: 'vat22' }], [['cash', 2000]]), {
      operation: 1, items: exp(7, [10], 'vat22', [200000]), payments: { cash: 200000 },
    });
    await fiscalize(t, rig, receipt('sell', 'c1/pay-2', '06.12.2026 11:00:00', [{ name: 'Оплата кредита по заказу 1017', price: 1989, method: 'credit_payment', object: 10, vat: 'vat22' }], [['electronic', 1989]]), {
      operation: 1, items: exp(7, [10], 'vat22', [198900]), payments: { electronic: 198900 },
    });
  });

  t.test('a correction receipt (sell_correction, own initiative): FD type 31 with 1173, 1178, 1179', async (t) => {
    const body = receipt('sell_correction', 'k1', '28.11.2026 17:00:00', [{ name: 'Кофемолка', price: 1990, method: 'full_payment', object: 1, vat: 'vat22' }], [['cash', 1990]], {
      correction_info: { type: 'self', base_date: '20.11.2026', base_number: '' },
      cashier: 'Иванова А.А.',
    });
    const doc = await fiscalize(t, rig, body, { type: 31, operation: 1, items: exp(4, [1], 'vat22', [199000]), payments: { cash: 199000 } });
    t.match(doc.correction, { type: 0, baseDate: '2026-11-20' }, '1173 = 0 (own initiative), 1178 base date');
    const byOrder = receipt('sell_correction', 'k2', '28.11.2026 17:05:00', [{ name: 'Кофе в зёрнах 1 кг', price: 849.5, method: 'full_payment', object: 1, vat: 'vat22' }], [['electronic', 849.5]], {
      correction_info: { type: 'instruction', base_date: '21.11.2026', base_number: '12/345-к' },
    });
    const doc2 = await fiscalize(t, rig, byOrder, { type: 31, operation: 1, items: exp(4, [1], 'vat22', [84950]), payments: { electronic: 84950 } });
    t.same(doc2.correction, { type: 1, baseDate: '2026-11-21', baseNumber: '12/345-к' }, '1173 = 1 (by order), 1178, 1179');
  });

  t.test('rates and taxation systems: vat10/110, vat0, none under osn; vat5/vat105 under usn_income (1055 bit of the receipt’s sno)', async (t) => {
    await fiscalize(t, rig, receipt('sell', 'v1', '28.11.2026 18:00:00', [
      { name: 'Детское питание', price: 100, method: 'full_payment', object: 1, vat: 'vat10' },
      { name: 'Экспорт', price: 50, method: 'full_payment', object: 1, vat: 'vat0' },
      { name: 'Услуга без НДС', price: 25, method: 'full_payment', object: 4, vat: 'none' },
    ], [['cash', 75], ['electronic', 100]]), {
      operation: 1, items: [{ method: 4, object: 1, vat: 'vat10', sum: 10000 }, { method: 4, object: 1, vat: 'vat0', sum: 5000 }, { method: 4, object: 4, vat: 'none', sum: 2500 }],
      payments: { cash: 7500, electronic: 10000 },
    });
    await fiscalize(t, rig, receipt('sell', 'v2', '28.11.2026 18:01:00', [
      { name: 'Предоплата: книга', price: 100, method: 'prepayment', object: 10, vat: 'vat110' },
    ], [['electronic', 100]]), { operation: 1, items: [{ method: 2, object: 10, vat: 'vat110', sum: 10000 }], payments: { electronic: 10000 } });
    const usn = (b: Json): Json => { b.receipt.company.sno = 'usn_income'; return b; };
    await fiscalize(t, rig, usn(receipt('sell', 'v3', '28.11.2026 18:02:00', [
      { name: 'Товар УСН 5 %', price: 105, method: 'full_payment', object: 1, vat: 'vat5' },
      { name: 'Товар УСН 7 %', price: 107, method: 'full_payment', object: 1, vat: 'vat7' },
    ], [['electronic', 212]])), {
      operation: 1, taxSystem: 2, items: [{ method: 4, object: 1, vat: 'vat5', sum: 10500 }, { method: 4, object: 1, vat: 'vat7', sum: 10700 }], payments: { electronic: 21200 },
    });
    await fiscalize(t, rig, usn(receipt('sell', 'v4', '28.11.2026 18:03:00', [
      { name: 'Предоплата УСН', price: 105, method: 'full_prepayment', object: 10, vat: 'vat105' },
      { name: 'Предоплата УСН', price: 107, method: 'full_prepayment', object: 10, vat: 'vat107' },
    ], [['electronic', 212]])), {
      operation: 1, taxSystem: 2, items: [{ method: 1, object: 10, vat: 'vat105', sum: 10500 }, { method: 1, object: 10, vat: 'vat107', sum: 10700 }], payments: { electronic: 21200 },
    });
  });

  t.test('receipt tags: 1008 contact, 1021/1203 cashier, 1227/1228 customer; agent item: 1222 + 1224 {1225, 1171} + 1226 via FF4D', async (t) => {
    const body = receipt('sell', 'tags1', '28.11.2026 19:00:00', [
      { name: 'Кофемолка', price: 1990, method: 'full_payment', object: 1, vat: 'vat22' },
      { name: 'Чехол (комиссия)', price: 500, method: 'full_payment', object: 1, vat: 'none' },
    ], [['electronic', 2490]], { cashier: 'Иванова А.А.', cashier_inn: '887405485310' });
    body.receipt.client = { phone: '79251234567', name: 'ООО Ромашка', inn: '7707083893' };
    body.receipt.items[1].agent_info = { type: 'commission_agent' };
    body.receipt.items[1].supplier_info = { inn: '5010051677', name: 'ИП Петров', phones: ['+79990001122'] };
    const doc = await fiscalize(t, rig, body, { operation: 1, items: [{ method: 4, object: 1, vat: 'vat22', sum: 199000 }, { method: 4, object: 1, vat: 'none', sum: 50000 }], payments: { electronic: 249000 } });
    t.match(doc.tags, { 1008: '+79251234567', 1021: 'Иванова А.А.', 1203: '887405485310', 1227: 'ООО Ромашка', 1228: '7707083893  ' }, 'receipt-level TLVs');
    t.same(doc.items[0].tlvs, {}, 'no FF4D for an ordinary item');
    t.match(doc.items[1].tlvs, { 1222: '32', 1224: { 1171: '+79990001122', 1225: 'ИП Петров' }, 1226: '5010051677  ' }, 'agent TLVs bound to the item');
  });
}
