/**
 * The internal request model: what a validated ATOL v5 receipt message becomes. Money is integer kopecks and
 * quantity integer thousandths (drivers/types.ts); the lookup tables below map ATOL's names to FFD tag values.
 */
import type { FiscalReceipt, OperationType, TaxSystem, VatType } from '../../drivers/types.ts';
import type { RouteTarget } from './route.ts';

export type Operation =
  | 'sell' | 'sell_refund' | 'buy' | 'buy_refund'
  | 'sell_correction' | 'buy_correction' | 'sell_refund_correction' | 'buy_refund_correction';

export interface OperationInfo {
  /** tag 1054 */
  type: OperationType;
  /** body in `correction` (FFD correction receipt) instead of `receipt` */
  correction: boolean;
  /** a return (возврат): mirrors an earlier receipt */
  refund: boolean;
}

export const OPERATIONS: ReadonlyMap<string, OperationInfo> = new Map<Operation, OperationInfo>([
  ['sell', { type: 1, correction: false, refund: false }],
  ['sell_refund', { type: 2, correction: false, refund: true }],
  ['buy', { type: 3, correction: false, refund: false }],
  ['buy_refund', { type: 4, correction: false, refund: true }],
  ['sell_correction', { type: 1, correction: true, refund: false }],
  ['sell_refund_correction', { type: 2, correction: true, refund: true }],
  ['buy_correction', { type: 3, correction: true, refund: false }],
  ['buy_refund_correction', { type: 4, correction: true, refund: true }],
]);

/** Tag 1214 by ATOL name. */
export const PAYMENT_METHODS: ReadonlyMap<string, number> = new Map([
  ['full_prepayment', 1], ['prepayment', 2], ['advance', 3], ['full_payment', 4],
  ['partial_payment', 5], ['credit', 6], ['credit_payment', 7],
]);

/** Tag 1212: 1–27, 30–33. */
export const PAYMENT_OBJECTS: ReadonlySet<number> = new Set([...Array.from({ length: 27 }, (_, i) => i + 1), 30, 31, 32, 33]);

/**
 * ATOL `payments[].type` 0 cash (1031), 1 electronic (1081), 2 advance offset (1215), 3 credit (1216),
 * 4 counter-provision (1217). The "extended" types 5–9 are refused: they stand for whatever a register was set up
 * to map them to, which a Shtrih register does not know.
 */
export const PAYMENT_TYPES: ReadonlySet<number> = new Set([0, 1, 2, 3, 4]);

/** Tag 2108. */
export const MEASURES: ReadonlySet<number> = new Set([
  0, 10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 70, 71, 72, 73, 80, 81, 82, 83, 255,
]);

export const TAX_SYSTEMS: readonly TaxSystem[] = ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent'];

export interface VatRate {
  /** percent */
  rate: number;
  /** allowed on prepayment / advance items (1214 = 1/2/3): a calculated rate …/1xx, 0 % or no VAT */
  prepayment: boolean;
  /** first day in force, "YYYY-MM-DD" */
  from?: string;
  /** first day no longer in force */
  until?: string;
}

const VAT_2026 = '2026-01-01';
const VAT_USN = '2025-01-01';

/** Tag 1199 rates by ATOL name. A receipt VAT sum is always "included": sum × rate / (100 + rate). */
export const VAT_RATES: ReadonlyMap<string, VatRate> = new Map<VatType, VatRate>([
  ['none', { rate: 0, prepayment: true }],
  ['vat0', { rate: 0, prepayment: true }],
  ['vat10', { rate: 10, prepayment: false }],
  ['vat110', { rate: 10, prepayment: true }],
  ['vat20', { rate: 20, prepayment: false, until: VAT_2026 }],
  ['vat120', { rate: 20, prepayment: true, until: VAT_2026 }],
  ['vat5', { rate: 5, prepayment: false, from: VAT_USN }],
  ['vat7', { rate: 7, prepayment: false, from: VAT_USN }],
  ['vat105', { rate: 5, prepayment: true, from: VAT_USN }],
  ['vat107', { rate: 7, prepayment: true, from: VAT_USN }],
  ['vat22', { rate: 22, prepayment: false, from: VAT_2026 }],
  ['vat122', { rate: 22, prepayment: true, from: VAT_2026 }],
]);

export const AGENT_TYPES: ReadonlySet<string> = new Set([
  'bank_paying_agent', 'bank_paying_subagent', 'paying_agent', 'paying_subagent', 'attorney', 'commission_agent', 'another',
]);

export interface Company {
  email: string;
  sno: TaxSystem;
  inn: string;
  paymentAddress: string;
  location?: string;
}

export interface Client {
  email?: string;
  /** normalized to "+<digits>" */
  phone?: string;
  name?: string;
  inn?: string;
}

/** Tag 1222 and its parts, kept for the driver mapping of agent receipts. */
export interface AgentInfo {
  type: string;
  payingAgent?: { operation?: string; phones?: string[] };
  receivePaymentsOperator?: { phones?: string[] };
  moneyTransferOperator?: { phones?: string[]; name?: string; address?: string; inn?: string };
}

/** Tag 1224. */
export interface SupplierInfo {
  inn: string;
  name?: string;
  phones?: string[];
}

export interface ItemAgent {
  agent?: AgentInfo;
  supplier?: SupplierInfo;
}

export interface ReceiptRequest {
  externalId: string;
  operation: Operation;
  /** the envelope's `timestamp`, as given ("dd.mm.yyyy HH:MM:SS") */
  timestamp: string;
  /** the same, parsed: local "YYYY-MM-DDTHH:MM:SS" */
  dateTime: string;
  receipt: FiscalReceipt;
  company: Company;
  client: Client;
  /** receipt-level VAT sums in kopecks, when the store sent `vats` */
  vats?: { type: VatType; sum: number }[];
  /** per item (same index as receipt.items): agent / supplier info, undefined for ordinary items */
  itemAgents: (ItemAgent | undefined)[];
  /** sha256 (hex) of the raw message bytes: tells a redelivery from a different body under the same external_id */
  bodyHash: string;
  /** the register the store pinned the receipt to (the request's `device`), if any */
  device?: string;
}

export interface ValidationContext {
  /** taxation systems the register is registered for; unchecked when absent */
  registeredTaxSystems?: TaxSystem[];
  /** the register owner's INN; unchecked when absent */
  companyInn?: string;
  /**
   * the registers of a pool, each with what its registration allows: a receipt must fit one of them (its `device`
   * pin, company INN and taxation system); when given, `registeredTaxSystems` and `companyInn` are not used
   */
  registers?: RouteTarget[];
  /** default 100 */
  maxItems?: number;
  /** default true: receipts (not corrections) need client.email or client.phone (tag 1008) */
  requireCustomerContact?: boolean;
  /** default 256 KiB */
  maxBodyBytes?: number;
}
