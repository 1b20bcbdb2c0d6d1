/**
 * ATOL v3 command codec (kkt-protocols.md §2.3): BCD numbers, the device code page, request encoders and answer
 * decoders. A request payload is: access password (2 bytes BCD), command code, parameters. Money is integer kopecks,
 * quantity integer thousandths.
 */
import iconv from 'iconv-lite';
import type { Correction, DocumentRef, FiscalItem, FiscalReceipt, OperationType, Payments } from '../types.ts';
import { DriverError } from '../types.ts';
import { DriverCodes, badAnswer, deviceError } from './errors.ts';
import type { TaskResult } from './tasks.ts';
import { taskName } from './tasks.ts';

// ------------------------------------------------------------------------------------------------ numbers

/** Big-endian packed BCD of exactly `len` bytes. Throws BAD_DOCUMENT when it does not fit. */
export function bcd(value: number, len: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0 || String(value).length > len * 2) {
    throw new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `${value} does not fit ${len} BCD bytes (an integer ≥ 0 of ≤ ${len * 2} digits)`);
  }
  const digits = String(value).padStart(len * 2, '0');
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = (Number(digits[2 * i]) << 4) | Number(digits[2 * i + 1]);
  return out;
}

/** Decodes big-endian packed BCD; undefined when a nibble is not a digit. */
export function fromBcd(buf: Uint8Array): number | undefined {
  let v = 0;
  for (const b of buf) {
    const hi = b >> 4;
    const lo = b & 0x0f;
    if (hi > 9 || lo > 9) return undefined;
    v = v * 100 + hi * 10 + lo;
  }
  return v;
}

function uLE(buf: Uint8Array, off: number, len: number): number {
  let v = 0;
  for (let i = len - 1; i >= 0; i--) v = v * 256 + buf[off + i]!;
  return v;
}

function u16LE(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function u32LE(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

// ------------------------------------------------------------------------------------------------ text

/**
 * The device code page ([A3] charset): CP866 with 0x24 and 0xFC swapped (0x24 = №, 0xFC = $), ’ → 0x27, € → 0xF2,
 * ■ → 0xFF. Characters it lacks become '?'.
 */
export function encodeText(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    if (ch === '№') out.push(0x24);
    else if (ch === '$') out.push(0xfc);
    else if (ch === '’') out.push(0x27);
    else if (ch === '€') out.push(0xf2);
    else if (ch === '■') out.push(0xff);
    else {
      const b = iconv.encode(ch, 'cp866');
      out.push(b.length === 1 ? b[0]! : 0x3f);
    }
  }
  return Buffer.from(out);
}

export function decodeText(buf: Uint8Array): string {
  let s = '';
  for (const b of buf) {
    if (b === 0) break;
    if (b === 0x24) s += '№';
    else if (b === 0xfc) s += '$';
    else if (b === 0xf2) s += '€';
    else if (b === 0xff) s += '■';
    else s += iconv.decode(Buffer.from([b]), 'cp866');
  }
  return s;
}

function limited(text: string, max: number): Buffer {
  const b = encodeText(text);
  return b.length > max ? b.subarray(0, max) : b;
}

// ------------------------------------------------------------------------------------------------ requests

export const Cmd = {
  STATUS: 0x3f,
  PRINTER_STATE: 0x45,
  PRINT_STRING: 0x4c,
  READ_TABLE: 0x46,
  LEAVE_MODE: 0x48,
  CASH_IN: 0x49,
  CLOSE_RECEIPT: 0x4a,
  CASH_OUT: 0x4f,
  ENTER_MODE: 0x56,
  CANCEL_RECEIPT: 0x59,
  Z_REPORT: 0x5a,
  X_REPORT: 0x67,
  READ_REGISTER: 0x91,
  OPEN_RECEIPT: 0x92,
  PAYMENT: 0x99,
  OPEN_SHIFT: 0x9a,
  FN: 0xa4,
  DEVICE_INFO: 0xa5,
  WRITE_TAG: 0xe8,
  BEGIN_ITEM: 0xea,
  END_ITEM: 0xeb,
} as const;

export const Mode = { SELECT: 0, REGISTRATION: 1, X: 2, Z: 3, PROGRAMMING: 4, FN_ACCESS: 6 } as const;

export const Reg = { LAST_RECEIPT: 0x33, LAST_FD: 0x34, UNSENT_COUNT: 0x2c, UNSENT_DATE: 0x2d, SERIAL: 0x16, EXT_ERROR: 0x37 } as const;
export const FnSub = { SHIFT: 0x10, EXCHANGE: 0x20, STATUS: 0x30, NUMBER: 0x31, VALIDITY: 0x32, FIND: 0x40, REGISTRATION: 0x43, DOC_SIZE: 0x45, DOC_READ: 0x46 } as const;

/** Access password (2 bytes BCD, default 0000) + code + parameters. */
export function request(access: number, code: number, ...params: Uint8Array[]): Buffer {
  return Buffer.concat([bcd(access, 2), Buffer.from([code]), ...params]);
}

export const simple = (access: number, code: number): Buffer => request(access, code);

/** 56 mode pwd(BCD4) */
export function enterMode(access: number, mode: number, password: number): Buffer {
  return request(access, Cmd.ENTER_MODE, Buffer.from([mode]), bcd(password, 4));
}

/** 9A flags [text]: flags bit0 test mode */
export function openShift(access: number): Buffer {
  return request(access, Cmd.OPEN_SHIFT, Buffer.from([0x00]));
}

/** 92 flags type */
export function openReceipt(access: number, flags: number, type: number): Buffer {
  return request(access, Cmd.OPEN_RECEIPT, Buffer.from([flags, type]));
}

/** ATOL receipt type (92) of an operation (tag 1054): 1 приход, 2 возврат прихода, 4 расход, 5 возврат расхода. */
export const RECEIPT_TYPES: Readonly<Record<OperationType, number>> = { 1: 1, 2: 2, 3: 4, 4: 5 };

/** The operation (tag 1054) of an ATOL receipt type, corrections included (`correctionTypes` of quirks). */
export function operationOfType(type: number, correctionTypes: Partial<Record<OperationType, number>>): number | undefined {
  for (const [op, t] of Object.entries(RECEIPT_TYPES)) if (t === type) return Number(op);
  for (const [op, t] of Object.entries(correctionTypes)) if (t === type) return Number(op);
  return undefined;
}

/** EA 00 01 00: begin an FFD 1.05 item */
export function beginItem(access: number): Buffer {
  return request(access, Cmd.BEGIN_ITEM, Buffer.from([0x00, 0x01, 0x00]));
}

export interface ItemFields {
  price: number;
  quantity: number;
  sum: number;
  taxType: number;
  /** kopecks; 0 = the device computes it */
  taxSum: number;
  section: number;
  paymentObject: number;
  paymentMethod: number;
  name: string;
}

/**
 * EB flags price(7) qty(5) cost(7) taxType1 taxSum(7) section1 1212(1) 1214(1) discountSign1 discount(7) reserved(2)
 * name(≤128). BCD except taxType and discountSign; 1212/1214 BCD or binary (quirk `itemAttrEncoding`). The two
 * reserved bytes: without them the device eats two characters of the name [A2].
 */
export function endItem(access: number, f: ItemFields, attrEncoding: 'bcd' | 'binary'): Buffer {
  const attr = (n: number): Buffer => (attrEncoding === 'bcd' ? bcd(n, 1) : Buffer.from([n]));
  if (!Number.isInteger(f.paymentObject) || f.paymentObject < 1 || f.paymentObject > 99) throw bad(`payment object ${f.paymentObject}`);
  if (!Number.isInteger(f.paymentMethod) || f.paymentMethod < 1 || f.paymentMethod > 7) throw bad(`payment method ${f.paymentMethod}`);
  if (!Number.isInteger(f.taxType) || f.taxType < 0 || f.taxType > 0xff) throw bad(`tax type ${f.taxType}`);
  return request(
    access,
    Cmd.END_ITEM,
    Buffer.from([0x00]),
    bcd(f.price, 7),
    bcd(f.quantity, 5),
    bcd(f.sum, 7),
    Buffer.from([f.taxType]),
    bcd(f.taxSum, 7),
    bcd(f.section, 1),
    attr(f.paymentObject),
    attr(f.paymentMethod),
    Buffer.from([0x00]),
    bcd(0, 7),
    Buffer.from([0x00, 0x00]),
    limited(f.name, 128),
  );
}

/** E8 01 nBlocks block tag(u16 LE) len(u16 LE) data — one tag per command, one block. */
export function writeTag(access: number, tag: number, data: Buffer): Buffer {
  if (data.length > 0xffff) throw bad(`tag ${tag} of ${data.length} bytes`);
  return request(access, Cmd.WRITE_TAG, Buffer.from([0x01, 0x01, 0x00]), u16LE(tag), u16LE(data.length), data);
}

/** An FN TLV (inside an STLV value): tag u16 LE, len u16 LE, value. */
export function tlv(tag: number, value: Buffer): Buffer {
  return Buffer.concat([u16LE(tag), u16LE(value.length), value]);
}

export interface TagWrite {
  tag: number;
  data: Buffer;
}

const inn12 = (inn: string): Buffer => Buffer.from(inn.trim().padEnd(12, ' ').slice(0, 12), 'ascii');
const tlvText = (tag: number, text: string, max: number): Buffer => {
  const b = iconv.encode(text, 'cp866');
  return tlv(tag, b.length > max ? b.subarray(0, max) : b);
};

/** Item tags written between EA and EB: 1222 agent bit, 1224 supplier {1171 phones, 1225 name}, 1226 supplier INN. */
export function itemTags(item: FiscalItem): TagWrite[] {
  const out: TagWrite[] = [];
  const a = item.agent;
  if (!a) return out;
  if (a.agentBits) out.push({ tag: 1222, data: Buffer.from([a.agentBits]) });
  const supplier = [
    ...(a.supplierPhones ?? []).slice(0, 3).map((p) => tlvText(1171, p, 19)),
    ...(a.supplierName ? [tlvText(1225, a.supplierName, 256)] : []),
  ];
  if (supplier.length > 0) out.push({ tag: 1224, data: Buffer.concat(supplier) });
  if (a.supplierInn) out.push({ tag: 1226, data: inn12(a.supplierInn) });
  return out;
}

/** Tag 1055 bits by tax system. */
export const TAX_SYSTEM_BITS: Readonly<Record<FiscalReceipt['taxSystem'], number>> = {
  osn: 0x01, usn_income: 0x02, usn_income_outcome: 0x04, envd: 0x08, esn: 0x10, patent: 0x20,
};

/** Receipt tags after the items: 1055 tax system, 1008 contact, 1021 cashier, 1203 cashier INN, 1227/1228 customer. */
export function receiptTags(r: FiscalReceipt): TagWrite[] {
  const bits = TAX_SYSTEM_BITS[r.taxSystem];
  if (bits === undefined) throw bad(`tax system ${String(r.taxSystem)}`);
  const out: TagWrite[] = [{ tag: 1055, data: Buffer.from([bits]) }];
  if (r.customerContact) out.push({ tag: 1008, data: limited(r.customerContact, 64) });
  out.push(...cashierTags(r.cashier));
  if (r.customerName) out.push({ tag: 1227, data: limited(r.customerName, 128) });
  if (r.customerInn) out.push({ tag: 1228, data: inn12(r.customerInn) });
  return out;
}

export function cashierTags(cashier: { name: string; inn?: string } | undefined): TagWrite[] {
  if (!cashier?.name) return [];
  const out: TagWrite[] = [{ tag: 1021, data: limited(cashier.name, 64) }];
  if (cashier.inn) out.push({ tag: 1203, data: inn12(cashier.inn) });
  return out;
}

/** Correction tags right after 92: 1173 type; 1174 STLV {1177 description (empty), 1178 base date UnixTime, 1179 number}. */
export function correctionTags(c: Correction): TagWrite[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(c.baseDate);
  if (!m) throw bad(`correction base date ${c.baseDate}`);
  const unix = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000;
  const inner = [tlv(1178, u32LE(unix))];
  if (c.baseNumber) inner.push(tlvText(1179, c.baseNumber, 32));
  return [
    { tag: 1173, data: Buffer.from([c.type]) },
    { tag: 1174, data: Buffer.concat(inner) },
  ];
}

/** ATOL payment types (99 / 4A): 1 cash, 2 electronic, 3 prepayment offset, 4 credit, 5 counter-provision [A2][A3]. */
export const PAYMENT_TYPES: ReadonlyArray<[keyof Payments, number]> = [['cash', 1], ['electronic', 2], ['prepaid', 3], ['credit', 4], ['other', 5]];

/** 99 flags type sum(BCD5) */
export function payment(access: number, type: number, sum: number): Buffer {
  return request(access, Cmd.PAYMENT, Buffer.from([0x00, type]), bcd(sum, 5));
}

/** 4A flags type sum(BCD5): after the 99 payments `4A 00 01 00…` [A2]. */
export function closeReceipt(access: number): Buffer {
  return request(access, Cmd.CLOSE_RECEIPT, Buffer.from([0x00, 0x01]), bcd(0, 5));
}

/** 49 / 4F flags sum(BCD5) */
export function cash(access: number, code: typeof Cmd.CASH_IN | typeof Cmd.CASH_OUT, sum: number): Buffer {
  if (!Number.isSafeInteger(sum) || sum <= 0) throw bad(`cash sum ${sum}`);
  return request(access, code, Buffer.from([0x00]), bcd(sum, 5));
}

/** 4C text: one line of non-fiscal text on the tape (README: "Print string"); cut to 40 characters */
export function printString(access: number, text: string): Buffer {
  const b = encodeText(text);
  return request(access, Cmd.PRINT_STRING, b.length > 40 ? b.subarray(0, 40) : b);
}

/** 67 type: 01 daily report without clearing (X) */
export function xReport(access: number): Buffer {
  return request(access, Cmd.X_REPORT, Buffer.from([0x01]));
}

/** 91 reg p1 p2 */
export function readRegister(access: number, reg: number, p1 = 0, p2 = 0): Buffer {
  return request(access, Cmd.READ_REGISTER, Buffer.from([reg, p1, p2]));
}

/** A4 sub [params] */
export function fn(access: number, sub: number, ...params: Uint8Array[]): Buffer {
  return request(access, Cmd.FN, Buffer.from([sub]), ...params);
}

export function findDocument(access: number, fd: number): Buffer {
  return fn(access, FnSub.FIND, u32LE(fd));
}

export function documentSize(access: number, fd: number): Buffer {
  return fn(access, FnSub.DOC_SIZE, u32LE(fd));
}

/** 46 table(1) row(u16 BE) field(1), all binary [A2] */
export function readTable(access: number, table: number, row: number, field: number): Buffer {
  return request(access, Cmd.READ_TABLE, Buffer.from([table, row >> 8, row & 0xff, field]));
}

function bad(what: string): DriverError {
  return new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `cannot encode ${what}`);
}

// ------------------------------------------------------------------------------------------------ answers

/**
 * The data of a command's success answer. A task error (A4/A7) or a `55 err` with err ≠ 0 throws the device error.
 * `lead` is the expected first byte of a success (0x55 generic, 0x44 for 3F, 0x00 for A5).
 */
export function answerData(req: Buffer, r: TaskResult, lead = 0x55, minLen = 0): Buffer {
  const name = taskName(req);
  const d = r.data;
  // `55 err ext` with err ≠ 0 is a refusal whatever the command (3F and A5 answer it too when they fail)
  if (d[0] === 0x55 && d.length >= 2 && (d[1] !== 0 || lead !== 0x55)) {
    if (d[1] !== 0) throw deviceError(d[1]!, name, d[2] ?? 0);
  }
  if (r.status === 'error') {
    if (d[0] !== undefined && d[0] !== 0x55 && d[0] !== 0) throw deviceError(d[0], name, d[1] ?? 0);
    throw badAnswer(name, `the task failed with answer ${d.toString('hex') || '(empty)'}`);
  }
  // A5 leads with its error byte
  if (lead === 0x00 && d[0] !== undefined && d[0] !== 0 && d[0] !== 0x55) throw deviceError(d[0], name);
  if (d[0] !== lead) throw badAnswer(name, `first byte ${d[0]?.toString(16) ?? 'none'}, expected ${lead.toString(16)}`);
  if (d.length < minLen) throw badAnswer(name, `${d.length} bytes, expected ≥ ${minLen}`);
  return d;
}

/** Generic `55 00 [ext]` answer. */
export function expectOk(req: Buffer, r: TaskResult): void {
  answerData(req, r, 0x55, 2);
}

export interface AtolStatus {
  cashier: number;
  dateTime: string;
  flags: number;
  fiscalized: boolean;
  shiftOpen: boolean;
  paperPresent: boolean;
  coverOpen: boolean;
  serial: string;
  model: number;
  version: string;
  mode: number;
  submode: number;
  receiptNumber: number;
  /** last closed shift */
  shiftNumber: number;
  receiptState: number;
  receiptSum: number;
}

const bcdOr0 = (b: Uint8Array): number => fromBcd(b) ?? 0;
const p2 = (n: number): string => String(n).padStart(2, '0');

/**
 * 3F → 44, cashier(BCD1), hall1, date YYMMDD (BCD3), time hhmmss (BCD3), flags1, serial (BCD4), model1, version2,
 * mode/submode1 (low nibble mode), receipt no. (BCD2), shift no. (BCD2), receipt state1, receipt sum (BCD5),
 * decimal point1, interface1. Flags: b0 fiscalized, b1 shift open, b2 drawer, b3 paper present, b5 cover open.
 */
export function decodeStatus(req: Buffer, r: TaskResult): AtolStatus {
  const d = answerData(req, r, 0x44, 28);
  const flags = d[9]!;
  const [yy, mo, dd, hh, mi, ss] = [3, 4, 5, 6, 7, 8].map((i) => bcdOr0(d.subarray(i, i + 1))) as [number, number, number, number, number, number];
  return {
    cashier: bcdOr0(d.subarray(1, 2)),
    dateTime: `${2000 + yy}-${p2(mo)}-${p2(dd)}T${p2(hh)}:${p2(mi)}:${p2(ss)}`,
    flags,
    fiscalized: (flags & 0x01) !== 0,
    shiftOpen: (flags & 0x02) !== 0,
    paperPresent: (flags & 0x08) !== 0,
    coverOpen: (flags & 0x20) !== 0,
    serial: String(bcdOr0(d.subarray(10, 14))),
    model: d[14]!,
    version: `${d[15]!.toString(16)}.${d[16]!.toString(16)}`,
    mode: d[17]! & 0x0f,
    submode: d[17]! >> 4,
    receiptNumber: bcdOr0(d.subarray(18, 20)),
    shiftNumber: bcdOr0(d.subarray(20, 22)),
    receiptState: d[22]!,
    receiptSum: bcdOr0(d.subarray(23, 28)),
  };
}

export interface PrinterState {
  mode: number;
  submode: number;
  /** the raw mode byte: 0x22 X printing, 0x23 Z printing, 0x17 FN part of Z */
  modeByte: number;
  noPaper: boolean;
  printerLost: boolean;
  mechanicalError: boolean;
  cutterError: boolean;
  overheat: boolean;
}

/** 45 → 55, mode/submode1, flags1: b0 no paper, b1 printer not connected, b2 mechanical error, b3 cutter, b4 overheat. */
export function decodePrinterState(req: Buffer, r: TaskResult): PrinterState {
  if (r.status === 'error') answerData(req, r);
  const d = r.data;
  if (d[0] !== 0x55 || d.length < 3) throw badAnswer(taskName(req), `45 answer ${d.toString('hex')}`);
  const f = d[2]!;
  return {
    mode: d[1]! & 0x0f,
    submode: d[1]! >> 4,
    modeByte: d[1]!,
    noPaper: (f & 0x01) !== 0,
    printerLost: (f & 0x02) !== 0,
    mechanicalError: (f & 0x04) !== 0,
    cutterError: (f & 0x08) !== 0,
    overheat: (f & 0x10) !== 0,
  };
}

export interface DeviceType {
  protocol: number;
  type: number;
  model: number;
  firmware: string;
  name: string;
}

/** A5 → err1 (00), protocol1, type1, model1, mode2, version5 (major, minor, language, build BCD2), name (code page). */
export function decodeDeviceType(req: Buffer, r: TaskResult): DeviceType {
  const d = answerData(req, r, 0x00, 11);
  const build = fromBcd(d.subarray(9, 11));
  return {
    protocol: d[1]!,
    type: d[2]!,
    model: d[3]!,
    firmware: `${d[6]!.toString(16)}.${d[7]!.toString(16)}.${d[8]!.toString(16)} build ${build ?? d.subarray(9, 11).toString('hex')}`,
    name: decodeText(d.subarray(11)).trim(),
  };
}

export interface PaymentAnswer {
  remainder: number;
  change: number;
}

/** 99 → 55 00 remainder(5) change(5) — 12 bytes; [A3] reads them after an extra byte (13), tolerated. */
export function decodePayment(req: Buffer, r: TaskResult): PaymentAnswer {
  const d = answerData(req, r, 0x55, 2);
  const off = d.length >= 13 ? 3 : 2;
  if (d.length < off + 10) return { remainder: 0, change: 0 };
  return { remainder: bcdOr0(d.subarray(off, off + 5)), change: bcdOr0(d.subarray(off + 5, off + 10)) };
}

/**
 * Register (91) date-time, BCD5, **day first**: DD MM YY hh mm — the one source that parses it ([A1]'s 91 33 reader,
 * firmware talking to real registers) reads it so; 3F's date is YY MM DD. → "YYYY-MM-DDTHH:MM"
 */
function bcdDateTime(b: Uint8Array): string {
  const [dd, mo, yy, hh, mi] = [0, 1, 2, 3, 4].map((i) => bcdOr0(b.subarray(i, i + 1))) as [number, number, number, number, number];
  return `${2000 + yy}-${p2(mo)}-${p2(dd)}T${p2(hh)}:${p2(mi)}`;
}

/** binary date-time YY MM DD hh mm (FN format) */
function binDateTime(b: Uint8Array, off: number): string {
  return `${2000 + b[off]!}-${p2(b[off + 1]!)}-${p2(b[off + 2]!)}T${p2(b[off + 3]!)}:${p2(b[off + 4]!)}`;
}

export interface LastReceipt {
  fdNumber: number;
  /** ATOL receipt type (1, 2, 4, 5, corrections 7…) */
  type: number;
  total: number;
  dateTime: string;
  fiscalSign: number;
}

/** 91 33 → 55 00 FD(BCD5) type1 total(BCD7) date-time(BCD5 DD MM YY hh mm) FP(BCD5) reserved(3) */
export function decodeLastReceipt(req: Buffer, r: TaskResult): LastReceipt {
  const d = answerData(req, r, 0x55, 25);
  return {
    fdNumber: bcdOr0(d.subarray(2, 7)),
    type: d[7]!,
    total: bcdOr0(d.subarray(8, 15)),
    dateTime: bcdDateTime(d.subarray(15, 20)),
    fiscalSign: bcdOr0(d.subarray(20, 25)),
  };
}

export interface LastFd {
  fdNumber: number;
  dateTime: string;
  fiscalSign: number;
}

/** 91 34 → 55 00 FD(BCD5) date-time(BCD5 DD MM YY hh mm) FP(BCD5) */
export function decodeLastFd(req: Buffer, r: TaskResult): LastFd {
  const d = answerData(req, r, 0x55, 17);
  return { fdNumber: bcdOr0(d.subarray(2, 7)), dateTime: bcdDateTime(d.subarray(7, 12)), fiscalSign: bcdOr0(d.subarray(12, 17)) };
}

/** 91 2C → 55 00 count (BCD) */
export function decodeRegisterNumber(req: Buffer, r: TaskResult): number {
  const d = answerData(req, r, 0x55, 3);
  return bcdOr0(d.subarray(2));
}

/** 91 2D → 55 00 date (BCD3 DD MM YY, day first as the other 91 dates) [hh mm] → "YYYY-MM-DD[THH:MM]" or undefined when zero */
export function decodeRegisterDate(req: Buffer, r: TaskResult): string | undefined {
  const d = answerData(req, r, 0x55, 5);
  const [dd, mo, yy] = [2, 3, 4].map((i) => bcdOr0(d.subarray(i, i + 1))) as [number, number, number];
  if (mo === 0 || dd === 0) return undefined;
  const date = `${2000 + yy}-${p2(mo)}-${p2(dd)}`;
  if (d.length >= 7) return `${date}T${p2(bcdOr0(d.subarray(5, 6)))}:${p2(bcdOr0(d.subarray(6, 7)))}`;
  return date;
}

export interface ShiftParams {
  open: boolean;
  shiftNumber: number;
  receiptNumber: number;
}

/** A4 10 → 55 00 open1 shift(u16 LE) receipt(u16 LE) — binary (quirk `shiftParamsEncoding`: 'bcd' = [A3]'s reading). */
export function decodeShiftParams(req: Buffer, r: TaskResult, encoding: 'binary' | 'bcd' = 'binary'): ShiftParams {
  const d = answerData(req, r, 0x55, 7);
  const num = (off: number): number => (encoding === 'binary' ? uLE(d, off, 2) : bcdOr0(Buffer.from([d[off + 1]!, d[off]!])));
  return { open: d[2] !== 0, shiftNumber: num(3), receiptNumber: num(5) };
}

/** A4 31 → 55 00 FN number (16 ASCII) */
export function decodeFnNumber(req: Buffer, r: TaskResult): string {
  const d = answerData(req, r, 0x55, 18);
  return d.subarray(2, 18).toString('latin1').replace(/\0/g, '').trim();
}

/** A4 32 → 55 00 YY MM DD (binary) remaining made → "YYYY-MM-DD" */
export function decodeFnValidity(req: Buffer, r: TaskResult): string {
  const d = answerData(req, r, 0x55, 5);
  return `${2000 + d[2]!}-${p2(d[3]!)}-${p2(d[4]!)}`;
}

export interface ExchangeStatus {
  state: number;
  unsentCount: number;
  firstUnsent: number;
  firstDateTime?: string;
}

/** A4 20 → 55 00 state1 reading1 unsent(u16 LE) firstFD(u32 LE) date-time5 (binary) */
export function decodeExchangeStatus(req: Buffer, r: TaskResult): ExchangeStatus {
  const d = answerData(req, r, 0x55, 10);
  const out: ExchangeStatus = { state: d[2]!, unsentCount: uLE(d, 4, 2), firstUnsent: uLE(d, 6, 4) };
  if (out.unsentCount > 0 && d.length >= 15 && d[11]! > 0) out.firstDateTime = binDateTime(d, 10);
  return out;
}

export interface FnStatus {
  phase: number;
  currentDocument: number;
  shiftOpen: boolean;
  warnings: number;
  dateTime: string;
  serial: string;
  lastFd: number;
}

/** A4 30 → 55 00 + the FN's own status: phase1 curDoc1 docData1 shiftOpen1 warnings1 date-time5 serial16 lastFD(u32 LE) */
export function decodeFnStatus(req: Buffer, r: TaskResult): FnStatus {
  const d = answerData(req, r, 0x55, 32);
  return {
    phase: d[2]!,
    currentDocument: d[3]!,
    shiftOpen: d[5] !== 0,
    warnings: d[6]!,
    dateTime: binDateTime(d, 7),
    serial: d.subarray(12, 28).toString('latin1').replace(/\0/g, '').trim(),
    lastFd: uLE(d, 28, 4),
  };
}

/** FFD document types: 3 receipt, 31 correction, 4 БСО, 41 БСО correction. */
export function isReceiptType(type: number): boolean {
  return type === 3 || type === 31 || type === 4 || type === 41;
}

/**
 * A4 40 fd(u32 LE) → 55 00 + the FN's document: type1 ticket1 date-time5 FD(u32 LE) FP(u32 LE), then op1 sum(5 LE)
 * (receipts, corrections) or shift(u16 LE) (shift open / close).
 */
export function decodeFoundDocument(req: Buffer, r: TaskResult): DocumentRef {
  const d = answerData(req, r, 0x55, 17);
  const type = d[2]!;
  const doc: DocumentRef = { type, dateTime: binDateTime(d, 4), fdNumber: uLE(d, 9, 4), fiscalSign: uLE(d, 13, 4) };
  if (isReceiptType(type) && d.length >= 23) {
    doc.operation = d[17]!;
    doc.total = uLE(d, 18, 5);
  } else if ((type === 2 || type === 5) && d.length >= 19) {
    doc.shiftNumber = uLE(d, 17, 2);
  }
  return doc;
}

/** A4 45 fd → 55 00 type(u16 LE) size(u16 LE) */
export function decodeDocumentSize(req: Buffer, r: TaskResult): { type: number; size: number } {
  const d = answerData(req, r, 0x55, 6);
  return { type: uLE(d, 2, 2), size: uLE(d, 4, 2) };
}

/** A4 46 → 55 00 + the next piece of the document's TLVs */
export function decodeDocumentPiece(req: Buffer, r: TaskResult): Buffer {
  return Buffer.from(answerData(req, r, 0x55, 2).subarray(2));
}

/** A document from its TLVs (A4 45/46): 1040 FD, 1012 date-time, 1077 FP, 1054 operation, 1020 total, 1038 shift. */
export function documentFromTlv(type: number, tlvs: Buffer): DocumentRef {
  const doc: DocumentRef = { type, fdNumber: 0, dateTime: '', fiscalSign: 0 };
  for (let off = 0; off + 4 <= tlvs.length; ) {
    const tag = tlvs.readUInt16LE(off);
    const len = tlvs.readUInt16LE(off + 2);
    const v = tlvs.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    if (v.length < len) break;
    switch (tag) {
      case 1040: doc.fdNumber = uLE(v, 0, Math.min(4, v.length)); break;
      case 1012: {
        const t = new Date(uLE(v, 0, 4) * 1000);
        doc.dateTime = t.toISOString().slice(0, 16);
        break;
      }
      // 1077 ФПД: 6 bytes, the FP is the last 4, big-endian
      case 1077: doc.fiscalSign = v.length >= 4 ? v.readUInt32BE(v.length - 4) : 0; break;
      case 1054: doc.operation = v[0]; break;
      case 1020: doc.total = uLE(v, 0, v.length); break;
      case 1038: doc.shiftNumber = uLE(v, 0, v.length); break;
    }
  }
  return doc;
}

/** Top-level TLVs of a document (A4 45/46), tag → value (the first of a repeated tag). */
export function topLevelTlvs(tlvs: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let off = 0; off + 4 <= tlvs.length; ) {
    const tag = tlvs.readUInt16LE(off);
    const len = tlvs.readUInt16LE(off + 2);
    const v = tlvs.subarray(off + 4, off + 4 + len);
    if (v.length < len) break;
    if (!out.has(tag)) out.set(tag, Buffer.from(v));
    off += 4 + len;
  }
  return out;
}

/** 46 → 55 00 value: the table field's bytes */
export function decodeTableValue(req: Buffer, r: TaskResult): Buffer {
  return Buffer.from(answerData(req, r, 0x55, 2).subarray(2));
}

// ------------------------------------------------------------------------------------------------ document copy

/** A document read back as TLVs (A4 45/46), the known tags decoded; the shape of types.ts FnDocumentCopy. */
export interface DocumentCopy {
  fdNumber: number;
  type: number;
  operation?: number;
  total?: number;
  payments?: Payments;
  items?: Array<{ name: string; price: number; quantity: number; sum: number; vatRate?: number; paymentMethod?: number; paymentObject?: number }>;
  customerContact?: string;
  cashier?: string;
  shiftNumber?: number;
  receiptNumber?: number;
  fd?: number;
  fiscalSign?: number;
  dateTime?: string;
  tags: Record<string, unknown>;
}

const STLV_TAGS = new Set([1059, 1174, 1224, 1084, 1223, 1260]);
const TEXT_TAGS = new Set([1008, 1009, 1013, 1017, 1018, 1021, 1026, 1030, 1036, 1037, 1041, 1044, 1046, 1048, 1060, 1117, 1171, 1177, 1179, 1187, 1191, 1192, 1203, 1225, 1226, 1227, 1228, 2108]);

function tlvValue(tag: number, v: Buffer): unknown {
  if (STLV_TAGS.has(tag)) return tlvRecord(v);
  if (TEXT_TAGS.has(tag)) return iconv.decode(v, 'cp866').replace(/\0+$/, '').trim();
  if (tag === 1012) return new Date(uLE(v, 0, Math.min(4, v.length)) * 1000).toISOString().slice(0, 16);
  if (tag === 1077) return v.length >= 4 ? v.readUInt32BE(v.length - 4) : 0;
  if (tag === 1023) return fvlnThousandths(v);
  if (v.length <= 6) return uLE(v, 0, v.length);
  return v.toString('hex');
}

/** FVLN: first byte = digits after the point, then a LE integer → thousandths */
function fvlnThousandths(v: Buffer): number {
  if (v.length < 2) return 0;
  const point = v[0]!;
  const raw = uLE(v, 1, Math.min(v.length - 1, 6));
  return point <= 3 ? raw * 10 ** (3 - point) : Math.round(raw / 10 ** (point - 3));
}

/** TLVs → { tag: value }; a repeated tag becomes an array of its values */
function tlvRecord(buf: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let off = 0; off + 4 <= buf.length; ) {
    const tag = buf.readUInt16LE(off);
    const len = buf.readUInt16LE(off + 2);
    const v = buf.subarray(off + 4, off + 4 + len);
    if (v.length < len) break;
    off += 4 + len;
    const value = tlvValue(tag, Buffer.from(v));
    const key = String(tag);
    if (tag === 1059) out[key] = [...((out[key] as unknown[] | undefined) ?? []), value];
    else if (key in out) out[key] = Array.isArray(out[key]) ? [...(out[key] as unknown[]), value] : [out[key], value];
    else out[key] = value;
  }
  return out;
}

export function documentCopyFromTlv(fdNumber: number, type: number, tlvs: Buffer): DocumentCopy {
  const tags = tlvRecord(tlvs);
  const num = (tag: number): number | undefined => (typeof tags[tag] === 'number' ? (tags[tag] as number) : undefined);
  const str = (tag: number): string | undefined => (typeof tags[tag] === 'string' ? (tags[tag] as string) : undefined);
  const copy: DocumentCopy = { fdNumber, type, tags };
  const set = <K extends keyof DocumentCopy>(k: K, v: DocumentCopy[K] | undefined): void => {
    if (v !== undefined) copy[k] = v;
  };
  set('fd', num(1040));
  set('operation', num(1054));
  set('total', num(1020));
  set('customerContact', str(1008));
  set('cashier', str(1021));
  set('shiftNumber', num(1038));
  set('receiptNumber', num(1042));
  set('fiscalSign', num(1077));
  set('dateTime', str(1012));
  if ([1031, 1081, 1215, 1216, 1217].some((x) => num(x) !== undefined)) {
    copy.payments = { cash: num(1031) ?? 0, electronic: num(1081) ?? 0, prepaid: num(1215) ?? 0, credit: num(1216) ?? 0, other: num(1217) ?? 0 };
  }
  const items = tags['1059'];
  if (Array.isArray(items)) {
    copy.items = items.map((raw) => {
      const it = raw as Record<string, unknown>;
      const n = (tag: number): number | undefined => (typeof it[tag] === 'number' ? (it[tag] as number) : undefined);
      const item: NonNullable<DocumentCopy['items']>[number] = { name: String(it['1030'] ?? ''), price: n(1079) ?? 0, quantity: n(1023) ?? 0, sum: n(1043) ?? 0 };
      if (n(1199) !== undefined) item.vatRate = n(1199)!;
      if (n(1214) !== undefined) item.paymentMethod = n(1214)!;
      if (n(1212) !== undefined) item.paymentObject = n(1212)!;
      return item;
    });
  }
  return copy;
}

export interface FnRegistration {
  dateTime: string;
  inn: string;
  registrationNumber: string;
  taxBits: number;
  modeBits: number;
  extendedModeBits?: number;
  ofdInn?: string;
  fdNumber: number;
  fiscalSign: number;
}

/**
 * A4 43 → 55 00 + the FN's 43h: date-time5 (binary) INN(12 ASCII) RNM(20 ASCII) taxSystems(1) workMode(1)
 * [FFD 1.1+: extendedMode(1) OFD INN(12)] fd(u32 LE) fp(u32 LE). [A2] reads the INN at offset 7.
 */
export function decodeFnRegistration(req: Buffer, r: TaskResult): FnRegistration {
  const d = answerData(req, r, 0x55, 49);
  const ascii = (off: number, len: number): string => d.subarray(off, off + len).toString('latin1').replace(/\0/g, '').trim();
  const out: FnRegistration = {
    dateTime: binDateTime(d, 2),
    inn: ascii(7, 12),
    registrationNumber: ascii(19, 20),
    taxBits: d[39]!,
    modeBits: d[40]!,
    fdNumber: 0,
    fiscalSign: 0,
  };
  if (d.length >= 62) {
    // FFD 1.1/1.2: the FN's 43h layout (as Shtrih FF09): extended flags, OFD INN, reason code(4), FD(4), FP(4);
    // a 60-byte block without the reason code is read too
    out.extendedModeBits = d[41]!;
    const ofd = ascii(42, 12);
    if (ofd) out.ofdInn = ofd;
    const at = d.length >= 66 ? 58 : 54;
    out.fdNumber = uLE(d, at, 4);
    out.fiscalSign = uLE(d, at + 4, 4);
  } else {
    out.fdNumber = uLE(d, 41, 4);
    out.fiscalSign = uLE(d, 45, 4);
  }
  return out;
}
