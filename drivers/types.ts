/**
 * The boundary between the gateway and a fiscal register (ККТ).
 *
 * Units, everywhere in this file:
 *  - money is an integer number of kopecks;
 *  - quantity is an integer number of thousandths (1 piece = 1000; ATOL v5 allows 3 decimals);
 *  - date-times are the register's local time as "YYYY-MM-DDTHH:MM[:SS]" strings (the FN has no time zone).
 */

/** Tag 1054: 1 приход (sell), 2 возврат прихода (sell_refund), 3 расход (buy), 4 возврат расхода (buy_refund). */
export type OperationType = 1 | 2 | 3 | 4;

/** Tag 1055 taxation systems, by ATOL v5 name. */
export type TaxSystem = 'osn' | 'usn_income' | 'usn_income_outcome' | 'envd' | 'esn' | 'patent';

/** ATOL v5 `vat.type` values (tag 1199 meaning). */
export type VatType =
  | 'none' | 'vat0' | 'vat10' | 'vat110' | 'vat20' | 'vat120'
  | 'vat5' | 'vat7' | 'vat105' | 'vat107' | 'vat22' | 'vat122';

export interface FiscalItem {
  name: string;
  /** kopecks */
  price: number;
  /** thousandths */
  quantity: number;
  /** kopecks; = price × quantity / 1000 exactly */
  sum: number;
  vat: VatType;
  /** VAT sum in kopecks when the store gave one; the device computes it otherwise */
  vatSum?: number;
  /** tag 1214, 1..7 */
  paymentMethod: number;
  /** tag 1212 */
  paymentObject: number;
  /** tag 2108 measure, 0 = piece */
  measure?: number;
  /** agent item: 1222 agent bit, 1224 supplier {1225 name, 1171 phones}, 1226 supplier INN (sent with FF4D) */
  agent?: ItemAgentTags;
}

export interface ItemAgentTags {
  /** tag 1222: one bit (0x01 bank paying agent … 0x40 another agent) */
  agentBits?: number;
  supplierInn?: string;
  supplierName?: string;
  supplierPhones?: string[];
}

/** Payment kinds of FF45 / FFD tags, kopecks each. */
export interface Payments {
  /** 1031 */
  cash: number;
  /** 1081 */
  electronic: number;
  /** 1215: offset of a prepayment / advance */
  prepaid: number;
  /** 1216: postpayment / credit */
  credit: number;
  /** 1217: counter-provision */
  other: number;
}

export interface Correction {
  /** tag 1173: 0 on own initiative, 1 by order of the tax office */
  type: 0 | 1;
  /** tag 1178, "YYYY-MM-DD" */
  baseDate: string;
  /** tag 1179 */
  baseNumber?: string;
}

/** One fiscal receipt (кассовый чек) or correction receipt, ready for a register. */
export interface FiscalReceipt {
  operation: OperationType;
  items: FiscalItem[];
  payments: Payments;
  /** kopecks; = Σ items.sum = Σ payments */
  total: number;
  taxSystem: TaxSystem;
  cashier?: { name: string; inn?: string };
  /** tag 1008: e-mail or +phone the OFD sends the receipt to */
  customerContact?: string;
  /** tag 1227 */
  customerName?: string;
  /** tag 1228 */
  customerInn?: string;
  /** present for correction receipts (FFD type 31) */
  correction?: Correction;
}

/** What the FN says about a fiscal document. */
export interface DocumentRef {
  /** tag 1040 */
  fdNumber: number;
  /** FFD document type: 1 registration, 2 shift open, 3 receipt, 31 correction, 5 shift close, … */
  type: number;
  dateTime: string;
  /** tag 1077, as the UInt32 the register returns */
  fiscalSign: number;
  /** receipts and corrections: tag 1054 */
  operation?: number;
  /** receipts and corrections: total in kopecks */
  total?: number;
  /** shift open / close documents */
  shiftNumber?: number;
}

export interface FiscalResult {
  fdNumber: number;
  fiscalSign: number;
  dateTime: string;
  shiftNumber: number;
  /** tag 1042, number of the receipt within the shift */
  receiptNumber: number;
  fnNumber: string;
  operation: OperationType;
  total: number;
  /** change to give, kopecks (0 for online stores) */
  change: number;
}

export interface ShiftResult {
  shiftNumber: number;
  fdNumber: number;
  fiscalSign: number;
  dateTime: string;
}

export interface DeviceInfo {
  protocol: 'shtrih' | 'atol';
  /** device name as it reports itself (FCh) */
  model: string;
  modelCode: number;
  serial: string;
  inn: string;
  fnNumber: string;
  firmware: string;
  /** taxation systems the register is registered for, when it says */
  taxSystems?: TaxSystem[];
  registrationNumber?: string;
  /** the whole registration data, when the register gave it */
  registration?: RegistrationData;
}

export type ShiftState = 'closed' | 'open' | 'expired';
export type PaperState = 'ok' | 'out' | 'waiting_continue';

export interface FnState {
  serial: string;
  /** FF01 life phase bits */
  phase: number;
  lastFd: number;
  /** FF01 warning bits: 1 replace in 3 days, 2 replace in 30 days, 4 memory 90 %, 8 OFD timeout */
  warnings: number;
  /** "YYYY-MM-DD" when known */
  expiry?: string;
  /** documents not yet confirmed by the OFD */
  unsentCount?: number;
  unsentSince?: string;
}

export interface DeviceStatus {
  mode: number;
  submode: number;
  /** open document type when mode is 8: 0 sale, 1 buy, 2 sale return, 3 buy return, 4 non-fiscal */
  receiptOpen: boolean;
  shift: ShiftState;
  shiftNumber?: number;
  /** number of the last receipt in the current shift (FF40), when read */
  receiptNumber?: number;
  paper: PaperState;
  coverOpen: boolean;
  /** register clock */
  dateTime?: string;
  fn?: FnState;
}

export interface ZReportResult extends ShiftResult {
  /** documents not yet confirmed by the OFD, read from the FN after the close */
  unsentCount?: number;
}

/** Operation names of tag 1054, as the figures use them. */
export type OpName = 'sell' | 'sell_refund' | 'buy' | 'buy_refund';

/** How a fiscalize() call may overlap its start with the host's own bookkeeping. */
export interface FiscalizeOptions {
  /**
   * Resolves true once the job is bound to this register on disk (its in-flight record synced). The first command
   * that can start a fiscal document waits for it; what cannot (Shtrih's ENQ, status reads, an ATOL mode change)
   * goes ahead, so the sync and the line's first turnaround overlap. false: nothing of the receipt may be sent, and
   * the call fails with ABORTED (retryable) before its first such command.
   */
  ready?: Promise<boolean>;
}

/** What the register was registered (fiscalized) with: Shtrih FF09 / table 18, ATOL registers and FN reads. */
export interface RegistrationData {
  inn: string;
  /** РНМ, tag 1037 */
  registrationNumber: string;
  /** tag 1062 */
  taxSystems: TaxSystem[];
  /** work-mode flags (FF09 work mode byte: bit0 encryption … bit5 internet) */
  modes: { encryption: boolean; autonomous: boolean; automatic: boolean; services: boolean; bso: boolean; internet: boolean };
  /** the raw work-mode byte, for flags not named above */
  modeBits: number;
  /** FFD 1.1/1.2 answers: extended flags and the OFD's INN */
  extendedModeBits?: number;
  ofdInn?: string;
  /**
   * where it was read: 'fn' (the FN's registration report: Shtrih FF09, ATOL FN reads) or 'table' (Shtrih table 18:
   * INN and РНМ only; taxSystems empty = unknown, modes not known, all false)
   */
  source?: 'fn' | 'table';
  /** the registration (or re-registration) report */
  fdNumber?: number;
  fiscalSign?: number;
  dateTime?: string;
}

/**
 * The register's own counters (what its paper Z-report prints). Money in kopecks. Read just before the shift is
 * closed; `missing` names every figure this firmware did not give (a refused command), never a silent zero.
 */
export interface ShiftFigures {
  shiftNumber?: number;
  /** receipts per operation this shift, as the register counts them (Shtrih: without corrections, which it counts
   *  only per pair of operations in `corrections`) */
  counts: Record<OpName, number>;
  /** correction receipts this shift, all operations */
  corrections?: number;
  /** `counts` leave correction receipts out (Shtrih 144–147); their sums are in `sums` all the same */
  countsExcludeCorrections?: boolean;
  /** sums per operation and payment kind this shift */
  sums: Record<OpName, Payments>;
  cashIn: number;
  cashOut: number;
  cashInCount?: number;
  cashOutCount?: number;
  /** cash in the drawer */
  cashInDrawer?: number;
  /** нарастающий итог per operation: never cleared by a Z-report */
  cumulative?: Record<OpName, number>;
  missing: string[];
}

/** One item of a fiscal document as the FN holds it (tag 1059). */
export interface FnItemCopy {
  name: string;
  /** kopecks (1079) */
  price: number;
  /** thousandths (1023) */
  quantity: number;
  /** kopecks (1043) */
  sum: number;
  /** 1199 */
  vatRate?: number;
  /** 1214 */
  paymentMethod?: number;
  /** 1212 */
  paymentObject?: number;
}

/** A fiscal document read back from the FN as TLVs (Shtrih FF3A/FF3B, ATOL A4 45/46), the known tags decoded. */
export interface FnDocumentCopy {
  fdNumber: number;
  /** FFD document type (3 receipt, 31 correction, 2 shift open, 5 shift close, …) */
  type: number;
  /** 1054 */
  operation?: number;
  /** 1020, kopecks */
  total?: number;
  /** 1031, 1081, 1215, 1216, 1217 */
  payments?: Payments;
  items?: FnItemCopy[];
  /** 1008 */
  customerContact?: string;
  /** 1021 */
  cashier?: string;
  /** 1038 */
  shiftNumber?: number;
  /** 1042 */
  receiptNumber?: number;
  /** 1040 */
  fd?: number;
  /** 1077 as the UInt32 */
  fiscalSign?: number;
  /** 1012, "YYYY-MM-DDTHH:MM" */
  dateTime?: string;
  /** every tag as read: number → decoded value (strings, integers, nested STLVs as arrays of objects) */
  tags: Record<string, unknown>;
}

/**
 * How a failure should be treated:
 *  - `rejected`:  the device refused this document for what it is (bad parameters, sums); printing it again fails again;
 *  - `retryable`: the device or link is busy or away; the same command may be sent again later;
 *  - `operator`:  a person must act (paper, cover), then it can go on;
 *  - `fatal`:     the register cannot fiscalize any more (FN exhausted, FN failure);
 *  - `uncertain`: the command may have been executed; only a look into the FN tells.
 */
export type ErrorKind = 'rejected' | 'retryable' | 'operator' | 'fatal' | 'uncertain';

export class DriverError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly deviceCode: number | undefined;
  /** the command that failed, e.g. "FF45" */
  readonly command: string | undefined;

  constructor(code: string, kind: ErrorKind, message: string, opts: { deviceCode?: number; command?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DriverError';
    this.code = code;
    this.kind = kind;
    this.deviceCode = opts.deviceCode;
    this.command = opts.command;
  }

  get retryable(): boolean {
    return this.kind === 'retryable' || this.kind === 'operator';
  }

  get uncertain(): boolean {
    return this.kind === 'uncertain';
  }
}

/** One register, one command in flight. */
export interface FiscalDriver {
  /** opens the link and identifies the device */
  open(signal?: AbortSignal): Promise<DeviceInfo>;
  info(): DeviceInfo | undefined;
  /**
   * The register's state. `brief`: only what a job needs (mode, paper, shift, FN last document, clock) — the FN
   * expiry and OFD queue, which only health shows, are left out (two exchanges fewer before every receipt).
   */
  status(opts?: { brief?: boolean }): Promise<DeviceStatus>;
  /**
   * Prints and fiscalizes a receipt. Throws DriverError; `uncertain` when the closing command may have been
   * executed. A receipt found open on the device before starting is an error (`RECEIPT_OPEN`); cancel it first.
   */
  fiscalize(receipt: FiscalReceipt, signal?: AbortSignal, opts?: FiscalizeOptions): Promise<FiscalResult>;
  /** cancels an open receipt; resolves false when none was open */
  cancelReceipt(): Promise<boolean>;
  /** the FN's last document */
  lastDocument(): Promise<DocumentRef>;
  findDocument(fdNumber: number): Promise<DocumentRef | undefined>;
  openShift(cashier?: { name: string; inn?: string }): Promise<ShiftResult>;
  /** Z-report: closes the shift */
  closeShift(cashier?: { name: string; inn?: string }): Promise<ZReportResult>;
  xReport(): Promise<void>;
  cashIn(sum: number): Promise<void>;
  cashOut(sum: number): Promise<void>;
  /** waits for paper to come back and continues a print that stopped (B0h) */
  continuePrint(): Promise<void>;
  /** the registration data (read at open; cached in info().registration) */
  registration?(): Promise<RegistrationData | undefined>;
  /** the register's own counters of the open shift and its cumulative totals */
  shiftFigures?(): Promise<ShiftFigures>;
  /** a fiscal document's copy from the FN; undefined when the FN has no such document */
  documentCopy?(fdNumber: number): Promise<FnDocumentCopy | undefined>;
  /**
   * Prints lines of text on the receipt tape as a non-fiscal service slip (nothing goes to the FN; no receipt may be
   * open). Lines longer than the tape are cut at 40 characters. Throws DriverError (NO_PAPER, RECEIPT_OPEN, …).
   */
  printText?(lines: string[]): Promise<void>;
  close(): Promise<void>;
}
