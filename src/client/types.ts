/**
 * The wire types a store sees (shared/design/contract.md). Type-only imports of the gateway's own definitions:
 * they are erased at compile time, so nothing of the gateway (LevelDB, serialport) enters the client's import graph.
 */
import type { ReceiptResultJson, DonePayload } from '../fiscal/result.ts';
import type { GatewayErrorJson, ErrorType } from '../errors.ts';
import type { Operation } from '../fiscal/model.ts';

export type { ReceiptResultJson, DonePayload, GatewayErrorJson, ErrorType, Operation };

/** ATOL Online v5 VAT names the gateway knows (receipt.items[].vat.type, receipt.vats[].type). */
export type VatName = 'none' | 'vat0' | 'vat5' | 'vat7' | 'vat10' | 'vat18' | 'vat20' | 'vat22' | 'vat105' | 'vat107' | 'vat110' | 'vat118' | 'vat120' | 'vat122' | (string & {});

export interface ReceiptItem {
  name: string;
  /** rubles, at most 2 decimals */
  price: number;
  /** at most 3 decimals */
  quantity: number;
  /** rubles = price × quantity */
  sum: number;
  /** tag 2108 (0 = pieces; null is taken as 0) */
  measure?: number | null;
  payment_method: string;
  payment_object: number | string;
  vat: { type: VatName; sum?: number };
  [more: string]: unknown;
}

export interface ReceiptBody {
  client?: { email?: string; phone?: string; name?: string; inn?: string; [more: string]: unknown };
  company: { inn?: string; sno?: string; email?: string; payment_address?: string; [more: string]: unknown };
  items: ReceiptItem[];
  /** type 0 cash, 1 electronic, 2 advance offset, 3 credit, 4 other */
  payments: Array<{ type: number; sum: number }>;
  vats?: Array<{ type: VatName; sum: number }>;
  /** rubles */
  total: number;
  [more: string]: unknown;
}

/** A receipt message (`<base>/receipt`): ATOL Online v5's body in an envelope. */
export interface ReceiptRequest {
  operation: Operation;
  /** the idempotency key, 1–128 characters */
  external_id: string;
  /** "dd.mm.yyyy HH:MM:SS" */
  timestamp: string;
  /** sell / sell_refund / buy / buy_refund */
  receipt?: ReceiptBody;
  /** the *_correction operations */
  correction?: Record<string, unknown>;
  /** pin the receipt to one register of a pool */
  device?: string;
  [more: string]: unknown;
}

/** The final result a submit resolves with: `done`, or a `fail` the gateway will not change by itself. */
export type FinalResult = ReceiptResultJson & { status: 'done' | 'fail' };

/** `<base>/response/<command>` */
export interface CommandResponse<D = unknown> {
  transaction: unknown;
  status: 'ok' | 'error';
  data?: D;
  error?: GatewayErrorJson;
}

/** The request/response commands of the contract; any other name is sent as given (the gateway answers UNKNOWN_COMMAND). */
export type CommandName = 'status' | 'result' | 'zreports' | 'open_shift' | 'close_shift' | 'x_report' | 'cash_in' | 'cash_out' | (string & {});
