/** The gateway's book of a shift's receipts (Z-report figures), integer kopecks. */
import t from 'tap';
import { addReceipt, zReport } from '../../src/gateway/zbook.ts';
import type { FiscalReceipt, FiscalResult, Payments, ShiftFigures } from '../../drivers/types.ts';

const pay = (p: Partial<Payments>): Payments => ({ cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0, ...p });
const receipt = (operation: 1 | 2 | 3 | 4, total: number, payments: Payments, correction = false): FiscalReceipt =>
  ({ operation, total, payments, items: [], taxSystem: 'osn', ...(correction ? { correction: { type: 0, baseDate: '2026-11-20' } } : {}) }) as unknown as FiscalReceipt;
const result = (shift: number, change = 0): FiscalResult =>
  ({ shiftNumber: shift, fdNumber: 1, fiscalSign: 1, dateTime: '2026-11-28T10:00:00', receiptNumber: 1, fnNumber: 'x', operation: 1, total: 0, change }) as FiscalResult;
const z = (shift: number) => ({ shiftNumber: shift, fdNumber: 9, fiscalSign: 7, dateTime: '2026-11-29T03:00:00' });
const ctx = { reason: 'schedule', recordedAt: '29.11.2026 03:00:01' };

t.test('counts per operation and kind; change is not cash taken; corrections counted apart', async (t) => {
  let b = addReceipt(undefined, receipt(1, 10001, pay({ cash: 10101 })), result(5, 100));
  b = addReceipt(b, receipt(1, 20000, pay({ electronic: 5000, prepaid: 15000 })), result(5));
  b = addReceipt(b, receipt(2, 3333, pay({ electronic: 3333 })), result(5));
  b = addReceipt(b, receipt(1, 1, pay({ cash: 1 }), true), result(5));
  const { report, book } = zReport(b, z(5), ctx);
  t.match(report, {
    receipts_count: 4,
    operations: { sell: { count: 3, corrections: 1, total: 300.02, cash: 100.02, electronic: 50, advance_offset: 150 }, sell_refund: { count: 1, total: 33.33 } },
    returns: { count: 1, total: 33.33 },
    total: 266.69,
    cumulative_total: 266.69,
    datetime: '29.11.2026 03:00:00',
    cumulative_since: '29.11.2026 03:00:00',
  });
  t.equal(book.tally, undefined, 'reset after the Z-report');
  const next = zReport(addReceipt(book, receipt(1, 100, pay({ cash: 100 })), result(6)), z(6), ctx);
  t.match(next.report, { receipts_count: 1, total: 1, cumulative_total: 267.69, cumulative_since: '29.11.2026 03:00:00' });
});

t.test('a book of another shift is not counted for this Z-report, and a new shift starts a new tally', async (t) => {
  const b = addReceipt(undefined, receipt(1, 500, pay({ cash: 500 })), result(3));
  t.match(zReport(b, z(4), ctx).report, { receipts_count: 0, total: 0 });
  const b2 = addReceipt(b, receipt(1, 700, pay({ cash: 700 })), result(4));
  t.match(zReport(b2, z(4), ctx).report, { receipts_count: 1, total: 7 });
});

const figures = (over: Partial<ShiftFigures> = {}): ShiftFigures => ({
  counts: { sell: 2, sell_refund: 1, buy: 0, buy_refund: 0 },
  sums: { sell: pay({ cash: 10001, electronic: 20000 }), sell_refund: pay({ electronic: 3333 }), buy: pay({}), buy_refund: pay({}) },
  cashIn: 50000, cashOut: 1000, cashInCount: 1, cashOutCount: 1, cashInDrawer: 59001,
  cumulative: { sell: 1_000_000, sell_refund: 3333, buy: 0, buy_refund: 0 },
  missing: [],
  ...over,
});

t.test('register figures are the figures; the tally beside them; each difference named', async (t) => {
  let b = addReceipt(undefined, receipt(1, 10001, pay({ cash: 10001 })), result(5));
  b = addReceipt(b, receipt(2, 3333, pay({ electronic: 3333 })), result(5));
  const { report } = zReport(b, z(5), { ...ctx, figures: figures(), link: (fd, fp) => `https://ofd.example/${fd}/${fp}` });
  t.match(report, {
    figures_source: 'register',
    receipts_count: 3,
    operations: { sell: { count: 2, total: 300.01, cash: 100.01, electronic: 200 }, sell_refund: { count: 1, total: 33.33 } },
    total: 266.68,
    cumulative_total: 9966.67,
    cash_in: 500, cash_out: 10, cash_in_drawer: 590.01,
    figures_missing: [],
    gateway_tally: { receipts_count: 2, total: 66.68 },
    link: 'https://ofd.example/9/7',
  });
  t.same(report.mismatch, [
    { field: 'operations.sell.count', register: 2, gateway: 1 },
    { field: 'operations.sell.total', register: 300.01, gateway: 100.01 },
    { field: 'operations.sell.electronic', register: 200, gateway: 0 },
  ], 'a receipt printed outside the gateway shows as the difference');
  const same = zReport(addReceipt(undefined, receipt(1, 500, pay({ cash: 500 })), result(5)), z(5), {
    ...ctx, figures: figures({ counts: { sell: 1, sell_refund: 0, buy: 0, buy_refund: 0 }, sums: { sell: pay({ cash: 500 }), sell_refund: pay({}), buy: pay({}), buy_refund: pay({}) } }),
  });
  t.same(same.report.mismatch, [], 'figures and tally agree');
});

t.test('a firmware without figures: the tally, marked; without the cumulative sums: the book’s, named missing', async (t) => {
  const b = addReceipt(undefined, receipt(1, 700, pay({ cash: 700 })), result(4));
  const none = zReport(b, z(4), { ...ctx, figuresUnavailable: 'this register driver reads no shift figures' });
  t.match(none.report, { figures_source: 'gateway', figures_unavailable: 'this register driver reads no shift figures', total: 7 });
  t.notOk('mismatch' in none.report);
  const f = figures({ counts: { sell: 1, sell_refund: 0, buy: 0, buy_refund: 0 }, sums: { sell: pay({ cash: 700 }), sell_refund: pay({}), buy: pay({}), buy_refund: pay({}) }, missing: ['cash_in_drawer'] });
  delete f.cumulative;
  const partial = zReport(b, z(4), { ...ctx, figures: f });
  t.match(partial.report, { figures_source: 'register', figures_missing: ['cash_in_drawer', 'cumulative'], cumulative_total: 7, cumulative_since: '29.11.2026 03:00:00' });
});

t.test('a register whose counts leave corrections out: no mismatch for a correction receipt; its corrections compared apart', async (t) => {
  let b = addReceipt(undefined, receipt(1, 500, pay({ cash: 500 })), result(7));
  b = addReceipt(b, receipt(1, 100, pay({ cash: 100 }), true), result(7));
  const f = figures({
    counts: { sell: 1, sell_refund: 0, buy: 0, buy_refund: 0 }, corrections: 1, countsExcludeCorrections: true,
    sums: { sell: pay({ cash: 600 }), sell_refund: pay({}), buy: pay({}), buy_refund: pay({}) },
  });
  t.same(zReport(b, z(7), { ...ctx, figures: f }).report.mismatch, []);
  t.same(zReport(b, z(7), { ...ctx, figures: { ...f, corrections: 0 } }).report.mismatch, [{ field: 'corrections', register: 0, gateway: 1 }]);
  t.same(zReport(b, z(7), { ...ctx, figures: { ...f, countsExcludeCorrections: false } }).report.mismatch, [{ field: 'operations.sell.count', register: 1, gateway: 2 }], 'a register that counts them all');
});
