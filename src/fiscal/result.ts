/** The contract's receipt result JSON (`<base>/result`), built from a FiscalResult or a GatewayError. */
import type { FiscalResult } from '../../drivers/types.ts';
import type { GatewayErrorJson } from '../errors.ts';
import { rublesValue } from './money.ts';
import { dateTimeParts, qrString } from './qr.ts';

export const FNS_SITE = 'www.nalog.gov.ru';

export interface DonePayload {
  /** rubles */
  total: number;
  fns_site: string;
  fn_number: string;
  shift_number: number;
  /** "dd.mm.yyyy HH:MM:SS" */
  receipt_datetime: string;
  fiscal_receipt_number: number;
  fiscal_document_number: number;
  fiscal_document_attribute: number;
  ecr_registration_number: string;
  qr: string;
  /** the OFD's page of the receipt (fiscal.ofd_link), when configured */
  link?: string;
}

export interface ReceiptResultJson {
  external_id: string;
  status: 'accepted' | 'done' | 'fail';
  /** when the gateway published it, "dd.mm.yyyy HH:MM:SS" local time */
  timestamp: string;
  error: GatewayErrorJson | null;
  payload: DonePayload | null;
}

export interface DoneContext {
  /** tag 1037 */
  registrationNumber: string;
  now: Date;
  /** used only when the FiscalResult has no FN number */
  fnNumber?: string;
  link?: (fd: number, fp: number, qr: string) => string | undefined;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** A local Date → "dd.mm.yyyy HH:MM:SS". */
export function formatTimestamp(d: Date): string {
  return `${two(d.getDate())}.${two(d.getMonth() + 1)}.${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** A register date-time "YYYY-MM-DDTHH:MM[:SS]" → "dd.mm.yyyy HH:MM:SS" (seconds 00 when the FN gave none). */
export function formatDocumentDateTime(dateTime: string): string {
  const { y, mo, d, h, mi, s } = dateTimeParts(dateTime);
  return `${d}.${mo}.${y} ${h}:${mi}:${s}`;
}

function result(externalId: string, status: ReceiptResultJson['status'], now: Date, error: GatewayErrorJson | null, payload: DonePayload | null): ReceiptResultJson {
  return { external_id: externalId, status, timestamp: formatTimestamp(now), error, payload };
}

export function acceptedResult(externalId: string, now: Date): ReceiptResultJson {
  return result(externalId, 'accepted', now, null, null);
}

export function doneResult(externalId: string, r: FiscalResult, ctx: DoneContext): ReceiptResultJson {
  const fnNumber = r.fnNumber || ctx.fnNumber || '';
  const qr = qrString({ dateTime: r.dateTime, total: r.total, fnNumber, fdNumber: r.fdNumber, fiscalSign: r.fiscalSign, operation: r.operation });
  const link = ctx.link?.(r.fdNumber, r.fiscalSign, qr);
  return result(externalId, 'done', ctx.now, null, {
    total: rublesValue(r.total),
    fns_site: FNS_SITE,
    fn_number: fnNumber,
    shift_number: r.shiftNumber,
    receipt_datetime: formatDocumentDateTime(r.dateTime),
    fiscal_receipt_number: r.receiptNumber,
    fiscal_document_number: r.fdNumber,
    fiscal_document_attribute: r.fiscalSign,
    ecr_registration_number: ctx.registrationNumber,
    qr,
    ...(link ? { link } : {}),
  });
}

export function failResult(externalId: string, error: GatewayErrorJson, now: Date): ReceiptResultJson {
  return result(externalId, 'fail', now, error, null);
}
