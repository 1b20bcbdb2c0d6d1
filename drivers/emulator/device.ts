/**
 * The register's state machine (kkt-protocols.md §1.5–§1.10): request payload in, answer payload out.
 * Decodes requests and encodes answers itself, from the spec; shares no command codec with the host driver.
 */
import { decodeText, encodeText, writeUIntLE } from '../shtrih/bytes.ts';
import type { Payments } from '../types.ts';
import { DeviceClock, dateDMY, dateTime5, parseLocal, timeHMS } from './clock.ts';
import type { CorrectionInfo, FiscalDocument, Journal, JournalItem, NewFiscalDocument, TagMap } from './journal.ts';
import { Reader } from './reader.ts';
import {
  DAY_MS, DOC_TO_OP, E, FLAG_BASE, FLAG_COVER, FLAG_PAPER, MAX_MONEY, OP_TO_DOC, SHTRIH_M_01F, TAX_BYTES,
  type DeviceModel,
} from './tables.ts';
import { decodeTlvList, tlvsToMap } from './tlv-decode.ts';

export interface DeviceOptions {
  journal: Journal;
  clock: DeviceClock;
  /** FF45/FF43/FF4A answers carry the DATE_TIME5 tail («РАСШИР. ОТВ. НА КОМАНДЫ ФОРМ. ФД» = 1); default true */
  extendedFdAnswers?: boolean;
  /** a receipt command in mode 4 opens the shift first, as real devices do by default; default true */
  autoOpenShift?: boolean;
  /** items per receipt before 4Bh; default 100 */
  maxItems?: number;
  /** encoding of string TLVs (FN strings are CP866); default 'cp866' */
  tlvEncoding?: string;
  model?: DeviceModel;
}

/** Where paper runs out inside a receipt. */
export type PaperOutPoint = { at: 'before-item'; item: number } | { at: 'during-close' };

export interface InjectedError {
  code: number;
  /** only for this command code (0xFFxx for FN commands) */
  command?: number;
  /** how many times; default 1 */
  count?: number;
}

type Level = 'none' | 'operator' | 'admin';
interface Ctx {
  code: number;
  op: number;
  p: Reader;
}
type Result = Buffer | number;
interface Command {
  level: Level;
  /** answered in any mode and submode */
  query?: boolean;
  /** prints: refused without paper */
  prints?: boolean;
  /** forms or needs the FN: refused when the FN is exhausted */
  fiscal?: boolean;
  run: (ctx: Ctx) => Result;
}

interface OpenReceipt {
  docType: number;
  operation: number;
  items: JournalItem[];
}

interface ClosePayments {
  payments: Payments;
  /** total of every payment as tendered */
  tendered: number;
  nonCash: number;
}

const EMPTY = Buffer.alloc(0);
/** closing commands and reports: they take the print time */
const LONG_PRINTS = new Set([0x40, 0x41, 0x50, 0x51, 0x85, 0xe0, 0xff0b, 0xff43, 0xff45, 0xff4a]);

export class ShtrihDevice {
  readonly clock: DeviceClock;
  readonly journal: Journal;
  private readonly extended: boolean;
  private readonly autoOpen: boolean;
  private readonly maxItems: number;
  private readonly tlvEncoding: string;
  private readonly model: DeviceModel;
  private readonly commands: Map<number, Command>;

  private receipt: OpenReceipt | undefined;
  /** FF0C tags waiting for the next document */
  private pendingTags: TagMap = {};
  private paperOut = false;
  /** a print stopped by paper-out: submode 2 while out, 3 when paper is back, until B0h */
  private printInterrupted = false;
  private coverOpen = false;
  private fnExhaustedCode = 0;
  private paperOutPoint: PaperOutPoint | undefined;
  private injected: Array<Required<Pick<InjectedError, 'code' | 'count'>> & { command?: number }> = [];

  constructor(opts: DeviceOptions) {
    this.journal = opts.journal;
    this.clock = opts.clock;
    this.extended = opts.extendedFdAnswers ?? true;
    this.autoOpen = opts.autoOpenShift ?? true;
    this.maxItems = opts.maxItems ?? 100;
    this.tlvEncoding = opts.tlvEncoding ?? 'cp866';
    this.model = opts.model ?? SHTRIH_M_01F;
    this.commands = this.commandTable();
  }

  // ---------------------------------------------------------------- public API

  /** Executes one request payload (command code + params) and returns the answer payload. Never throws. */
  handle(request: Buffer): Buffer {
    const code = commandOf(request);
    if (code < 0) return Buffer.from([request[0] ?? 0, E.NOT_SUPPORTED]);
    try {
      const result = this.execute(code, request);
      return typeof result === 'number' ? errorAnswer(code, result) : okAnswer(code, result);
    } catch (e) {
      return errorAnswer(code, e instanceof RangeError ? E.BAD_PARAMS : 0x39);
    }
  }

  /** Whether the command closes a document or prints a report (the link models its print time). */
  printsLong(request: Buffer): boolean {
    return LONG_PRINTS.has(commandOf(request));
  }

  get mode(): number {
    if (this.receipt) return 8 | (this.receipt.docType << 4);
    if (!this.journal.shift.open) return 4;
    return this.shiftExpired() ? 3 : 2;
  }

  get submode(): number {
    if (this.printInterrupted) return this.paperOut ? 2 : 3;
    return this.paperOut ? 1 : 0;
  }

  get flags(): number {
    return FLAG_BASE | (this.paperOut ? 0 : FLAG_PAPER) | (this.coverOpen ? FLAG_COVER : 0);
  }

  /** paper out now (passive: submode 1, printing commands get 6Bh) */
  paperOutNow(): void {
    this.paperOut = true;
  }

  /** paper out at a point inside the next receipt */
  paperOutAt(point: PaperOutPoint): void {
    this.paperOutPoint = point;
  }

  /** paper back: submode 1 → 0, or 2 → 3 (waiting for B0h) */
  paperIn(): void {
    this.paperOut = false;
    this.paperOutPoint = undefined;
  }

  setCover(open: boolean): void {
    this.coverOpen = open;
  }

  /** fiscal commands answer `code` (default 14h, FN storage resource exhausted); 0 to repair */
  setFnExhausted(on: boolean, code: number = E.FN_RESOURCE): void {
    this.fnExhaustedCode = on ? code : 0;
  }

  injectError(err: InjectedError): void {
    this.injected.push({ code: err.code, count: err.count ?? 1, ...(err.command === undefined ? {} : { command: err.command }) });
  }

  clearFaults(): void {
    this.paperIn();
    this.printInterrupted = false;
    this.coverOpen = false;
    this.fnExhaustedCode = 0;
    this.injected = [];
  }

  get receiptOpen(): boolean {
    return this.receipt !== undefined;
  }

  // ---------------------------------------------------------------- dispatch

  private execute(code: number, request: Buffer): Result {
    const injected = this.takeInjected(code);
    if (injected !== undefined) return injected;
    const cmd = this.commands.get(code);
    if (!cmd) return E.NOT_SUPPORTED;
    const p = new Reader(request, code > 0xff ? 2 : 1);
    const op = cmd.level === 'none' ? 0 : this.checkPassword(p.uint(4), cmd.level);
    if (op < 0) return E.WRONG_PASSWORD;
    const refusal = this.refusal(cmd);
    if (refusal !== undefined) return refusal;
    return cmd.run({ code, op, p });
  }

  private takeInjected(code: number): number | undefined {
    const i = this.injected.findIndex((e) => e.command === undefined || e.command === code);
    if (i < 0) return undefined;
    const e = this.injected[i]!;
    if (--e.count <= 0) this.injected.splice(i, 1);
    return e.code;
  }

  /** operator number for a password, or -1 */
  private checkPassword(pwd: number, level: Level): number {
    if (level === 'admin') return pwd === 29 || pwd === 30 ? pwd : -1;
    return pwd >= 1 && pwd <= 30 ? pwd : -1;
  }

  private refusal(cmd: Command): number | undefined {
    if (cmd.query) return undefined;
    if (this.printInterrupted) return E.WAIT_CONTINUE;
    if (cmd.fiscal && this.fnExhaustedCode) return this.fnExhaustedCode;
    if (cmd.prints && (this.paperOut || this.coverOpen)) return E.NO_PAPER;
    return undefined;
  }

  private commandTable(): Map<number, Command> {
    const c = (level: Level, run: Command['run'], extra: Partial<Command> = {}): Command => ({ level, run, ...extra });
    const query = { query: true };
    const printing = { prints: true };
    const fiscal = { prints: true, fiscal: true };
    const receiptItem = (ctx: Ctx): Result => this.oldItem(ctx);
    return new Map<number, Command>([
      [0x10, c('operator', (x) => this.shortStatus(x), query)],
      [0x11, c('operator', (x) => this.status(x), query)],
      [0x13, c('operator', (x) => opByte(x), query)],
      [0x17, c('operator', (x) => this.printString(x), printing)],
      [0x25, c('operator', (x) => opByte(x), printing)],
      [0x40, c('admin', (x) => this.xReport(x), printing)],
      [0x41, c('admin', (x) => this.zReport(x), fiscal)],
      [0x50, c('operator', (x) => this.cashInOut(x, 'cash_in'), printing)],
      [0x51, c('operator', (x) => this.cashInOut(x, 'cash_out'), printing)],
      [0x80, c('operator', receiptItem, fiscal)],
      [0x81, c('operator', receiptItem, fiscal)],
      [0x82, c('operator', receiptItem, fiscal)],
      [0x83, c('operator', receiptItem, fiscal)],
      [0x85, c('operator', (x) => this.oldClose(x), fiscal)],
      [0x88, c('operator', (x) => this.cancel(x))],
      [0x8d, c('operator', (x) => this.openReceiptCmd(x), fiscal)],
      [0xb0, c('operator', (x) => this.continuePrint(x), query)],
      [0xe0, c('operator', (x) => this.openShiftCmd(x), fiscal)],
      [0xfc, c('none', () => this.deviceType(), query)],
      [0xff01, c('admin', () => this.fnStatus(), query)],
      [0xff02, c('admin', () => Buffer.from(this.journal.identity.fnSerial.padEnd(16).slice(0, 16), 'ascii'), query)],
      [0xff03, c('admin', () => this.fnExpiry(), query)],
      [0xff0a, c('admin', (x) => this.findDocument(x), query)],
      [0xff0b, c('admin', () => this.fnOpenShift(), fiscal)],
      [0xff0c, c('admin', (x) => this.sendTlv(x))],
      [0xff39, c('admin', () => this.ofdStatus(), query)],
      [0xff3f, c('admin', () => writeUIntLE(Math.min(this.journal.ofdQueue().count, 0xffff), 2), query)],
      [0xff40, c('admin', () => this.shiftParams(), query)],
      [0xff41, c('admin', () => (this.journal.shift.open ? E.SHIFT_OPEN : this.noReceipt() ?? EMPTY))],
      [0xff42, c('admin', () => (this.journal.shift.open ? this.noReceipt() ?? EMPTY : E.SHIFT_NOT_OPEN))],
      [0xff43, c('admin', () => this.fnCloseShift(), fiscal)],
      [0xff45, c('admin', (x) => this.closeReceiptV2(x), fiscal)],
      [0xff46, c('admin', (x) => this.operationV2(x), fiscal)],
      [0xff4a, c('admin', (x) => this.correctionV2(x), fiscal)],
      [0xff4d, c('admin', (x) => this.bindTlv(x))],
    ]);
  }

  // ---------------------------------------------------------------- status

  private shiftExpired(): boolean {
    const opened = this.journal.shift.openedAt;
    return opened !== undefined && this.clock.localMs() - parseLocal(opened) >= DAY_MS;
  }

  private shortStatus({ op }: Ctx): Buffer {
    const ops = this.receipt?.items.length ?? 0;
    return Buffer.concat([
      Buffer.from([op]), writeUIntLE(this.flags, 2),
      Buffer.from([this.mode, this.submode, ops & 0xff, 0x9f, 0xf8, 0, 0, (ops >> 8) & 0xff, 0, 0, 0]),
    ]);
  }

  private status({ op }: Ctx): Buffer {
    const now = this.clock.localMs();
    const shift = this.journal.shift;
    const fw = Buffer.from('C2', 'ascii');
    const fwDate = dateDMY(Date.UTC(2024, 2, 15));
    return Buffer.concat([
      Buffer.from([op]), fw, writeUIntLE(35507, 2), fwDate, Buffer.from([1]),
      writeUIntLE(this.journal.lastDocNo & 0xffff, 2), writeUIntLE(this.flags, 2),
      Buffer.from([this.mode, this.submode, 0]), fw, writeUIntLE(35507, 2), fwDate,
      dateDMY(now), timeHMS(now), Buffer.from([0x03]),
      writeUIntLE(Number(BigInt(this.journal.identity.kktSerial) % 2n ** 32n), 4),
      writeUIntLE(shift.open ? shift.number - 1 : shift.number, 2), writeUIntLE(7900, 2), Buffer.from([1, 29]),
      writeUIntLE(Number(this.journal.identity.inn), 6),
    ]);
  }

  private deviceType(): Buffer {
    const m = this.model;
    return Buffer.concat([
      Buffer.from([m.type, m.subtype, m.protocolVersion, m.protocolSubversion, m.model, m.language]),
      encodeText(m.name),
    ]);
  }

  private fnStatus(): Buffer {
    const j = this.journal;
    const last = j.lastDocument;
    return Buffer.concat([
      Buffer.from([0x03, this.receipt ? 0x04 : 0, this.receipt?.items.length ? 1 : 0, j.shift.open ? 1 : 0, this.fnWarnings()]),
      last ? dateTime5(last.dateTime) : Buffer.alloc(5),
      Buffer.from(j.identity.fnSerial.padEnd(16).slice(0, 16), 'ascii'),
      writeUIntLE(j.lastFd, 4),
    ]);
  }

  private fnWarnings(): number {
    const now = this.clock.localMs();
    const left = parseLocal(this.journal.identity.fnExpiry) - now;
    const oldest = this.journal.ofdQueue().first;
    return (left <= 3 * DAY_MS ? 1 : 0) | (left <= 30 * DAY_MS ? 2 : 0)
      | (oldest && now - parseLocal(oldest.dateTime) > 30 * DAY_MS ? 8 : 0);
  }

  private fnExpiry(): Buffer {
    const d = new Date(parseLocal(this.journal.identity.fnExpiry));
    return Buffer.from([d.getUTCFullYear() - 2000, d.getUTCMonth() + 1, d.getUTCDate()]);
  }

  private findDocument({ p }: Ctx): Result {
    const doc = this.journal.find(p.uint(4));
    if (!doc) return E.FN_NO_DATA;
    const head = Buffer.concat([
      Buffer.from([doc.type, this.journal.isAcknowledged(doc.fd) ? 1 : 0]), dateTime5(doc.dateTime),
      writeUIntLE(doc.fd, 4), writeUIntLE(doc.fiscalSign, 4),
    ]);
    if (doc.type === 3 || doc.type === 31) return Buffer.concat([head, Buffer.from([doc.operation ?? 0]), writeUIntLE(doc.total ?? 0, 5)]);
    if (doc.type === 2 || doc.type === 5) return Buffer.concat([head, writeUIntLE(doc.shift, 2)]);
    return head;
  }

  private ofdStatus(): Buffer {
    const q = this.journal.ofdQueue();
    return Buffer.concat([
      Buffer.from([0, 0]), writeUIntLE(Math.min(q.count, 0xffff), 2), writeUIntLE(q.first?.fd ?? 0, 4),
      q.first ? dateTime5(q.first.dateTime) : Buffer.alloc(5),
    ]);
  }

  private shiftParams(): Buffer {
    const s = this.journal.shift;
    return Buffer.concat([Buffer.from([s.open ? 1 : 0]), writeUIntLE(s.number & 0xffff, 2), writeUIntLE(s.receiptNo & 0xffff, 2)]);
  }

  // ---------------------------------------------------------------- printing, reports, cash

  private printString({ op, p }: Ctx): Buffer {
    p.uint(1);
    p.rest(40);
    return Buffer.from([op]);
  }

  private continuePrint({ op }: Ctx): Result {
    if (this.printInterrupted && this.paperOut) return E.NO_PAPER;
    this.printInterrupted = false;
    return Buffer.from([op]);
  }

  private xReport({ op }: Ctx): Result {
    const busy = this.noReceipt();
    if (busy !== undefined) return busy;
    this.journal.addNonFiscal({ type: 'x_report', dateTime: this.clock.isoLocal(), shift: this.journal.shift.number });
    return Buffer.from([op]);
  }

  private cashInOut({ op, p }: Ctx, type: 'cash_in' | 'cash_out'): Result {
    const sum = p.uint(5);
    const refusal = this.noReceipt() ?? this.needShift();
    if (refusal !== undefined) return refusal;
    if (type === 'cash_out' && sum > this.cashInDrawer()) return E.NO_CASH;
    const doc = this.journal.addNonFiscal({ type, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number, sum });
    return Buffer.concat([Buffer.from([op]), writeUIntLE(doc.docNo & 0xffff, 2)]);
  }

  private cashInDrawer(): number {
    const c = this.journal.shift.counters;
    const cash = (op: '1' | '2' | '3' | '4'): number => c.payments[op].cash;
    return c.cashIn - c.cashOut + cash('1') - cash('2') - cash('3') + cash('4');
  }

  /** 4Ah when a receipt is open */
  private noReceipt(): number | undefined {
    return this.receipt ? E.RECEIPT_OPEN : undefined;
  }

  /** a shift open and under 24 h */
  private needShift(): number | undefined {
    if (!this.journal.shift.open) return E.SHIFT_NOT_OPEN;
    return this.shiftExpired() ? E.SHIFT_24H : undefined;
  }

  // ---------------------------------------------------------------- shifts

  private openShiftCmd({ op }: Ctx): Result {
    const r = this.openShift();
    return typeof r === 'number' ? r : Buffer.from([op]);
  }

  private fnOpenShift(): Result {
    const r = this.openShift();
    return typeof r === 'number' ? r : Buffer.concat([writeUIntLE(r.shift, 2), writeUIntLE(r.fd, 4), writeUIntLE(r.fiscalSign, 4)]);
  }

  private openShift(): FiscalDocument | number {
    if (this.receipt) return E.RECEIPT_OPEN;
    if (this.journal.shift.open) return E.SHIFT_OPEN;
    return this.form({ type: 2, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number + 1, tags: this.takeShiftTags() });
  }

  private zReport({ op }: Ctx): Result {
    const r = this.closeShift();
    return typeof r === 'number' ? r : Buffer.from([op]);
  }

  private fnCloseShift(): Result {
    const r = this.closeShift();
    if (typeof r === 'number') return r;
    return Buffer.concat([writeUIntLE(r.shift, 2), writeUIntLE(r.fd, 4), writeUIntLE(r.fiscalSign, 4), this.dateTail(r)]);
  }

  private closeShift(): FiscalDocument | number {
    if (this.receipt) return E.RECEIPT_OPEN;
    const shift = this.journal.shift;
    if (!shift.open) return E.SHIFT_NOT_OPEN;
    const counters = structuredClone(shift.counters);
    return this.form({ type: 5, dateTime: this.clock.isoLocal(), shift: shift.number, tags: this.takeShiftTags(), counters });
  }

  /** cashier tags sent with FF0C before a shift document; other pending tags stay for the next receipt */
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

  private dateTail(doc: FiscalDocument): Buffer {
    return this.extended ? dateTime5(doc.dateTime) : EMPTY;
  }

  // ---------------------------------------------------------------- receipts

  /** the receipt of `docType`, opening it (and the shift, in mode 4) when none is open */
  private ensureReceipt(docType: number): OpenReceipt | number {
    if (this.receipt) {
      if (this.receipt.docType !== docType) return E.WRONG_RECEIPT_TYPE;
      return this.shiftExpired() ? E.SHIFT_24H : this.receipt;
    }
    if (!this.journal.shift.open) {
      if (!this.autoOpen) return E.SHIFT_NOT_OPEN;
      this.openShift();
    } else if (this.shiftExpired()) {
      return E.SHIFT_24H;
    }
    this.receipt = { docType, operation: DOC_TO_OP[docType]!, items: [] };
    return this.receipt;
  }

  private openReceiptCmd({ op, p }: Ctx): Result {
    const docType = p.uint(1);
    if (!(docType in DOC_TO_OP)) return E.BAD_PARAMS;
    if (this.receipt) return E.RECEIPT_OPEN;
    const r = this.ensureReceipt(docType);
    return typeof r === 'number' ? r : Buffer.from([op]);
  }

  private cancel({ op }: Ctx): Result {
    if (!this.receipt) return E.RECEIPT_CLOSED;
    this.receipt = undefined;
    this.pendingTags = {};
    return Buffer.from([op]);
  }

  /** paper runs out before item k of the receipt (1-based) */
  private paperRunsOutBeforeItem(): boolean {
    const point = this.paperOutPoint;
    if (point?.at !== 'before-item' || point.item !== (this.receipt?.items.length ?? 0) + 1) return false;
    this.paperOutPoint = undefined;
    this.paperOut = true;
    return true;
  }

  private operationV2({ p }: Ctx): Result {
    const type = p.uint(1);
    const quantity = p.uint(6);
    const price = p.uint(5);
    const givenSum = p.optionalUint(5);
    const vatSum = p.optionalUint(5);
    const [taxByte, department, paymentMethod, paymentObject] = [p.uint(1), p.uint(1), p.uint(1), p.uint(1)];
    const name = decodeText(p.rest(128));
    const vat = TAX_BYTES.get(taxByte);
    if (!(type in OP_TO_DOC) || quantity === 0 || vat === undefined) return E.BAD_PARAMS;
    const sum = givenSum ?? roundedProduct(price, quantity, 1_000_000);
    const item: JournalItem = { name, price, quantity, sum, vat, taxByte, paymentMethod, paymentObject, department, tlvs: {} };
    if (vatSum !== undefined) item.vatSum = vatSum;
    return this.addItem(OP_TO_DOC[type]!, item);
  }

  private oldItem({ code, op, p }: Ctx): Result {
    const quantity = p.uint(5) * 1000;
    const price = p.uint(5);
    const department = p.uint(1);
    const taxByte = [p.uint(1), p.uint(1), p.uint(1), p.uint(1)].reduce((m, t) => (t >= 1 && t <= 6 ? m | (1 << (t - 1)) : m), 0);
    const name = decodeText(p.rest(40));
    if (quantity === 0) return E.BAD_PARAMS;
    const item: JournalItem = {
      name, price, quantity, sum: roundedProduct(price, quantity, 1_000_000), vat: TAX_BYTES.get(taxByte) ?? 'none',
      taxByte, paymentMethod: 4, paymentObject: 1, department, tlvs: {},
    };
    const r = this.addItem(code - 0x80, item);
    return typeof r === 'number' ? r : Buffer.from([op]);
  }

  private addItem(docType: number, item: JournalItem): Result {
    if (this.paperRunsOutBeforeItem()) return E.NO_PAPER;
    const receipt = this.ensureReceipt(docType);
    if (typeof receipt === 'number') return receipt;
    if (receipt.items.length >= this.maxItems) return E.RECEIPT_BUFFER_FULL;
    if (item.sum > MAX_MONEY || receiptTotal(receipt) + item.sum > MAX_MONEY) return E.TOTAL_OVERFLOW;
    receipt.items.push(item);
    return EMPTY;
  }

  private sendTlv({ p }: Ctx): Result {
    const tlvs = decodeTlvList(p.rest(), this.tlvEncoding);
    tlvsToMap(tlvs, this.pendingTags);
    return EMPTY;
  }

  private bindTlv({ p }: Ctx): Result {
    const last = this.receipt?.items.at(-1);
    if (!last) return E.RECEIPT_CLOSED;
    tlvsToMap(decodeTlvList(p.rest(), this.tlvEncoding), last.tlvs);
    return EMPTY;
  }

  private closeReceiptV2({ p }: Ctx): Result {
    const slots = Array.from({ length: 16 }, () => p.uint(5));
    p.uint(1);
    p.bytes(30);
    const taxSystem = p.uint(1);
    const doc = this.closeReceipt(slotsToPayments(slots), taxSystem);
    if (typeof doc === 'number') return doc;
    return Buffer.concat([
      writeUIntLE(doc.change ?? 0, 5), writeUIntLE(doc.fd, 4), writeUIntLE(doc.fiscalSign, 4), this.dateTail(doc),
    ]);
  }

  private oldClose({ op, p }: Ctx): Result {
    const [cash, pay2, pay3, pay4] = [p.uint(5), p.uint(5), p.uint(5), p.uint(5)];
    const doc = this.closeReceipt({ cash, electronic: pay2 + pay3 + pay4, prepaid: 0, credit: 0, other: 0 }, 0);
    return typeof doc === 'number' ? doc : Buffer.concat([Buffer.from([op]), writeUIntLE(doc.change ?? 0, 5)]);
  }

  private closeReceipt(tendered: Payments, taxSystemByte: number): FiscalDocument | number {
    const receipt = this.receipt;
    if (!receipt) return E.RECEIPT_CLOSED;
    if (this.shiftExpired()) return E.SHIFT_24H;
    const total = receiptTotal(receipt);
    const checked = checkPayments(total, tendered);
    if (typeof checked === 'number') return checked;
    const taxSystem = this.taxSystem(taxSystemByte);
    if (taxSystem < 0) return E.BAD_PARAMS;
    if ((receipt.operation === 2 || receipt.operation === 3) && checked.payments.cash > this.cashInDrawer()) return E.NO_CASH;
    const tags = this.pendingTags;
    const correction = correctionOf(tags);
    const doc = this.form({
      type: correction ? 31 : 3, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number,
      receiptNo: this.journal.shift.receiptNo + 1, operation: receipt.operation, total, items: receipt.items,
      payments: checked.payments, change: checked.tendered - total, taxSystem, tags, correction,
    });
    this.receipt = undefined;
    this.pendingTags = {};
    this.interruptPrintIfPaperRunsOut();
    return doc;
  }

  /** paper-out "during-close": the document is formed, its print stops (submode 2, then 3 after paper in) */
  private interruptPrintIfPaperRunsOut(): void {
    if (this.paperOutPoint?.at !== 'during-close') return;
    this.paperOutPoint = undefined;
    this.paperOut = true;
    this.printInterrupted = true;
  }

  /** tag 1055 bit for the receipt: 0 = the first registered system; -1 when not registered */
  private taxSystem(byte: number): number {
    const registered = this.journal.identity.taxSystems;
    if (byte === 0) return registered & -registered;
    return (byte & (byte - 1)) === 0 && (byte & registered) !== 0 ? byte : -1;
  }

  private correctionV2({ p }: Ctx): Result {
    const corrType = p.uint(1);
    const operation = p.uint(1);
    const total = p.uint(5);
    const [cash, electronic, prepaid, credit, other] = [p.uint(5), p.uint(5), p.uint(5), p.uint(5), p.uint(5)];
    p.bytes(30);
    const taxSystem = this.taxSystem(p.uint(1));
    if (!(operation in OP_TO_DOC) || corrType > 1 || taxSystem < 0) return E.BAD_PARAMS;
    const refusal = this.noReceipt() ?? this.shiftForReceipt();
    if (refusal !== undefined) return refusal;
    if (total === 0) return E.ZERO_TOTAL;
    const checked = checkPayments(total, { cash, electronic, prepaid, credit, other });
    if (typeof checked === 'number') return checked;
    const correction = correctionOf({ ...this.pendingTags, '1173': String(corrType) })!;
    const doc = this.form({
      type: 31, dateTime: this.clock.isoLocal(), shift: this.journal.shift.number, receiptNo: this.journal.shift.receiptNo + 1,
      operation, total, payments: checked.payments, change: checked.tendered - total, taxSystem, tags: this.pendingTags, correction,
    });
    this.pendingTags = {};
    return Buffer.concat([writeUIntLE(doc.receiptNo! & 0xffff, 2), writeUIntLE(doc.fd, 4), writeUIntLE(doc.fiscalSign, 4), this.dateTail(doc)]);
  }

  /** shift state for a new receipt: opens it in mode 4 when allowed */
  private shiftForReceipt(): number | undefined {
    if (this.journal.shift.open) return this.shiftExpired() ? E.SHIFT_24H : undefined;
    if (!this.autoOpen) return E.SHIFT_NOT_OPEN;
    this.openShift();
    return undefined;
  }
}

// ---------------------------------------------------------------- helpers

function commandOf(request: Buffer): number {
  if (request.length === 0) return -1;
  if (request[0] === 0xff) return request.length >= 2 ? 0xff00 | request[1]! : -1;
  return request[0]!;
}

function codeBytes(code: number): Buffer {
  return code > 0xff ? Buffer.from([0xff, code & 0xff]) : Buffer.from([code]);
}

function okAnswer(code: number, data: Buffer): Buffer {
  return Buffer.concat([codeBytes(code), Buffer.from([E.OK]), data]);
}

function errorAnswer(code: number, error: number): Buffer {
  return Buffer.concat([codeBytes(code), Buffer.from([error])]);
}

function opByte({ op }: Ctx): Buffer {
  return Buffer.from([op]);
}

/** round(a × b / div), half up, exact for any 5- and 6-byte operands */
function roundedProduct(a: number, b: number, div: number): number {
  const d = BigInt(div);
  return Number((BigInt(a) * BigInt(b) + d / 2n) / d);
}

function receiptTotal(r: OpenReceipt): number {
  return r.items.reduce((s, i) => s + i.sum, 0);
}

/** FF45 slots: 1 cash, 2–13 electronic, 14 prepaid (1215), 15 credit (1216), 16 other (1217) */
function slotsToPayments(slots: number[]): Payments {
  const electronic = slots.slice(1, 13).reduce((s, v) => s + v, 0);
  return { cash: slots[0]!, electronic, prepaid: slots[13]!, credit: slots[14]!, other: slots[15]! };
}

/** Payments against the total: the recorded payments (cash net of change), or an error code. */
function checkPayments(total: number, t: Payments): ClosePayments | number {
  if (total === 0) return E.ZERO_TOTAL;
  const nonCash = t.electronic + t.prepaid + t.credit + t.other;
  if (nonCash > total) return E.NONCASH_ABOVE_TOTAL;
  if (nonCash + t.cash < total) return E.PAYMENTS_LESS;
  return { payments: { ...t, cash: total - nonCash }, tendered: nonCash + t.cash, nonCash };
}

/** tag 1173 (and 1174 with 1178/1179) make a receipt a correction receipt */
function correctionOf(tags: TagMap): CorrectionInfo | undefined {
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

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

