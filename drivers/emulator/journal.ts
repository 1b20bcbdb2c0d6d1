/**
 * The emulated fiscal drive (ФН): every fiscal document, persisted as append-only JSON lines (one fsync per record),
 * state rebuilt by replaying the file on load. Also holds the FN identity and the OFD-unsent pointer.
 */
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { Payments } from '../types.ts';
import type { TagMap, TagValue } from './tlv-decode.ts';

export interface JournalIdentity {
  /** FN serial, 16 digits */
  fnSerial: string;
  /** "YYYY-MM-DD" */
  fnExpiry: string;
  /** register registration number (РНМ), 16 digits */
  registrationNumber: string;
  /** user INN, 10 or 12 digits */
  inn: string;
  /** tag 1062 bits of the registered taxation systems */
  taxSystems: number;
  /** register serial number */
  kktSerial: string;
  /** hex; the fiscal signs are an HMAC of the document under it */
  secret: string;
  /** FFD version of the registration: '1.05' or '1.2' (FF09 answer layout); default '1.05' */
  ffd?: FfdVersion;
  /** work-mode bits (FF09 / A4 43): bit0 encryption, bit1 autonomous, bit2 automatic, bit3 services, bit4 BSO, bit5 internet */
  modes?: number;
  /** FFD 1.2 extended work-mode bits (FF09 64-byte layout) */
  extendedModes?: number;
  /** OFD INN (10 or 12 digits) */
  ofdInn?: string;
  /** registration report: FD number, fiscal sign, "YYYY-MM-DDTHH:MM:SS" */
  registrationFd?: number;
  registrationFp?: number;
  registeredAt?: string;
}

export type FfdVersion = '1.05' | '1.2';

/** work-mode bits (FF09, A4 43) by name */
export const MODE_BITS: Record<string, number> = {
  encryption: 0x01, autonomous: 0x02, automatic: 0x04, services: 0x08, bso: 0x10, internet: 0x20,
};

/** tag 1062 bits by the gateway's names (§4) */
export const TAX_SYSTEM_BITS: Record<string, number> = {
  osn: 0x01, usn_income: 0x02, usn_income_outcome: 0x04, envd: 0x08, esn: 0x10, patent: 0x20,
};

/** The registration data every front-end answers (identity with the defaults of older journals filled in). */
export interface Registration {
  inn: string;
  registrationNumber: string;
  taxSystems: number;
  modes: number;
  extendedModes: number;
  ffd: FfdVersion;
  ofdInn: string;
  fd: number;
  fp: number;
  dateTime: string;
  kktSerial: string;
  fnSerial: string;
}

export function registrationOf(id: JournalIdentity): Registration {
  return {
    inn: id.inn, registrationNumber: id.registrationNumber, taxSystems: id.taxSystems, modes: id.modes ?? DEFAULT_REGISTRATION.modes,
    extendedModes: id.extendedModes ?? 0, ffd: id.ffd ?? '1.05', ofdInn: id.ofdInn ?? DEFAULT_REGISTRATION.ofdInn,
    fd: id.registrationFd ?? DEFAULT_REGISTRATION.registrationFd, fp: id.registrationFp ?? DEFAULT_REGISTRATION.registrationFp,
    dateTime: id.registeredAt ?? DEFAULT_REGISTRATION.registeredAt, kktSerial: id.kktSerial, fnSerial: id.fnSerial,
  };
}

export interface JournalItem {
  name: string;
  /** kopecks */
  price: number;
  /** millionths, as sent in FF46 (80h–83h thousandths × 1000) */
  quantity: number;
  /** kopecks */
  sum: number;
  /** VAT sum in kopecks when the host gave one */
  vatSum?: number;
  /** ATOL name: 'vat20', 'vat22', 'vat122', 'none', … ('unknown' for a byte outside the table) */
  vat: string;
  /** FF46 tax-rate byte as sent */
  taxByte: number;
  /** tag 1214 */
  paymentMethod: number;
  /** tag 1212 */
  paymentObject: number;
  department: number;
  /** TLVs bound with FF4D */
  tlvs: TagMap;
}

export interface CorrectionInfo {
  /** tag 1173 */
  type: number;
  /** tag 1178, "YYYY-MM-DD" */
  baseDate?: string;
  /** tag 1179 */
  baseNumber?: string;
}

export type OperationKey = '1' | '2' | '3' | '4';

export interface ShiftCounters {
  /** receipts (type 3) per tag 1054 operation */
  receipts: Record<OperationKey, number>;
  /** correction receipts (type 31) per operation */
  corrections: Record<OperationKey, number>;
  /** totals per operation, kopecks (receipts and corrections) */
  totals: Record<OperationKey, number>;
  /** payments per operation and kind, kopecks */
  payments: Record<OperationKey, Payments>;
  /** sale returns + buy returns, count */
  returns: number;
  cashIn: number;
  cashOut: number;
  /** cash-in / cash-out documents in the shift (absent in shift-close counters of older journals) */
  cashInCount?: number;
  cashOutCount?: number;
  /** fiscal documents formed in the shift, shift-open included */
  documents: number;
}

export interface FiscalDocument {
  kind: 'fd';
  /** tag 1040 */
  fd: number;
  /** FFD document type: 2 shift open, 3 receipt, 31 correction receipt, 5 shift close */
  type: number;
  /** "YYYY-MM-DDTHH:MM:SS" register time */
  dateTime: string;
  /** tag 1077 as UInt32 */
  fiscalSign: number;
  /** tag 1038 */
  shift: number;
  /** tag 1042; receipts and corrections */
  receiptNo?: number;
  /** the register's through document number (11h) */
  docNo: number;
  /** tag 1054 */
  operation?: number;
  /** kopecks */
  total?: number;
  items?: JournalItem[];
  payments?: Payments;
  /** change given, kopecks */
  change?: number;
  /** tag 1055 bits */
  taxSystem?: number;
  /** receipt-level / shift-level TLVs from FF0C, decoded */
  tags?: TagMap;
  correction?: CorrectionInfo;
  /** shift close: the closed shift's counters */
  counters?: ShiftCounters;
  /** made on the register's keyboard (fault keyboard-receipt), not by a host */
  keyboard?: boolean;
}

export interface NonFiscalDocument {
  kind: 'nf';
  docNo: number;
  type: 'cash_in' | 'cash_out' | 'x_report';
  dateTime: string;
  shift: number;
  sum?: number;
}

export interface OfdAckRecord {
  kind: 'ofd';
  /** every document up to this FD number is acknowledged */
  upToFd: number;
}

export interface InitRecord extends JournalIdentity {
  kind: 'init';
}

export type JournalRecord = InitRecord | FiscalDocument | NonFiscalDocument | OfdAckRecord;

/** What FF0A tells about a document. */
export interface DocumentSummary {
  fd: number;
  type: number;
  dateTime: string;
  fiscalSign: number;
  operation?: number;
  total?: number;
  shift: number;
}

export interface ShiftState {
  number: number;
  open: boolean;
  /** shift-open document date-time */
  openedAt?: string;
  /** tag 1042 of the last receipt formed in the shift */
  receiptNo: number;
  counters: ShiftCounters;
}

export type NewFiscalDocument = Omit<FiscalDocument, 'kind' | 'fd' | 'fiscalSign' | 'docNo'>;

export function emptyCounters(): ShiftCounters {
  const perOp = <T>(f: () => T): Record<OperationKey, T> => ({ '1': f(), '2': f(), '3': f(), '4': f() });
  return {
    receipts: perOp(() => 0),
    corrections: perOp(() => 0),
    totals: perOp(() => 0),
    payments: perOp(() => ({ cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 })),
    returns: 0,
    cashIn: 0,
    cashOut: 0,
    cashInCount: 0,
    cashOutCount: 0,
    documents: 0,
  };
}

export interface JournalOptions {
  /** file to persist to; in memory when absent */
  path?: string;
  /** identity for a new FN (ignored when the file already has one) */
  identity?: Partial<JournalIdentity>;
  /** records to replay instead of a file (a read-only view) */
  records?: JournalRecord[];
}

export const DEFAULT_IDENTITY: Omit<JournalIdentity, 'secret'> = {
  fnSerial: '9960440300112233',
  fnExpiry: '2027-12-31',
  // ordinal 0000000001 + the FNS check digits (CRC16-CCITT of ordinal, INN padded to 12, serial padded to 20)
  registrationNumber: '0000000001057364',
  /** passes the INN checksum (src/fiscal/rules.ts isValidInn); the company.inn of the project's fixtures */
  inn: '5010051677',
  taxSystems: 0x01 | 0x02,
  kktSerial: '0012345678901234',
};

/** registration defaults for the fields a journal's init record may lack */
export const DEFAULT_REGISTRATION = {
  modes: MODE_BITS.encryption!,
  /** Taxcom's INN (valid checksum) */
  ofdInn: '7704211201',
  /** the registration report's FD/FP as FF09 / A4 43 give them; the report itself is not a journal document (README) */
  registrationFd: 1,
  registrationFp: 1_234_567_890,
  registeredAt: '2026-01-15T09:00:00',
} as const;

/** cumulative (never cleared) figures over the FN's life, rebuilt by replaying the journal */
export interface Cumulative {
  /** per tag 1054 operation, receipts and corrections, kopecks */
  totals: Record<OperationKey, number>;
  /** per operation and payment kind */
  payments: Record<OperationKey, Payments>;
  /** correction receipts' totals per operation */
  corrections: Record<OperationKey, number>;
}

export class Journal {
  identity!: JournalIdentity;
  lastFd = 0;
  lastDocNo = 0;
  lastDocument: FiscalDocument | undefined;
  /** the counters of the last closed shift (its Z-report's) */
  lastClosedShift: ShiftCounters | undefined;
  shift: ShiftState = { number: 0, open: false, receiptNo: 0, counters: emptyCounters() };
  /** tag 1054 → cumulative total, kopecks, over the FN's life */
  readonly cumulative: Record<OperationKey, number> = { '1': 0, '2': 0, '3': 0, '4': 0 };
  /** cumulative totals per operation and payment kind, and of the corrections (never cleared; replayed on load) */
  readonly cumulativeDetail: Cumulative = (() => {
    const c = emptyCounters();
    return { totals: this.cumulative, payments: c.payments, corrections: { '1': 0, '2': 0, '3': 0, '4': 0 } };
  })();
  private readonly index = new Map<number, DocumentSummary>();
  private readonly documents = new Map<number, FiscalDocument>();
  private readonly unsent: Array<{ fd: number; dateTime: string }> = [];
  private acked = 0;
  private fileFd: number | undefined;

  constructor(opts: JournalOptions = {}) {
    if (opts.path) this.load(opts.path);
    for (const r of opts.records ?? []) this.apply(r);
    if (!this.identity) {
      const init: InitRecord = { kind: 'init', ...DEFAULT_IDENTITY, secret: randomBytes(16).toString('hex'), ...opts.identity };
      this.append(init);
    }
  }

  close(): void {
    if (this.fileFd !== undefined) fs.closeSync(this.fileFd);
    this.fileFd = undefined;
  }

  /** Forms a fiscal document: numbers it, signs it, persists it. */
  addFiscal(doc: NewFiscalDocument): FiscalDocument {
    const fd = this.lastFd + 1;
    const docNo = this.lastDocNo + 1;
    const record: FiscalDocument = { kind: 'fd', fd, fiscalSign: 0, docNo, ...doc };
    record.fiscalSign = this.sign(record);
    this.append(record);
    return record;
  }

  addNonFiscal(doc: Omit<NonFiscalDocument, 'kind' | 'docNo'>): NonFiscalDocument {
    const record: NonFiscalDocument = { kind: 'nf', docNo: this.lastDocNo + 1, ...doc };
    this.append(record);
    return record;
  }

  /** The OFD acknowledges the oldest `count` unsent documents (all when omitted). Returns how many. */
  markOfdSent(count?: number): number {
    const pending = this.unsent.length - this.acked;
    const n = Math.min(count ?? pending, pending);
    if (n <= 0) return 0;
    this.append({ kind: 'ofd', upToFd: this.unsent[this.acked + n - 1]!.fd });
    return n;
  }

  find(fd: number): DocumentSummary | undefined {
    return this.index.get(fd);
  }

  /** the whole fiscal document of an FD number */
  document(fd: number): FiscalDocument | undefined {
    return this.documents.get(fd);
  }

  isAcknowledged(fd: number): boolean {
    const first = this.unsent[this.acked];
    return first === undefined || fd < first.fd;
  }

  /** documents the OFD has not acknowledged: count and the oldest */
  ofdQueue(): { count: number; first?: { fd: number; dateTime: string } } {
    const first = this.unsent[this.acked];
    return first ? { count: this.unsent.length - this.acked, first } : { count: 0 };
  }

  private sign(doc: FiscalDocument): number {
    const { fiscalSign: _omit, ...content } = doc;
    return createHmac('sha256', Buffer.from(this.identity.secret, 'hex')).update(JSON.stringify(content)).digest().readUInt32BE(0);
  }

  private append(record: JournalRecord): void {
    if (this.fileFd !== undefined) {
      fs.writeSync(this.fileFd, JSON.stringify(record) + '\n');
      fs.fsyncSync(this.fileFd);
    }
    this.apply(record);
  }

  private load(path: string): void {
    const records = readRecords(path, true);
    for (const r of records) this.apply(r);
    this.fileFd = fs.openSync(path, 'a');
  }

  private apply(r: JournalRecord): void {
    switch (r.kind) {
      case 'init':
        {
          const { kind: _kind, ...identity } = r;
          this.identity = identity;
        }
        return;
      case 'fd':
        return this.applyFiscal(r);
      case 'nf':
        this.lastDocNo = r.docNo;
        if (r.type === 'cash_in') {
          this.shift.counters.cashIn += r.sum ?? 0;
          this.shift.counters.cashInCount = (this.shift.counters.cashInCount ?? 0) + 1;
        }
        if (r.type === 'cash_out') {
          this.shift.counters.cashOut += r.sum ?? 0;
          this.shift.counters.cashOutCount = (this.shift.counters.cashOutCount ?? 0) + 1;
        }
        return;
      case 'ofd':
        while (this.acked < this.unsent.length && this.unsent[this.acked]!.fd <= r.upToFd) this.acked++;
        return;
    }
  }

  private applyFiscal(d: FiscalDocument): void {
    this.lastFd = d.fd;
    this.lastDocNo = d.docNo;
    this.lastDocument = d;
    this.documents.set(d.fd, d);
    this.index.set(d.fd, { fd: d.fd, type: d.type, dateTime: d.dateTime, fiscalSign: d.fiscalSign, operation: d.operation, total: d.total, shift: d.shift });
    this.unsent.push({ fd: d.fd, dateTime: d.dateTime });
    if (d.type === 2) this.shift = { number: d.shift, open: true, openedAt: d.dateTime, receiptNo: 0, counters: emptyCounters() };
    this.shift.counters.documents++;
    // the Z-report clears the shift registers (the closed shift's figures stay in the document's counters)
    if (d.type === 5) {
      this.lastClosedShift = d.counters;
      this.shift = { ...this.shift, open: false, counters: emptyCounters() };
    }
    if (d.type === 3 || d.type === 31) this.countReceipt(d);
  }

  private countReceipt(d: FiscalDocument): void {
    const op = String(d.operation) as OperationKey;
    const c = this.shift.counters;
    if (!(op in c.receipts)) return;
    this.shift.receiptNo = d.receiptNo ?? this.shift.receiptNo;
    (d.type === 3 ? c.receipts : c.corrections)[op]++;
    if (op === '2' || op === '4') c.returns++;
    c.totals[op] += d.total ?? 0;
    this.cumulative[op] += d.total ?? 0;
    if (d.type === 31) this.cumulativeDetail.corrections[op] += d.total ?? 0;
    const p = c.payments[op];
    const cp = this.cumulativeDetail.payments[op];
    for (const k of Object.keys(p) as Array<keyof Payments>) {
      p[k] += d.payments?.[k] ?? 0;
      cp[k] += d.payments?.[k] ?? 0;
    }
  }
}

/**
 * Reads the records of a journal file. With `repair`, a torn last line (a crash mid-write) is cut off the file.
 * Unparsable complete lines are skipped.
 */
function readRecords(path: string, repair: boolean): JournalRecord[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const end = text.lastIndexOf('\n') + 1;
  if (repair && end < text.length) fs.truncateSync(path, Buffer.byteLength(text.slice(0, end)));
  const out: JournalRecord[] = [];
  for (const line of text.slice(0, end).split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      // a damaged line is not a document
    }
  }
  return out;
}

export interface JournalDump {
  identity: JournalIdentity | undefined;
  documents: FiscalDocument[];
  nonFiscal: NonFiscalDocument[];
  lastFd: number;
  shift: ShiftState;
  ofdUnsent: { count: number; first?: { fd: number; dateTime: string } };
  cumulative: Record<OperationKey, number>;
  cumulativeDetail: Cumulative;
}

/** The whole journal of a file, for tests and `--dump`. Does not modify the file. */
export function readJournal(path: string): JournalDump {
  const records = readRecords(path, false);
  const j = new Journal({ records });
  return {
    identity: records.find((r): r is InitRecord => r.kind === 'init'),
    documents: records.filter((r): r is FiscalDocument => r.kind === 'fd'),
    nonFiscal: records.filter((r): r is NonFiscalDocument => r.kind === 'nf'),
    lastFd: j.lastFd,
    shift: j.shift,
    ofdUnsent: j.ofdQueue(),
    cumulative: j.cumulative,
    cumulativeDetail: j.cumulativeDetail,
  };
}

export type { TagMap, TagValue };
