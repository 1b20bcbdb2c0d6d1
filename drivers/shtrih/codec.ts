/**
 * Shtrih-M request encoders and answer decoders (kkt-protocols.md §1.5–§1.8) for the commands the host driver uses.
 * Requests are payloads (code + password + parameters) for `encodeFrame`; answers are frame payloads
 * (code, error byte, data). Decoders check the echoed code and the error byte, and never read past the end.
 */
import iconv from 'iconv-lite';
import { DriverError, type Correction, type DocumentRef, type FiscalItem, type FiscalReceipt, type OperationType, type Payments, type TaxSystem, type VatType } from '../types.ts';
import {
  allOnes, decodeText, fixedText, limitedText, p2, readDateDMY, readDateTime5, readDateYMD, readTimeHMS, readUIntLE, tlv, writeUIntLE,
} from './bytes.ts';
import { DriverCodes, badAnswer, deviceError } from './errors.ts';
import { commandCode, commandName } from './frame.ts';

export const Cmd = {
  SHORT_STATUS: 0x10,
  STATUS: 0x11,
  PRINT_STRING: 0x17,
  READ_CASH_REGISTER: 0x1a,
  READ_OPERATION_REGISTER: 0x1b,
  READ_TABLE: 0x1f,
  CUT: 0x25,
  X_REPORT: 0x40,
  Z_REPORT: 0x41,
  CASH_IN: 0x50,
  CASH_OUT: 0x51,
  CANCEL_RECEIPT: 0x88,
  CONTINUE_PRINT: 0xb0,
  OPEN_SHIFT: 0xe0,
  DEVICE_TYPE: 0xfc,
  /** service commands: `FE xx`, answered `FE err …` (one code byte) */
  SERVICE: 0xfe,
  FN_STATUS: 0xff01,
  FN_NUMBER: 0xff02,
  FN_EXPIRY: 0xff03,
  FN_REGISTRATION: 0xff09,
  FN_FIND_DOCUMENT: 0xff0a,
  FN_WRITE_TLV: 0xff0c,
  FN_OFD_STATUS: 0xff39,
  FN_UNCONFIRMED_COUNT: 0xff3f,
  FN_REQUEST_DOCUMENT: 0xff3a,
  FN_READ_DOCUMENT_BLOCK: 0xff3b,
  FN_SHIFT_PARAMS: 0xff40,
  CLOSE_RECEIPT_V2: 0xff45,
  OPERATION_V2: 0xff46,
  CORRECTION_V2: 0xff4a,
  FN_WRITE_ITEM_TLV: 0xff4d,
} as const;

/** Largest TLV block one FF0C / FF4D carries. */
export const MAX_TLV_BLOCK = 250;
/** FF46 item name limit, bytes of CP1251. */
export const MAX_ITEM_NAME = 128;

// ---------------------------------------------------------------------------------------------------------------
// Requests

function codeBytes(code: number): Buffer {
  return code > 0xff ? Buffer.from([0xff, code & 0xff]) : Buffer.from([code]);
}

export function password(pwd: number): Buffer {
  return writeUIntLE(pwd, 4);
}

/** A request payload: command code, 4-byte password, parameters. */
export function request(code: number, pwd: number, ...params: Buffer[]): Buffer {
  return Buffer.concat([codeBytes(code), password(pwd), ...params]);
}

/** Commands whose only parameter is the password (10h, 11h, 40h, 41h, 88h, B0h, E0h, FF01, FF02, FF03, FF39, FF3F, FF40). */
export function passwordOnly(code: number, pwd: number): Buffer {
  return request(code, pwd);
}

/** FCh: device type, the only command without a password. */
export function deviceTypeRequest(): Buffer {
  return Buffer.from([Cmd.DEVICE_TYPE]);
}

/** 50h / 51h: cash in / cash out, sum in kopecks. */
export function cashRequest(code: typeof Cmd.CASH_IN | typeof Cmd.CASH_OUT, pwd: number, sum: number): Buffer {
  return request(code, pwd, money5(sum));
}

/** 17h: one line of text; flags bit0 journal, bit1 receipt tape. */
export function printStringRequest(pwd: number, text: string, flags = 0x02): Buffer {
  return request(Cmd.PRINT_STRING, pwd, Buffer.from([flags]), fixedText(text, 40));
}

/** 25h: cut, full or partial. */
export function cutRequest(pwd: number, partial = false): Buffer {
  return request(Cmd.CUT, pwd, Buffer.from([partial ? 1 : 0]));
}

/** FF0A: find a fiscal document by number. */
export function findDocumentRequest(pwd: number, fdNumber: number): Buffer {
  return request(Cmd.FN_FIND_DOCUMENT, pwd, writeUIntLE(fdNumber, 4));
}

/** FF0C (receipt level) or FF4D (bound to the last FF46): a block of TLVs. */
export function tlvRequest(code: typeof Cmd.FN_WRITE_TLV | typeof Cmd.FN_WRITE_ITEM_TLV, pwd: number, tlvs: Buffer): Buffer {
  if (tlvs.length === 0 || tlvs.length > MAX_TLV_BLOCK) {
    throw new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `TLV block of ${tlvs.length} bytes (1..${MAX_TLV_BLOCK})`, { command: commandName(code) });
  }
  return request(code, pwd, tlvs);
}

function money5(kopecks: number): Buffer {
  return writeMoney(kopecks, 5);
}

function writeMoney(kopecks: number, len: number): Buffer {
  try {
    return writeUIntLE(kopecks, len);
  } catch {
    throw new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `amount ${kopecks} does not fit ${len} bytes (integer kopecks ≥ 0)`);
  }
}

/** FF46 tax byte: a bitmask of tax-table rows (javapos getVatCodeShtrih), not the tag 1199 value. */
export const VAT_CODES: Readonly<Record<VatType, number>> = {
  vat20: 0x01,
  vat10: 0x02,
  vat0: 0x04,
  none: 0x08,
  vat120: 0x10,
  vat110: 0x20,
  vat5: 0x81,
  vat7: 0x82,
  vat105: 0x84,
  vat107: 0x88,
  vat22: 0xcb,
  vat122: 0xcc,
};

/** Shtrih Nano numbers the 22 % rates differently. */
export const VAT_CODES_NANO: Partial<Record<VatType, number>> = { vat22: 0x90, vat122: 0xa0 };

/** Tag 1055 bit of each taxation system. */
export const TAX_SYSTEM_BITS: Readonly<Record<TaxSystem, number>> = {
  osn: 1,
  usn_income: 2,
  usn_income_outcome: 4,
  envd: 8,
  esn: 16,
  patent: 32,
};

export interface OperationV2 {
  operation: OperationType;
  /** thousandths (our unit); sent ×1000 as millionths */
  quantity: number;
  /** kopecks */
  price: number;
  /** kopecks; undefined = the device computes */
  sum?: number;
  /** kopecks; undefined = not given */
  taxSum?: number;
  /** FF46 tax byte (VAT_CODES) */
  taxCode: number;
  department: number;
  /** tag 1214 */
  paymentMethod: number;
  /** tag 1212 */
  paymentObject: number;
  /** CP1251, cut to 128 bytes */
  name: string;
}

/** FF46: one receipt line (the first one opens the receipt). */
export function operationRequest(pwd: number, op: OperationV2): Buffer {
  return request(
    Cmd.OPERATION_V2,
    pwd,
    Buffer.from([op.operation]),
    writeMoney(op.quantity * 1000, 6),
    money5(op.price),
    op.sum === undefined ? allOnes(5) : money5(op.sum),
    op.taxSum === undefined ? allOnes(5) : money5(op.taxSum),
    Buffer.from([op.taxCode, op.department, op.paymentMethod, op.paymentObject]),
    limitedText(op.name, MAX_ITEM_NAME),
  );
}

export interface CloseV2 {
  payments: Payments;
  taxSystem: TaxSystem;
  /** printed under the receipt; CP1251, ≤ 64 bytes */
  text?: string;
}

/** FF45 payment slot (1-based) of each payment kind: 1 cash, 2 electronic, 14 prepaid, 15 credit, 16 other. */
export const PAYMENT_SLOTS: Readonly<Record<keyof Payments, number>> = { cash: 1, electronic: 2, prepaid: 14, credit: 15, other: 16 };

/** FF45: closes the receipt: 16 payment sums, rounding 0, 6 tax sums 0 (the device computes), tax system, text. */
export function closeReceiptRequest(pwd: number, close: CloseV2): Buffer {
  const slots = Array.from({ length: 16 }, () => money5(0));
  for (const [kind, slot] of Object.entries(PAYMENT_SLOTS) as Array<[keyof Payments, number]>) {
    slots[slot - 1] = money5(close.payments[kind]);
  }
  return request(
    Cmd.CLOSE_RECEIPT_V2,
    pwd,
    ...slots,
    Buffer.from([0]),
    Buffer.alloc(6 * 5),
    Buffer.from([taxSystemBit(close.taxSystem)]),
    limitedText(close.text ?? '', 64),
  );
}

export function taxSystemBit(ts: TaxSystem): number {
  const bit = TAX_SYSTEM_BITS[ts];
  if (bit === undefined) throw new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `unknown taxation system ${String(ts)}`);
  return bit;
}

export interface CorrectionV2 {
  /** tag 1173: 0 own initiative, 1 by order */
  type: 0 | 1;
  /** 1 приход, 3 расход */
  calcSign: 1 | 3;
  total: number;
  cash: number;
  electronic: number;
  prepaid: number;
  credit: number;
  other: number;
  /** tax sums in the order vat20, vat10, vat0 (sum), none (sum), vat120, vat110 */
  taxes?: [number, number, number, number, number, number];
  taxSystem: TaxSystem;
}

/** FF4A: correction receipt V2 (FFD 1.05 style; FFD 1.2 corrections go as FF0C 1173/1174 + FF46 + FF45). */
export function correctionRequest(pwd: number, c: CorrectionV2): Buffer {
  const taxes = c.taxes ?? [0, 0, 0, 0, 0, 0];
  return request(
    Cmd.CORRECTION_V2,
    pwd,
    Buffer.from([c.type, c.calcSign]),
    ...[c.total, c.cash, c.electronic, c.prepaid, c.credit, c.other, ...taxes].map(money5),
    Buffer.from([taxSystemBit(c.taxSystem)]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// TLVs (values of string tags are CP866, as in FN documents)

export function tlvString(tag: number, text: string, maxBytes: number): Buffer {
  const b = iconv.encode(text, 'cp866');
  return tlv(tag, b.length > maxBytes ? b.subarray(0, maxBytes) : b);
}

/** INN tags (1203, 1228): 12 characters, a 10-digit INN padded with spaces. */
export function tlvInn(tag: number, inn: string): Buffer {
  return tlv(tag, Buffer.from(inn.trim().padEnd(12, ' ').slice(0, 12), 'ascii'));
}

function tlvUnixDate(tag: number, date: string): Buffer {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(date);
  if (!m) throw new DriverError(DriverCodes.BAD_DOCUMENT, 'rejected', `bad date ${date} for tag ${tag}`);
  return tlv(tag, writeUIntLE(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000, 4));
}

/** 1173 correction type and 1174 STLV {1178 base date, 1179 base document number}. */
export function correctionTlvs(c: Correction): Buffer[] {
  const base = [tlvUnixDate(1178, c.baseDate)];
  if (c.baseNumber) base.push(tlvString(1179, c.baseNumber, 32));
  return [tlv(1173, Buffer.from([c.type])), tlv(1174, Buffer.concat(base))];
}

/** Receipt-level tags after the items: 1008 contact, 1021 cashier, 1203 cashier INN, 1227/1228 customer. */
export function receiptTlvs(r: FiscalReceipt): Buffer[] {
  const out: Buffer[] = [];
  if (r.customerContact) out.push(tlvString(1008, r.customerContact, 64));
  if (r.cashier?.name) out.push(tlvString(1021, r.cashier.name, 64));
  if (r.cashier?.inn) out.push(tlvInn(1203, r.cashier.inn));
  if (r.customerName) out.push(tlvString(1227, r.customerName, 128));
  if (r.customerInn) out.push(tlvInn(1228, r.customerInn));
  return out;
}

/** Cashier tags for a shift open / close document. */
export function cashierTlvs(cashier: { name: string; inn?: string } | undefined): Buffer[] {
  if (!cashier?.name) return [];
  return [tlvString(1021, cashier.name, 64), ...(cashier.inn ? [tlvInn(1203, cashier.inn)] : [])];
}

/**
 * Item tags FF46 has no field for: 2108 measure (FFD 1.2) when not "piece"; agent data 1222, 1224 {1225 supplier
 * name, 1171 phones}, 1226 supplier INN. Empty = no FF4D needed. The supplier name is cut to 160 bytes so that 1224
 * fits one FF4D block.
 */
export function itemTlvs(item: FiscalItem): Buffer[] {
  const out: Buffer[] = item.measure ? [tlv(2108, Buffer.from([item.measure]))] : [];
  const a = item.agent;
  if (a) {
    if (a.agentBits) out.push(tlv(1222, Buffer.from([a.agentBits])));
    const supplier = [
      ...(a.supplierPhones ?? []).slice(0, 3).map((p) => tlvString(1171, p, 19)),
      ...(a.supplierName ? [tlvString(1225, a.supplierName, 160)] : []),
    ];
    if (supplier.length > 0) out.push(tlv(1224, Buffer.concat(supplier)));
    if (a.supplierInn) out.push(tlvInn(1226, a.supplierInn));
  }
  return out;
}

/** Groups TLVs into blocks of ≤ 250 bytes (one FF0C / FF4D each), in order. */
export function tlvBlocks(tlvs: Buffer[]): Buffer[] {
  const blocks: Buffer[] = [];
  let cur: Buffer[] = [];
  let size = 0;
  for (const t of tlvs) {
    if (size + t.length > MAX_TLV_BLOCK && cur.length > 0) {
      blocks.push(Buffer.concat(cur));
      cur = [];
      size = 0;
    }
    cur.push(t);
    size += t.length;
  }
  if (cur.length > 0) blocks.push(Buffer.concat(cur));
  return blocks;
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

/**
 * Checks an answer payload against the request code and returns the data after the error byte.
 * A non-zero error byte throws the device error; a foreign code or short data throws BAD_ANSWER.
 */
export function answerData(code: number, answer: Buffer, minData = 0): Buffer {
  const name = commandName(code);
  const codeLen = code > 0xff ? 2 : 1;
  if (answer.length < codeLen + 1) throw badAnswer(name, `${answer.length} bytes`);
  if (commandCode(answer) !== code) throw badAnswer(name, `answer to ${commandName(commandCode(answer))}`);
  const err = answer[codeLen]!;
  if (err !== 0) throw deviceError(err, name);
  const data = answer.subarray(codeLen + 1);
  if (data.length < minData) throw badAnswer(name, `${data.length} data bytes, need ${minData}`);
  return data;
}

/** Answers that carry nothing the host uses (or only the operator number). */
export function decodeEmpty(code: number, answer: Buffer): void {
  answerData(code, answer);
}

/** Sequential reader over checked answer data (lengths already checked by answerData's minimum). */
class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  get left(): number {
    return this.buf.length - this.pos;
  }
  u(len: number): number {
    const v = readUIntLE(this.buf, this.pos, len);
    this.pos += len;
    return v;
  }
  bytes(len: number): Buffer {
    if (len > this.left) throw new RangeError(`need ${len} bytes, have ${this.left}`);
    const b = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return b;
  }
  rest(): Buffer {
    return this.bytes(this.left);
  }
  dateTime5(): string {
    return readDateTime5(this.bytes(5), 0);
  }
  ascii(len: number): string {
    return this.bytes(len).toString('latin1').replace(/[\0\s]+$/g, '').replace(/[^\x20-\x7e]/g, '');
  }
}

/** Decodes with a Reader; any overrun becomes BAD_ANSWER (never a crash). */
function decode<T>(code: number, answer: Buffer, minData: number, body: (r: Reader) => T): T {
  const data = answerData(code, answer, minData);
  try {
    return body(new Reader(data));
  } catch (err) {
    if (err instanceof DriverError) throw err;
    throw badAnswer(commandName(code), err instanceof Error ? err.message : String(err));
  }
}

export interface ShortStatus {
  operator: number;
  flags: number;
  /** low nibble of the mode byte */
  mode: number;
  /** high nibble of the mode byte (document type when mode 8) */
  modeStatus: number;
  submode: number;
  lastPrintResult?: number;
}

/** 10h: op1 flags2 mode1 submode1 opsLo1 batt1 pwr1 FMerr1 EKLZerr1 opsHi1 reserved3 [lastPrintResult1]. */
export function decodeShortStatus(answer: Buffer): ShortStatus {
  return decode(Cmd.SHORT_STATUS, answer, 5, (r) => {
    const operator = r.u(1);
    const flags = r.u(2);
    const modeByte = r.u(1);
    const submode = r.u(1);
    const out: ShortStatus = { operator, flags, mode: modeByte & 0x0f, modeStatus: modeByte >> 4, submode };
    if (r.left >= 15 - 5) {
      r.bytes(9);
      out.lastPrintResult = r.u(1);
    }
    return out;
  });
}

export interface FullStatus {
  operator: number;
  firmwareVersion: string;
  firmwareBuild: number;
  firmwareDate: string;
  hallNumber: number;
  documentNumber: number;
  flags: number;
  mode: number;
  modeStatus: number;
  submode: number;
  port: number;
  /** register clock "YYYY-MM-DDTHH:MM:SS" */
  dateTime: string;
  serial: number;
  lastClosedShift: number;
  inn: string;
}

/** 11h: 46 data bytes (LEN 48), or 48 with the high word of the serial number. */
export function decodeFullStatus(answer: Buffer): FullStatus {
  return decode(Cmd.STATUS, answer, 46, (r) => {
    const operator = r.u(1);
    const firmwareVersion = r.ascii(2);
    const firmwareBuild = r.u(2);
    const firmwareDate = readDateDMY(r.bytes(3), 0);
    const hallNumber = r.u(1);
    const documentNumber = r.u(2);
    const flags = r.u(2);
    const modeByte = r.u(1);
    const submode = r.u(1);
    const port = r.u(1);
    r.bytes(7); // FM version, build, date
    const date = readDateDMY(r.bytes(3), 0);
    const time = readTimeHMS(r.bytes(3), 0);
    r.u(1); // FM flags
    const serialLo = r.u(4);
    const lastClosedShift = r.u(2);
    r.bytes(4); // free FM records, registrations, registrations left
    const inn = innString(r.u(6));
    const serial = r.left >= 2 ? r.u(2) * 2 ** 32 + serialLo : serialLo;
    return {
      operator, firmwareVersion, firmwareBuild, firmwareDate, hallNumber, documentNumber, flags, mode: modeByte & 0x0f,
      modeStatus: modeByte >> 4, submode, port, dateTime: `${date}T${time}`, serial, lastClosedShift, inn,
    };
  });
}

function innString(n: number): string {
  if (n === 0 || n === 2 ** 48 - 1) return '';
  const s = String(n);
  return s.length <= 10 ? s.padStart(10, '0') : s.padStart(12, '0');
}

export interface DeviceType {
  type: number;
  subtype: number;
  protocolVersion: number;
  protocolSubversion: number;
  model: number;
  language: number;
  name: string;
}

/** FCh: type1 subtype1 protoVer1 protoSub1 model1 lang1 name (CP1251). */
export function decodeDeviceType(answer: Buffer): DeviceType {
  return decode(Cmd.DEVICE_TYPE, answer, 6, (r) => ({
    type: r.u(1),
    subtype: r.u(1),
    protocolVersion: r.u(1),
    protocolSubversion: r.u(1),
    model: r.u(1),
    language: r.u(1),
    name: decodeText(r.rest()).trim(),
  }));
}

export interface CashResult {
  operator: number;
  documentNumber?: number;
}

/** 50h / 51h: op1 docNo2. */
export function decodeCash(code: number, answer: Buffer): CashResult {
  return decode(code, answer, 0, (r) => {
    const out: CashResult = { operator: r.left >= 1 ? r.u(1) : 0 };
    if (r.left >= 2) out.documentNumber = r.u(2);
    return out;
  });
}

export interface FnStatus {
  phase: number;
  currentDocument: number;
  documentData: number;
  shiftOpen: boolean;
  warnings: number;
  dateTime: string;
  serial: string;
  lastFd: number;
}

/** FF01: phase1 curDoc1 docData1 shiftOpen1 warn1 DATE_TIME5 serial16 lastFD4. */
export function decodeFnStatus(answer: Buffer): FnStatus {
  return decode(Cmd.FN_STATUS, answer, 30, (r) => ({
    phase: r.u(1),
    currentDocument: r.u(1),
    documentData: r.u(1),
    shiftOpen: r.u(1) !== 0,
    warnings: r.u(1),
    dateTime: r.dateTime5(),
    serial: r.ascii(16),
    lastFd: r.u(4),
  }));
}

/** FF02: FN number, 16 ASCII. */
export function decodeFnNumber(answer: Buffer): string {
  return decode(Cmd.FN_NUMBER, answer, 16, (r) => r.ascii(16));
}

/** FF03: FN expiry YY MM DD → "YYYY-MM-DD". */
export function decodeFnExpiry(answer: Buffer): string {
  return decode(Cmd.FN_EXPIRY, answer, 3, (r) => readDateYMD(r.bytes(3), 0));
}

/** FF0A: type1 ticket1 DATE_TIME5 FD4 FP4, then opType1 sum5 (receipts, corrections) or shiftNo2 (shifts). */
export function decodeDocument(answer: Buffer): DocumentRef & { ofdTicket: boolean } {
  return decode(Cmd.FN_FIND_DOCUMENT, answer, 15, (r) => {
    const type = r.u(1);
    const ofdTicket = r.u(1) !== 0;
    const dateTime = r.dateTime5();
    const fdNumber = r.u(4);
    const fiscalSign = r.u(4);
    const doc: DocumentRef & { ofdTicket: boolean } = { fdNumber, type, dateTime, fiscalSign, ofdTicket };
    if (isReceiptType(type) && r.left >= 6) {
      doc.operation = r.u(1);
      doc.total = r.u(5);
    } else if (isShiftType(type) && r.left >= 2) {
      doc.shiftNumber = r.u(2);
    }
    return doc;
  });
}

/** FFD document types: 3 receipt, 31 correction, 4 БСО, 41 БСО correction. */
export function isReceiptType(type: number): boolean {
  return type === 3 || type === 31 || type === 4 || type === 41;
}

/** FFD document types: 2 shift open, 5 shift close. */
export function isShiftType(type: number): boolean {
  return type === 2 || type === 5;
}

export interface OfdStatus {
  status: number;
  reading: boolean;
  queueCount: number;
  firstFd: number;
  firstDateTime?: string;
}

/** FF39: status1 reading1 queueCount2 firstFD4 firstDATE_TIME5. */
export function decodeOfdStatus(answer: Buffer): OfdStatus {
  return decode(Cmd.FN_OFD_STATUS, answer, 8, (r) => {
    const out: OfdStatus = { status: r.u(1), reading: r.u(1) !== 0, queueCount: r.u(2), firstFd: r.u(4) };
    if (out.queueCount > 0 && r.left >= 5) out.firstDateTime = r.dateTime5();
    return out;
  });
}

/** FF3F: number of documents without an OFD ticket. */
export function decodeUnconfirmedCount(answer: Buffer): number {
  return decode(Cmd.FN_UNCONFIRMED_COUNT, answer, 2, (r) => r.u(2));
}

export interface ShiftParams {
  open: boolean;
  shiftNumber: number;
  receiptNumber: number;
}

/** FF40: shiftState1 shiftNo2 receiptNo2. */
export function decodeShiftParams(answer: Buffer): ShiftParams {
  return decode(Cmd.FN_SHIFT_PARAMS, answer, 5, (r) => ({ open: r.u(1) !== 0, shiftNumber: r.u(2), receiptNumber: r.u(2) }));
}

export interface CloseResult {
  change: number;
  fdNumber: number;
  fiscalSign: number;
  /** only with the table setting "extended answers" */
  dateTime?: string;
}

/** FF45: change5 FD4 FP4 [DATE_TIME5]. */
export function decodeCloseReceipt(answer: Buffer): CloseResult {
  return decode(Cmd.CLOSE_RECEIPT_V2, answer, 13, (r) => {
    const out: CloseResult = { change: r.u(5), fdNumber: r.u(4), fiscalSign: r.u(4) };
    if (r.left >= 5) out.dateTime = r.dateTime5();
    return out;
  });
}

export interface CorrectionResult {
  receiptNumber: number;
  fdNumber: number;
  fiscalSign: number;
  dateTime?: string;
}

/** FF4A: receiptNo2 FD4 FP4 [DATE_TIME5]. */
export function decodeCorrection(answer: Buffer): CorrectionResult {
  return decode(Cmd.CORRECTION_V2, answer, 10, (r) => {
    const out: CorrectionResult = { receiptNumber: r.u(2), fdNumber: r.u(4), fiscalSign: r.u(4) };
    if (r.left >= 5) out.dateTime = r.dateTime5();
    return out;
  });
}

/** "YYYY-MM-DDTHH:MM" from a JS date's local fields (for results when the device gave no date). */
export function localDateTime(d: Date): string {
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}T${p2(d.getHours())}:${p2(d.getMinutes())}`;
}
