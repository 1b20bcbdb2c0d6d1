/**
 * The register's own figures, protocol-neutral, derived from the journal (the single source of truth): the shift's
 * cash and operating registers (cleared by the Z-report) and the cumulative sums (never cleared; rebuilt by replaying
 * the journal on load, so they survive restarts). Each front-end numbers and encodes them in its own protocol.
 */
import { writeUIntLE } from '../shtrih/bytes.ts';
import type { Payments } from '../types.ts';
import { dateTime5 } from './clock.ts';
import type { Journal, OperationKey, Registration } from './journal.ts';

/**
 * Payment types as the Shtrih FF45 slots number them (1 cash, 2–13 electronic, 14 prepayment, 15 credit,
 * 16 counter-provision). The journal keeps the electronic sum whole: it is all reported as type 2, types 3–13 are 0.
 */
export function paymentByType(p: Payments, type: number): number {
  if (type === 1) return p.cash;
  if (type === 2) return p.electronic;
  if (type === 14) return p.prepaid;
  if (type === 15) return p.credit;
  if (type === 16) return p.other;
  return 0;
}

export const OPS: readonly OperationKey[] = ['1', '2', '3', '4'];

export interface ShiftFigures {
  /** receipts (not corrections) per tag 1054 operation */
  receipts: Record<OperationKey, number>;
  corrections: Record<OperationKey, number>;
  /** totals per operation, receipts and corrections */
  totals: Record<OperationKey, number>;
  payments: Record<OperationKey, Payments>;
  cashIn: number;
  cashOut: number;
  cashInCount: number;
  cashOutCount: number;
  cashInDrawer: number;
}

/** the current shift's registers (zero after a Z-report, until the next receipt) */
export function shiftFigures(journal: Journal, cashInDrawer: number): ShiftFigures {
  const c = journal.shift.counters;
  return {
    receipts: c.receipts, corrections: c.corrections, totals: c.totals, payments: c.payments, cashIn: c.cashIn,
    cashOut: c.cashOut, cashInCount: c.cashInCount ?? 0, cashOutCount: c.cashOutCount ?? 0, cashInDrawer,
  };
}

/**
 * The FN's «итоги фискализации» (its command 43h), as Shtrih FF09 and ATOL A4 43 pass it on (§1.11):
 * FFD 1.05 — DATE_TIME5, INN 12 ASCII, RNM 20 ASCII (space-padded), tax systems1 (1062 bits), work mode1, FD u32 LE,
 * FP u32 LE: 47 bytes; FFD 1.2 — the same through the work mode, then extended modes1, OFD INN 12, reason code u32 LE,
 * FD, FP: 64 bytes.
 */
export function registrationAnswer(r: Registration): Buffer {
  const head = Buffer.concat([
    dateTime5(r.dateTime), asciiField(r.inn, 12), asciiField(r.registrationNumber, 20), Buffer.from([r.taxSystems & 0xff, r.modes & 0xff]),
  ]);
  const tail = Buffer.concat([writeUIntLE(r.fd >>> 0, 4), writeUIntLE(r.fp >>> 0, 4)]);
  if (r.ffd === '1.2') return Buffer.concat([head, Buffer.from([r.extendedModes & 0xff]), asciiField(r.ofdInn, 12), writeUIntLE(0, 4), tail]);
  return Buffer.concat([head, tail]);
}

/** ASCII, space-padded (cut) to len */
export function asciiField(s: string, len: number): Buffer {
  return Buffer.from(s.padEnd(len).slice(0, len), 'ascii');
}
