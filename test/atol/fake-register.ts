/**
 * A small ATOL register model for driver tests, behind AtolPeer: modes, shift, receipt, FN journal, printing phases
 * of the reports, paper and cover, the tax table. Written from kkt-protocols.md §2 independently of drivers/atol
 * and drivers/emulator (its own BCD and layouts), so a layout mistake in the driver shows as a failing test.
 */
import iconv from 'iconv-lite';
import { AtolPeer, MemPort, type AtolPeerFaults, type PeerDelivery } from './peer.ts';

export interface FnDoc {
  fd: number;
  /** FFD type: 2 shift open, 3 receipt, 31 correction, 5 shift close */
  type: number;
  dateTime: string;
  fp: number;
  operation?: number;
  total?: number;
  shift?: number;
}

export interface Item {
  price: number;
  quantity: number;
  sum: number;
  taxType: number;
  taxSum: number;
  section: number;
  paymentObject: number;
  paymentMethod: number;
  name: string;
  tags: Array<{ tag: number; data: Buffer }>;
}

export interface OpenReceipt {
  type: number;
  flags: number;
  items: Item[];
  tags: Array<{ tag: number; data: Buffer }>;
  payments: Array<{ type: number; sum: number }>;
  pendingItem?: Item['tags'];
}

const bcd = (n: number, len: number): Buffer => Buffer.from(String(n).padStart(len * 2, '0').slice(-len * 2), 'hex');
const unbcd = (b: Uint8Array): number => Number(Buffer.from(b).toString('hex'));
const ok = (...rest: Buffer[]): Buffer => Buffer.concat([Buffer.from([0x55, 0x00]), ...rest]);
const fail = (code: number): Buffer => Buffer.from([0x55, code, 0x00]);
const u16 = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

function parts(dt: string): number[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(dt)!;
  return [Number(m[1]) - 2000, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
}

/** the device code page: CP866 with 0x24 = № and 0xFC = $ ([A3] charset) */
const deviceText = (b: Uint8Array): string => [...b].map((x) => (x === 0x24 ? '№' : x === 0xfc ? '$' : iconv.decode(Buffer.from([x]), 'cp866'))).join('');

/** register (91) dates: DD MM YY hh mm, BCD ([A1]) */
const bcdDt5 = (dt: string): Buffer => {
  const [yy, mo, dd, hh, mi] = parts(dt) as [number, number, number, number, number];
  return Buffer.concat([dd, mo, yy, hh, mi].map((n) => bcd(n, 1)));
};
const binDt5 = (dt: string): Buffer => Buffer.from(parts(dt).slice(0, 5));

export class FakeAtol {
  readonly port = new MemPort();
  readonly peer: AtolPeer;
  mode = 0;
  shiftOpen = true;
  shiftNumber = 12;
  shiftOpenedAt = '2026-01-15T09:00:00';
  receiptNumber = 3;
  clock = '2026-01-15T10:30:00';
  paper = true;
  cover = false;
  receipt: OpenReceipt | undefined;
  readonly docs: FnDoc[] = [{ fd: 100, type: 2, dateTime: '2026-01-15T09:00', fp: 1111111111, shift: 12 }];
  fnNumber = '9999078900001234';
  /** 45h polls left in each printing phase after 5A / 67 */
  zPhases: number[] = [];
  printPolls = { x: 2, z: 2, zFn: 2 };
  /** table 13 field 3 (tax tag) per row; undefined: 46 is not supported */
  taxTable: number[] | undefined = [1, 2, 5, 6, 3, 4, 11, 12];
  /** A4 40 supported */
  findSupported = true;
  /** next command with this code (hex "92", "4A", …) answers this error */
  readonly failNext = new Map<string, number>();
  /** receipts closed, with their content */
  readonly closed: Array<OpenReceipt & { fd: number }> = [];
  /** shift-level tags written outside receipts */
  readonly looseTags: Array<{ tag: number; data: Buffer }> = [];
  cashOps: Array<{ code: number; sum: number }> = [];
  /** 56 01 refused with 88h after 24 h (some firmware), instead of 92 */
  expiredAtModeEntry = false;
  /** paper runs out during the next Z print */
  paperOutInZ = false;

  constructor(delivery: PeerDelivery = 'sync', faults: AtolPeerFaults = {}) {
    this.peer = new AtolPeer(this.port, (p) => this.handle(p), delivery, faults);
  }

  get lastFd(): number {
    return this.docs[this.docs.length - 1]!.fd;
  }

  private addDoc(doc: Omit<FnDoc, 'fd' | 'fp' | 'dateTime'>): FnDoc {
    const fd = this.lastFd + 1;
    const full: FnDoc = { fd, fp: 3000000000 + fd, dateTime: this.clock.slice(0, 16), ...doc };
    this.docs.push(full);
    return full;
  }

  private modeByte(): number {
    if (this.zPhases.length > 0) return this.zPhases[0]!;
    return this.mode;
  }

  handle(p: Buffer): Buffer {
    const code = p[2]!;
    const name = code.toString(16).toUpperCase().padStart(2, '0');
    const injected = this.failNext.get(name);
    if (injected !== undefined) {
      this.failNext.delete(name);
      return fail(injected);
    }
    const a = p.subarray(3);
    switch (code) {
      case 0x3f: return this.status();
      case 0x45: {
        const mb = this.modeByte();
        if (this.zPhases.length > 0) {
          if (this.paperOutInZ && mb === 0x23) {
            this.paper = false;
            this.zPhases = [];
          } else this.zPhases.shift();
        }
        return Buffer.from([0x55, mb, this.paper ? 0 : 1]);
      }
      case 0x56: {
        if (this.mode !== 0) return fail(0x66);
        if (unbcd(a.subarray(1, 5)) !== 30) return fail(0x8c);
        if (a[0] === 1 && this.expiredAtModeEntry && this.expired()) return fail(0x88);
        this.mode = a[0]!;
        return ok(Buffer.from([0]));
      }
      case 0x48:
        if (this.receipt) return fail(0x9b);
        this.mode = 0;
        return ok(Buffer.from([0]));
      case 0x9a: {
        if (this.mode !== 1) return fail(0x66);
        if (this.shiftOpen) return fail(0x9c);
        this.shiftOpen = true;
        this.shiftNumber++;
        this.receiptNumber = 0;
        this.shiftOpenedAt = this.clock;
        this.addDoc({ type: 2, shift: this.shiftNumber });
        return ok(Buffer.from([0]));
      }
      case 0x92: {
        if (this.mode !== 1) return fail(0x66);
        if (this.receipt) return fail(0x9b);
        if (!this.shiftOpen) return fail(0x66);
        if (this.expired()) return fail(0x88);
        if (!this.paper) return fail(0x67);
        this.receipt = { flags: a[0]!, type: a[1]!, items: [], tags: [], payments: [] };
        return ok(Buffer.from([0]));
      }
      case 0xea:
        if (!this.receipt) return fail(0x9a);
        this.receipt.pendingItem = [];
        return ok(Buffer.from([0]));
      case 0xeb: {
        const r = this.receipt;
        if (!r || !r.pendingItem) return fail(0x9a);
        // flags price7 qty5 cost7 tax1 taxSum7 section1 1212 1214 discSign1 disc7 reserved2 name
        const item: Item = {
          price: unbcd(a.subarray(1, 8)),
          quantity: unbcd(a.subarray(8, 13)),
          sum: unbcd(a.subarray(13, 20)),
          taxType: a[20]!,
          taxSum: unbcd(a.subarray(21, 28)),
          section: unbcd(a.subarray(28, 29)),
          paymentObject: unbcd(a.subarray(29, 30)),
          paymentMethod: unbcd(a.subarray(30, 31)),
          name: deviceText(a.subarray(41)),
          tags: r.pendingItem,
        };
        r.pendingItem = undefined;
        r.items.push(item);
        return ok(Buffer.from([0]));
      }
      case 0xe8: {
        const tag = a.readUInt16LE(3);
        const len = a.readUInt16LE(5);
        const t = { tag, data: Buffer.from(a.subarray(7, 7 + len)) };
        if (this.receipt?.pendingItem) this.receipt.pendingItem.push(t);
        else if (this.receipt) this.receipt.tags.push(t);
        else this.looseTags.push(t);
        return ok(Buffer.from([0]));
      }
      case 0x99: {
        const r = this.receipt;
        if (!r) return fail(0x9a);
        const sum = unbcd(a.subarray(2, 7));
        r.payments.push({ type: a[1]!, sum });
        const total = r.items.reduce((s, i) => s + i.sum, 0);
        const paid = r.payments.reduce((s, x) => s + x.sum, 0);
        return ok(bcd(Math.max(0, total - paid), 5), bcd(Math.max(0, paid - total), 5));
      }
      case 0x4a: {
        const r = this.receipt;
        if (!r) return fail(0x9a);
        const total = r.items.reduce((s, i) => s + i.sum, 0);
        const paid = r.payments.reduce((s, x) => s + x.sum, 0);
        if (paid < total) return fail(0x72);
        const op = ({ 1: 1, 2: 2, 4: 3, 5: 4, 7: 1, 8: 2, 9: 3, 10: 4 } as Record<number, number>)[r.type] ?? 0;
        const doc = this.addDoc({ type: r.type >= 7 ? 31 : 3, operation: op, total });
        this.closed.push({ ...r, fd: doc.fd });
        this.receipt = undefined;
        this.receiptNumber++;
        return ok(Buffer.from([0]));
      }
      case 0x59:
        if (!this.receipt) return fail(0x9a);
        this.receipt = undefined;
        return ok(Buffer.from([0]));
      case 0x67:
        if (this.mode !== 2) return fail(0x66);
        this.zPhases = Array(this.printPolls.x).fill(0x22);
        return ok(Buffer.from([0]));
      case 0x5a: {
        if (this.mode !== 3) return fail(0x66);
        if (!this.shiftOpen) return fail(0x8f);
        this.addDoc({ type: 5, shift: this.shiftNumber });
        this.shiftOpen = false;
        this.zPhases = [...Array(this.printPolls.z).fill(0x23), ...Array(this.printPolls.zFn).fill(0x17)];
        return ok(Buffer.from([0]));
      }
      case 0x49:
      case 0x4f:
        if (this.mode !== 1) return fail(0x66);
        if (this.receipt) return fail(0x9b);
        this.cashOps.push({ code, sum: unbcd(a.subarray(1, 6)) });
        return ok(Buffer.from([0]));
      case 0x91: return this.register(a[0]!);
      case 0xa4: return this.fn(a[0]!, a.subarray(1));
      case 0xa5:
        return Buffer.concat([Buffer.from([0x00, 0x03, 0x01, 0x45, 0x10, 0x00, 0x03, 0x00, 0x00, 0x21, 0x95]), iconv.encode('АТОЛ 30Ф', 'cp866')]);
      case 0x46: {
        if (!this.taxTable) return fail(0x7a);
        if (this.mode !== 4) return fail(0x66);
        const row = a.readUInt16BE(1);
        if (a[0] !== 13 || a[3] !== 3 || row < 1 || row > this.taxTable.length) return fail(0x92);
        return ok(Buffer.from([this.taxTable[row - 1]!]));
      }
      default:
        return fail(0x46);
    }
  }

  expired(): boolean {
    return this.shiftOpen && Date.parse(this.clock + 'Z') - Date.parse(this.shiftOpenedAt + 'Z') >= 24 * 3600_000;
  }

  private status(): Buffer {
    const [yy, mo, dd, hh, mi, ss] = parts(this.clock) as [number, number, number, number, number, number];
    const flags = 0x01 | (this.shiftOpen ? 0x02 : 0) | (this.paper ? 0x08 : 0) | (this.cover ? 0x20 : 0) | 0x40;
    const closedShift = this.shiftOpen ? this.shiftNumber - 1 : this.shiftNumber;
    const sum = this.receipt ? this.receipt.items.reduce((s, i) => s + i.sum, 0) : 0;
    return Buffer.concat([
      Buffer.from([0x44]), bcd(1, 1), Buffer.from([1]),
      bcd(yy, 1), bcd(mo, 1), bcd(dd, 1), bcd(hh, 1), bcd(mi, 1), bcd(ss, 1),
      Buffer.from([flags]), bcd(12345678, 4), Buffer.from([0x45, 0x03, 0x00, this.modeByte()]),
      bcd(this.receiptNumber, 2), bcd(closedShift, 2), Buffer.from([this.receipt ? 1 : 0]), bcd(sum, 5), Buffer.from([2, 4]),
    ]);
  }

  private register(reg: number): Buffer {
    switch (reg) {
      case 0x33: {
        const d = [...this.docs].reverse().find((x) => x.type === 3 || x.type === 31);
        if (!d) return ok(Buffer.alloc(23));
        const type = ({ 1: 1, 2: 2, 3: 4, 4: 5 } as Record<number, number>)[d.operation!]!;
        return ok(bcd(d.fd, 5), Buffer.from([d.type === 31 ? 7 : type]), bcd(d.total!, 7), bcdDt5(d.dateTime), bcd(d.fp, 5), Buffer.alloc(3));
      }
      case 0x34: {
        const d = this.docs[this.docs.length - 1]!;
        return ok(bcd(d.fd, 5), bcdDt5(d.dateTime), bcd(d.fp, 5));
      }
      case 0x16: return ok(bcd(106303930512, 7));
      case 0x2c: return ok(bcd(2, 5));
      case 0x2d: return ok(bcd(15, 1), bcd(1, 1), bcd(26, 1), bcd(9, 1), bcd(5, 1));
      default: return fail(0x6c);
    }
  }

  private fn(sub: number, p: Buffer): Buffer {
    switch (sub) {
      case 0x10: return ok(Buffer.from([this.shiftOpen ? 1 : 0]), u16(this.shiftNumber), u16(this.receiptNumber));
      case 0x20: return ok(Buffer.from([0x02, 0x00]), u16(2), u32(99), Buffer.from([26, 1, 15, 9, 5]));
      case 0x30: return ok(Buffer.from([0x03, 0, 0, this.shiftOpen ? 1 : 0, 0x02]), binDt5(this.clock), Buffer.from(this.fnNumber, 'ascii'), u32(this.lastFd));
      case 0x31: return ok(Buffer.from(this.fnNumber, 'ascii'));
      case 0x32: return ok(Buffer.from([27, 12, 31, 29, 1]));
      case 0x40: {
        if (!this.findSupported) return fail(0x7a);
        const d = this.docs.find((x) => x.fd === p.readUInt32LE(0));
        if (!d) return fail(0xda);
        const head = Buffer.concat([Buffer.from([d.type, 1]), binDt5(d.dateTime), u32(d.fd), u32(d.fp)]);
        if (d.type === 3 || d.type === 31) {
          const sum = Buffer.alloc(5);
          sum.writeUIntLE(d.total!, 0, 5);
          return ok(head, Buffer.from([d.operation!]), sum);
        }
        if (d.shift !== undefined) return ok(head, u16(d.shift));
        return ok(head);
      }
      default: return fail(0x46);
    }
  }
}
