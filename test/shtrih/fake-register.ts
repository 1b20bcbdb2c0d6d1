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
      default: return 0x37;
    }
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
    this.mode = 4;
    return hex('1E');
  }

  private findDocument(fd: number): Buffer | number {
    const doc = this.docs.get(fd);
    if (!doc) return 0x08;
    return Buffer.concat([Buffer.from([doc.type, 0]), DT, u(fd, 4), u(doc.fp, 4), doc.tail]);
  }
}
