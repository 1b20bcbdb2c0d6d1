/**
 * The protocol-neutral register: the fiscal drive (journal), shifts and the 24 h rule, the open receipt with its
 * items and payments, closing it into a FiscalDocument, reports, cash in/out, paper / cover state and the points
 * where paper runs out. Every wire front-end (Shtrih `device.ts`, ATOL `atol/device.ts`) drives one of these and
 * maps its semantic errors (RegisterError) to its own protocol's codes.
 */
import { appendFileSync } from 'node:fs';
import type { Payments } from '../types.ts';
import { DeviceClock, parseLocal } from './clock.ts';
import type { CorrectionInfo, FiscalDocument, Journal, JournalItem, NewFiscalDocument, NonFiscalDocument, TagMap } from './journal.ts';

export type RegisterErrorCode =
  | 'BAD_PARAMS'
  | 'SHIFT_OPEN'
  | 'SHIFT_NOT_OPEN'
  | 'SHIFT_EXPIRED'
  | 'RECEIPT_OPEN'
  | 'RECEIPT_CLOSED'
  | 'WRONG_RECEIPT_TYPE'
  | 'RECEIPT_FULL'
  | 'TOTAL_OVERFLOW'
  | 'ZERO_TOTAL'
  | 'PAYMENTS_LESS'
  | 'NONCASH_ABOVE_TOTAL'
  | 'NO_CASH'
  | 'NO_PAPER'
  | 'WAIT_CONTINUE'
  | 'FN_EXHAUSTED'
  | 'NO_DATA';

/** A refusal of the register, in protocol-neutral terms. */
export class RegisterError extends Error {
  constructor(readonly code: RegisterErrorCode) {
    super(code);
    this.name = 'RegisterError';
  }
}

const fail = (code: RegisterErrorCode): never => {
  throw new RegisterError(code);
};

/** Where paper runs out inside a receipt. */
export type PaperOutPoint = { at: 'before-item'; item: number } | { at: 'during-close' };

export interface InjectedError {
  /** the protocol's own error code */
  code: number;
  /** only for this command code (protocol-specific numbering) */
  command?: number;
  /** how many times; default 1 */
  count?: number;
}

/** Errors armed for the next commands ("fault error CODE [COMMAND] [N]"), consumed one per command. */
export class InjectedErrors {
  private list: Array<{ code: number; count: number; command?: number }> = [];

  add(err: InjectedError): void {
    this.list.push({ code: err.code, count: err.count ?? 1, ...(err.command === undefined ? {} : { command: err.command }) });
  }

  /** the code armed for this command, consumed; undefined when none */
  take(command: number): number | undefined {
    const i = this.list.findIndex((e) => e.command === undefined || e.command === command);
    if (i < 0) return undefined;
    const e = this.list[i]!;
    if (--e.count <= 0) this.list.splice(i, 1);
    return e.code;
  }

  clear(): void {
    this.list = [];
  }
}

export interface OpenReceipt {
  /** tag 1054 */
  operation: number;
  items: JournalItem[];
}

export interface RegisterOptions {
  journal: Journal;
  clock: DeviceClock;
  /** a receipt command with the shift closed opens the shift first, as real devices do by default; default true */
  autoOpenShift?: boolean;
  /** items per receipt before RECEIPT_FULL; default 100 */
  maxItems?: number;
}

export const MAX_MONEY = 2 ** 40 - 1;
export const DAY_MS = 86_400_000;

export class FiscalRegister {
  readonly clock: DeviceClock;
  readonly journal: Journal;
  readonly autoOpen: boolean;
  readonly maxItems: number;

  private openReceipt: OpenReceipt | undefined;
  /** tags sent before the next document (receipt-level, or cashier for a shift document) */
  pendingTags: TagMap = {};
  private paperOutFlag = false;
  /** a print stopped by paper-out */
  private interrupted = false;
  private coverOpenFlag = false;
  private fnExhaustedFlag = false;
  private paperOutPoint: PaperOutPoint | undefined;
  /** the non-fiscal lines printed (service slips: the page's setup code), oldest first; also appended to tapePath */
  readonly tape: string[] = [];
  /** a text file the tape's lines are appended to (the emulator's state directory: tape.txt), for tests to read */
  tapePath: string | undefined;

  constructor(opts: RegisterOptions) {
    this.journal = opts.journal;
    this.clock = opts.clock;
    this.autoOpen = opts.autoOpenShift ?? true;
    this.maxItems = opts.maxItems ?? 100;
  }

  // ---------------------------------------------------------------- state

  get receipt(): Readonly<OpenReceipt> | undefined {
    return this.openReceipt;
  }

  get paperOut(): boolean {
    return this.paperOutFlag;
  }

  get coverOpen(): boolean {
    return this.coverOpenFlag;
  }

  get printInterrupted(): boolean {
    return this.interrupted;
  }

  get fnExhausted(): boolean {
    return this.fnExhaustedFlag;
  }

  shiftExpired(): boolean {
    const opened = this.journal.shift.openedAt;
    return opened !== undefined && this.clock.localMs() - parseLocal(opened) >= DAY_MS;
  }

  // ---------------------------------------------------------------- faults

  paperOutNow(): void {
    this.paperOutFlag = true;
  }

  paperOutAt(point: PaperOutPoint): void {
    this.paperOutPoint = point;
  }

  paperIn(): void {
    this.paperOutFlag = false;
    this.paperOutPoint = undefined;
  }

  setCover(open: boolean): void {
    this.coverOpenFlag = open;
  }

  setFnExhausted(on: boolean): void {
    this.fnExhaustedFlag = on;
  }

  /** paper in, cover closed, FN repaired, no interrupted print */
  clearFaults(): void {
    this.paperIn();
    this.interrupted = false;
    this.coverOpenFlag = false;
    this.fnExhaustedFlag = false;
  }

  /** the interrupted print goes on (NO_PAPER while paper is still out) */
  continuePrint(): void {
    if (this.interrupted && this.paperOutFlag) fail('NO_PAPER');
    this.interrupted = false;
  }

  // ---------------------------------------------------------------- reports, cash

  /** a non-fiscal line on the receipt tape (no document number, nothing in the FN) */
  printLine(text: string): void {
    if (this.paperOutFlag || this.coverOpenFlag) fail('NO_PAPER');
    this.tape.push(text);
    if (this.tapePath) appendFileSync(this.tapePath, `${text}\n`);
  }

  xReport(): NonFiscalDocument {
    this.noReceipt();
    return this.journal.addNonFiscal({ type: 'x_report', dateTime: this.clock.isoLocal(), shift: this.journal.shift.number });
  }

  cashInOut(type: 'cash_in' | 'cash_out', sum: number): NonFiscalDocument {
    this.noReceipt();
    this.needShift();
    if (type === 'cash_out' && sum > this.cashInDrawer()) fail('NO_CASH');
    return this.journal.addNonFiscal({ type, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number, sum });
  }

  cashInDrawer(): number {
    const c = this.journal.shift.counters;
    const cash = (op: '1' | '2' | '3' | '4'): number => c.payments[op].cash;
    return c.cashIn - c.cashOut + cash('1') - cash('2') - cash('3') + cash('4');
  }

  /** RECEIPT_OPEN when a receipt is open */
  noReceipt(): void {
    if (this.openReceipt) fail('RECEIPT_OPEN');
  }

  /** a shift open and under 24 h */
  needShift(): void {
    if (!this.journal.shift.open) fail('SHIFT_NOT_OPEN');
    if (this.shiftExpired()) fail('SHIFT_EXPIRED');
  }

  // ---------------------------------------------------------------- shifts

  openShift(): FiscalDocument {
    if (this.openReceipt) fail('RECEIPT_OPEN');
    if (this.journal.shift.open) fail('SHIFT_OPEN');
    return this.form({ type: 2, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number + 1, tags: this.takeShiftTags() });
  }

  closeShift(): FiscalDocument {
    if (this.openReceipt) fail('RECEIPT_OPEN');
    const shift = this.journal.shift;
    if (!shift.open) fail('SHIFT_NOT_OPEN');
    const counters = structuredClone(shift.counters);
    return this.form({ type: 5, dateTime: this.clock.isoLocal(), shift: shift.number, tags: this.takeShiftTags(), counters });
  }

  /** cashier tags sent before a shift document; other pending tags stay for the next receipt */
  private takeShiftTags(): TagMap | undefined {
    const tags: TagMap = {};
    for (const t of ['1021', '1203']) {
      const v = this.pendingTags[t];
      if (v !== undefined) tags[t] = v;
    }
    return Object.keys(tags).length ? tags : undefined;
  }

  private form(doc: NewFiscalDocument): FiscalDocument {
    return this.journal.addFiscal(stripUndefined(doc));
  }

  // ---------------------------------------------------------------- receipts

  /** the receipt of `operation` (tag 1054), opening it (and the shift, when closed and allowed) when none is open */
  ensureReceipt(operation: number): OpenReceipt {
    if (this.openReceipt) {
      if (this.openReceipt.operation !== operation) fail('WRONG_RECEIPT_TYPE');
      if (this.shiftExpired()) fail('SHIFT_EXPIRED');
      return this.openReceipt;
    }
    this.shiftForReceipt();
    this.openReceipt = { operation, items: [] };
    return this.openReceipt;
  }

  /** opens a receipt explicitly: RECEIPT_OPEN when one is open */
  beginReceipt(operation: number): OpenReceipt {
    this.noReceipt();
    return this.ensureReceipt(operation);
  }

  cancelReceipt(): void {
    if (!this.openReceipt) fail('RECEIPT_CLOSED');
    this.openReceipt = undefined;
    this.pendingTags = {};
  }

  /** paper runs out before item k of the receipt (1-based): consumes the point, sets paper out */
  paperRunsOutBeforeItem(): boolean {
    const point = this.paperOutPoint;
    if (point?.at !== 'before-item' || point.item !== (this.openReceipt?.items.length ?? 0) + 1) return false;
    this.paperOutPoint = undefined;
    this.paperOutFlag = true;
    return true;
  }

  addItem(operation: number, item: JournalItem): void {
    if (this.paperRunsOutBeforeItem()) fail('NO_PAPER');
    const receipt = this.ensureReceipt(operation);
    if (receipt.items.length >= this.maxItems) fail('RECEIPT_FULL');
    if (item.sum > MAX_MONEY || receiptTotal(receipt) + item.sum > MAX_MONEY) fail('TOTAL_OVERFLOW');
    receipt.items.push(item);
  }

  /** the last item of the open receipt, for item-bound tags */
  lastItem(): JournalItem {
    return this.openReceipt?.items.at(-1) ?? fail('RECEIPT_CLOSED');
  }

  get receiptTotal(): number {
    return this.openReceipt ? receiptTotal(this.openReceipt) : 0;
  }

  /** closes the receipt with the tendered payments; forms FD type 3 (31 with tag 1173 pending) */
  closeReceipt(tendered: Payments, taxSystemByte: number): FiscalDocument {
    const receipt = this.openReceipt ?? fail('RECEIPT_CLOSED');
    if (this.shiftExpired()) fail('SHIFT_EXPIRED');
    const total = receiptTotal(receipt);
    const checked = checkPayments(total, tendered);
    const taxSystem = this.taxSystem(taxSystemByte);
    if (taxSystem < 0) fail('BAD_PARAMS');
    if ((receipt.operation === 2 || receipt.operation === 3) && checked.payments.cash > this.cashInDrawer()) fail('NO_CASH');
    const tags = this.pendingTags;
    const correction = correctionOf(tags);
    const doc = this.form({
      type: correction ? 31 : 3, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number,
      receiptNo: this.journal.shift.receiptNo + 1, operation: receipt.operation, total, items: receipt.items,
      payments: checked.payments, change: checked.tendered - total, taxSystem, tags, correction,
    });
    this.openReceipt = undefined;
    this.pendingTags = {};
    this.interruptPrintIfPaperRunsOut();
    return doc;
  }

  /**
   * A receipt typed on the register's keyboard (fault `keyboard-receipt`): one item of `sum`, paid in cash or by card,
   * fiscalized at once — in the journal and the registers like any receipt, though no host sent it. The host's
   * pending tags are left for the host's own next receipt. RECEIPT_OPEN while the host has a receipt open.
   */
  keyboardReceipt(sum: number, kind: 'cash' | 'card' = 'cash', operation = 1): FiscalDocument {
    if (!Number.isSafeInteger(sum) || sum <= 0 || sum > MAX_MONEY || ![1, 2, 3, 4].includes(operation)) fail('BAD_PARAMS');
    this.noReceipt();
    this.shiftForReceipt();
    const payments: Payments = { cash: kind === 'cash' ? sum : 0, electronic: kind === 'card' ? sum : 0, prepaid: 0, credit: 0, other: 0 };
    if ((operation === 2 || operation === 3) && payments.cash > this.cashInDrawer()) fail('NO_CASH');
    const item: JournalItem = {
      name: 'Товар', price: sum, quantity: 1_000_000, sum, vat: 'none', taxByte: 0x08, paymentMethod: 4, paymentObject: 1,
      department: 1, tlvs: {},
    };
    return this.form({
      type: 3, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number, receiptNo: this.journal.shift.receiptNo + 1,
      operation, total: sum, items: [item], payments, change: 0, taxSystem: this.taxSystem(0), tags: { '1021': 'Кассир (клавиатура)' },
      keyboard: true,
    });
  }

  /** a correction receipt without items (FD 31) */
  correctionReceipt(corrType: number, operation: number, total: number, tendered: Payments, taxSystemByte: number): FiscalDocument {
    const taxSystem = this.taxSystem(taxSystemByte);
    if (![1, 2, 3, 4].includes(operation) || corrType > 1 || taxSystem < 0) fail('BAD_PARAMS');
    this.noReceipt();
    this.shiftForReceipt();
    if (total === 0) fail('ZERO_TOTAL');
    const checked = checkPayments(total, tendered);
    const correction = correctionOf({ ...this.pendingTags, '1173': String(corrType) })!;
    const doc = this.form({
      type: 31, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number, receiptNo: this.journal.shift.receiptNo + 1,
      operation, total, payments: checked.payments, change: checked.tendered - total, taxSystem, tags: this.pendingTags, correction,
    });
    this.pendingTags = {};
    return doc;
  }

  /** paper-out "during-close": the document is formed, its print stops */
  private interruptPrintIfPaperRunsOut(): void {
    if (this.paperOutPoint?.at !== 'during-close') return;
    this.paperOutPoint = undefined;
    this.paperOutFlag = true;
    this.interrupted = true;
  }

  /** tag 1055 bit for the receipt: 0 = the first registered system; -1 when not registered */
  taxSystem(byte: number): number {
    const registered = this.journal.identity.taxSystems;
    if (byte === 0) return registered & -registered;
    return (byte & (byte - 1)) === 0 && (byte & registered) !== 0 ? byte : -1;
  }

  /** shift state for a new receipt: opens it when closed and allowed */
  shiftForReceipt(): void {
    if (this.journal.shift.open) {
      if (this.shiftExpired()) fail('SHIFT_EXPIRED');
      return;
    }
    if (!this.autoOpen) fail('SHIFT_NOT_OPEN');
    this.openShift();
  }
}

// ---------------------------------------------------------------- helpers

/** round(a × b / div), half up, exact for any 5- and 6-byte operands */
export function roundedProduct(a: number, b: number, div: number): number {
  const d = BigInt(div);
  return Number((BigInt(a) * BigInt(b) + d / 2n) / d);
}

function receiptTotal(r: OpenReceipt): number {
  return r.items.reduce((s, i) => s + i.sum, 0);
}

interface CheckedPayments {
  payments: Payments;
  /** total of every payment as tendered */
  tendered: number;
}

/** Payments against the total: the recorded payments (cash net of change). */
export function checkPayments(total: number, t: Payments): CheckedPayments {
  if (total === 0) fail('ZERO_TOTAL');
  const nonCash = t.electronic + t.prepaid + t.credit + t.other;
  if (nonCash > total) fail('NONCASH_ABOVE_TOTAL');
  if (nonCash + t.cash < total) fail('PAYMENTS_LESS');
  return { payments: { ...t, cash: total - nonCash }, tendered: nonCash + t.cash };
}

/** tag 1173 (and 1174 with 1178/1179) make a receipt a correction receipt */
export function correctionOf(tags: TagMap): CorrectionInfo | undefined {
  const type = tags['1173'];
  if (typeof type !== 'string') return undefined;
  const base = tags['1174'];
  const info: CorrectionInfo = { type: Number(type) };
  if (typeof base === 'object') {
    if (typeof base['1178'] === 'string') info.baseDate = base['1178'];
    if (typeof base['1179'] === 'string') info.baseNumber = base['1179'];
  }
  return info;
}

export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
