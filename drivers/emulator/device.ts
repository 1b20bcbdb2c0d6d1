/**
 * The Shtrih-M wire front-end of the register (kkt-protocols.md §1.5–§1.10): request payload in, answer payload
 * out. Decodes requests and encodes answers itself, from the spec; shares no command codec with the host driver.
 * The fiscal logic (journal, shifts, receipts, paper) is the shared FiscalRegister (register.ts); this file maps
 * its RegisterErrors to Shtrih error codes.
 */
import { decodeText, encodeText, writeUIntLE } from '../shtrih/bytes.ts';
import type { Payments } from '../types.ts';
import { DeviceClock, dateDMY, dateTime5, parseLocal, timeHMS } from './clock.ts';
import { blocksOf, encodeDocumentTlvs } from './fd-tlv.ts';
import { OPS, paymentByType, registrationAnswer, shiftFigures } from './figures.ts';
import { registrationOf, type FiscalDocument, type Journal, type JournalItem, type OperationKey } from './journal.ts';
import { Reader } from './reader.ts';
import {
  FiscalRegister, InjectedErrors, RegisterError, roundedProduct, type InjectedError, type PaperOutPoint, type RegisterErrorCode,
} from './register.ts';
import {
  DAY_MS, DOC_TO_OP, E, FLAG_BASE, FLAG_COVER, FLAG_PAPER, OP_TO_DOC, SHTRIH_M_01F, TAX_BYTES,
  type DeviceModel,
} from './tables.ts';
import { decodeTlvList, tlvsToMap } from './tlv-decode.ts';

export type { PaperOutPoint, InjectedError } from './register.ts';

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
  /** an existing register model to drive (one is made from journal/clock otherwise) */
  register?: FiscalRegister;
}

/** What the emulator, its control commands and the tests need from any protocol's device. */
export interface EmulatedDevice {
  readonly register: FiscalRegister;
  /** protocol-specific mode number (Shtrih: 2/3/4/8|type<<4; ATOL: mode | submode << 4) */
  readonly mode: number;
  readonly submode: number;
  readonly receiptOpen: boolean;
  paperOutNow(): void;
  paperOutAt(point: PaperOutPoint): void;
  paperIn(): void;
  setCover(open: boolean): void;
  setFnExhausted(on: boolean, code?: number): void;
  injectError(err: InjectedError): void;
  clearFaults(): void;
}

/** RegisterError → Shtrih error code (§1.10) */
const SHTRIH_CODES: Record<RegisterErrorCode, number> = {
  BAD_PARAMS: E.BAD_PARAMS,
  SHIFT_OPEN: E.SHIFT_OPEN,
  SHIFT_NOT_OPEN: E.SHIFT_NOT_OPEN,
  SHIFT_EXPIRED: E.SHIFT_24H,
  RECEIPT_OPEN: E.RECEIPT_OPEN,
  RECEIPT_CLOSED: E.RECEIPT_CLOSED,
  WRONG_RECEIPT_TYPE: E.WRONG_RECEIPT_TYPE,
  RECEIPT_FULL: E.RECEIPT_BUFFER_FULL,
  TOTAL_OVERFLOW: E.TOTAL_OVERFLOW,
  ZERO_TOTAL: E.ZERO_TOTAL,
  PAYMENTS_LESS: E.PAYMENTS_LESS,
  NONCASH_ABOVE_TOTAL: E.NONCASH_ABOVE_TOTAL,
  NO_CASH: E.NO_CASH,
  NO_PAPER: E.NO_PAPER,
  WAIT_CONTINUE: E.WAIT_CONTINUE,
  FN_EXHAUSTED: E.FN_RESOURCE,
  NO_DATA: E.FN_NO_DATA,
};

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

const EMPTY = Buffer.alloc(0);
/** closing commands and reports: they take the print time */
const LONG_PRINTS = new Set([0x40, 0x41, 0x50, 0x51, 0x85, 0xe0, 0xff0b, 0xff43, 0xff45, 0xff4a]);

export class ShtrihDevice implements EmulatedDevice {
  readonly clock: DeviceClock;
  readonly journal: Journal;
  readonly register: FiscalRegister;
  private readonly extended: boolean;
  private readonly tlvEncoding: string;
  private readonly model: DeviceModel;
  private readonly commands: Map<number, Command>;
  private fnExhaustedCode: number = E.FN_RESOURCE;
  private readonly injected = new InjectedErrors();
  /** FF3A/FF3B document being read: its TLV blocks and the next one */
  private reading: { blocks: Buffer[]; next: number } | undefined;

  constructor(opts: DeviceOptions) {
    this.register = opts.register ?? new FiscalRegister({
      journal: opts.journal, clock: opts.clock,
      ...(opts.autoOpenShift === undefined ? {} : { autoOpenShift: opts.autoOpenShift }),
      ...(opts.maxItems === undefined ? {} : { maxItems: opts.maxItems }),
    });
    this.journal = this.register.journal;
    this.clock = this.register.clock;
    this.extended = opts.extendedFdAnswers ?? true;
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
      if (e instanceof RegisterError) return errorAnswer(code, SHTRIH_CODES[e.code]);
      return errorAnswer(code, e instanceof RangeError ? E.BAD_PARAMS : 0x39);
    }
  }

  /** Whether the command closes a document or prints a report (the link models its print time). */
  printsLong(request: Buffer): boolean {
    return LONG_PRINTS.has(commandOf(request));
  }

  get mode(): number {
    const r = this.register.receipt;
    if (r) return 8 | (OP_TO_DOC[r.operation]! << 4);
    if (!this.journal.shift.open) return 4;
    return this.register.shiftExpired() ? 3 : 2;
  }

  get submode(): number {
    const r = this.register;
    if (r.printInterrupted) return r.paperOut ? 2 : 3;
    return r.paperOut ? 1 : 0;
  }

  get flags(): number {
    return FLAG_BASE | (this.register.paperOut ? 0 : FLAG_PAPER) | (this.register.coverOpen ? FLAG_COVER : 0);
  }

  /** paper out now (passive: submode 1, printing commands get 6Bh) */
  paperOutNow(): void {
    this.register.paperOutNow();
  }

  /** paper out at a point inside the next receipt */
  paperOutAt(point: PaperOutPoint): void {
    this.register.paperOutAt(point);
  }

  /** paper back: submode 1 → 0, or 2 → 3 (waiting for B0h) */
  paperIn(): void {
    this.register.paperIn();
  }

  setCover(open: boolean): void {
    this.register.setCover(open);
  }

  /** fiscal commands answer `code` (default 14h, FN storage resource exhausted); off to repair */
  setFnExhausted(on: boolean, code: number = E.FN_RESOURCE): void {
    this.register.setFnExhausted(on);
    this.fnExhaustedCode = code;
  }

  injectError(err: InjectedError): void {
    this.injected.add(err);
  }

  clearFaults(): void {
    this.register.clearFaults();
    this.injected.clear();
  }

  get receiptOpen(): boolean {
    return this.register.receipt !== undefined;
  }

  // ---------------------------------------------------------------- dispatch

  private execute(code: number, request: Buffer): Result {
    const injected = this.injected.take(code);
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

  /** operator number for a password, or -1 */
  private checkPassword(pwd: number, level: Level): number {
    if (level === 'admin') return pwd === 29 || pwd === 30 ? pwd : -1;
    return pwd >= 1 && pwd <= 30 ? pwd : -1;
  }

  private refusal(cmd: Command): number | undefined {
    if (cmd.query) return undefined;
    const r = this.register;
    if (r.printInterrupted) return E.WAIT_CONTINUE;
    if (cmd.fiscal && r.fnExhausted && this.fnExhaustedCode) return this.fnExhaustedCode;
    if (cmd.prints && (r.paperOut || r.coverOpen)) return E.NO_PAPER;
    return undefined;
  }

  private commandTable(): Map<number, Command> {
    const c = (level: Level, run: Command['run'], extra: Partial<Command> = {}): Command => ({ level, run, ...extra });
    const query = { query: true };
    const printing = { prints: true };
    const fiscal = { prints: true, fiscal: true };
    const receiptItem = (ctx: Ctx): Result => this.oldItem(ctx);
    const r = this.register;
    return new Map<number, Command>([
      [0x10, c('operator', (x) => this.shortStatus(x), query)],
      [0x11, c('operator', (x) => this.status(x), query)],
      [0x13, c('operator', (x) => opByte(x), query)],
      [0x17, c('operator', (x) => this.printString(x), printing)],
      [0x1a, c('operator', (x) => this.cashRegister(x), query)],
      [0x1b, c('operator', (x) => this.operatingRegister(x), query)],
      [0x1f, c('admin', (x) => this.readTable(x), query)],
      [0x25, c('operator', (x) => opByte(x), printing)],
      [0x2e, c('admin', (x) => this.fieldStructure(x), query)],
      [0x40, c('admin', (x) => (r.xReport(), opByte(x)), printing)],
      [0x41, c('admin', (x) => (r.closeShift(), opByte(x)), fiscal)],
      [0x50, c('operator', (x) => this.cashInOut(x, 'cash_in'), printing)],
      [0x51, c('operator', (x) => this.cashInOut(x, 'cash_out'), printing)],
      [0x80, c('operator', receiptItem, fiscal)],
      [0x81, c('operator', receiptItem, fiscal)],
      [0x82, c('operator', receiptItem, fiscal)],
      [0x83, c('operator', receiptItem, fiscal)],
      [0x85, c('operator', (x) => this.oldClose(x), fiscal)],
      [0x88, c('operator', (x) => (r.cancelReceipt(), opByte(x)))],
      [0x8d, c('operator', (x) => this.openReceiptCmd(x), fiscal)],
      [0xb0, c('operator', (x) => (r.continuePrint(), opByte(x)), query)],
      [0xe0, c('operator', (x) => (r.openShift(), opByte(x)), fiscal)],
      [0xfc, c('none', () => this.deviceType(), query)],
      [0xfe, c('none', (x) => this.service(x), query)],
      [0xff01, c('admin', () => this.fnStatus(), query)],
      [0xff02, c('admin', () => Buffer.from(this.journal.identity.fnSerial.padEnd(16).slice(0, 16), 'ascii'), query)],
      [0xff03, c('admin', () => this.fnExpiry(), query)],
      [0xff09, c('admin', () => this.fiscalization(), query)],
      [0xff0a, c('admin', (x) => this.findDocument(x), query)],
      [0xff0b, c('admin', () => this.fnOpenShift(), fiscal)],
      [0xff0c, c('admin', (x) => this.sendTlv(x))],
      [0xff39, c('admin', () => this.ofdStatus(), query)],
      [0xff3a, c('admin', (x) => this.documentTlvBegin(x), query)],
      [0xff3b, c('admin', () => this.documentTlvNext(), query)],
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

  private shortStatus({ op }: Ctx): Buffer {
    const ops = this.register.receipt?.items.length ?? 0;
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
    const receipt = this.register.receipt;
    return Buffer.concat([
      Buffer.from([0x03, receipt ? 0x04 : 0, receipt?.items.length ? 1 : 0, j.shift.open ? 1 : 0, this.fnWarnings()]),
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

  // ---------------------------------------------------------------- the register's own figures (§1.11)

  /** 1Ah number(1 byte for 0–255, 2 bytes LE for ≥ 256) → operator1 value6 (LE, kopecks) */
  private cashRegister({ op, p }: Ctx): Result {
    const number = p.remaining >= 2 ? p.uint(2) : p.uint(1);
    const value = this.cashRegisterValue(number);
    if (value === undefined) return E.BAD_PARAMS;
    return Buffer.concat([Buffer.from([op]), writeUIntLE(value, 6)]);
  }

  /**
   * Cash registers: groups of four ordered приход, расход, возврат прихода, возврат расхода; 193–208 payment types
   * 1–4 in the shift, 241 cash in drawer, 242/243 cash in/out, 4144 + (type − 5)·4 + k for types 5–16.
   * undefined for a register this model does not keep.
   */
  cashRegisterValue(number: number): number | undefined {
    const f = shiftFigures(this.journal, this.register.cashInDrawer());
    const inGroup = (base: number, type: number): number => paymentByType(f.payments[SHTRIH_GROUP_ORDER[(number - base) % 4]!], type);
    if (number >= 193 && number <= 208) return inGroup(193, 1 + Math.floor((number - 193) / 4));
    if (number >= 4144 && number <= 4191) return inGroup(4144, 5 + Math.floor((number - 4144) / 4));
    if (number === 241) return f.cashInDrawer;
    if (number === 242) return f.cashIn;
    if (number === 243) return f.cashOut;
    return undefined;
  }

  /** 1Bh number1 → operator1 value2 */
  private operatingRegister({ op, p }: Ctx): Result {
    const value = this.operatingRegisterValue(p.uint(1));
    if (value === undefined) return E.BAD_PARAMS;
    return Buffer.concat([Buffer.from([op]), writeUIntLE(value & 0xffff, 2)]);
  }

  /** 144–147 receipts per operation (group order), 153/154 cash-in/out counts, 202/203 correction receipts приход/расход */
  operatingRegisterValue(number: number): number | undefined {
    const f = shiftFigures(this.journal, this.register.cashInDrawer());
    if (number >= 144 && number <= 147) return f.receipts[SHTRIH_GROUP_ORDER[number - 144]!];
    if (number === 153) return f.cashInCount;
    if (number === 154) return f.cashOutCount;
    if (number === 202) return f.corrections['1'] + f.corrections['2'];
    if (number === 203) return f.corrections['3'] + f.corrections['4'];
    return undefined;
  }

  /** FE F4 param(u32 LE): 00 → 4 × u64 LE per operation; 01–04 → 16 × u64 by payment type; 05 → 4 correction totals */
  private service({ p }: Ctx): Result {
    const fn = p.uint(1);
    if (fn !== 0xf4) return E.NOT_SUPPORTED;
    const param = p.remaining >= 4 ? p.uint(4) : p.remaining > 0 ? p.uint(p.remaining) : 0;
    const cum = this.journal.cumulativeDetail;
    let values: number[];
    if (param === 0) values = OPS.map((o) => cum.totals[o]);
    else if (param >= 1 && param <= 4) values = Array.from({ length: 16 }, (_, i) => paymentByType(cum.payments[OPS[param - 1]!], i + 1));
    else if (param === 5) values = OPS.map((o) => cum.corrections[o]);
    else return E.BAD_PARAMS;
    return Buffer.concat(values.map(u64));
  }

  /** FF09: FFD 1.05 47 bytes, FFD 1.2 64 bytes (§1.11) */
  private fiscalization(): Buffer {
    return registrationAnswer(registrationOf(this.journal.identity));
  }

  /** 1Fh table1 row2 field1 → the value, strings NUL-padded to the field size (table 18 «Fiscal storage», row 1) */
  private readTable({ p }: Ctx): Result {
    const [table, row, field] = [p.uint(1), p.uint(2), p.uint(1)];
    const f = this.tableField(table, field);
    if (!f || row !== 1) return E.BAD_PARAMS;
    const value = Buffer.alloc(f.size);
    encodeText(f.value).copy(value, 0, 0, f.size);
    return value;
  }

  /** 2Eh table1 field1 → name(40) type1 (1 string) size1 */
  private fieldStructure({ p }: Ctx): Result {
    const [table, field] = [p.uint(1), p.uint(1)];
    const f = this.tableField(table, field);
    if (!f) return E.BAD_PARAMS;
    const name = Buffer.alloc(40);
    encodeText(f.name).copy(name, 0, 0, 40);
    return Buffer.concat([name, Buffer.from([1, f.size])]);
  }

  private tableField(table: number, field: number): { name: string; size: number; value: string } | undefined {
    if (table !== 18) return undefined;
    const id = this.journal.identity;
    return ({
      1: { name: 'ЗАВОДСКОЙ НОМЕР ККТ', size: 20, value: id.kktSerial },
      2: { name: 'ИНН', size: 12, value: id.inn },
      3: { name: 'РНМ', size: 20, value: id.registrationNumber },
      4: { name: 'ЗАВОДСКОЙ НОМЕР ФН', size: 16, value: id.fnSerial },
    } as Record<number, { name: string; size: number; value: string }>)[field];
  }

  /** FF3A fd4 → docType2 size2 (LE); the TLVs follow with FF3B */
  private documentTlvBegin({ p }: Ctx): Result {
    const doc = this.journal.document(p.uint(4));
    if (!doc) return E.FN_NO_DATA;
    const tlvs = encodeDocumentTlvs(doc, this.journal.identity);
    this.reading = { blocks: blocksOf(tlvs, TLV_BLOCK), next: 0 };
    return Buffer.concat([writeUIntLE(doc.type, 2), writeUIntLE(tlvs.reduce((s, t) => s + t.length, 0), 2)]);
  }

  /** FF3B → the next block: one top-level TLV (cut at 250 bytes); 08h when all were read */
  private documentTlvNext(): Result {
    const r = this.reading;
    if (!r || r.next >= r.blocks.length) return E.FN_NO_DATA;
    return r.blocks[r.next++]!;
  }

  // ---------------------------------------------------------------- printing, reports, cash

  private printString({ op, p }: Ctx): Buffer {
    const flags = p.uint(1);
    const text = decodeText(p.rest(40));
    // bit1: the receipt tape (the journal tape, bit0, is not modelled)
    if (flags & 0x02) this.register.printLine(text);
    return Buffer.from([op]);
  }

  private cashInOut({ op, p }: Ctx, type: 'cash_in' | 'cash_out'): Result {
    const sum = p.uint(5);
    const doc = this.register.cashInOut(type, sum);
    return Buffer.concat([Buffer.from([op]), writeUIntLE(doc.docNo & 0xffff, 2)]);
  }

  /** 4Ah when a receipt is open */
  private noReceipt(): number | undefined {
    return this.register.receipt ? E.RECEIPT_OPEN : undefined;
  }

  // ---------------------------------------------------------------- shifts

  private fnOpenShift(): Result {
    const r = this.register.openShift();
    return Buffer.concat([writeUIntLE(r.shift, 2), writeUIntLE(r.fd, 4), writeUIntLE(r.fiscalSign, 4)]);
  }

  private fnCloseShift(): Result {
    const r = this.register.closeShift();
    return Buffer.concat([writeUIntLE(r.shift, 2), writeUIntLE(r.fd, 4), writeUIntLE(r.fiscalSign, 4), this.dateTail(r)]);
  }

  private dateTail(doc: FiscalDocument): Buffer {
    return this.extended ? dateTime5(doc.dateTime) : EMPTY;
  }

  // ---------------------------------------------------------------- receipts

  private openReceiptCmd({ op, p }: Ctx): Result {
    const docType = p.uint(1);
    if (!(docType in DOC_TO_OP)) return E.BAD_PARAMS;
    this.register.beginReceipt(DOC_TO_OP[docType]!);
    return Buffer.from([op]);
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
    this.register.addItem(type, item);
    return EMPTY;
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
    this.register.addItem(DOC_TO_OP[code - 0x80]!, item);
    return Buffer.from([op]);
  }

  private sendTlv({ p }: Ctx): Result {
    const tlvs = decodeTlvList(p.rest(), this.tlvEncoding);
    tlvsToMap(tlvs, this.register.pendingTags);
    return EMPTY;
  }

  private bindTlv({ p }: Ctx): Result {
    const last = this.register.lastItem();
    tlvsToMap(decodeTlvList(p.rest(), this.tlvEncoding), last.tlvs);
    return EMPTY;
  }

  private closeReceiptV2({ p }: Ctx): Result {
    const slots = Array.from({ length: 16 }, () => p.uint(5));
    p.uint(1);
    p.bytes(30);
    const taxSystem = p.uint(1);
    const doc = this.register.closeReceipt(slotsToPayments(slots), taxSystem);
    return Buffer.concat([
      writeUIntLE(doc.change ?? 0, 5), writeUIntLE(doc.fd, 4), writeUIntLE(doc.fiscalSign, 4), this.dateTail(doc),
    ]);
  }

  private oldClose({ op, p }: Ctx): Result {
    const [cash, pay2, pay3, pay4] = [p.uint(5), p.uint(5), p.uint(5), p.uint(5)];
    const doc = this.register.closeReceipt({ cash, electronic: pay2 + pay3 + pay4, prepaid: 0, credit: 0, other: 0 }, 0);
    return Buffer.concat([Buffer.from([op]), writeUIntLE(doc.change ?? 0, 5)]);
  }

  private correctionV2({ p }: Ctx): Result {
    const corrType = p.uint(1);
    const operation = p.uint(1);
    const total = p.uint(5);
    const [cash, electronic, prepaid, credit, other] = [p.uint(5), p.uint(5), p.uint(5), p.uint(5), p.uint(5)];
    p.bytes(30);
    const taxSystem = p.uint(1);
    const doc = this.register.correctionReceipt(corrType, operation, total, { cash, electronic, prepaid, credit, other }, taxSystem);
    return Buffer.concat([writeUIntLE(doc.receiptNo! & 0xffff, 2), writeUIntLE(doc.fd, 4), writeUIntLE(doc.fiscalSign, 4), this.dateTail(doc)]);
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

/** tag 1054 operations in the order of Shtrih's register groups: приход, расход, возврат прихода, возврат расхода */
const SHTRIH_GROUP_ORDER: readonly OperationKey[] = ['1', '3', '2', '4'];
/** FF3B block size limit (the answer frame holds 255 bytes with FF 3B and the error byte) */
const TLV_BLOCK = 250;

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

function opByte({ op }: Ctx): Buffer {
  return Buffer.from([op]);
}

/** FF45 slots: 1 cash, 2–13 electronic, 14 prepaid (1215), 15 credit (1216), 16 other (1217) */
function slotsToPayments(slots: number[]): Payments {
  const electronic = slots.slice(1, 13).reduce((s, v) => s + v, 0);
  return { cash: slots[0]!, electronic, prepaid: slots[13]!, credit: slots[14]!, other: slots[15]! };
}
