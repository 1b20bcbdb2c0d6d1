/** The gateway's book of a shift's receipts (Z-report figures), integer kopecks. */
import t from 'tap';
import { addReceipt, zReport } from '../../src/gateway/zbook.ts';
import type { FiscalReceipt, FiscalResult, Payments } from '../../drivers/types.ts';

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
