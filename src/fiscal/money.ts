/**
 * Exact conversions between ATOL v5 JSON numbers and the integer units of drivers/types.ts.
 *
 * A JSON number is read through its shortest decimal representation (`String(x)`, which is what the sender wrote
 * for any value with ≤ 15 significant digits) and converted with integer arithmetic: 849.5 → 84950 kopecks.
 * Nothing is ever rounded: more decimals than allowed, an exponent form (1e-7, 1e+21) or a float artefact such as
 * 0.30000000000000004 is an error. `-0` is accepted as 0 (it is zero; nothing is lost).
 *
 * Numeric strings ("12.50") are refused (SCHEMA): ATOL v5 defines these fields as JSON numbers, no known store sends
 * strings, and accepting them would make the gateway take bodies the cloud service rejects.
 */
import type { GatewayError } from '../errors.ts';
import { fiscalError } from './codes.ts';

/** 42 949 672.95 ₽: item price and sum (tags 1079, 1043). */
export const MAX_ITEM_KOPECKS = 4_294_967_295;
/** 100 000 000 ₽: total, payments, VAT sums. */
export const MAX_TOTAL_KOPECKS = 10_000_000_000;
/** 99 999.999 */
export const MAX_THOUSANDTHS = 99_999_999;

/** `x` in units of 10^-decimals, or undefined when x is not a finite non-negative decimal with ≤ decimals places. */
function exactUnits(x: number, decimals: number): number | undefined {
  const m = /^(\d{1,15})(?:\.(\d+))?$/.exec(String(x));
  if (m === null) return undefined;
  const frac = m[2] ?? '';
  if (frac.length > decimals) return undefined;
  return Number(m[1]) * 10 ** decimals + Number(frac.padEnd(decimals, '0'));
}

function toUnits(x: unknown, field: string, decimals: number, min: number, max: number, bad: () => GatewayError): number {
  if (typeof x !== 'number') throw fiscalError('SCHEMA', field, 'must be a number');
  const units = exactUnits(x, decimals);
  if (units === undefined || units < min || units > max) throw bad();
  return units;
}

/** Rubles (JSON number, ≤ 2 decimals, 0 ≤ x ≤ max) → integer kopecks. Throws GatewayError SCHEMA / BAD_AMOUNT. */
export function toKopecks(x: unknown, field: string, max = MAX_ITEM_KOPECKS): number {
  return toUnits(x, field, 2, 0, max, () =>
    fiscalError('BAD_AMOUNT', field, `${String(x)} is not 0–${formatRubles(max)} to the kopeck`));
}

/** Quantity (JSON number, ≤ 3 decimals, 0 < x ≤ 99 999.999) → integer thousandths. Throws SCHEMA / BAD_QUANTITY. */
export function toThousandths(x: unknown, field: string): number {
  return toUnits(x, field, 3, 1, MAX_THOUSANDTHS, () => fiscalError('BAD_QUANTITY', field, String(x)));
}

/** Integer kopecks → "1234.50" (QR code, messages). */
export function formatRubles(kop: number): string {
  if (!Number.isSafeInteger(kop)) throw new RangeError(`not an integer number of kopecks: ${kop}`);
  const abs = Math.abs(kop);
  return `${kop < 0 ? '-' : ''}${(abs - (abs % 100)) / 100}.${String(abs % 100).padStart(2, '0')}`;
}

/** Integer kopecks → the JSON number of rubles (1234.5); the decimal string is parsed, so no float arithmetic. */
export function rublesValue(kop: number): number {
  return Number(formatRubles(kop));
}
