/** Reconcile: the FN's copy of a document against the in-flight receipt, field by field. */
import t from 'tap';
import { copyDifferences, copyIsComparable } from '../../src/dispatch/fn-copy.ts';
import type { FiscalReceipt, FnDocumentCopy } from '../../drivers/types.ts';

const receipt: FiscalReceipt = {
  operation: 1,
  items: [
    { name: 'Кофемолка', price: 199000, quantity: 1000, sum: 199000, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
    { name: 'Кофе в зёрнах 1 кг', price: 84950, quantity: 2000, sum: 169900, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
  ],
  payments: { cash: 0, electronic: 368900, prepaid: 0, credit: 0, other: 0 },
  total: 368900,
  taxSystem: 'osn',
};
const copyOf = (r: FiscalReceipt): FnDocumentCopy => ({
  fdNumber: 7, type: 3, operation: r.operation, total: r.total, payments: { ...r.payments },
  items: r.items.map((i) => ({ name: i.name, price: i.price, quantity: i.quantity, sum: i.sum, vatRate: 11 })), tags: {},
});

t.test('the same receipt: no difference', async (t) => {
  t.same(copyDifferences(copyOf(receipt), receipt), []);
  t.ok(copyIsComparable(copyOf(receipt)));
  t.notOk(copyIsComparable({ fdNumber: 1, type: 3, tags: {} }), 'a copy without total or items proves nothing');
});

t.test('another receipt of the same type and total is not ours', async (t) => {
  const other: FiscalReceipt = { ...receipt, items: [{ ...receipt.items[0]!, name: 'Чайник', price: 368900, sum: 368900 }] };
  t.match(copyDifferences(copyOf(other), receipt), ['items 1 ≠ 2']);
  const swapped = copyOf(receipt);
  swapped.items![1] = { ...swapped.items![1]!, quantity: 1000, sum: 84950 };
  t.match(copyDifferences(swapped, receipt), ['item 2 quantity 1000 ≠ 2000', 'item 2 sum 84950 ≠ 169900']);
  const cash = copyOf(receipt);
  cash.payments = { ...cash.payments!, cash: 368900, electronic: 0 };
  t.match(copyDifferences(cash, receipt), ['payment cash 368900 ≠ 0', 'payment electronic 0 ≠ 368900']);
  t.match(copyDifferences({ ...copyOf(receipt), type: 31 }, receipt), ['type 31 ≠ 3']);
});

t.test('a name the register cut to its field still matches; a different one does not', async (t) => {
  const long = 'Очень длинное название товара, которое регистратор мог обрезать до ширины своего поля в чеке!!';
  const r: FiscalReceipt = { ...receipt, items: [{ ...receipt.items[0]!, name: long }], total: 199000, payments: { ...receipt.payments, electronic: 199000 } };
  const c = copyOf(r);
  c.items![0]!.name = long.slice(0, 70);
  t.same(copyDifferences(c, r), []);
  c.items![0]!.name = 'Кофемолк';
  t.match(copyDifferences(c, r), [/item 1 name/]);
});
