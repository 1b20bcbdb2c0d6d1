/**
 * The fiscal rules that relate several fields (fiscal-scenarios.md "Rules a validator must enforce"), as pure
 * functions over integer kopecks / thousandths. Each throws the GatewayError of its code; parse.ts calls them.
 */
import type { FiscalItem } from '../../drivers/types.ts';
import { fiscalError } from './codes.ts';
import { formatRubles } from './money.ts';
import type { VatRate } from './model.ts';

/**
 * Item sum = price × quantity to the kopeck. price_kop × qty_thousandths is exact (BigInt: it may pass 2^53);
 * the sum may differ from it by at most half a kopeck, i.e. it must be the product rounded to the nearest kopeck.
 * An exact tie (…5 thousandths of a kopeck) accepts either neighbour, so half-up (PHP round, JS Math.round),
 * half-even (.NET, Python) and float `toFixed(2)` stores all pass; requiring an exact product would reject every
 * weighed item (33.33 × 0.333 = 11.09889 → 11.10), and anything further off is a real mismatch.
 */
export function checkItemSum(price: number, quantity: number, sum: number, field: string): void {
  const diff = BigInt(price) * BigInt(quantity) - BigInt(sum) * 1000n;
  if (diff > 500n || diff < -500n) {
    throw fiscalError('ITEM_SUM_MISMATCH', field, `${formatRubles(price)} × ${quantity / 1000} ≠ ${formatRubles(sum)}`);
  }
}

/**
 * The rate must be in force on `date` ("YYYY-MM-DD"). A refund mirrors the receipt it returns (fiscal-scenarios.md),
 * so the 20 % rates stay valid on refunds after 01.01.2026 of what was sold before; a rate that did not yet exist
 * is wrong on any receipt.
 */
export function checkVatDate(type: string, vat: VatRate, date: string, refund: boolean, field: string): void {
  if (vat.from !== undefined && date < vat.from) {
    throw fiscalError('VAT_RATE_DATE', field, `${type} applies from ${vat.from}, receipt dated ${date}`);
  }
  if (vat.until !== undefined && date >= vat.until && !refund) {
    throw fiscalError('VAT_RATE_DATE', field, `${type} not in force from ${vat.until}, receipt dated ${date}`);
  }
}

/**
 * A VAT sum given by the store: VAT is included in the price, so it should be base × rate / (100 + rate);
 * it may be off by `tolerance` kopecks (1 per item it covers).
 */
export function checkVatSum(base: number, given: number, vat: VatRate, tolerance: number, field: string): void {
  const scale = 100 + vat.rate;
  if (Math.abs(given * scale - base * vat.rate) > tolerance * scale) {
    const expected = formatRubles((base * vat.rate - ((base * vat.rate) % scale)) / scale);
    throw fiscalError('VAT_SUM_MISMATCH', field, `${formatRubles(given)} given, ≈ ${expected} expected at ${vat.rate}%`);
  }
}

/** One `payments[]` entry: ATOL type 0 cash, 1 electronic, 2 prepaid (1215), 3 credit (1216), 4 other (1217). */
export interface PaymentLine {
  type: number;
  sum: number;
}

const CASH = 1 << 0;
const ELECTRONIC = 1 << 1;
const PREPAID = 1 << 2;
const CREDIT = 1 << 3;
const OTHER = 1 << 4;
const KIND_NAMES = ['cash', 'electronic', 'advance offset (1215)', 'credit (1216)', 'counter-provision (1217)'];

/**
 * Payment kinds each 1214 payment method admits (bit k = ATOL payments.type k):
 *  1/2/3 prepayment, advance — real money only (cash, electronic);
 *  4 full settlement — money, advance offset, counter-provision;
 *  5 partial settlement and credit — anything (the prepaid part offset, the rest on credit);
 *  6 credit — credit only (handed over, nothing paid);
 *  7 credit payment — money or counter-provision (it settles a debt; an advance offset belongs to 4/5).
 */
const ALLOWED_KINDS: ReadonlyMap<number, number> = new Map([
  [1, CASH | ELECTRONIC], [2, CASH | ELECTRONIC], [3, CASH | ELECTRONIC],
  [4, CASH | ELECTRONIC | PREPAID | OTHER],
  [5, CASH | ELECTRONIC | PREPAID | CREDIT | OTHER],
  [6, CREDIT],
  [7, CASH | ELECTRONIC | OTHER],
]);

/** All non-empty sets of payment kinds, smallest first, so an error names the fewest kinds. */
const KIND_SETS = Array.from({ length: 31 }, (_, i) => i + 1)
  .sort((a, b) => bitCount(a) - bitCount(b) || a - b);

function bitCount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x >>= 1) c += x & 1;
  return c;
}

/**
 * Payments against items and total, in this order:
 *  ADVANCE_OFFSET_EXCEEDS_TOTAL — the advance offset (1215) exceeds the total;
 *  PAYMENT_MISMATCH — Σ payments ≠ total (cash above the total included: online stores give no change);
 *  ADVANCE_OFFSET_EXCEEDS_TOTAL — the offset exceeds the items settled with 1214 = 4/5;
 *  PAYMENT_KIND_NOT_ALLOWED — the payments cannot be allotted to the items so that each item is paid only with
 *  kinds its 1214 admits. With Σ payments = Σ items that is exactly Hall's condition: for every set S of kinds,
 *  paid(S) ≤ Σ sums of the items admitting some kind of S (31 sets, checked all).
 */
export function checkPayments(items: readonly FiscalItem[], payments: readonly PaymentLine[], total: number, base: string): void {
  const paid = (kinds: number): number =>
    payments.reduce((s, p) => ((1 << p.type) & kinds ? s + p.sum : s), 0);
  const payable = (kinds: number): number =>
    items.reduce((s, it) => ((ALLOWED_KINDS.get(it.paymentMethod) ?? 0) & kinds ? s + it.sum : s), 0);
  const fieldOf = (kinds: number): string =>
    `${base}.payments[${Math.max(0, payments.findIndex((p) => (1 << p.type) & kinds && p.sum > 0))}]`;
  const offset = paid(PREPAID);

  if (offset > total) {
    throw fiscalError('ADVANCE_OFFSET_EXCEEDS_TOTAL', fieldOf(PREPAID), `${formatRubles(offset)} > total ${formatRubles(total)}`);
  }
  const sum = paid(CASH | ELECTRONIC | PREPAID | CREDIT | OTHER);
  if (sum !== total) {
    throw fiscalError('PAYMENT_MISMATCH', `${base}.payments`, `${formatRubles(sum)} paid, total ${formatRubles(total)}`);
  }
  if (offset > payable(PREPAID) && payable(PREPAID) > 0) {
    throw fiscalError('ADVANCE_OFFSET_EXCEEDS_TOTAL', fieldOf(PREPAID),
      `${formatRubles(offset)} > ${formatRubles(payable(PREPAID))} of items with full_payment / partial_payment`);
  }
  for (const kinds of KIND_SETS) {
    if (paid(kinds) > payable(kinds)) {
      const names = KIND_NAMES.filter((_, k) => kinds & (1 << k)).join(' + ');
      throw fiscalError('PAYMENT_KIND_NOT_ALLOWED', `${fieldOf(kinds)}.type`,
        `${names}: ${formatRubles(paid(kinds))} paid, items' payment_method admits ${formatRubles(payable(kinds))}`);
    }
  }
}

const INN_WEIGHTS = {
  n10: [2, 4, 10, 3, 5, 9, 4, 6, 8],
  n11: [7, 2, 4, 10, 3, 5, 9, 4, 6, 8],
  n12: [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8],
};

function innDigit(digits: readonly number[], weights: readonly number[]): number {
  return (weights.reduce((s, w, i) => s + w * (digits[i] ?? 0), 0) % 11) % 10;
}

/** INN: 10 digits (organisation) or 12 (person), control digits per the FNS algorithm. */
export function isValidInn(inn: string, lengths: readonly number[] = [10, 12]): boolean {
  if (!/^\d+$/.test(inn) || !lengths.includes(inn.length)) return false;
  const d = [...inn].map(Number);
  if (d.length === 10) return innDigit(d, INN_WEIGHTS.n10) === d[9];
  return innDigit(d, INN_WEIGHTS.n11) === d[10] && innDigit(d, INN_WEIGHTS.n12) === d[11];
}

/** ATOL's e-mail rule (`x@y`, ≤ 64). */
export function isValidEmail(email: string): boolean {
  return email.length <= 64 && /^[^\s@]+@[^\s@]+$/.test(email);
}

/**
 * A phone as "+<digits>" (ATOL: `\+[0-9]{1,18}`), or undefined when it is not one. Spaces, dashes and brackets are
 * dropped. Without "+" (1C-Bitrix sends NormalizePhone() digits with the leading 7 cut: "9251234567"):
 * 10 digits → "+7" + digits (a Russian national number); 11 digits starting 7 or 8 → "+7" + the last 10;
 * 11–15 digits otherwise → "+" + digits (an international number written without "+"); anything shorter is refused.
 */
export function normalizePhone(phone: string): string | undefined {
  const m = /^(\+?)(\d{1,18})$/.exec(phone.replace(/[\s()-]/g, ''));
  if (m === null) return undefined;
  const digits = m[2] ?? '';
  if (m[1] === '+') return `+${digits}`;
  if (digits.length === 10) return `+7${digits}`;
  if (digits.length === 11 && (digits[0] === '7' || digits[0] === '8')) return `+7${digits.slice(1)}`;
  return digits.length >= 11 && digits.length <= 15 ? `+${digits}` : undefined;
}
