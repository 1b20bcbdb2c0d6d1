/** The receipt QR-code string (kkt-protocols.md §4): `t=YYYYMMDDTHHMM&s=<rubles.kopecks>&fn=…&i=…&fp=…&n=…`. */
import { formatRubles } from './money.ts';

export interface QrInput {
  /** the document's local date-time, "YYYY-MM-DDTHH:MM[:SS]" (tag 1012) */
  dateTime: string;
  /** kopecks (tag 1020) */
  total: number;
  /** tag 1041 */
  fnNumber: string;
  /** tag 1040 */
  fdNumber: number;
  /** tag 1077 as the register returns it (UInt32) */
  fiscalSign: number;
  /** tag 1054 */
  operation: number;
}

export interface DateTimeParts {
  y: string;
  mo: string;
  d: string;
  h: string;
  mi: string;
  /** "00" when the register gave no seconds */
  s: string;
}

/** A register date-time "YYYY-MM-DDTHH:MM[:SS]" split; RangeError when malformed (a driver fault, not a store's). */
export function dateTimeParts(dateTime: string): DateTimeParts {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(dateTime);
  if (m === null) throw new RangeError(`bad document date-time: ${dateTime}`);
  const [, y = '', mo = '', d = '', h = '', mi = '', s = '00'] = m;
  return { y, mo, d, h, mi, s };
}

/** Numbers print without leading zeros; the time has no seconds. */
export function qrString(q: QrInput): string {
  const { y, mo, d, h, mi } = dateTimeParts(q.dateTime);
  return `t=${y}${mo}${d}T${h}${mi}&s=${formatRubles(q.total)}&fn=${q.fnNumber}&i=${q.fdNumber}&fp=${q.fiscalSign}&n=${q.operation}`;
}
