/**
 * The ATOL v3 / 3.1 command front-end of the register (kkt-protocols.md §2.3): a task payload (access password,
 * command code, parameters) in, the command's answer out. The fiscal logic is the shared FiscalRegister
 * (../register.ts); this file decodes ATOL requests, keeps the ATOL modes, and maps RegisterErrors to ATOL codes.
 * See README.md in this folder for every layout and each ⚠ decision.
 */
import { writeUIntLE } from '../../shtrih/bytes.ts';
import type { Payments } from '../../types.ts';
import { DeviceClock, dateTime5, formatLocal, parseLocal } from '../clock.ts';
import type { EmulatedDevice } from '../device.ts';
import { registrationOf, type FiscalDocument, type Journal, type JournalItem, type TagMap } from '../journal.ts';
import { registrationAnswer } from '../figures.ts';
import { Reader } from '../reader.ts';
import {
  DAY_MS, FiscalRegister, InjectedErrors, RegisterError, roundedProduct, type InjectedError, type PaperOutPoint,
  type RegisterErrorCode,
} from '../register.ts';
import { decodeTlvList, tlvsToMap } from '../tlv-decode.ts';
import { bcd, bcdOrBinary, decodeText, encodeText, fixedText, readBcd } from './codec.ts';
import { encodeDocumentTlvs } from '../fd-tlv.ts';

/** ATOL error codes (the `err` of `55 err ext`) */
export const AE = {
  OK: 0x00,
  BAD_FORMAT: 0x13,
  NO_MORE_DATA: 0x18,
  NOT_IN_MODE: 0x66,
  NO_PAPER: 0x67,
  WRONG_RECEIPT_TYPE: 0x6a,
  BAD_REGISTER: 0x6c,
  NONCASH_ABOVE_TOTAL: 0x71,
  PAYMENTS_LESS: 0x72,
  PREVIOUS_NOT_DONE: 0x76,
  BAD_PAYMENT_TYPE: 0x7e,
  TOTAL_OVERFLOW: 0x81,
  SHIFT_24H: 0x88,
  WRONG_PASSWORD: 0x8c,
  ALREADY_CLEARED: 0x8f,
  BAD_TABLE: 0x91,
  BAD_ROW: 0x92,
  BAD_FIELD: 0x93,
  NO_CASH: 0x98,
  RECEIPT_CLOSED: 0x9a,
  RECEIPT_OPEN: 0x9b,
  SHIFT_OPEN: 0x9c,
  FN_ARCHIVE_FULL: 0xd8,
  FN_NO_DATA: 0xda,
  TOO_MANY_ITEMS: 0xf3,
  UNKNOWN_COMMAND: 0x46,
} as const;

const ATOL_CODES: Record<RegisterErrorCode, number> = {
  BAD_PARAMS: AE.BAD_FORMAT,
  SHIFT_OPEN: AE.SHIFT_OPEN,
  SHIFT_NOT_OPEN: AE.NOT_IN_MODE,
  SHIFT_EXPIRED: AE.SHIFT_24H,
  RECEIPT_OPEN: AE.RECEIPT_OPEN,
  RECEIPT_CLOSED: AE.RECEIPT_CLOSED,
  WRONG_RECEIPT_TYPE: AE.WRONG_RECEIPT_TYPE,
  RECEIPT_FULL: AE.TOO_MANY_ITEMS,
  TOTAL_OVERFLOW: AE.TOTAL_OVERFLOW,
  ZERO_TOTAL: AE.NOT_IN_MODE,
  PAYMENTS_LESS: AE.PAYMENTS_LESS,
  NONCASH_ABOVE_TOTAL: AE.NONCASH_ABOVE_TOTAL,
  NO_CASH: AE.NO_CASH,
  NO_PAPER: AE.NO_PAPER,
  WAIT_CONTINUE: AE.PREVIOUS_NOT_DONE,
  FN_EXHAUSTED: AE.FN_ARCHIVE_FULL,
  NO_DATA: AE.FN_NO_DATA,
};

/**
 * The tax-rate table, table 13 «Налоги» ([A6]: field 1 name, 2 rate, 3 tax tag), read with 46. Row = the EB/E6
 * taxType. Rows 1–6 in ATOL's factory order as [A2] knows it (20 %, 10 %, 0 %, none, 20/120, 10/110 — Crystal reads
 * rows 1–6, field 1 and 2, and sends the row); rows 7–12 hold the rates added in 2025–2026. Field 2 is the rate × 100
 * (BCD2), field 3 the tag-1199 code (1 byte) ⚠ — on a real device it may be the VAT-sum tag (1102…) instead.
 */
export const TAX_TABLE = 13;
export const TAX_ROWS: ReadonlyArray<{ row: number; name: string; rate: number; code1199: number; vat: string }> = [
  { row: 1, name: 'НДС 20%', rate: 2000, code1199: 1, vat: 'vat20' },
  { row: 2, name: 'НДС 10%', rate: 1000, code1199: 2, vat: 'vat10' },
  { row: 3, name: 'НДС 0%', rate: 0, code1199: 5, vat: 'vat0' },
  { row: 4, name: 'БЕЗ НДС', rate: 0, code1199: 6, vat: 'none' },
  { row: 5, name: 'НДС 20/120', rate: 2000, code1199: 3, vat: 'vat120' },
  { row: 6, name: 'НДС 10/110', rate: 1000, code1199: 4, vat: 'vat110' },
  { row: 7, name: 'НДС 5%', rate: 500, code1199: 7, vat: 'vat5' },
  { row: 8, name: 'НДС 7%', rate: 700, code1199: 8, vat: 'vat7' },
  { row: 9, name: 'НДС 5/105', rate: 500, code1199: 9, vat: 'vat105' },
  { row: 10, name: 'НДС 7/107', rate: 700, code1199: 10, vat: 'vat107' },
  { row: 11, name: 'НДС 22%', rate: 2200, code1199: 11, vat: 'vat22' },
  { row: 12, name: 'НДС 22/122', rate: 2200, code1199: 12, vat: 'vat122' },
];

/** 92 receipt type → tag 1054 and correction flag (⚠ 7/8/9/10, see README) */
const RECEIPT_TYPES: Record<number, { operation: number; correction: boolean }> = {
  1: { operation: 1, correction: false },
  2: { operation: 2, correction: false },
  4: { operation: 3, correction: false },
  5: { operation: 4, correction: false },
  7: { operation: 1, correction: true },
  8: { operation: 2, correction: true },
  9: { operation: 3, correction: true },
  10: { operation: 4, correction: true },
};
const OPERATION_TO_TYPE: Record<number, number> = { 1: 1, 2: 2, 3: 4, 4: 5 };
const CORRECTION_TYPE: Record<number, number> = { 1: 7, 2: 8, 4: 9, 5: 10 };

export interface AtolModel {
  /** A5: protocol version, device type, model id, mode flags (2) */
  protocol: number;
  type: number;
  model: number;
  mode: Buffer;
  name: string;
  /** A5 firmware version, 5 bytes: major, minor, language, build (BCD2) */
  version: Buffer;
}

/**
 * A5 laid out as [A1]'s capture of a real device (`00 01 01 4C 10 00 03 00 00 21 95 «Казначей ФА»`): protocol 01,
 * type 01, mode 10 00, version BCD. ⚠ model id 61 for АТОЛ 30Ф and the build number are not confirmed by a capture.
 */
export const ATOL_30F: AtolModel = {
  protocol: 0x01, type: 0x01, model: 61, mode: Buffer.from([0x10, 0x00]), name: 'АТОЛ 30Ф', version: Buffer.from([0x03, 0x00, 0x00, 0x54, 0x36]),
};

/** 3F interface byte: 1 RS-232, 4 USB, 5 Bluetooth/Wi-Fi, 6 Ethernet */
export type AtolInterface = 1 | 4 | 5 | 6;

export interface AtolDeviceOptions {
  journal: Journal;
  clock: DeviceClock;
  register?: FiscalRegister;
  autoOpenShift?: boolean;
  maxItems?: number;
  model?: AtolModel;
}

/** The outcome of one task. */
export interface TaskOutcome {
  /** the command's answer: `55 err ext`, `44 …`, `55 00 data…` */
  data: Buffer;
  /** an error answer (A4/A7) */
  error: boolean;
  /** the command prints: the printer stays busy for the print time */
  prints?: 'receipt' | 'x' | 'z';
}

type Level = 'any' | 'mode1' | 'mode2' | 'mode3' | 'mode4';
interface Command {
  /** mode the command needs; 'any' for queries and mode changes */
  level: Level;
  /** needs paper and a closed cover */
  prints?: boolean;
  /** prints a whole document: the printer is busy for the print time afterwards */
  long?: boolean;
  fiscal?: boolean;
  run: (p: Reader) => Buffer | TaskOutcome;
}

const OK = Buffer.from([0x55, 0x00, 0x00]);
const ok = (data: Buffer): Buffer => Buffer.concat([Buffer.from([0x55, 0x00]), data]);
const errAnswer = (code: number, ext = 0): TaskOutcome => ({ data: Buffer.from([0x55, code, ext]), error: true });

class AtolRefusal extends Error {
  constructor(readonly atolCode: number) {
    super(`ATOL error ${atolCode.toString(16)}`);
  }
}
const refuse = (code: number): never => {
  throw new AtolRefusal(code);
};

export class AtolDevice implements EmulatedDevice {
  readonly register: FiscalRegister;
  readonly journal: Journal;
  readonly clock: DeviceClock;
  readonly model: AtolModel;
  private readonly injected = new InjectedErrors();
  private readonly commands: Map<number, Command>;
  private fnExhaustedCode: number = AE.FN_ARCHIVE_FULL;
  /** 0 selection, 1 registration, 2 X, 3 Z, 4 programming, 5 serial, 6 FN access */
  private atolMode = 0;
  private cashier = 30;
  /** 99 payments of the open receipt */
  private paid: Payments = emptyPayments();
  /** a correction receipt was opened with 92 type 7..10 */
  private correctionOpen = false;
  /** between EA and EB: E8 tags go to this item */
  private itemTags: TagMap | undefined;
  /** E8 blocks being assembled */
  private tagBlocks: Buffer[] = [];
  /** A4 45/46 document being read */
  private reading: { tlvs: Buffer[]; next: number } | undefined;
  /** the last failed command: code (A4xx for FN commands), error, ext */
  private lastError = { command: 0, code: 0, ext: 0 };
  /** values written with 50 */
  private readonly tableWrites = new Map<string, Buffer>();
  /** 99 was accepted in the open receipt: mode 1 submode 4 (payments) */
  private paying = false;
  /** what 3F reports as the interface, set by the link that runs the task */
  interfaceId: AtolInterface = 4;
  /** printing phase shown in the mode byte: X 0x22; Z 0x23 then 0x17 */
  private printPhase: 'x' | 'z' | 'z-fn' | undefined;

  constructor(opts: AtolDeviceOptions) {
    this.register = opts.register ?? new FiscalRegister({
      journal: opts.journal, clock: opts.clock,
      ...(opts.autoOpenShift === undefined ? {} : { autoOpenShift: opts.autoOpenShift }),
      ...(opts.maxItems === undefined ? {} : { maxItems: opts.maxItems }),
    });
    this.journal = this.register.journal;
    this.clock = this.register.clock;
    this.model = opts.model ?? ATOL_30F;
    this.commands = this.commandTable();
  }

  // ---------------------------------------------------------------- EmulatedDevice

  /** the mode byte of 3F/45: low nibble mode, high nibble submode */
  get mode(): number {
    if (this.printPhase === 'x') return 0x22;
    if (this.printPhase === 'z') return 0x23;
    if (this.printPhase === 'z-fn') return 0x17;
    return this.atolMode | (this.submode << 4);
  }

  get submode(): number {
    if (this.printPhase) return this.printPhase === 'z-fn' ? 1 : 2;
    // mode 1: 0 waiting for a command (a receipt may be open), 4 payments being taken (after the first 99)
    return this.atolMode === 1 && this.register.receipt && this.paying ? 4 : 0;
  }

  get receiptOpen(): boolean {
    return this.register.receipt !== undefined;
  }

  paperOutNow(): void {
    this.register.paperOutNow();
  }

  paperOutAt(point: PaperOutPoint): void {
    this.register.paperOutAt(point);
  }

  /** paper back; an interrupted print goes on by itself (ATOL has no continue-print command) */
  paperIn(): void {
    this.register.paperIn();
    this.register.continuePrint();
  }

  setCover(open: boolean): void {
    this.register.setCover(open);
  }

  setFnExhausted(on: boolean, code: number = AE.FN_ARCHIVE_FULL): void {
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

  /** the link sets the print phase while a report prints */
  setPrintPhase(phase: 'x' | 'z' | 'z-fn' | undefined): void {
    this.printPhase = phase;
  }

  // ---------------------------------------------------------------- execution

  /** Command code of a task payload (after the 2-byte access password); A4 xx → 0xA4xx. */
  static commandOf(payload: Buffer): number {
    if (payload.length < 3) return -1;
    const c = payload[2]!;
    return c === 0xa4 && payload.length >= 4 ? 0xa400 | payload[3]! : c;
  }

  /** Whether the task may run while the printer is busy (status and FN queries). */
  static isQuery(payload: Buffer): boolean {
    const c = AtolDevice.commandOf(payload);
    return [0x3f, 0x45, 0x91, 0xa5, 0x46, 0x4d, 0x58, 0x9d, 0xb3].includes(c) || (c >> 8) === 0xa4;
  }

  /** Executes one task payload. Never throws. */
  execute(payload: Buffer): TaskOutcome {
    const outcome = this.run(payload);
    if (outcome.error) this.lastError = { command: AtolDevice.commandOf(payload), code: outcome.data[1] ?? 0, ext: outcome.data[2] ?? 0 };
    return outcome;
  }

  private run(payload: Buffer): TaskOutcome {
    const code = AtolDevice.commandOf(payload);
    if (code < 0) return errAnswer(AE.BAD_FORMAT);
    const injected = this.injected.take(code);
    if (injected !== undefined) return errAnswer(injected);
    const cmd = this.commands.get(code);
    if (!cmd) return errAnswer(AE.UNKNOWN_COMMAND);
    try {
      const refusal = this.refusal(cmd);
      if (refusal !== undefined) return errAnswer(refusal);
      const r = cmd.run(new Reader(payload, code > 0xff ? 4 : 3));
      const outcome = Buffer.isBuffer(r) ? { data: r, error: false } : r;
      if (cmd.long && !outcome.error && !outcome.prints) outcome.prints = 'receipt';
      return outcome;
    } catch (e) {
      if (e instanceof AtolRefusal) return errAnswer(e.atolCode);
      if (e instanceof RegisterError) return errAnswer(ATOL_CODES[e.code]);
      return errAnswer(e instanceof RangeError ? AE.BAD_FORMAT : AE.NOT_IN_MODE);
    }
  }

  private refusal(cmd: Command): number | undefined {
    const need = { any: -1, mode1: 1, mode2: 2, mode3: 3, mode4: 4 }[cmd.level];
    if (need >= 0 && this.atolMode !== need) return AE.NOT_IN_MODE;
    const r = this.register;
    if (cmd.fiscal && r.fnExhausted && this.fnExhaustedCode) return this.fnExhaustedCode;
    if (cmd.prints && (r.paperOut || r.coverOpen)) return AE.NO_PAPER;
    return undefined;
  }

  private commandTable(): Map<number, Command> {
    const c = (level: Level, run: Command['run'], extra: Partial<Command> = {}): Command => ({ level, run, ...extra });
    const fiscal = { prints: true, fiscal: true };
    const r = this.register;
    return new Map<number, Command>([
      [0x3f, c('any', () => this.status())],
      [0x45, c('any', () => this.stateCode())],
      [0x46, c('any', (p) => this.readTable(p))],
      [0x50, c('mode4', (p) => this.writeTable(p))],
      [0x48, c('any', () => this.leaveMode())],
      [0x56, c('any', (p) => this.enterMode(p))],
      [0xa5, c('any', () => this.deviceInfo())],
      [0x9d, c('any', () => ok(Buffer.concat([Buffer.from([0x00]), this.model.version])))],
      [0x4d, c('any', () => Buffer.concat([Buffer.from([0x4d]), bcd(r.cashInDrawer(), 7)]))],
      [0x58, c('any', () => ok(Buffer.concat([bcd(this.shiftTotal(1), 7), bcd(this.shiftTotal(3), 7)])))],
      [0xb3, c('any', () => ok(Buffer.from([this.lastError.code, this.lastError.ext])))],
      // printing and peripheral commands public hosts send: accepted, nothing to model beyond paper and cover
      [0x4c, c('any', (p) => (r.printLine(decodeText(p.rest())), OK), { prints: true })],
      ...[0x6c, 0x73, 0x75, 0x87, 0x95, 0xab, 0xc1, 0xc2].map((code): [number, Command] => [code, c('any', (p) => (p.rest(), OK), { prints: true })]),
      ...[0x47, 0x80, 0x85, 0x88, 0x82].map((code): [number, Command] => [code, c('any', (p) => (p.rest(), OK))]),
      [0x91, c('any', (p) => this.readRegister(p))],
      [0x9a, c('mode1', () => (r.openShift(), OK), { ...fiscal, long: true })],
      [0x92, c('mode1', (p) => this.openReceipt(p), fiscal)],
      [0xea, c('mode1', () => this.beginItem())],
      [0xeb, c('mode1', (p) => this.endItem(p), fiscal)],
      [0xe6, c('mode1', (p) => this.classicItem(p), fiscal)],
      [0xe8, c('any', (p) => this.writeTag(p))],
      [0x99, c('mode1', (p) => this.payment(p), fiscal)],
      [0x4a, c('mode1', (p) => this.closeReceipt(p), fiscal)],
      [0x59, c('mode1', () => this.cancelReceipt())],
      [0x49, c('mode1', (p) => this.cashInOut(p, 'cash_in'), { prints: true, long: true })],
      [0x4f, c('mode1', (p) => this.cashInOut(p, 'cash_out'), { prints: true, long: true })],
      [0x67, c('mode2', (p) => (p.rest(), r.xReport(), { data: OK, error: false, prints: 'x' }), { prints: true })],
      [0x5a, c('mode3', () => this.zReport(), fiscal)],
      [0xa410, c('any', () => this.fnShift())],
      [0xa420, c('any', () => this.fnExchange())],
      [0xa430, c('any', () => this.fnStatus())],
      [0xa431, c('any', () => ok(Buffer.from(this.journal.identity.fnSerial.padEnd(16).slice(0, 16), 'ascii')))],
      [0xa432, c('any', () => this.fnValidity())],
      [0xa440, c('any', (p) => this.fnFind(p))],
      [0xa442, c('any', () => ok(writeUIntLE(Math.min(this.journal.ofdQueue().count, 0xffff), 2)))],
      [0xa443, c('any', () => this.fnRegistration())],
      [0xa445, c('any', (p) => this.fnReadBegin(p))],
      [0xa446, c('any', () => this.fnReadNext())],
    ]);
  }

  // ---------------------------------------------------------------- modes

  private enterMode(p: Reader): Buffer {
    const mode = p.uint(1);
    const pwd = readBcd(p.bytes(4), 0, 4);
    if (mode < 1 || mode > 6) refuse(AE.BAD_FORMAT);
    const allowed = mode <= 2 ? pwd >= 1 && pwd <= 30 : pwd === 29 || pwd === 30;
    if (!allowed) refuse(AE.WRONG_PASSWORD);
    if (this.atolMode !== 0 && this.atolMode !== mode) refuse(AE.NOT_IN_MODE);
    // a shift over 24 h refuses registration: only a Z is possible ([A1] closes the shift on 88h here)
    if (mode === 1 && this.journal.shift.open && this.register.shiftExpired()) refuse(AE.SHIFT_24H);
    this.atolMode = mode;
    this.cashier = pwd;
    return OK;
  }

  private leaveMode(): Buffer {
    if (this.register.receipt) refuse(AE.RECEIPT_OPEN);
    this.atolMode = 0;
    return OK;
  }

  // ---------------------------------------------------------------- status

  /** 3F: 44 cashier hall date3 time3 flags serial4 model version2 mode receiptNo2 shiftNo2 receiptState sum5 point iface */
  private status(): Buffer {
    const now = new Date(this.clock.localMs());
    const j = this.journal;
    const r = this.register;
    const receipt = r.receipt;
    const flags = 0x01 | (j.shift.open ? 0x02 : 0) | (r.paperOut ? 0 : 0x08) | (r.coverOpen ? 0x20 : 0) | 0x40;
    const serial = Number(BigInt(j.identity.kktSerial) % 100_000_000n);
    return Buffer.concat([
      Buffer.from([0x44]), bcd(this.cashier % 100, 1), Buffer.from([1]),
      bcd(now.getUTCFullYear() % 100, 1), bcd(now.getUTCMonth() + 1, 1), bcd(now.getUTCDate(), 1),
      bcd(now.getUTCHours(), 1), bcd(now.getUTCMinutes(), 1), bcd(now.getUTCSeconds(), 1),
      Buffer.from([flags]), bcd(serial, 4), Buffer.from([this.model.model, 0x03, 0x00, this.mode]),
      bcd(j.shift.receiptNo % 10000, 2), bcd((j.shift.open ? j.shift.number - 1 : j.shift.number) % 10000, 2),
      Buffer.from([receipt ? this.receiptTypeOf(receipt.operation) : 0]), bcd(r.receiptTotal, 5), Buffer.from([2, this.interfaceId]),
    ]);
  }

  /** 45: 55 mode flags (b0 no paper, b1 printer not connected) */
  private stateCode(): Buffer {
    return Buffer.from([0x55, this.mode, this.register.paperOut || this.register.coverOpen ? 0x01 : 0x00]);
  }

  /** A5: 00 protocol type model mode(2) version(5) name */
  private deviceInfo(): Buffer {
    const m = this.model;
    return Buffer.concat([Buffer.from([0x00, m.protocol, m.type, m.model]), m.mode, m.version, encodeText(m.name)]);
  }

  private receiptTypeOf(operation: number): number {
    const t = OPERATION_TO_TYPE[operation] ?? 1;
    return this.correctionOpen ? CORRECTION_TYPE[t] ?? 7 : t;
  }

  private shiftTotal(op: 1 | 3): number {
    const j = this.journal;
    const counters = j.shift.open ? j.shift.counters : j.lastClosedShift ?? j.shift.counters;
    return counters.totals[String(op) as '1' | '3'];
  }

  /** 46 table(1) row(2 BE) field(1) → 55 00 value */
  private readTable(p: Reader): Buffer {
    const [table, row, field] = this.tableCell(p);
    return ok(this.tableWrites.get(`${table}/${row}/${field}`) ?? this.tableDefault(table, row, field));
  }

  /** 50 table(1) row(u16 BE) field(1) value: mode 4; kept for later 46 reads (the register model does not use them) */
  private writeTable(p: Reader): Buffer {
    const [table, row, field] = this.tableCell(p);
    this.tableWrites.set(`${table}/${row}/${field}`, Buffer.from(p.rest()));
    return OK;
  }

  /**
   * The tables hosts read: 2 «Тип и режимы кассы» (row 1, fields 1–0x72: 1 = register number in the shop, 0x37 =
   * characters per line, others 0), 6 cliché (rows 1–20, field 1, 48 spaces), 12 payment names (rows 1–16, field 1),
   * 13 «Налоги» (TAX_ROWS).
   */
  private tableCell(p: Reader): [number, number, number] {
    const table = p.uint(1);
    const row = p.uint(1) * 256 + p.uint(1);
    const field = p.uint(1);
    const shape: Record<number, { rows: number; fields: number }> = { 2: { rows: 1, fields: 0x72 }, 6: { rows: 20, fields: 1 }, 12: { rows: 16, fields: 1 }, 13: { rows: TAX_ROWS.length, fields: 3 } };
    const s = shape[table] ?? refuse(AE.BAD_TABLE);
    if (row < 1 || row > s.rows) refuse(AE.BAD_ROW);
    if (field < 1 || field > s.fields) refuse(AE.BAD_FIELD);
    return [table, row, field];
  }

  private tableDefault(table: number, row: number, field: number): Buffer {
    if (table === 2) return bcd(field === 1 ? 1 : field === 0x37 ? 48 : 0, 1);
    if (table === 6) return Buffer.alloc(48, 0x20);
    if (table === 12) return fixedText(['НАЛИЧНЫМИ', 'ЭЛЕКТРОННЫМИ', 'ПРЕДОПЛАТА', 'КРЕДИТ', 'ВСТРЕЧНОЕ ПРЕДОСТАВЛЕНИЕ'][row - 1] ?? '', 24, 0x20);
    const t = TAX_ROWS[row - 1]!;
    if (field === 1) return fixedText(t.name, 20, 0x20);
    if (field === 2) return bcd(t.rate, 2);
    return Buffer.from([t.code1199]);
  }

  /** 91 reg p1 p2 → 55 00 value */
  private readRegister(p: Reader): Buffer {
    const reg = p.uint(1);
    const p1 = p.remaining > 0 ? p.uint(1) : 0;
    const p2 = p.remaining > 0 ? p.uint(1) : 0;
    p.rest();
    const j = this.journal;
    switch (reg) {
      case 0x33: {
        const doc = [...this.fiscalDocs()].reverse().find((d) => d.type === 3 || d.type === 31);
        if (!doc) return ok(Buffer.alloc(25));
        return ok(Buffer.concat([
          bcd(doc.fd, 5), Buffer.from([this.receiptTypeFor(doc)]), bcd(doc.total ?? 0, 7), bcdDateTime(doc.dateTime),
          bcd(doc.fiscalSign, 5), Buffer.alloc(3),
        ]));
      }
      case 0x34: {
        const doc = j.lastDocument;
        if (!doc) return ok(Buffer.alloc(15));
        return ok(Buffer.concat([bcd(doc.fd, 5), bcdDateTime(doc.dateTime), bcd(doc.fiscalSign, 5)]));
      }
      case 0x2c:
        return ok(bcd(j.ofdQueue().count, 5));
      case 0x2d: {
        const first = j.ofdQueue().first;
        return ok(first ? bcdDateTime(first.dateTime) : Buffer.alloc(5));
      }
      case 0x37: {
        const e = this.lastError;
        return ok(Buffer.concat([writeUIntBE(e.command, 2), Buffer.from([0, e.code]), Buffer.from([0, 0, 0, e.ext])]));
      }
      case 0x0a:
        return ok(bcd(this.register.cashInDrawer(), 7));
      case 0x01:
      case 0x0c:
        return ok(bcd(j.shift.counters.totals[opOfType(p1)], 7));
      case 0x03: {
        const kind = PAYMENT_KINDS[p2] ?? refuse(AE.BAD_FORMAT);
        return ok(bcd(j.shift.counters.payments[opOfType(p1)][kind], 7));
      }
      case 0x04:
        return ok(bcd(j.shift.counters.cashIn, 7));
      case 0x05:
        return ok(bcd(j.shift.counters.cashOut, 7));
      case 0x08:
        return ok(bcd(j.shift.counters.cashInCount ?? 0, 5));
      case 0x09:
        return ok(bcd(j.shift.counters.cashOutCount ?? 0, 5));
      case 0x28:
        return ok(bcd(j.cumulativeDetail.totals[opOfType(p1)], 7));
      case 0x38: {
        const kind = PAYMENT_KINDS[p2] ?? refuse(AE.BAD_FORMAT);
        return ok(bcd(j.cumulativeDetail.payments[opOfType(p1)][kind], 7));
      }
      case 0x30: {
        const reg = registrationOf(j.identity);
        return ok(Buffer.concat([bcd(reg.fd, 5), bcdDateTime(reg.dateTime)]));
      }
      case 0x41: {
        const c = j.shift.counters;
        const op = opOfType(p1);
        return ok(Buffer.concat([bcd(c.receipts[op] + c.corrections[op], 5), bcd(0, 5)]));
      }
      case 0x06: {
        const c = j.shift.counters;
        const op = opOfType(p1);
        return ok(bcd(c.receipts[op] + c.corrections[op], 5));
      }
      case 0x11: {
        const now = formatLocal(this.clock.localMs());
        return ok(Buffer.concat([bcdDateTime(now).subarray(0, 3), bcdTime(now)]));
      }
      case 0x12: {
        const opened = j.shift.openedAt;
        return ok(Buffer.concat([Buffer.from([j.shift.open ? 1 : 0]), opened ? bcdDateTime(opened).subarray(0, 3) : Buffer.alloc(3), opened ? bcdTime(opened) : Buffer.alloc(3)]));
      }
      case 0x13: {
        const receipt = this.register.receipt;
        return ok(Buffer.concat([Buffer.from([this.mode, receipt ? this.receiptTypeOf(receipt.operation) : 0]), bcd((j.shift.receiptNo + (receipt ? 1 : 0)) % 10000, 2)]));
      }
      case 0x14: {
        const total = this.register.receiptTotal;
        const paid = sumPayments(this.paid);
        return ok(Buffer.concat([bcd(total, 5), bcd(Math.max(0, total - paid), 5), bcd(Math.max(0, paid - total), 5)]));
      }
      case 0x15:
        return ok(bcd(j.shift.number % 10000, 2));
      case 0x16:
        return ok(bcd(Number(BigInt(j.identity.kktSerial) % 100_000_000n), 4));
      case 0x17:
        return ok(Buffer.from([this.model.model, 0x03, 0x00]));
      case 0x2f:
        return ok(Buffer.concat([Buffer.from(j.identity.fnSerial.padEnd(16).slice(0, 16), 'ascii'), Buffer.from([0x03])]));
      case 0x35:
        return ok(Buffer.concat([bcd(j.shift.receiptNo % 1_000_000, 3), bcd(j.shift.number % 1_000_000, 3)]));
      default:
        return refuse(AE.BAD_REGISTER);
    }
  }

  private receiptTypeFor(doc: FiscalDocument): number {
    const t = OPERATION_TO_TYPE[doc.operation ?? 1] ?? 1;
    return doc.type === 31 ? CORRECTION_TYPE[t] ?? 7 : t;
  }

  private *fiscalDocs(): Iterable<FiscalDocument> {
    for (let fd = 1; fd <= this.journal.lastFd; fd++) {
      const d = this.journal.document(fd);
      if (d) yield d;
    }
  }

  // ---------------------------------------------------------------- FN (A4 xx, the FN's own layouts, LE)

  /** A4 10: open1 shift(u16 LE) receipt(u16 LE) */
  private fnShift(): Buffer {
    const s = this.journal.shift;
    return ok(Buffer.concat([Buffer.from([s.open ? 1 : 0]), writeUIntLE(s.number & 0xffff, 2), writeUIntLE(s.receiptNo & 0xffff, 2)]));
  }

  /** A4 20: state1 reading1 count(u16 LE) firstFd(u32 LE) dateTime5 */
  private fnExchange(): Buffer {
    const q = this.journal.ofdQueue();
    return ok(Buffer.concat([
      Buffer.from([q.count ? 1 : 0, 0]), writeUIntLE(Math.min(q.count, 0xffff), 2), writeUIntLE(q.first?.fd ?? 0, 4),
      q.first ? dateTime5(q.first.dateTime) : Buffer.alloc(5),
    ]));
  }

  /** A4 30: phase doc docData shiftOpen warnings dateTime5 fn(16) lastFd(u32 LE) */
  private fnStatus(): Buffer {
    const j = this.journal;
    const last = j.lastDocument;
    const receipt = this.register.receipt;
    return ok(Buffer.concat([
      Buffer.from([0x03, receipt ? 0x04 : 0, receipt?.items.length ? 1 : 0, j.shift.open ? 1 : 0, this.fnWarnings()]),
      last ? dateTime5(last.dateTime) : Buffer.alloc(5),
      Buffer.from(j.identity.fnSerial.padEnd(16).slice(0, 16), 'ascii'), writeUIntLE(j.lastFd, 4),
    ]));
  }

  private fnWarnings(): number {
    const now = this.clock.localMs();
    const left = parseLocal(this.journal.identity.fnExpiry) - now;
    const oldest = this.journal.ofdQueue().first;
    return (left <= 3 * DAY_MS ? 1 : 0) | (left <= 30 * DAY_MS ? 2 : 0)
      | (oldest && now - parseLocal(oldest.dateTime) > 30 * DAY_MS ? 8 : 0);
  }

  /** A4 43 (the FN's 43h): the registration data, 47 bytes (FFD 1.05) or 64 (FFD 1.2), as Shtrih FF09 (figures.ts) */
  private fnRegistration(): Buffer {
    return ok(registrationAnswer(registrationOf(this.journal.identity)));
  }

  /** A4 32: YY MM DD (binary) remaining re-registrations, done */
  private fnValidity(): Buffer {
    const d = new Date(parseLocal(this.journal.identity.fnExpiry));
    return ok(Buffer.from([d.getUTCFullYear() - 2000, d.getUTCMonth() + 1, d.getUTCDate(), 11, 1]));
  }

  /** A4 40 fd(u32 LE): type ack dateTime5 fd(u32) fp(u32) [op total(5 LE) | shift(u16)] */
  private fnFind(p: Reader): Buffer {
    const doc = this.journal.find(p.uint(4)) ?? refuse(AE.FN_NO_DATA);
    const head = Buffer.concat([
      Buffer.from([doc.type, this.journal.isAcknowledged(doc.fd) ? 1 : 0]), dateTime5(doc.dateTime),
      writeUIntLE(doc.fd, 4), writeUIntLE(doc.fiscalSign, 4),
    ]);
    if (doc.type === 3 || doc.type === 31) return ok(Buffer.concat([head, Buffer.from([doc.operation ?? 0]), writeUIntLE(doc.total ?? 0, 5)]));
    if (doc.type === 2 || doc.type === 5) return ok(Buffer.concat([head, writeUIntLE(doc.shift, 2)]));
    return ok(head);
  }

  /** A4 45 fd(u32 LE): type(u16 LE) size(u16 LE); the TLVs follow with A4 46 */
  private fnReadBegin(p: Reader): Buffer {
    const fd = p.uint(4);
    const doc = this.journal.document(fd) ?? refuse(AE.FN_NO_DATA);
    const tlvs = encodeDocumentTlvs(doc, this.journal.identity);
    this.reading = { tlvs, next: 0 };
    const size = tlvs.reduce((s, t) => s + t.length, 0);
    return ok(Buffer.concat([writeUIntLE(doc.type, 2), writeUIntLE(size, 2)]));
  }

  /** A4 46: the next TLV of the document (one per call); 18h when all were read */
  private fnReadNext(): Buffer {
    const r = this.reading;
    if (!r || r.next >= r.tlvs.length) refuse(AE.NO_MORE_DATA);
    return ok(r!.tlvs[r!.next++]!);
  }

  // ---------------------------------------------------------------- receipts

  private openReceipt(p: Reader): Buffer {
    const flags = p.uint(1);
    const type = p.uint(1);
    void flags; // bit0 test mode; "do not print" 0x02 [A3] or 0x04 [A1][A4]: both accepted, nothing is printed anyway
    const t = RECEIPT_TYPES[type] ?? refuse(AE.WRONG_RECEIPT_TYPE);
    this.register.beginReceipt(t.operation);
    this.correctionOpen = t.correction;
    this.paying = false;
    if (t.correction && this.register.pendingTags['1173'] === undefined) this.register.pendingTags['1173'] = '0';
    this.paid = emptyPayments();
    return OK;
  }

  private beginItem(): Buffer {
    this.itemTags = {};
    return OK;
  }

  /**
   * EB flags price(7) qty(5) cost(7) taxType taxSum(7) section paymentObject paymentMethod discountSign discount(7)
   * reserved(2) name
   */
  private endItem(p: Reader): Buffer {
    p.uint(1);
    const price = readBcd(p.bytes(7), 0, 7);
    const qty = readBcd(p.bytes(5), 0, 5);
    const cost = readBcd(p.bytes(7), 0, 7);
    const taxType = p.uint(1);
    const taxSum = readBcd(p.bytes(7), 0, 7);
    const section = p.uint(1);
    const paymentObject = bcdOrBinary(p.uint(1));
    const paymentMethod = bcdOrBinary(p.uint(1));
    const discountSign = p.uint(1);
    const discount = readBcd(p.bytes(7), 0, 7);
    p.bytes(2);
    const name = decodeText(p.rest(128));
    const row = TAX_ROWS.find((x) => x.row === taxType);
    if (qty === 0 || !row) refuse(AE.BAD_FORMAT);
    let sum = cost || roundedProduct(price, qty, 1000);
    sum = discountSign === 1 ? sum + discount : Math.max(0, sum - discount);
    const item: JournalItem = {
      name, price, quantity: qty * 1000, sum, vat: row!.vat, taxByte: taxType, paymentMethod, paymentObject,
      department: section, tlvs: {},
    };
    if (taxSum) item.vatSum = taxSum;
    Object.assign(item.tlvs, this.itemTags ?? {});
    this.itemTags = undefined;
    this.register.addItem(this.register.receipt?.operation ?? 1, item);
    return OK;
  }

  /** E6 flags name(64) price(6) qty(5) discountType discountSign discount(6) tax section reserved(17) */
  private classicItem(p: Reader): Buffer {
    p.uint(1);
    const name = decodeText(p.bytes(64));
    const price = readBcd(p.bytes(6), 0, 6);
    const qty = readBcd(p.bytes(5), 0, 5);
    const discountType = p.uint(1);
    const discountSign = p.uint(1);
    const size = readBcd(p.bytes(6), 0, 6);
    const tax = p.uint(1);
    const section = p.uint(1);
    p.rest();
    if (qty === 0) refuse(AE.BAD_FORMAT);
    const row = TAX_ROWS.find((x) => x.row === tax);
    let sum = roundedProduct(price, qty, 1000);
    const delta = discountType === 0 ? roundedProduct(sum, size, 10000) : size;
    sum = discountSign === 1 ? sum + delta : Math.max(0, sum - delta);
    const item: JournalItem = {
      name, price, quantity: qty * 1000, sum, vat: row?.vat ?? 'none', taxByte: tax, paymentMethod: 4, paymentObject: 1,
      department: section, tlvs: {},
    };
    this.register.addItem(this.register.receipt?.operation ?? 1, item);
    return OK;
  }

  /** E8 flags nBlocks block tag(u16 LE) len(u16 LE) data — the TLV may be split over several blocks */
  private writeTag(p: Reader): Buffer {
    p.uint(1);
    const blocks = p.uint(1);
    const block = p.uint(1);
    if (block === 0) this.tagBlocks = [];
    this.tagBlocks.push(p.rest());
    if (block + 1 < blocks) return OK;
    const tlv = Buffer.concat(this.tagBlocks);
    this.tagBlocks = [];
    const list = decodeTlvList(tlv, 'cp866');
    if (list.length === 0) refuse(AE.BAD_FORMAT);
    if (this.itemTags) tlvsToMap(list, this.itemTags);
    else tlvsToMap(list, this.register.pendingTags);
    return OK;
  }

  /** 99 flags type sum(5) → 55 00 remainder(5) change(5) */
  private payment(p: Reader): Buffer {
    p.uint(1);
    const type = p.uint(1);
    const sum = readBcd(p.bytes(5), 0, 5);
    if (!this.register.receipt) refuse(AE.RECEIPT_CLOSED);
    this.addPayment(type, sum);
    this.paying = true;
    const total = this.register.receiptTotal;
    const paid = sumPayments(this.paid);
    return ok(Buffer.concat([bcd(Math.max(0, total - paid), 5), bcd(Math.max(0, paid - total), 5)]));
  }

  private addPayment(type: number, sum: number): void {
    const key = ({ 1: 'cash', 2: 'electronic', 3: 'prepaid', 4: 'credit', 5: 'other' } as const)[type] ?? refuse(AE.BAD_PAYMENT_TYPE);
    const total = this.register.receiptTotal;
    const nonCash = this.paid.electronic + this.paid.prepaid + this.paid.credit + this.paid.other;
    if (key !== 'cash' && nonCash + sum > total) refuse(AE.NONCASH_ABOVE_TOTAL);
    this.paid[key] += sum;
  }

  /** 4A flags type sum(5): an optional last payment, then the receipt is fiscalised */
  private closeReceipt(p: Reader): TaskOutcome {
    p.uint(1);
    const type = p.uint(1);
    const sum = readBcd(p.bytes(5), 0, 5);
    if (!this.register.receipt) refuse(AE.RECEIPT_CLOSED);
    if (sum > 0) this.addPayment(type, sum);
    const total = this.register.receiptTotal;
    const tendered = { ...this.paid };
    // a receipt closed without any 99 is paid in full by the 4A payment type
    if (sumPayments(tendered) === 0 && total > 0) {
      const key = ({ 1: 'cash', 2: 'electronic', 3: 'prepaid', 4: 'credit', 5: 'other' } as const)[type] ?? 'cash';
      tendered[key] = total;
    }
    const taxTag = this.register.pendingTags['1055'];
    this.register.closeReceipt(tendered, typeof taxTag === 'string' ? Number(taxTag) : 0);
    this.paid = emptyPayments();
    this.paying = false;
    this.correctionOpen = false;
    return { data: OK, error: false, prints: 'receipt' };
  }

  private cancelReceipt(): Buffer {
    this.register.cancelReceipt();
    this.paid = emptyPayments();
    this.paying = false;
    this.correctionOpen = false;
    this.itemTags = undefined;
    return OK;
  }

  private cashInOut(p: Reader, type: 'cash_in' | 'cash_out'): Buffer {
    p.uint(1);
    const sum = readBcd(p.bytes(5), 0, 5);
    if (sum === 0) refuse(AE.BAD_FORMAT);
    this.register.cashInOut(type, sum);
    return OK;
  }

  private zReport(): TaskOutcome {
    if (!this.journal.shift.open) refuse(AE.ALREADY_CLEARED);
    this.register.closeShift();
    return { data: OK, error: false, prints: 'z' };
  }
}

// ---------------------------------------------------------------- helpers

/** the registration report is not in the journal: a fixed date before any document */

const PAYMENT_KINDS: Record<number, keyof Payments> = { 1: 'cash', 2: 'electronic', 3: 'prepaid', 4: 'credit', 5: 'other' };

/** 92 receipt type (register parameter) → tag 1054 key; 0 and unknown → приход */
function opOfType(type: number): '1' | '2' | '3' | '4' {
  return (({ 1: '1', 2: '2', 4: '3', 5: '4' } as const)[type as 1 | 2 | 4 | 5]) ?? '1';
}

function emptyPayments(): Payments {
  return { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 };
}

function sumPayments(p: Payments): number {
  return p.cash + p.electronic + p.prepaid + p.credit + p.other;
}

/** DD MM YY hh mm, BCD — register (91) dates, day first as [A1] reads 91 33 */
function bcdDateTime(dt: string): Buffer {
  const d = new Date(parseLocal(dt));
  return Buffer.concat([
    bcd(d.getUTCDate(), 1), bcd(d.getUTCMonth() + 1, 1), bcd(d.getUTCFullYear() % 100, 1), bcd(d.getUTCHours(), 1), bcd(d.getUTCMinutes(), 1),
  ]);
}

/** hh mm ss, BCD */
function bcdTime(dt: string): Buffer {
  const d = new Date(parseLocal(dt));
  return Buffer.concat([bcd(d.getUTCHours(), 1), bcd(d.getUTCMinutes(), 1), bcd(d.getUTCSeconds(), 1)]);
}

function writeUIntBE(v: number, len: number): Buffer {
  return Buffer.from(writeUIntLE(v, len).reverse());
}
