/**
 * The gateway's own book of the shift's receipts, for the Z-report figures a Shtrih register does not hand over
 * through the commands the driver uses (its operation and cash registers need table/register reads the driver
 * lacks). Every fiscalized receipt is added in the same LevelDB batch as its completion (Outcome.meta), so the book
 * and the queue never disagree after a crash; the Z-report takes the book of its shift and resets it in the same
 * batch as the report is stored.
 *
 * Limits, stated in the report itself (`figures_source: "gateway"`): receipts printed on the register by anything
 * else than this gateway are not counted, and the cumulative total counts from the first Z-report this gateway
 * kept (`cumulative_since`), not from the register's fiscalization.
 * Money is integer kopecks throughout; rubles appear only in the published JSON.
 */
import type { DeviceStatus, FiscalReceipt, FiscalResult, Payments, TaxSystem, ZReportResult } from '../../drivers/types.ts';
import { rublesValue } from '../fiscal/money.ts';
import { formatDocumentDateTime } from '../fiscal/result.ts';

export const BOOK_META = 'zbook';

export type OpName = 'sell' | 'sell_refund' | 'buy' | 'buy_refund';
const OP_NAMES: Record<number, OpName> = { 1: 'sell', 2: 'sell_refund', 3: 'buy', 4: 'buy_refund' };
const KINDS = ['cash', 'electronic', 'prepaid', 'credit', 'other'] as const;

export interface OpTally {
  count: number;
  /** of them correction receipts (FD type 31) */
  corrections: number;
  /** kopecks */
  total: number;
  payments: Payments;
}

export interface ShiftTally {
  shift: number;
  ops: Record<OpName, OpTally>;
}

export interface ZBook {
  /** the open shift's tally; undefined before the first receipt of a shift */
  tally?: ShiftTally;
  /** kopecks per operation since `since`, Z-reports included */
  cumulative: Record<OpName, number>;
  /** register date-time of the first Z-report this book counted */
  since?: string;
}

const zeroPayments = (): Payments => ({ cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 });
const zeroOp = (): OpTally => ({ count: 0, corrections: 0, total: 0, payments: zeroPayments() });
const zeroOps = (): Record<OpName, OpTally> => ({ sell: zeroOp(), sell_refund: zeroOp(), buy: zeroOp(), buy_refund: zeroOp() });

export function emptyBook(): ZBook {
  return { cumulative: { sell: 0, sell_refund: 0, buy: 0, buy_refund: 0 } };
}

/** The book with one more fiscalized receipt (a new object; the input is not changed). */
export function addReceipt(book: ZBook | undefined, receipt: FiscalReceipt, result: FiscalResult): ZBook {
  const b: ZBook = structuredClone(book ?? emptyBook());
  if (!b.tally || b.tally.shift !== result.shiftNumber) b.tally = { shift: result.shiftNumber, ops: zeroOps() };
  const op = b.tally.ops[OP_NAMES[receipt.operation] ?? 'sell'];
  op.count++;
  if (receipt.correction) op.corrections++;
  op.total += receipt.total;
  for (const k of KINDS) op.payments[k] += receipt.payments[k];
  // change given back in cash is not cash taken
  op.payments.cash -= result.change;
  return b;
}

export interface ZReportContext {
  reason: string;
  /** status read right after the close (FN number, unsent documents) */
  status?: DeviceStatus;
  fnNumber?: string;
  registrationNumber?: string;
  taxSystems?: TaxSystem[];
  /** host time of recording, "dd.mm.yyyy HH:MM:SS"; only informative (the register's time is `datetime`) */
  recordedAt: string;
}

const opJson = (o: OpTally): Record<string, number> => ({
  count: o.count,
  corrections: o.corrections,
  total: rublesValue(o.total),
  cash: rublesValue(o.payments.cash),
  electronic: rublesValue(o.payments.electronic),
  advance_offset: rublesValue(o.payments.prepaid),
  credit: rublesValue(o.payments.credit),
  other: rublesValue(o.payments.other),
});

/** The contract's Z-report JSON and the book after the close (tally reset, cumulative totals advanced). */
export function zReport(book: ZBook | undefined, z: ZReportResult, ctx: ZReportContext): { report: Record<string, unknown>; book: ZBook } {
  const b: ZBook = structuredClone(book ?? emptyBook());
  const ops = b.tally?.shift === z.shiftNumber ? b.tally.ops : zeroOps();
  b.since ??= z.dateTime;
  for (const name of Object.keys(ops) as OpName[]) b.cumulative[name] += ops[name].total;
  delete b.tally;
  const all = Object.values(ops);
  const sum = (f: (o: OpTally) => number): number => all.reduce((a, o) => a + f(o), 0);
  const fn = ctx.status?.fn;
  const report: Record<string, unknown> = {
    shift_number: z.shiftNumber,
    fiscal_document_number: z.fdNumber,
    fiscal_document_attribute: z.fiscalSign,
    datetime: formatDocumentDateTime(z.dateTime),
    reason: ctx.reason,
    receipts_count: sum((o) => o.count),
    operations: Object.fromEntries((Object.keys(ops) as OpName[]).map((n) => [n, opJson(ops[n])])),
    // money taken in (sell + buy_refund) by payment kind
    payments: {
      cash: rublesValue(ops.sell.payments.cash + ops.buy_refund.payments.cash),
      electronic: rublesValue(ops.sell.payments.electronic + ops.buy_refund.payments.electronic),
      advance_offset: rublesValue(ops.sell.payments.prepaid + ops.buy_refund.payments.prepaid),
      credit: rublesValue(ops.sell.payments.credit + ops.buy_refund.payments.credit),
      other: rublesValue(ops.sell.payments.other + ops.buy_refund.payments.other),
    },
    returns: { count: ops.sell_refund.count + ops.buy_refund.count, total: rublesValue(ops.sell_refund.total + ops.buy_refund.total) },
    total: rublesValue(ops.sell.total - ops.sell_refund.total),
    cumulative_total: rublesValue(b.cumulative.sell - b.cumulative.sell_refund),
    cumulative: Object.fromEntries(Object.entries(b.cumulative).map(([k, v]) => [k, rublesValue(v)])),
    cumulative_since: formatDocumentDateTime(b.since),
    fn_number: ctx.fnNumber || fn?.serial || null,
    registration_number: ctx.registrationNumber || null,
    tax_systems: ctx.taxSystems ?? null,
    ofd_unsent: fn ? { count: fn.unsentCount ?? null, since: fn.unsentSince ? formatDocumentDateTime(fn.unsentSince) : null } : null,
    figures_source: 'gateway',
    closed_at: ctx.recordedAt,
  };
  return { report, book: b };
}
