import t from 'tap';
import { parseReceiptMessage } from '../../src/fiscal/parse.ts';
import { FISCAL_CODES } from '../../src/fiscal/codes.ts';
import type { ValidationContext } from '../../src/fiscal/model.ts';
import { body, exampleA, exampleB, exampleC, exampleD, prepay2026, type Json } from './fixtures.ts';

function ok(o: unknown, ctx?: ValidationContext) {
  const r = parseReceiptMessage(body(o), ctx);
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code} at ${r.error.field}: ${r.error.message}`);
  return r.request;
}

t.test('(a) 3-item card prepayment parses to exact kopecks and thousandths', async (t) => {
  const r = ok(exampleA());
  t.equal(r.externalId, 'order-1001-prepay');
  t.equal(r.operation, 'sell');
  t.equal(r.timestamp, '05.03.2025 12:05:31');
  t.equal(r.dateTime, '2025-03-05T12:05:31');
  t.same(r.receipt.items.map((i) => [i.price, i.quantity, i.sum, i.paymentMethod, i.paymentObject, i.vat]), [
    [199000, 1000, 199000, 1, 1, 'vat120'],
    [84950, 2000, 169900, 1, 1, 'vat120'],
    [30000, 1000, 30000, 1, 4, 'vat120'],
  ]);
  t.same(r.receipt.payments, { cash: 0, electronic: 398900, prepaid: 0, credit: 0, other: 0 });
  t.equal(r.receipt.total, 398900);
  t.equal(r.receipt.operation, 1);
  t.equal(r.receipt.taxSystem, 'osn');
  t.equal(r.receipt.customerContact, 'client@client.ru');
  t.same(r.vats, [{ type: 'vat120', sum: 66483 }]);
  t.same(r.company, { email: 'shop@shop.ru', sno: 'osn', inn: '5010051677', paymentAddress: 'https://shop.ru' });
  t.match(r.bodyHash, /^[0-9a-f]{64}$/);
  t.same(r.itemAgents, [undefined, undefined, undefined]);
});

t.test('(b) full settlement with advance offset', async (t) => {
  const r = ok(exampleB());
  t.same(r.receipt.payments, { cash: 0, electronic: 0, prepaid: 398900, credit: 0, other: 0 });
  t.same(r.receipt.items.map((i) => [i.paymentMethod, i.vat]), [[4, 'vat20'], [4, 'vat20'], [4, 'vat20']]);
});

t.test('(c) refund of the prepayment with its VAT sum', async (t) => {
  const r = ok(exampleC());
  t.equal(r.receipt.operation, 2);
  t.same(r.receipt.items[0], {
    name: 'Кофе в зёрнах 1 кг', price: 84950, quantity: 2000, sum: 169900, vat: 'vat120', vatSum: 28317,
    paymentMethod: 1, paymentObject: 1, measure: 0,
  });
  t.same(r.receipt.payments, { cash: 0, electronic: 169900, prepaid: 0, credit: 0, other: 0 });
});

t.test('(d) correction: 1054 = 1, type self, base date ISO, cashier', async (t) => {
  const r = ok(exampleD());
  t.equal(r.operation, 'sell_correction');
  t.equal(r.receipt.operation, 1);
  t.same(r.receipt.correction, { type: 0, baseDate: '2020-11-23', baseNumber: '123/46533' });
  t.same(r.receipt.cashier, { name: 'кассир', inn: '887405485310' });
  t.equal(r.receipt.total, 12000);
  t.equal(r.receipt.items[0]!.vatSum, 2000);
  t.same(r.client, {}, 'client is optional in a correction');
  t.equal(r.receipt.customerContact, undefined);
});

t.test('operations map to tag 1054 and corrections', async (t) => {
  const cases: [string, number, boolean][] = [
    ['sell', 1, false], ['sell_refund', 2, false], ['buy', 3, false], ['buy_refund', 4, false],
    ['sell_correction', 1, true], ['sell_refund_correction', 2, true], ['buy_correction', 3, true], ['buy_refund_correction', 4, true],
  ];
  for (const [operation, type, correction] of cases) {
    const o = correction ? exampleD() : exampleB();
    o.operation = operation;
    const r = ok(o);
    t.equal(r.receipt.operation, type, operation);
    t.equal(r.receipt.correction !== undefined, correction, `${operation} correction`);
  }
  const instr = exampleD();
  instr.correction.correction_info = { type: 'instruction', base_date: '01.11.2020', base_number: '7' };
  t.same(ok(instr).receipt.correction, { type: 1, baseDate: '2020-11-01', baseNumber: '7' });
  const leapDay = exampleD();
  leapDay.correction.correction_info.base_date = '29.02.2020';
  t.equal(ok(leapDay).receipt.correction?.baseDate, '2020-02-29', 'leap day');
});

t.test('2026 3-item card prepayment at vat122, Bitrix style', async (t) => {
  const r = ok(prepay2026(), { registeredTaxSystems: ['osn'], companyInn: '5010051677' });
  t.equal(r.dateTime, '2026-11-28T10:15:00');
  t.same(r.receipt.items.map((i) => [i.vat, i.measure]), [['vat122', 0], ['vat122', 0], ['vat122', 0]]);
  t.equal(r.client.phone, '+79251234567', 'phone without + normalized');
  t.equal(r.client.email, undefined, 'empty e-mail is absent');
  t.equal(r.receipt.customerContact, '+79251234567');
});

t.test('lenient but lossless inputs', async (t) => {
  const phones: [string, string][] = [
    ['9251234567', '+79251234567'], ['79251234567', '+79251234567'], ['89251234567', '+79251234567'],
    ['+380671234567', '+380671234567'], ['380671234567', '+380671234567'], ['+7 (925) 123-45-67', '+79251234567'],
  ];
  for (const [given, want] of phones) {
    const o = exampleA();
    o.receipt.client = { phone: given };
    t.equal(ok(o).receipt.customerContact, want, given);
  }
  const both = exampleA();
  both.receipt.client = { email: 'a@b.ru', phone: '+79251234567' };
  t.equal(ok(both).receipt.customerContact, 'a@b.ru', 'e-mail wins when both are given (the OFD sends to it)');

  const noContact = exampleA();
  noContact.receipt.client = {};
  t.ok(parseReceiptMessage(body(noContact), { requireCustomerContact: false }).ok, 'contact not required when configured so');

  const weighed = exampleB();
  weighed.receipt.items = [{ name: 'Сыр', price: 33.33, quantity: 0.333, measure: 11, sum: 11.1, payment_method: 'full_payment', payment_object: 1, vat: { type: 'vat10' } }];
  weighed.receipt.payments = [{ type: 0, sum: 11.1 }];
  weighed.receipt.total = 11.1;
  const w = ok(weighed);
  t.same([w.receipt.items[0]!.price, w.receipt.items[0]!.quantity, w.receipt.items[0]!.sum], [3333, 333, 1110], '33.33 × 0.333 = 11.09889 → 11.10');

  for (const sum of [0.02, 0.03]) {
    const tie = exampleB();
    tie.receipt.items = [{ name: 'x', price: 0.05, quantity: 0.5, measure: 0, sum, payment_method: 'full_payment', payment_object: 1, vat: { type: 'none' } }];
    tie.receipt.payments = [{ type: 0, sum }];
    tie.receipt.total = sum;
    t.ok(parseReceiptMessage(body(tie)).ok, `0.05 × 0.5 = 0.025: ${sum} accepted at the tie`);
  }

  const free = exampleB();
  free.receipt.items[2].price = 0;
  free.receipt.items[2].sum = 0;
  free.receipt.total = 3689;
  free.receipt.payments = [{ type: 2, sum: 3689 }];
  t.equal(ok(free).receipt.items[2]!.sum, 0, 'price 0 is allowed');

  const proto = body(exampleA()).replace('"receipt":{', '"__proto__":{"polluted":1},"constructor":{"x":1},"receipt":{"__proto__":{"items":[]},');
  t.ok(parseReceiptMessage(proto).ok, '__proto__ keys are ignored');
  t.equal(({} as Json).polluted, undefined, 'Object.prototype untouched');

  t.ok(parseReceiptMessage(Buffer.from('\uFEFF' + body(exampleA()))).ok, 'a UTF-8 BOM is skipped');
});

t.test('payment kinds each 1214 admits', async (t) => {
  const receipt = (methods: string[], payments: [number, number][]): Json => {
    const o = exampleB();
    o.receipt.items = methods.map((m, i) => ({ name: `p${i}`, price: 100, quantity: 1, measure: 0, sum: 100, payment_method: m, payment_object: 1, vat: { type: 'vat120' } }));
    o.receipt.payments = payments.map(([type, sum]) => ({ type, sum }));
    o.receipt.total = 100 * methods.length;
    return o;
  };
  const valid: [string, string[], [number, number][]][] = [
    ['prepayment by cash + card', ['prepayment', 'advance'], [[0, 50], [1, 150]]],
    ['credit: everything on credit', ['credit'], [[3, 100]]],
    ['partial settlement: offset + credit + card', ['partial_payment', 'partial_payment'], [[2, 50], [3, 100], [1, 50]]],
    ['credit payment by card', ['credit_payment'], [[1, 100]]],
    ['full settlement: offset + counter-provision + cash', ['full_payment', 'full_payment'], [[2, 100], [4, 50], [0, 50]]],
    ['mixed: offset for the shipped item, card for the extra advance', ['full_payment', 'advance'], [[2, 100], [1, 100]]],
  ];
  for (const [name, methods, payments] of valid) {
    const r = parseReceiptMessage(body(receipt(methods, payments)));
    t.ok(r.ok, name);
  }
  const invalid: [string, string[], [number, number][], string, string][] = [
    ['prepayment paid by offset', ['full_prepayment'], [[2, 100]], 'PAYMENT_KIND_NOT_ALLOWED', 'receipt.payments[0].type'],
    ['credit on a full settlement', ['full_payment'], [[1, 50], [3, 50]], 'PAYMENT_KIND_NOT_ALLOWED', 'receipt.payments[1].type'],
    ['counter-provision on an advance', ['advance'], [[4, 100]], 'PAYMENT_KIND_NOT_ALLOWED', 'receipt.payments[0].type'],
    ['credit item paid by card', ['credit'], [[1, 100]], 'PAYMENT_KIND_NOT_ALLOWED', 'receipt.payments[0].type'],
    ['offset on credit payment', ['credit_payment'], [[2, 100]], 'PAYMENT_KIND_NOT_ALLOWED', 'receipt.payments[0].type'],
    ['offset + credit cover the prepayment item too', ['partial_payment', 'full_prepayment'], [[2, 100], [3, 100]], 'PAYMENT_KIND_NOT_ALLOWED', 'receipt.payments[0].type'],
    ['offset beyond the full-settlement items', ['full_payment', 'advance'], [[2, 150], [1, 50]], 'ADVANCE_OFFSET_EXCEEDS_TOTAL', 'receipt.payments[0]'],
  ];
  for (const [name, methods, payments, code, field] of invalid) {
    const r = parseReceiptMessage(body(receipt(methods, payments)));
    t.match(r, { ok: false, error: { code, field } }, name);
  }
});

t.test('VAT by date, operation and payment method', async (t) => {
  const refund2026 = exampleC();
  refund2026.timestamp = '15.01.2026 09:00:00';
  t.ok(parseReceiptMessage(body(refund2026)).ok, 'a 2026 refund of a 2025 prepayment keeps vat120');
  const correction2026 = exampleD();
  correction2026.timestamp = '20.01.2026 10:00:00';
  t.ok(parseReceiptMessage(body(correction2026)).ok, 'a 2026 correction of a 2020 settlement is judged by its base date');
  const usn = exampleB();
  usn.timestamp = '01.02.2025 10:00:00';
  usn.receipt.company.sno = 'usn_income';
  for (const it of usn.receipt.items) it.vat.type = 'vat5';
  t.ok(parseReceiptMessage(body(usn)).ok, 'vat5 exists from 2025');
  const lastDay = exampleB();
  lastDay.timestamp = '31.12.2025 23:59:59';
  t.ok(parseReceiptMessage(body(lastDay)).ok, 'vat20 on 31.12.2025');
  const withinKopeck = exampleC();
  withinKopeck.receipt.items[0].vat.sum = 283.16;
  t.ok(parseReceiptMessage(body(withinKopeck)).ok, 'VAT sum 1 kopeck off passes');
});

interface Bad {
  name: string;
  code: string;
  field?: string;
  make: () => unknown;
  ctx?: ValidationContext;
  /** raw message instead of JSON.stringify(make()) */
  raw?: string | Buffer;
}

const edit = (base: () => Json, f: (o: Json) => void) => () => { const o = base(); f(o); return o; };
const A = (f: (o: Json) => void) => edit(exampleA, f);
const B = (f: (o: Json) => void) => edit(exampleB, f);
const D = (f: (o: Json) => void) => edit(exampleD, f);
const at2026 = (o: Json) => { o.timestamp = '02.01.2026 10:00:00'; };

const bad: Bad[] = [
  { name: 'body over the limit', code: 'BODY_TOO_LARGE', make: () => null, raw: `{"x":"${'a'.repeat(300 * 1024)}"}` },
  { name: 'body over a configured limit', code: 'BODY_TOO_LARGE', make: exampleA, ctx: { maxBodyBytes: 100 } },
  { name: 'truncated JSON', code: 'BAD_JSON', make: () => null, raw: '{"external_id":' },
  { name: 'bad UTF-8', code: 'BAD_JSON', make: () => null, raw: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) },
  { name: 'empty body', code: 'BAD_JSON', make: () => null, raw: '' },
  { name: 'root is an array', code: 'SCHEMA', make: () => [exampleA()] },
  { name: 'missing price', code: 'SCHEMA', field: 'receipt.items[1].price', make: A((o) => delete o.receipt.items[1].price) },
  { name: 'price as a string', code: 'SCHEMA', field: 'receipt.items[0].price', make: A((o) => { o.receipt.items[0].price = '1990.00'; }) },
  { name: 'receipt missing', code: 'SCHEMA', field: 'receipt', make: A((o) => delete o.receipt) },
  { name: 'correction op with a receipt body', code: 'SCHEMA', field: 'correction', make: A((o) => { o.operation = 'sell_correction'; }) },
  { name: 'missing measure', code: 'SCHEMA', field: 'receipt.items[2].measure', make: A((o) => delete o.receipt.items[2].measure) },
  { name: 'payments empty', code: 'SCHEMA', field: 'receipt.payments', make: A((o) => { o.receipt.payments = []; }) },
  { name: 'external_id a number', code: 'SCHEMA', field: 'external_id', make: A((o) => { o.external_id = 1001; }) },
  { name: 'payment_address too long', code: 'SCHEMA', field: 'receipt.company.payment_address', make: A((o) => { o.receipt.company.payment_address = 'x'.repeat(257); }) },
  { name: 'cashier too long', code: 'SCHEMA', field: 'correction.cashier', make: D((o) => { o.correction.cashier = 'к'.repeat(65); }) },
  { name: 'unknown agent type', code: 'SCHEMA', field: 'receipt.items[0].agent_info.type', make: A((o) => { o.receipt.items[0].agent_info = { type: 'agent' }; o.receipt.items[0].supplier_info = { inn: '5010051677' }; }) },
  { name: 'agent without supplier', code: 'SCHEMA', field: 'receipt.items[0].supplier_info', make: A((o) => { o.receipt.items[0].agent_info = { type: 'commission_agent' }; }) },
  { name: 'paying agent supplier without phones', code: 'SCHEMA', field: 'receipt.items[0].supplier_info.phones', make: A((o) => { o.receipt.items[0].agent_info = { type: 'paying_agent' }; o.receipt.items[0].supplier_info = { inn: '5010051677', name: 'ООО Поставщик' }; }) },
  { name: 'empty external_id', code: 'BAD_EXTERNAL_ID', field: 'external_id', make: A((o) => { o.external_id = ''; }) },
  { name: '129-character external_id', code: 'BAD_EXTERNAL_ID', field: 'external_id', make: A((o) => { o.external_id = 'x'.repeat(129); }) },
  { name: 'unknown operation', code: 'BAD_OPERATION', field: 'operation', make: A((o) => { o.operation = 'sale'; }) },
  { name: 'operation named like a prototype key', code: 'BAD_OPERATION', field: 'operation', make: A((o) => { o.operation = 'constructor'; }) },
  { name: 'ISO timestamp', code: 'BAD_TIMESTAMP', field: 'timestamp', make: A((o) => { o.timestamp = '2025-03-05 12:05:31'; }) },
  { name: '31 February', code: 'BAD_TIMESTAMP', field: 'timestamp', make: A((o) => { o.timestamp = '31.02.2025 10:00:00'; }) },
  { name: '29 February of a common year', code: 'BAD_TIMESTAMP', field: 'timestamp', make: A((o) => { o.timestamp = '29.02.2025 10:00:00'; }) },
  { name: 'hour 24', code: 'BAD_TIMESTAMP', field: 'timestamp', make: A((o) => { o.timestamp = '05.03.2025 24:00:00'; }) },
  { name: 'price with 3 decimals', code: 'BAD_AMOUNT', field: 'receipt.items[0].price', make: A((o) => { o.receipt.items[0].price = 1990.001; }) },
  { name: 'negative payment', code: 'BAD_AMOUNT', field: 'receipt.payments[0].sum', make: A((o) => { o.receipt.payments[0].sum = -3989; }) },
  { name: 'float artefact total', code: 'BAD_AMOUNT', field: 'receipt.total', make: A((o) => { o.receipt.total = 0.1 + 0.2; }) },
  { name: 'price above 42 949 672.95', code: 'BAD_AMOUNT', field: 'receipt.items[0].price', make: A((o) => { o.receipt.items[0].price = 42949672.96; }) },
  { name: 'total 1e308', code: 'BAD_AMOUNT', field: 'receipt.total', make: () => null, raw: body(exampleA()).replace('"total":3989', '"total":1e308') },
  { name: 'zero quantity', code: 'BAD_QUANTITY', field: 'receipt.items[0].quantity', make: A((o) => { o.receipt.items[0].quantity = 0; }) },
  { name: 'quantity with 4 decimals', code: 'BAD_QUANTITY', field: 'receipt.items[0].quantity', make: A((o) => { o.receipt.items[0].quantity = 1.0005; }) },
  { name: 'quantity 100 000', code: 'BAD_QUANTITY', field: 'receipt.items[0].quantity', make: A((o) => { o.receipt.items[0].quantity = 100000; }) },
  { name: 'no items', code: 'NO_ITEMS', field: 'receipt.items', make: A((o) => { o.receipt.items = []; }) },
  { name: 'more items than the device takes', code: 'TOO_MANY_ITEMS', field: 'receipt.items', make: exampleA, ctx: { maxItems: 2 } },
  { name: 'empty name', code: 'BAD_NAME', field: 'receipt.items[1].name', make: A((o) => { o.receipt.items[1].name = ''; }) },
  { name: 'blank name', code: 'BAD_NAME', field: 'receipt.items[1].name', make: A((o) => { o.receipt.items[1].name = '   '; }) },
  { name: '129-character name', code: 'BAD_NAME', field: 'receipt.items[1].name', make: A((o) => { o.receipt.items[1].name = 'я'.repeat(129); }) },
  { name: 'unknown measure', code: 'BAD_MEASURE', field: 'receipt.items[0].measure', make: A((o) => { o.receipt.items[0].measure = 13; }) },
  { name: 'unknown payment method', code: 'BAD_PAYMENT_METHOD', field: 'receipt.items[0].payment_method', make: A((o) => { o.receipt.items[0].payment_method = 'full'; }) },
  { name: 'payment object 28', code: 'BAD_PAYMENT_OBJECT', field: 'receipt.items[2].payment_object', make: A((o) => { o.receipt.items[2].payment_object = 28; }) },
  { name: 'payment object 1.5', code: 'BAD_PAYMENT_OBJECT', field: 'receipt.items[2].payment_object', make: A((o) => { o.receipt.items[2].payment_object = 1.5; }) },
  { name: 'unknown VAT type', code: 'BAD_VAT_TYPE', field: 'receipt.items[0].vat.type', make: A((o) => { o.receipt.items[0].vat.type = 'vat18'; }) },
  { name: 'repeated vats type', code: 'BAD_VAT_TYPE', field: 'receipt.vats[1].type', make: A((o) => { o.receipt.vats = [{ type: 'vat120', sum: 664.83 }, { type: 'vat120', sum: 0 }]; }) },
  { name: 'extended payment type 5', code: 'BAD_PAYMENT_TYPE', field: 'receipt.payments[0].type', make: A((o) => { o.receipt.payments[0].type = 5; }) },
  { name: 'payment type -1', code: 'BAD_PAYMENT_TYPE', field: 'receipt.payments[0].type', make: A((o) => { o.receipt.payments[0].type = -1; }) },
  { name: 'item sum off by a kopeck', code: 'ITEM_SUM_MISMATCH', field: 'receipt.items[1].sum', make: A((o) => { o.receipt.items[1].sum = 1698.99; }) },
  { name: 'weighed item rounded the wrong way', code: 'ITEM_SUM_MISMATCH', field: 'receipt.items[0].sum', make: A((o) => { Object.assign(o.receipt.items[0], { price: 33.33, quantity: 0.333, sum: 11.09 }); }) },
  { name: 'total ≠ Σ items', code: 'TOTAL_MISMATCH', field: 'receipt.total', make: A((o) => { o.receipt.total = 3990; }) },
  { name: 'underpaid', code: 'PAYMENT_MISMATCH', field: 'receipt.payments', make: A((o) => { o.receipt.payments[0].sum = 3988; }) },
  { name: 'cash above the total (change)', code: 'PAYMENT_MISMATCH', field: 'receipt.payments', make: A((o) => { o.receipt.payments = [{ type: 0, sum: 4000 }]; }) },
  { name: 'prepayment paid by advance offset', code: 'PAYMENT_KIND_NOT_ALLOWED', field: 'receipt.payments[0].type', make: A((o) => { o.receipt.payments[0].type = 2; }) },
  { name: 'credit on a full settlement', code: 'PAYMENT_KIND_NOT_ALLOWED', field: 'receipt.payments[0].type', make: B((o) => { o.receipt.payments[0].type = 3; }) },
  { name: 'offset above the total', code: 'ADVANCE_OFFSET_EXCEEDS_TOTAL', field: 'receipt.payments[0]', make: B((o) => { o.receipt.payments[0].sum = 5000; }) },
  { name: 'vat120 after 01.01.2026', code: 'VAT_RATE_DATE', field: 'receipt.items[0].vat.type', make: A(at2026) },
  { name: 'vat20 in vats[] after 01.01.2026', code: 'VAT_RATE_DATE', field: 'receipt.vats[0].type', make: edit(prepay2026, (o) => { o.receipt.vats = [{ type: 'vat20', sum: 0 }]; }) },
  { name: 'vat122 before 2026', code: 'VAT_RATE_DATE', field: 'receipt.items[0].vat.type', make: edit(prepay2026, (o) => { o.timestamp = '31.12.2025 23:59:59'; }) },
  { name: 'vat5 before 2025', code: 'VAT_RATE_DATE', field: 'receipt.items[0].vat.type', make: B((o) => { o.timestamp = '31.12.2024 12:00:00'; o.receipt.items[0].vat.type = 'vat5'; }) },
  { name: 'vat20 on a 2026 correction of a 2026 settlement', code: 'VAT_RATE_DATE', field: 'correction.items[0].vat.type', make: D((o) => { o.correction.correction_info.base_date = '10.01.2026'; }) },
  { name: 'vat20 on a prepayment', code: 'VAT_CALCULATED_RATE', field: 'receipt.items[0].vat.type', make: A((o) => { o.receipt.items[0].vat.type = 'vat20'; }) },
  { name: 'vat22 on a 2026 advance', code: 'VAT_CALCULATED_RATE', field: 'receipt.items[2].vat.type', make: edit(prepay2026, (o) => { o.receipt.items[2].payment_method = 'advance'; o.receipt.items[2].vat.type = 'vat22'; }) },
  { name: 'item VAT 2 kopecks off', code: 'VAT_SUM_MISMATCH', field: 'receipt.items[0].vat.sum', make: edit(exampleC, (o) => { o.receipt.items[0].vat.sum = 283.19; }) },
  { name: 'vats[] total off', code: 'VAT_SUM_MISMATCH', field: 'receipt.vats[0].sum', make: A((o) => { o.receipt.vats[0].sum = 664.9; }) },
  { name: 'VAT on a rate no item has', code: 'VAT_SUM_MISMATCH', field: 'receipt.vats[1].sum', make: A((o) => { o.receipt.vats.push({ type: 'vat110', sum: 1 }); }) },
  { name: 'unknown sno', code: 'BAD_TAX_SYSTEM', field: 'receipt.company.sno', make: A((o) => { o.receipt.company.sno = 'usn'; }) },
  { name: 'sno not registered', code: 'TAX_SYSTEM_NOT_REGISTERED', field: 'receipt.company.sno', make: exampleA, ctx: { registeredTaxSystems: ['usn_income', 'patent'] } },
  { name: 'other company INN', code: 'COMPANY_INN_MISMATCH', field: 'receipt.company.inn', make: exampleA, ctx: { companyInn: '7707083893' } },
  { name: 'an INN no register of the pool has', code: 'COMPANY_INN_MISMATCH', field: 'receipt.company.inn', make: exampleA, ctx: { registers: [{ id: 'a', inn: '7707083893' }, { id: 'b', inn: '7736207543' }] } },
  { name: 'pinned to a register of the pool registered for other systems', code: 'TAX_SYSTEM_NOT_REGISTERED', field: 'receipt.company.sno', make: A((o) => { o.device = 'b'; }), ctx: { registers: [{ id: 'a' }, { id: 'b', taxSystems: ['patent'] }] } },
  { name: 'pinned to a register the gateway does not have', code: 'UNKNOWN_DEVICE', field: 'device', make: A((o) => { o.device = 'c'; }), ctx: { registers: [{ id: 'a' }, { id: 'b' }] } },
  { name: 'no client contact', code: 'CUSTOMER_CONTACT_REQUIRED', field: 'receipt.client', make: A((o) => { o.receipt.client = { email: '', phone: 'none' }; }) },
  { name: 'client e-mail without @', code: 'BAD_EMAIL', field: 'receipt.client.email', make: A((o) => { o.receipt.client.email = 'client.ru'; }) },
  { name: 'company e-mail with spaces', code: 'BAD_EMAIL', field: 'receipt.company.email', make: A((o) => { o.receipt.company.email = 'shop @shop.ru'; }) },
  { name: 'client phone with letters', code: 'BAD_PHONE', field: 'receipt.client.phone', make: A((o) => { o.receipt.client = { phone: '+7925abc' }; }) },
  { name: 'short phone without +', code: 'BAD_PHONE', field: 'receipt.client.phone', make: A((o) => { o.receipt.client = { phone: '12345' }; }) },
  { name: 'supplier phone', code: 'BAD_PHONE', field: 'receipt.items[0].supplier_info.phones[0]', make: A((o) => { o.receipt.items[0].agent_info = { type: 'commission_agent' }; o.receipt.items[0].supplier_info = { inn: '5010051677', phones: ['x'] }; }) },
  { name: 'company INN checksum', code: 'BAD_INN', field: 'receipt.company.inn', make: A((o) => { o.receipt.company.inn = '5010051678'; }) },
  { name: 'client INN of 11 digits', code: 'BAD_INN', field: 'receipt.client.inn', make: A((o) => { o.receipt.client.inn = '50100516771'; }) },
  { name: 'supplier INN', code: 'BAD_INN', field: 'receipt.items[0].supplier_info.inn', make: A((o) => { o.receipt.items[0].agent_info = { type: 'commission_agent' }; o.receipt.items[0].supplier_info = { inn: '123' }; }) },
  { name: 'cashier INN checksum', code: 'BAD_CASHIER_INN', field: 'correction.cashier_inn', make: D((o) => { o.correction.cashier_inn = '887405485311'; }) },
  { name: 'cashier INN of 10 digits', code: 'BAD_CASHIER_INN', field: 'correction.cashier_inn', make: D((o) => { o.correction.cashier_inn = '5010051677'; }) },
  { name: 'correction_info missing', code: 'CORRECTION_INFO', field: 'correction.correction_info', make: D((o) => delete o.correction.correction_info) },
  { name: 'correction type unknown', code: 'CORRECTION_INFO', field: 'correction.correction_info.type', make: D((o) => { o.correction.correction_info.type = 'order'; }) },
  { name: 'base_date ISO', code: 'CORRECTION_INFO', field: 'correction.correction_info.base_date', make: D((o) => { o.correction.correction_info.base_date = '2020-11-23'; }) },
  { name: 'base_number too long', code: 'CORRECTION_INFO', field: 'correction.correction_info.base_number', make: D((o) => { o.correction.correction_info.base_number = '1'.repeat(33); }) },
  { name: 'instruction without number', code: 'CORRECTION_INFO', field: 'correction.correction_info.base_number', make: D((o) => { o.correction.correction_info = { type: 'instruction', base_date: '23.11.2020' }; }) },
  { name: 'item with a mark code', code: 'MARKING_NOT_SUPPORTED', field: 'receipt.items[1].mark_code', make: A((o) => { o.receipt.items[1].mark_code = { gs1m: 'MDEwNDYwNzQyODY3OTA5MDIxNmVKSWpvV0g1NERkVSA5MWZmZDAgOTJzejZrU1BpckFwZk1CZnR2TGJvRTFkbFdDLzU4aEV4UVVxdjdCQmtabWs0PQ==' }; }) },
  { name: 'item with a mark processing mode', code: 'MARKING_NOT_SUPPORTED', field: 'receipt.items[0].mark_processing_mode', make: A((o) => { o.receipt.items[0].mark_processing_mode = '0'; }) },
];

t.test('each bad receipt gets exactly its code and field', async (t) => {
  for (const c of bad) {
    const r = parseReceiptMessage(c.raw ?? body(c.make()), c.ctx);
    if (r.ok) {
      t.fail(`${c.name}: accepted`);
      continue;
    }
    t.equal(r.error.code, c.code, `${c.name}: code`);
    t.equal(r.error.field, c.field, `${c.name}: field`);
    t.equal(r.error.type, 'validation', `${c.name}: type`);
    const [ru, en] = FISCAL_CODES[c.code as keyof typeof FISCAL_CODES];
    t.ok(r.error.message.startsWith(`${ru} / ${en}`), `${c.name}: Russian / English text`);
  }
});

t.test('every catalogue code has a bad receipt', async (t) => {
  const covered = new Set(bad.map((c) => c.code));
  t.same(Object.keys(FISCAL_CODES).filter((code) => !covered.has(code)), []);
});

t.test('external_id comes back whenever it is readable', async (t) => {
  const invalid = exampleA();
  invalid.receipt.total = 1;
  t.match(parseReceiptMessage(body(invalid)), { ok: false, externalId: 'order-1001-prepay', error: { code: 'TOTAL_MISMATCH' } });
  const badOp = exampleA();
  badOp.operation = 42;
  t.match(parseReceiptMessage(body(badOp)), { ok: false, externalId: 'order-1001-prepay', error: { code: 'SCHEMA', field: 'operation' } });
  const longId = exampleA();
  longId.external_id = 'x'.repeat(129);
  t.equal((parseReceiptMessage(body(longId)) as { externalId?: string }).externalId, undefined, 'an invalid id is not echoed');
  t.equal((parseReceiptMessage('not json') as { externalId?: string }).externalId, undefined);
});

t.test('the body hash tells a redelivery from a different body', async (t) => {
  const a1 = parseReceiptMessage(body(exampleA()));
  const a2 = parseReceiptMessage(Buffer.from(body(exampleA())));
  const changed = exampleA();
  changed.receipt.client.email = 'other@client.ru';
  const a3 = parseReceiptMessage(body(changed));
  t.ok(a1.ok && a2.ok && a3.ok);
  if (a1.ok && a2.ok && a3.ok) {
    t.equal(a1.request.bodyHash, a2.request.bodyHash, 'string and Buffer of the same bytes');
    t.not(a1.request.bodyHash, a3.request.bodyHash);
  }
});
