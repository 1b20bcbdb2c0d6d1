/**
 * A minimal scripted register for driver tests: just enough state (mode, submode, FN documents) to answer the
 * commands the driver sends. Byte layouts are written out here on purpose (not through the codec under test).
 */
import iconv from 'iconv-lite';
import { MemPort, ShtrihPeer, hex, nameOf, type PeerFaults } from './peer.ts';
import { STATUS_11_ANSWER } from './fixtures.ts';

const FN = '9289000100055632';
const DT = hex('1A 0B 1C 0A 0F'); // 2026-11-28T10:15

const u = (v: number, len: number): Buffer => {
  const b = Buffer.alloc(len);
  b.writeUIntLE(v, 0, len);
  return b;
};

interface Doc {
  type: number;
  fp: number;
  tail: Buffer;
}

/** ASCII padded to `len` with `pad` (space or NUL) */
export const padded = (text: string, len: number, pad = ' '): Buffer => Buffer.from(text.padEnd(len, pad), 'latin1');

/**
 * FF09, FFD 1.05 layout (47 data bytes): DATE_TIME5 2026-01-15 09:30, INN "5752203694  ", РНМ "0000000001001234" padded
 * to 20 with spaces, tax systems ОСН + УСН доход (0x03), work mode internet + encryption (0x21), FD 1, FP 0x0A0B0C0D.
 */
export const FF09_105 = Buffer.concat([
  hex('1A 01 0F 09 1E'), padded('5752203694', 12), padded('0000000001001234', 20), hex('03 21'), hex('01 00 00 00'), hex('0D 0C 0B 0A'),
]);

/**
 * FF09, FFD 1.2 layout (64 data bytes): as above with NUL padding, tax systems Патент (0x20), mode 0x20, extended
 * flags 0x05, OFD INN "7704358518", reason 00000000, FD 7, FP 123456789.
 */
export const FF09_12 = Buffer.concat([
  hex('1A 01 0F 09 1E'), padded('5752203694', 12, '\0'), padded('0000000001001234', 20, '\0'), hex('20 20 05'), padded('7704358518', 12),
  hex('00 00 00 00'), hex('07 00 00 00'), hex('15 CD 5B 07'),
]);

/** a document as the FN gives it to FF3A/FF3B: its type and its TLVs */
export interface TlvDoc {
  type: number;
  tlvs: Buffer;
}

export class FakeRegister {
  mode = 2;
  flags = 0x02b2;
  /** submodes reported by the next 10h answers, one each; 0 once empty */
  submodes: number[] = [];
  shift = 12;
  receiptNo = 4;
  lastFd = 45817;
  /** FF45 answers with DATE_TIME5 (the "extended answers" table setting) */
  extendedAnswers = false;
  /** device error byte for the next execution of a command, by name ("FF46", "88" …) */
  failNext = new Map<string, number[]>();
  readonly docs = new Map<number, Doc>();
  /** FF0A answer data (after the error byte) given as is, by FD (captured answers) */
  readonly rawDocs = new Map<number, Buffer>();
  /** FF09 answer data, or the error byte it answers */
  ff09: Buffer | number = FF09_105;
  /** table 18 row 1 fields (1Fh), or the error byte every read answers */
  table18: Map<number, Buffer> | number = new Map([[2, padded('5752203694', 12, '\0')], [3, padded('0000000001001234', 20, '\0')]]);
  /** cash registers (1Ah): value by number; unset = 0; in `refusedCash` → 33h */
  readonly cash = new Map<number, number>();
  readonly refusedCash = new Set<number>();
  /** operating registers (1Bh) */
  readonly ops = new Map<number, number>();
  readonly refusedOps = new Set<number>();
  /** FE F4 answer data (after the error byte), or the error byte */
  fef4: Buffer | number = Buffer.alloc(32);
  /** FF3A/FF3B documents by FD; FF3B hands out at most `blockSize` bytes */
  readonly tlvDocs = new Map<number, TlvDoc>();
  blockSize = 100;
  /** FF3B gives only this many bytes of a document, then 08h (an FN that ends early) */
  cutDocumentsAt: number | undefined;
  private reading: Buffer | undefined;
  /** documents the FN makes right after the Z report's (type), e.g. [21] */
  afterZ: number[] = [];
  /** called after each executed command */
  onExecute: (name: string) => void = () => undefined;
  readonly peer: ShtrihPeer;
  readonly port = new MemPort();

  constructor(faults: PeerFaults = {}) {
    this.peer = new ShtrihPeer(this.port, (req) => this.handle(req), faults);
  }

  codes(): string[] {
    return this.peer.executedCodes();
  }

  failOnce(cmd: string, error: number): void {
    this.failNext.set(cmd, [...(this.failNext.get(cmd) ?? []), error]);
  }

  private handle(req: Buffer): Buffer {
    const name = nameOf(req);
    const code = req[0] === 0xff ? req.subarray(0, 2) : req.subarray(0, 1);
    const failure = this.failNext.get(name)?.shift();
    if (failure !== undefined) return Buffer.concat([code, Buffer.from([failure])]);
    const data = this.execute(name, req);
    this.onExecute(name);
    if (typeof data === 'number') return Buffer.concat([code, Buffer.from([data])]);
    return Buffer.concat([code, Buffer.from([0]), data]);
  }

  /** data after the error byte, or an error byte */
  private execute(name: string, req: Buffer): Buffer | number {
    switch (name) {
      case 'FC': return Buffer.concat([hex('00 00 01 0D 1E 00'), iconv.encode('ШТРИХ-МИНИ-01Ф', 'win1251')]);
      case '11': return Buffer.concat([STATUS_11_ANSWER.subarray(2, 13), Buffer.from([this.mode]), STATUS_11_ANSWER.subarray(14)]);
      case '10': return this.shortStatus();
      case 'FF01': return Buffer.concat([hex('03 00 00'), Buffer.from([this.mode === 4 ? 0 : 1, 0]), DT, Buffer.from(FN), u(this.lastFd, 4)]);
      case 'FF02': return Buffer.from(FN);
      case 'FF03': return hex('1B 0C 1F');
      case 'FF39': return hex('00 00 00 00 00 00 00 00');
      case 'FF40': return Buffer.concat([Buffer.from([this.mode === 4 ? 0 : 1]), u(this.shift, 2), u(this.receiptNo, 2)]);
      case 'FF0A': return this.findDocument(req.readUInt32LE(6));
      case 'FF46': return this.item();
      case 'FF0C': case 'FF4D': return Buffer.alloc(0);
      case 'FF45': return this.closeReceipt(req);
      case '88': return this.mode === 8 ? ((this.mode = 2), hex('1E')) : 0x55;
      case 'E0': return this.openShift();
      case '41': return this.zReport();
      case '40': case 'B0': return hex('1E');
      case '50': case '51': return hex('1E 38 00');
      case 'FF09': return this.ff09;
      case '1F': return this.readTable(req);
      case '1A': return this.cashRegister(req);
      case '1B': return this.opRegister(req);
      case 'FE': return req[1] === 0xf4 ? this.fef4 : 0x37;
      case 'FF3A': return this.requestDocument(req.readUInt32LE(6));
      case 'FF3B': return this.readBlock();
      default: return 0x37;
    }
  }

  private readTable(req: Buffer): Buffer | number {
    if (typeof this.table18 === 'number') return this.table18;
    const [table, row, field] = [req[5]!, req.readUInt16LE(6), req[8]!];
    const v = table === 18 && row === 1 ? this.table18.get(field) : undefined;
    return v ?? 0x33;
  }

  /** 1Ah: pwd4 + register 1 byte (LEN 6) or 2 bytes LE (LEN 7) → op1 value6 */
  private cashRegister(req: Buffer): Buffer | number {
    const n = req.length === 6 ? req[5]! : req.readUInt16LE(5);
    if (req.length === 6 && n > 255) return 0x33;
    if (this.refusedCash.has(n)) return 0x33;
    return Buffer.concat([hex('1E'), u(this.cash.get(n) ?? 0, 6)]);
  }

  /** 1Bh: pwd4 + register1 → op1 value2 */
  private opRegister(req: Buffer): Buffer | number {
    const n = req[5]!;
    if (this.refusedOps.has(n)) return 0x33;
    return Buffer.concat([hex('1E'), u(this.ops.get(n) ?? 0, 2)]);
  }

  /** FF3A: pwd4 FD4 → type2 length2 */
  private requestDocument(fd: number): Buffer | number {
    const doc = this.tlvDocs.get(fd);
    if (!doc) return 0x08;
    this.reading = this.cutDocumentsAt === undefined ? doc.tlvs : doc.tlvs.subarray(0, this.cutDocumentsAt);
    return Buffer.concat([u(doc.type, 2), u(doc.tlvs.length, 2)]);
  }

  /** FF3B: the next block; 08h once everything was read */
  private readBlock(): Buffer | number {
    if (!this.reading || this.reading.length === 0) return 0x08;
    const block = this.reading.subarray(0, this.blockSize);
    this.reading = this.reading.subarray(block.length);
    return Buffer.from(block);
  }

  private shortStatus(): Buffer {
    const submode = this.submodes.shift() ?? 0;
    return Buffer.concat([hex('1E'), u(this.flags, 2), Buffer.from([this.mode, submode]), hex('00 9F F8 00 00 00 75 08 00')]);
  }

  private item(): Buffer | number {
    if (this.mode === 4) return 0x3d;
    if (this.mode !== 2 && this.mode !== 8) return 0x73;
    this.mode = 8;
    return Buffer.alloc(0);
  }

  private addDoc(type: number, tail: Buffer): number {
    this.lastFd++;
    this.docs.set(this.lastFd, { type, fp: 0x70000000 + this.lastFd, tail });
    return this.lastFd;
  }

  private closeReceipt(req: Buffer): Buffer | number {
    if (this.mode !== 8) return 0x55;
    const paid = [0, 1, 13, 14, 15].reduce((s, slot) => s + req.readUIntLE(6 + slot * 5, 5), 0);
    const fd = this.addDoc(3, Buffer.concat([Buffer.from([1]), u(paid, 5)]));
    this.mode = 2;
    this.receiptNo++;
    return Buffer.concat([u(0, 5), u(fd, 4), u(this.docs.get(fd)!.fp, 4), this.extendedAnswers ? DT : Buffer.alloc(0)]);
  }

  private openShift(): Buffer | number {
    if (this.mode !== 4) return 0x3c;
    this.shift++;
    this.receiptNo = 0;
    this.addDoc(2, u(this.shift, 2));
    this.mode = 2;
    return hex('1E');
  }

  private zReport(): Buffer | number {
    if (this.mode !== 2 && this.mode !== 3) return 0x73;
    this.addDoc(5, u(this.shift, 2));
    for (const type of this.afterZ) this.addDoc(type, Buffer.alloc(0));
    this.mode = 4;
    return hex('1E');
  }

  private findDocument(fd: number): Buffer | number {
    const raw = this.rawDocs.get(fd);
    if (raw) return raw;
    const doc = this.docs.get(fd);
    if (!doc) return 0x08;
    return Buffer.concat([Buffer.from([doc.type, 0]), DT, u(fd, 4), u(doc.fp, 4), doc.tail]);
  }
}
