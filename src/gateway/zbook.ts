/**
 * The Z-report's figures. The register's own counters (read by the driver just before the close:
 * `ShiftFigures`) are the figures (`figures_source: "register"`); the gateway's own book of the shift's receipts
 * stays beside them as a cross-check (`gateway_tally`), and every difference is named (`mismatch`): receipts printed
 * on the register's keyboard, a lost tally. Where the register gives no figures (a firmware without the commands),
 * the book is the figures, marked `figures_source: "gateway"`, and each figure it lacks is named in
 * `figures_missing`.
 *
 * The book: Every fiscalized receipt is added in the same LevelDB batch as its completion (Outcome.meta), so the book
 * and the queue never disagree after a crash; the Z-report takes the book of its shift and resets it in the same
 * batch as the report is stored.
 *
 * Limits, stated in the report itself (`figures_source: "gateway"`): receipts printed on the register by anything
 * else than this gateway are not counted, and the cumulative total counts from the first Z-report this gateway
 * kept (`cumulative_since`), not from the register's fiscalization.
 * Money is integer kopecks throughout; rubles appear only in the published JSON.
 */
import type { DeviceStatus, FiscalReceipt, FiscalResult, OpName, Payments, ShiftFigures, TaxSystem, ZReportResult } from '../../drivers/types.ts';
import { rublesValue } from '../fiscal/money.ts';
import { formatDocumentDateTime } from '../fiscal/result.ts';

export const BOOK_META = 'zbook';
/** the last Z-report's cross-check (figures source and mismatches), for health */
export const ZCHECK_META = 'zcheck';

export type { OpName };
const OPS: OpName[] = ['sell', 'sell_refund', 'buy', 'buy_refund'];
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
  /** the register's own counters, read just before the close */
  figures?: ShiftFigures;
  /** why the register gave no figures (then the book is the figures) */
  figuresUnavailable?: string;
  /** fills `link` (fiscal.ofd_link) */
  link?: (fd: number, fp: number) => string | undefined;
}

/** One difference between the register's figures and the gateway's book. */
export interface Mismatch {
  field: string;
  /** rubles or counts, as published */
  register: number;
  gateway: number;
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

/** The register's figures in the book's shape: counts, totals and payments per operation. */
function registerOps(f: ShiftFigures): Record<OpName, OpTally> {
  const ops = zeroOps();
  for (const n of OPS) {
    const p = f.sums[n];
    ops[n] = { count: f.counts[n], corrections: 0, total: p.cash + p.electronic + p.prepaid + p.credit + p.other, payments: { ...p } };
  }
  return ops;
}

function compare(reg: Record<OpName, OpTally>, book: Record<OpName, OpTally>, countsExcludeCorrections: boolean): Mismatch[] {
  const out: Mismatch[] = [];
  for (const n of OPS) {
    const bookCount = countsExcludeCorrections ? book[n].count - book[n].corrections : book[n].count;
    if (reg[n].count !== bookCount) out.push({ field: `operations.${n}.count`, register: reg[n].count, gateway: bookCount });
    if (reg[n].total !== book[n].total) out.push({ field: `operations.${n}.total`, register: rublesValue(reg[n].total), gateway: rublesValue(book[n].total) });
    for (const k of KINDS) {
      if (reg[n].payments[k] !== book[n].payments[k]) {
        out.push({ field: `operations.${n}.${k === 'prepaid' ? 'advance_offset' : k}`, register: rublesValue(reg[n].payments[k]), gateway: rublesValue(book[n].payments[k]) });
      }
    }
  }
  return out;
}

function figuresJson(ops: Record<OpName, OpTally>, cumulative: Record<OpName, number>): Record<string, unknown> {
  const all = Object.values(ops);
  const sum = (f: (o: OpTally) => number): number => all.reduce((a, o) => a + f(o), 0);
  return {
    receipts_count: sum((o) => o.count),
    operations: Object.fromEntries(OPS.map((n) => [n, opJson(ops[n])])),
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
    cumulative_total: rublesValue(cumulative.sell - cumulative.sell_refund),
    cumulative: Object.fromEntries(OPS.map((k) => [k, rublesValue(cumulative[k])])),
  };
}

/** The contract's Z-report JSON and the book after the close (tally reset, cumulative totals advanced). */
export function zReport(book: ZBook | undefined, z: ZReportResult, ctx: ZReportContext): { report: Record<string, unknown>; book: ZBook } {
  const b: ZBook = structuredClone(book ?? emptyBook());
  const tallyOps = b.tally?.shift === z.shiftNumber ? b.tally.ops : zeroOps();
  b.since ??= z.dateTime;
  for (const name of OPS) b.cumulative[name] += tallyOps[name].total;
  delete b.tally;
  const fn = ctx.status?.fn;
  const f = ctx.figures;
  const tally = figuresJson(tallyOps, b.cumulative);
  let figures: Record<string, unknown> = { ...tally, cumulative_since: formatDocumentDateTime(b.since) };
  let extra: Record<string, unknown> = { figures_source: 'gateway', ...(ctx.figuresUnavailable ? { figures_unavailable: ctx.figuresUnavailable } : {}) };
  if (f) {
    const ops = registerOps(f);
    const cumulative = f.cumulative ?? b.cumulative;
    const missing = [...f.missing, ...(f.cumulative ? [] : ['cumulative'])];
    const mismatch = compare(ops, tallyOps, f.countsExcludeCorrections === true);
    if (f.corrections !== undefined) {
      const bookCorrections = OPS.reduce((a, n) => a + tallyOps[n].corrections, 0);
      if (f.corrections !== bookCorrections) mismatch.push({ field: 'corrections', register: f.corrections, gateway: bookCorrections });
    }
    figures = {
      ...figuresJson(ops, cumulative),
      ...(f.cumulative ? {} : { cumulative_since: formatDocumentDateTime(b.since) }),
      corrections: f.corrections ?? null,
      cash_in: rublesValue(f.cashIn),
      cash_out: rublesValue(f.cashOut),
      cash_in_count: f.cashInCount ?? null,
      cash_out_count: f.cashOutCount ?? null,
      cash_in_drawer: f.cashInDrawer === undefined ? null : rublesValue(f.cashInDrawer),
    };
    extra = {
      figures_source: 'register',
      figures_missing: missing,
      gateway_tally: { receipts_count: tally.receipts_count, operations: tally.operations, total: tally.total, cumulative_total: tally.cumulative_total, cumulative_since: formatDocumentDateTime(b.since) },
      mismatch,
    };
  }
  const report: Record<string, unknown> = {
    shift_number: z.shiftNumber,
    fiscal_document_number: z.fdNumber,
    fiscal_document_attribute: z.fiscalSign,
    datetime: formatDocumentDateTime(z.dateTime),
    reason: ctx.reason,
    ...figures,
    fn_number: ctx.fnNumber || fn?.serial || null,
    registration_number: ctx.registrationNumber || null,
    tax_systems: ctx.taxSystems ?? null,
    ofd_unsent: z.unsentCount !== undefined
      ? { count: z.unsentCount, since: fn?.unsentSince ? formatDocumentDateTime(fn.unsentSince) : null }
      : fn ? { count: fn.unsentCount ?? null, since: fn.unsentSince ? formatDocumentDateTime(fn.unsentSince) : null } : null,
    link: ctx.link?.(z.fdNumber, z.fiscalSign) ?? null,
    ...extra,
    closed_at: ctx.recordedAt,
  };
  return { report, book: b };
}
