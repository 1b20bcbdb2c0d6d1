/**
 * The register's own figures (issue 14): registration data, shift registers, cumulative sums and document TLVs,
 * read with hand-built host requests over real ptys (Shtrih) and real TCP (ATOL), compared with figures the test
 * derives itself from the journal file (readJournal), with hand-computed values, and with the layouts of the real
 * answers quoted in kkt-protocols.md §1.8/§1.11.
 */
import t from 'tap';
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { SerialPort } from 'serialport';
import { closeSerialPort } from '../helpers/serial.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { readJournal, type JournalDump, type JournalIdentity } from '../../drivers/emulator/journal.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { isValidInn } from '../../src/fiscal/rules.ts';
import { Host, bcd, task, unbcd } from './atol-helpers.ts';
import { Collector, cmd, cp866, ff45, ff46, fn, hex, le, tlv } from './helpers.ts';

type Op = '1' | '2' | '3' | '4';
type Kind = 'cash' | 'electronic' | 'prepaid' | 'credit' | 'other';
const OPS: Op[] = ['1', '2', '3', '4'];
const KINDS: Kind[] = ['cash', 'electronic', 'prepaid', 'credit', 'other'];
/** Shtrih register groups: приход, расход, возврат прихода, возврат расхода */
const GROUP: Op[] = ['1', '3', '2', '4'];
/** FF45 payment type → kind (types 3–13 are electronic too, but the emulator books electronic on type 2) */
const TYPE_KIND: Record<number, Kind> = { 1: 'cash', 2: 'electronic', 14: 'prepaid', 15: 'credit', 16: 'other' };

const IDENTITY: Partial<JournalIdentity> = {
  inn: '7707083893', registrationNumber: '0000000002012345', taxSystems: 0x01 | 0x04, ffd: '1.2', modes: 0x21, ofdInn: '7709364346',
  secret: '00112233445566778899aabbccddeeff',
};

/** what the test expects, derived from the journal file alone (documents of the current shift since its opening) */
function derive(dump: JournalDump) {
  const shift = dump.shift;
  const sums = Object.fromEntries(OPS.map((o) => [o, { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 }])) as Record<Op, Record<Kind, number>>;
  const receipts = { '1': 0, '2': 0, '3': 0, '4': 0 } as Record<Op, number>;
  const corrections = { '1': 0, '2': 0, '3': 0, '4': 0 } as Record<Op, number>;
  const cumulative = { '1': 0, '2': 0, '3': 0, '4': 0 } as Record<Op, number>;
  const cumCorr = { '1': 0, '2': 0, '3': 0, '4': 0 } as Record<Op, number>;
  const cumPay = Object.fromEntries(OPS.map((o) => [o, { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 }])) as Record<Op, Record<Kind, number>>;
  for (const d of dump.documents) {
    if (d.type !== 3 && d.type !== 31) continue;
    const op = String(d.operation) as Op;
    cumulative[op] += d.total!;
    if (d.type === 31) cumCorr[op] += d.total!;
    for (const k of KINDS) cumPay[op][k] += d.payments![k];
    if (!shift.open || d.shift !== shift.number) continue;
    (d.type === 3 ? receipts : corrections)[op]++;
    for (const k of KINDS) sums[op][k] += d.payments![k];
  }
  const nf = dump.nonFiscal.filter((d) => shift.open && d.shift === shift.number);
  const cashIn = nf.filter((d) => d.type === 'cash_in').reduce((s, d) => s + d.sum!, 0);
  const cashOut = nf.filter((d) => d.type === 'cash_out').reduce((s, d) => s + d.sum!, 0);
  const drawer = cashIn - cashOut + sums['1'].cash - sums['2'].cash - sums['3'].cash + sums['4'].cash;
  return {
    sums, receipts, corrections, cumulative, cumCorr, cumPay, cashIn, cashOut, drawer,
    cashInCount: nf.filter((d) => d.type === 'cash_in').length, cashOutCount: nf.filter((d) => d.type === 'cash_out').length,
  };
}

// ---------------------------------------------------------------- a Shtrih host over a real pty

function frameOf(payload: Buffer): Buffer {
  let x = payload.length;
  for (const b of payload) x ^= b;
  return Buffer.concat([Buffer.from([0x02, payload.length]), payload, Buffer.from([x])]);
}

async function shtrihBench(journalPath: string, identity?: Partial<JournalIdentity>) {
  const emu = new Emulator({ journalPath, clock: { utcOffsetMinutes: 0 }, ...(identity ? { identity } : {}) });
  const pty = await createPty();
  emu.attach(pty.stream);
  const port = await new Promise<SerialPort>((resolve, reject) => {
    const p = new SerialPort({ path: pty.path, baudRate: 115200 }, (err) => (err ? reject(err) : resolve(p)));
  });
  const rx = new Collector(port as never);
  /** one request → its answer payload (ACK, frame, ACK) */
  const ask = async (payload: Buffer): Promise<Buffer> => {
    port.write(frameOf(payload));
    const ack = await rx.read(1, 5000);
    if (ack[0] !== 0x06) throw new Error(`no ACK: ${ack.toString('hex')}`);
    const f = await rx.frame();
    port.write(Buffer.from([0x06]));
    return f.subarray(2, f.length - 1);
  };
  const okData = async (payload: Buffer): Promise<Buffer> => {
    const a = await ask(payload);
    const off = a[0] === 0xff ? 2 : 1;
    if (a[off] !== 0) throw new Error(`${payload.subarray(0, 2).toString('hex')} answered error ${a[off]!.toString(16)}`);
    return a.subarray(off + 1);
  };
  return {
    emu, ask, okData,
    async close() {
      await closeSerialPort(port);
      await pty.close();
      emu.close();
    },
  };
}

type Bench = Awaited<ReturnType<typeof shtrihBench>>;

const cashReg = async (b: Bench, n: number): Promise<number> => {
  const a = await b.okData(cmd(0x1a, n < 256 ? Buffer.from([n]) : le(n, 2)));
  if (a.length !== 7) throw new Error(`1Ah answer of ${a.length + 2} bytes`);
  return a.readUIntLE(1, 6);
};
const opReg = async (b: Bench, n: number): Promise<number> => {
  const a = await b.okData(cmd(0x1b, Buffer.from([n])));
  if (a.length !== 3) throw new Error(`1Bh answer of ${a.length + 2} bytes`);
  return a.readUInt16LE(1);
};
const feF4 = async (b: Bench, param: number): Promise<number[]> => {
  const a = await b.okData(Buffer.concat([hex('FE F4'), le(param, 4)]));
  return Array.from({ length: a.length / 8 }, (_, i) => Number(a.readBigUInt64LE(i * 8)));
};

/** every Shtrih register the emulator keeps, read over the wire, against the journal */
async function checkShtrihRegisters(t: Test, b: Bench, journalPath: string): Promise<void> {
  const x = derive(readJournal(journalPath));
  for (let type = 1; type <= 16; type++) {
    for (let k = 0; k < 4; k++) {
      const n = type <= 4 ? 193 + (type - 1) * 4 + k : 4144 + (type - 5) * 4 + k;
      const kind = TYPE_KIND[type];
      t.equal(await cashReg(b, n), kind ? x.sums[GROUP[k]!][kind] : 0, `1Ah ${n}: type ${type}, op ${GROUP[k]}`);
    }
  }
  t.equal(await cashReg(b, 241), x.drawer, '1Ah 241 cash in drawer');
  t.equal(await cashReg(b, 242), x.cashIn, '1Ah 242 cash in');
  t.equal(await cashReg(b, 243), x.cashOut, '1Ah 243 cash out');
  for (let k = 0; k < 4; k++) t.equal(await opReg(b, 144 + k), x.receipts[GROUP[k]!], `1Bh ${144 + k}`);
  t.equal(await opReg(b, 153), x.cashInCount, '1Bh 153 cash-in count');
  t.equal(await opReg(b, 154), x.cashOutCount, '1Bh 154 cash-out count');
  t.equal(await opReg(b, 202), x.corrections['1'] + x.corrections['2'], '1Bh 202 corrections приход');
  t.equal(await opReg(b, 203), x.corrections['3'] + x.corrections['4'], '1Bh 203 corrections расход');
  t.same(await feF4(b, 0), OPS.map((o) => x.cumulative[o]), 'FE F4 00: cumulative per operation');
  for (const op of OPS) {
    const expect = Array.from({ length: 16 }, (_, i) => (TYPE_KIND[i + 1] ? x.cumPay[op][TYPE_KIND[i + 1]!] : 0));
    t.same(await feF4(b, Number(op)), expect, `FE F4 0${op}: by payment type`);
  }
  t.same(await feF4(b, 5), OPS.map((o) => x.cumCorr[o]), 'FE F4 05: corrections');
}

/** a shift: cash with change, card, advance offset, credit, counter-provision, a return, a correction, cash in/out */
async function shtrihShift(b: Bench): Promise<void> {
  await b.okData(cmd(0xe0));
  await b.okData(cmd(0x50, le(50_000, 5)));
  const sale = async (type: number, price: number, close: Parameters<typeof ff45>[0]): Promise<void> => {
    await b.okData(ff46({ type, price, name: 'Кофе' }));
    await b.okData(ff45({ taxSystem: 1, ...close }));
  };
  await b.okData(fn(0x0c, tlv(1008, cp866('client@example.ru'))));
  await sale(1, 150_000, { cash: 200_000 });
  await sale(1, 84_950, { electronic: 84_950 });
  await sale(1, 30_000, { prepaid: 10_000, electronic: 20_000 });
  await sale(1, 40_000, { credit: 40_000 });
  await sale(1, 5_000, { other: 5_000 });
  await sale(2, 20_000, { cash: 20_000 });
  await sale(3, 7_000, { cash: 7_000 });
  // FF4A correction: приход, 12.00 cash
  const zero = Buffer.alloc(5);
  await b.okData(fn(0x4a, Buffer.from([0, 1]), le(1200, 5), le(1200, 5), zero, zero, zero, zero, Buffer.alloc(30), Buffer.from([1])));
  await b.okData(cmd(0x51, le(3_000, 5)));
}

t.test('Shtrih: registers over a pty equal the journal; Z clears the shift, not the cumulative; restart keeps them', async (t) => {
  const dir = t.testdir();
  const journalPath = path.join(dir, 'fn.jsonl');
  let b = await shtrihBench(journalPath, IDENTITY);
  t.teardown(() => b.close());
  await shtrihShift(b);
  t.match(runControl(b.emu, 'fault keyboard-receipt 2500 card'), /^OK keyboard receipt FD \d+/);
  t.match(runControl(b.emu, 'fault keyboard-receipt 1000'), /^OK keyboard receipt FD \d+ .* cash$/);
  const dump = readJournal(journalPath);
  t.same(dump.documents.filter((d) => d.keyboard).map((d) => [d.total, d.payments?.cash, d.payments?.electronic]), [[2500, 0, 2500], [1000, 1000, 0]],
    'the keyboard receipts are in the journal');

  // hand-computed figures (independent of both the emulator and derive())
  t.equal(await cashReg(b, 193), 150_000 + 1000 + 1200, 'cash приход: 1500.00 net of change + keyboard 10.00 + correction 12.00');
  t.equal(await cashReg(b, 195), 20_000, 'cash возврат прихода');
  t.equal(await cashReg(b, 194), 7_000, 'cash расход');
  t.equal(await cashReg(b, 197), 84_950 + 20_000 + 2500, 'electronic приход');
  t.equal(await cashReg(b, 4180), 10_000, 'prepayment (type 14) приход');
  t.equal(await cashReg(b, 4184), 40_000, 'credit (type 15) приход');
  t.equal(await cashReg(b, 4188), 5_000, 'counter-provision (type 16) приход');
  t.equal(await cashReg(b, 241), 50_000 - 3_000 + 152_200 - 20_000 - 7_000, 'cash in drawer');
  t.equal(await opReg(b, 144), 7, 'приход receipts: 5 + 2 keyboard');
  t.equal(await opReg(b, 146), 1, 'возврат прихода receipts');
  t.equal(await opReg(b, 202), 1, 'one correction');
  t.equal(await opReg(b, 153), 1);
  await checkShtrihRegisters(t, b, journalPath);
  const cumBefore = await feF4(b, 0);
  t.equal(cumBefore[0], 150_000 + 84_950 + 30_000 + 40_000 + 5_000 + 2500 + 1000 + 1200, 'cumulative приход');

  await t.test('an unknown register is refused, not answered 0', async (t) => {
    t.same(await b.ask(cmd(0x1a, Buffer.from([100]))), hex('1A 33'));
    t.same(await b.ask(cmd(0x1b, Buffer.from([10]))), hex('1B 33'));
    t.same(await b.ask(Buffer.concat([hex('FE F4'), le(6, 4)])), hex('FE 33'));
  });

  // Z report (41h): shift registers cleared, cumulative kept; FF0A of the Z with its FD/FP
  await b.okData(cmd(0x41));
  const z = readJournal(journalPath).documents.at(-1)!;
  t.equal(z.type, 5);
  const ff0a = await b.okData(fn(0x0a, le(z.fd, 4)));
  t.equal(ff0a.length, 17, 'FF0A shift close: 17 bytes after the error byte, as the captured answer');
  const ff0aShift = (x: Buffer) => [x[0], x.readUInt32LE(7), x.readUInt32LE(11), x.readUInt16LE(15)];
  t.same(ff0aShift(hex('05 00 11 07 06 02 36 06 00 00 00 FD 00 61 D9 01 00')), [5, 6, 3647013117, 1], 'the offsets read the captured answer (§1.11)');
  t.same(ff0aShift(ff0a), [5, z.fd, z.fiscalSign, z.shift], 'type, FD, FP, shift');
  const zHead = await b.okData(fn(0x3a, le(z.fd, 4)));
  t.equal(zHead.readUInt16LE(0), 5, 'FF3A of the Z: type 5');
  const zBlocks: Buffer[] = [];
  for (let a = await b.ask(fn(0x3b)); a[2] === 0; a = await b.ask(fn(0x3b))) zBlocks.push(a.subarray(3));
  const zTags = parseTlvs(Buffer.concat(zBlocks));
  const zVal = (tag: number): number | undefined => zTags.find((x) => x.tag === tag)?.value.readUInt32LE(0);
  t.same([zVal(1040), zVal(1038), zVal(1118), zVal(1111)], [z.fd, z.shift, 7 + 1 + 1 + 1, readJournal(journalPath).documents.filter((d) => d.shift === z.shift).length],
    'the Z\'s TLVs: 1040, 1038, 1118 receipts of the shift (7 приход, 1 return, 1 расход, 1 correction), 1111 its FDs');
  for (const n of [193, 197, 241, 242, 243, 4180]) t.equal(await cashReg(b, n), 0, `1Ah ${n} cleared by the Z`);
  for (const n of [144, 146, 153, 154, 202]) t.equal(await opReg(b, n), 0, `1Bh ${n} cleared by the Z`);
  t.same(await feF4(b, 0), cumBefore, 'cumulative sums survive the Z');
  await checkShtrihRegisters(t, b, journalPath);

  // restart on the same journal, with another identity offered: the journal keeps its own
  await b.close();
  b = await shtrihBench(journalPath, { inn: '5010051677', registrationNumber: '0000000001057364', ffd: '1.05' });
  t.same(await feF4(b, 0), cumBefore, 'cumulative sums survive a restart');
  const reg = await b.okData(fn(0x09));
  t.equal(reg.length, 64, 'the stored FFD 1.2 identity, not the offered one');
  t.equal(reg.subarray(5, 17).toString('ascii').trim(), '7707083893');
  // a new shift adds to them
  await b.okData(ff46({ price: 10_000 }));
  await b.okData(ff45({ cash: 10_000 }));
  const cum = await feF4(b, 0);
  t.equal(cum[0], cumBefore[0]! + 10_000, 'the cumulative total grows across shifts');
  await checkShtrihRegisters(t, b, journalPath);
});

t.test('Shtrih: FF09 in both layouts, table 18, the captured answers\' layouts', async (t) => {
  const dir = t.testdir();
  // the FF09 layout of kkt-shtrih (FNGetFiscalizationResult): DATE3 TIME2 INN Z12 RNM Z20 tax1 mode1 FD4 FP4
  const parse105 = (a: Buffer) => ({
    date: [...a.subarray(0, 5)], inn: a.subarray(5, 17).toString('ascii').replace(/[\0 ]+$/, ''),
    rn: a.subarray(17, 37).toString('ascii').replace(/[\0 ]+$/, ''), tax: a[37], mode: a[38], fd: a.readUInt32LE(39), fp: a.readUInt32LE(43),
  });
  let b = await shtrihBench(path.join(dir, 'a.jsonl'), { ffd: '1.05' });
  t.teardown(() => b.close());
  const id = b.emu.journal.identity;
  t.ok(isValidInn(id.inn), `the default INN ${id.inn} passes the gateway's INN checksum`);
  t.equal(id.inn, '5010051677');
  t.match(id.registrationNumber, /^\d{16}$/);
  const a105 = await b.okData(fn(0x09));
  t.equal(a105.length, 47, 'FFD 1.05: 47 bytes after the error byte');
  t.match(parse105(a105), { date: [26, 1, 15, 9, 0], inn: '5010051677', rn: id.registrationNumber, tax: 0x03, mode: 0x01, fd: 1 });
  const field = async (f: number): Promise<string> => (await b.okData(cmd(0x1f, Buffer.from([18]), le(1, 2), Buffer.from([f])))).toString('latin1').replace(/\0+$/, '');
  t.same([await field(1), await field(2), await field(3), await field(4)], [id.kktSerial, id.inn, id.registrationNumber, id.fnSerial], 'table 18 row 1 fields 1–4');
  const st = await b.okData(cmd(0x2e, Buffer.from([18, 2])));
  t.same([st.length, st[40], st[41]], [42, 1, 12], '2Eh: name(40), string, 12 bytes');
  t.same(await b.ask(cmd(0x1f, Buffer.from([18]), le(1, 2), Buffer.from([9]))), hex('1F 33'), 'a field the model lacks is refused');
  await b.close();

  b = await shtrihBench(path.join(dir, 'b.jsonl'), IDENTITY);
  const a12 = await b.okData(fn(0x09));
  t.equal(a12.length, 64, 'FFD 1.2: 64 bytes after the error byte');
  // javapos FSReadFiscalization (FFD 1.1+): DATE3 TIME2 INN12 RNM20 tax1 mode1 extMode1 OFD-INN12 reason4 FD4 FP4
  t.match({ ...parse105(a12), ofd: a12.subarray(40, 52).toString('ascii').trim(), fd: a12.readUInt32LE(56), fp: a12.readUInt32LE(60) },
    { inn: '7707083893', rn: '0000000002012345', tax: 0x05, mode: 0x21, ofd: '7709364346', fd: 1 });
});

t.test('Shtrih: FF3A/FF3B give the receipt\'s own tags', async (t) => {
  const dir = t.testdir();
  const journalPath = path.join(dir, 'fn.jsonl');
  const b = await shtrihBench(journalPath, IDENTITY);
  t.teardown(() => b.close());
  await shtrihShift(b);
  const doc = readJournal(journalPath).documents.find((d) => d.type === 3 && d.payments?.cash === 150_000)!;
  const head = await b.okData(fn(0x3a, le(doc.fd, 4)));
  t.equal(head.length, 4);
  t.equal(head.readUInt16LE(0), 3, 'document type');
  const size = head.readUInt16LE(2);
  const blocks: Buffer[] = [];
  for (;;) {
    const a = await b.ask(fn(0x3b));
    if (a[2] === 0x08) break;
    t.equal(a[2], 0, 'FF3B ok');
    blocks.push(a.subarray(3));
    if (blocks.length > 100) throw new Error('endless FF3B');
  }
  const data = Buffer.concat(blocks);
  t.equal(data.length, size, 'the blocks add up to the size FF3A gave');
  const tags = parseTlvs(data);
  const get = (tag: number): Buffer => tags.find((x) => x.tag === tag)?.value ?? Buffer.alloc(0);
  t.equal(get(1054)[0], 1, '1054 приход');
  t.equal(get(1020).readUIntLE(0, get(1020).length), 150_000, '1020 total');
  t.equal(get(1031).readUIntLE(0, get(1031).length), 150_000, '1031 cash');
  t.equal(get(1040).readUInt32LE(0), doc.fd, '1040');
  t.equal(get(1077).readUInt32BE(2), doc.fiscalSign, '1077: 6 bytes, the FP in the last four');
  t.equal(get(1038).readUInt32LE(0), doc.shift);
  t.equal(get(1042).readUInt32LE(0), doc.receiptNo);
  t.equal(get(1041).toString('ascii'), b.emu.journal.identity.fnSerial);
  t.equal(get(1037).toString('ascii'), '0000000002012345');
  t.equal(get(1018).toString('ascii').trim(), '7707083893');
  t.equal(get(1008).toString('latin1'), 'client@example.ru');
  t.ok(get(1012).length === 4, '1012 UnixTime');
  const item = parseTlvs(get(1059));
  t.same(item.map((x) => x.tag).sort(), [1023, 1030, 1043, 1079, 1199, 1212, 1214], '1059 item tags');
  const q = item.find((x) => x.tag === 1023)!.value;
  t.same([q[0], q.readUIntLE(1, q.length - 1)], [3, 1000], '1023 FVLN: 1.000');
  t.equal(item.find((x) => x.tag === 1199)!.value[0], 11, '1199: 22 %');
  t.same(await b.ask(fn(0x3a, le(9999, 4))), hex('FF 3A 08'), 'no such document');
});

function parseTlvs(buf: Buffer): Array<{ tag: number; value: Buffer }> {
  const out: Array<{ tag: number; value: Buffer }> = [];
  for (let i = 0; i + 4 <= buf.length;) {
    const tag = buf.readUInt16LE(i);
    const len = buf.readUInt16LE(i + 2);
    out.push({ tag, value: buf.subarray(i + 4, i + 4 + len) });
    i += 4 + len;
  }
  return out;
}

// ---------------------------------------------------------------- ATOL over real TCP

t.test('ATOL: registers 91, A4 43, A4 45/46 over TCP equal the journal; Z clears; restart keeps the cumulative', async (t) => {
  const dir = t.testdir();
  const journalPath = path.join(dir, 'fn.jsonl');
  const start = async () => {
    const emu = new Emulator({ protocol: 'atol', journalPath, clock: { utcOffsetMinutes: 0 }, identity: IDENTITY });
    const server = net.createServer((s) => emu.attach(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const host = new Host(socket);
    let tid = 0;
    const run = (p: Buffer): Promise<Buffer> => host.ok(++tid, p);
    const close = async () => {
      socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      emu.close();
    };
    return { emu, run, close };
  };
  let a = await start();
  t.teardown(() => a.close());
  // the receipts are made through the shared register model (the ATOL receipt commands are tested in atol-cycle)
  const sh = a.emu.device;
  const okH = (p: Buffer): void => {
    const r = sh.handle(p);
    if (r[r[0] === 0xff ? 2 : 1] !== 0) throw new Error(`${p.toString('hex')} → ${r.toString('hex')}`);
  };
  okH(cmd(0xe0));
  okH(cmd(0x50, le(50_000, 5)));
  for (const [type, price, close] of [
    [1, 150_000, { cash: 200_000 }], [1, 84_950, { electronic: 84_950 }], [1, 30_000, { prepaid: 10_000, electronic: 20_000 }],
    [1, 40_000, { credit: 40_000 }], [1, 5_000, { other: 5_000 }], [2, 20_000, { cash: 20_000 }], [3, 7_000, { cash: 7_000 }],
  ] as const) {
    okH(ff46({ type, price }));
    okH(ff45({ taxSystem: 1, ...close }));
  }
  okH(cmd(0x51, le(3_000, 5)));
  t.match(runControl(a.emu, 'fault keyboard-receipt 2500 card'), /^OK keyboard receipt/);

  const reg = async (r: number, p1 = 0, p2 = 0): Promise<Buffer> => (await a.run(task([0x91, r, p1, p2]))).subarray(2);
  const ATOL_TYPE: Record<Op, number> = { '1': 1, '2': 2, '3': 4, '4': 5 };
  const ATOL_KIND: Record<Kind, number> = { cash: 1, electronic: 2, prepaid: 3, credit: 4, other: 5 };
  const check = async (t: Test): Promise<void> => {
    const x = derive(readJournal(journalPath));
    for (const op of OPS) {
      const total = KINDS.reduce((s, k) => s + x.sums[op][k], 0);
      t.equal(unbcd(await reg(0x01, ATOL_TYPE[op])), total, `91 01 type ${ATOL_TYPE[op]}`);
      t.equal(unbcd(await reg(0x06, ATOL_TYPE[op])), x.receipts[op] + x.corrections[op], `91 06 type ${ATOL_TYPE[op]}`);
      t.equal(unbcd((await reg(0x41, ATOL_TYPE[op])).subarray(0, 5)), x.receipts[op] + x.corrections[op], `91 41 type ${ATOL_TYPE[op]}`);
      t.equal(unbcd(await reg(0x28, ATOL_TYPE[op])), x.cumulative[op], `91 28 type ${ATOL_TYPE[op]}: cumulative`);
      for (const k of KINDS) {
        t.equal(unbcd(await reg(0x03, ATOL_TYPE[op], ATOL_KIND[k])), x.sums[op][k], `91 03 ${op}/${k}`);
        t.equal(unbcd(await reg(0x38, ATOL_TYPE[op], ATOL_KIND[k])), x.cumPay[op][k], `91 38 ${op}/${k}`);
      }
    }
    t.equal(unbcd(await reg(0x04)), x.cashIn, '91 04 cash in');
    t.equal(unbcd(await reg(0x05)), x.cashOut, '91 05 cash out');
    t.equal(unbcd(await reg(0x08)), x.cashInCount, '91 08 cash-in count');
    t.equal(unbcd(await reg(0x09)), x.cashOutCount, '91 09 cash-out count');
    t.equal(unbcd(await reg(0x0a)), x.drawer, '91 0A cash in drawer');
  };
  t.equal(unbcd(await reg(0x03, 1, 1)), 150_000, 'hand-computed: cash приход net of change');
  t.equal(unbcd(await reg(0x03, 1, 2)), 84_950 + 20_000 + 2500, 'hand-computed: electronic приход with the keyboard receipt');
  t.equal(unbcd(await reg(0x03, 1, 3)), 10_000, 'hand-computed: advance offset');
  t.equal(unbcd(await reg(0x06, 1)), 6, 'hand-computed: 5 приход + 1 keyboard');
  await check(t);

  const a443 = (await a.run(task([0xa4, 0x43]))).subarray(2);
  t.equal(a443.length, 64, 'A4 43: the FFD 1.2 layout');
  t.same([a443.subarray(5, 17).toString('ascii').trim(), a443.subarray(17, 37).toString('ascii').trim(), a443[37], a443[38], a443.subarray(40, 52).toString('ascii').trim()],
    ['7707083893', '0000000002012345', 0x05, 0x21, '7709364346'], 'A4 43: INN, RNM, tax systems, modes, OFD INN');
  const r30 = await reg(0x30);
  t.equal(unbcd(r30.subarray(0, 5)), 1, '91 30: registration FD');

  // A4 45/46: the same TLVs Shtrih's FF3A/FF3B give
  const doc = readJournal(journalPath).documents.find((d) => d.type === 3 && d.payments?.prepaid === 10_000)!;
  const fdLe = le(doc.fd, 4);
  const h = (await a.run(task([0xa4, 0x45], fdLe))).subarray(2);
  t.same([h.readUInt16LE(0)], [3]);
  const parts: Buffer[] = [];
  let got = 0;
  while (got < h.readUInt16LE(2)) {
    const part = (await a.run(task([0xa4, 0x46]))).subarray(2);
    parts.push(part);
    got += part.length;
  }
  const shtrihBlocks: Buffer[] = [Buffer.from(sh.handle(fn(0x3a, fdLe)))];
  for (;;) {
    const r = sh.handle(fn(0x3b));
    if (r[2] !== 0) break;
    shtrihBlocks.push(r.subarray(3));
  }
  t.same(Buffer.concat(parts), Buffer.concat(shtrihBlocks.slice(1)), 'A4 46 bytes = FF3B bytes');
  const tags = parseTlvs(Buffer.concat(parts));
  const val = (tag: number): number => {
    const v = tags.find((x) => x.tag === tag)!.value;
    return v.readUIntLE(0, v.length);
  };
  t.same([val(1020), val(1215), val(1081), val(1054)], [30_000, 10_000, 20_000, 1], '1020, 1215 advance offset, 1081, 1054');

  // Z over ATOL: mode 3, 5A
  await a.run(task([0x56, 3], bcd(30, 4)));
  const cumBefore = unbcd(await reg(0x28, 1));
  await a.run(task([0x5a]));
  await a.run(task([0x48]));
  for (const [r, p1, p2] of [[0x01, 1, 0], [0x03, 1, 1], [0x04, 0, 0], [0x06, 1, 0], [0x08, 0, 0], [0x0a, 0, 0]] as const) {
    t.equal(unbcd(await reg(r, p1, p2)), 0, `91 ${r.toString(16)} cleared by the Z`);
  }
  t.equal(unbcd(await reg(0x28, 1)), cumBefore, '91 28 survives the Z');
  await check(t);
  await a.close();
  a = await start();
  t.equal(unbcd(await reg(0x28, 1)), cumBefore, '91 28 survives a restart');
  t.equal(unbcd(await reg(0x38, 1, 3)), 10_000, '91 38 survives a restart');
  await check(t);
});

// ---------------------------------------------------------------- the CLI flags

const ROOT = path.resolve(import.meta.dirname, '../..');

/** runs the CLI on a pty until its first line (or exit), sends `lines` on stdin, SIGTERM; stdout, stderr and code */
function cli(args: string[], lines: string[] = []): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/kkt-emulator.js'), ...args], { cwd: ROOT });
    let out = '';
    let err = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && out.includes('\n')) {
        sent = true;
        for (const l of lines) child.stdin.write(l + '\n');
        const answers = (): number => out.split('\n').filter((l) => /^(OK|ERR)/.test(l)).length;
        const wait = setInterval(() => {
          if (answers() >= lines.length) {
            clearInterval(wait);
            child.kill('SIGTERM');
          }
        }, 20);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ out, err, code }));
  });
}

t.test('CLI: --inn/--rn/--tax-systems/--ffd/--modes/--ofd-inn make the identity of a new journal; an existing one keeps its own', async (t) => {
  const dir = t.testdir();
  const journal = path.join(dir, 'fn.jsonl');
  const first = await cli(['--pty', '--journal', journal, '--inn', '7707083893', '--rn', '0000000002012345', '--tax-systems', 'usn_income,patent',
    '--ffd', '1.2', '--modes', 'encryption,internet', '--ofd-inn', '7709364346'], ['fault keyboard-receipt 777 card', 'status']);
  t.equal(first.code, 0);
  t.match(first.out, /^PTY \/dev\/pts\/\d+\nOK keyboard receipt FD 2 FP \d+ total 777 card\n/);
  t.match(readJournal(journal).identity, { inn: '7707083893', registrationNumber: '0000000002012345', taxSystems: 0x22, ffd: '1.2', modes: 0x21, ofdInn: '7709364346' });
  const again = await cli(['--pty', '--journal', journal, '--inn', '5010051677', '--ffd', '1.05'], ['status']);
  t.equal(again.code, 0);
  t.match(again.err, /keeps its stored identity \(inn, ffd not changed\)/);
  t.match(readJournal(journal).identity, { inn: '7707083893', ffd: '1.2' });
  t.equal(readJournal(journal).cumulative['1'], 777, 'the keyboard receipt is in the cumulative total');

  const bad = await cli(['--pty', '--tax-systems', 'osn,vat']);
  t.equal(bad.code, 2);
  t.match(bad.err, /--tax-systems: unknown vat/);
  t.equal((await cli(['--pty', '--ffd', '1.1'])).code, 2, '--ffd 1.1 refused');
  t.equal((await cli(['--pty', '--inn', '12345'])).code, 2, 'a 5-digit INN refused');
  const warned = await cli(['--pty', '--inn', '7701234567'], ['status']);
  t.equal(warned.code, 0);
  t.match(warned.err, /7701234567 fails the INN checksum/, 'an invalid INN is warned about (to test BAD_INN), not refused');
  const dflt = await cli(['--pty'], ['fault keyboard-receipt 0']);
  t.match(dflt.out, /ERR keyboard-receipt KOPECKS must be > 0/);
});

t.test('keyboard-receipt: refused while the host has a receipt open; counts in the tally of the shift', async (t) => {
  const emu = new Emulator({ clock: { utcOffsetMinutes: 0 } });
  t.teardown(() => emu.close());
  emu.device.handle(ff46({ price: 1000 }));
  t.match(runControl(emu, 'fault keyboard-receipt 500'), /^ERR a receipt is open/);
  emu.device.handle(ff45({ cash: 1000 }));
  t.match(runControl(emu, 'fault keyboard-receipt 500 cash'), /^OK keyboard receipt FD 3 /);
  t.same([emu.journal.shift.counters.receipts['1'], emu.journal.shift.counters.payments['1'].cash], [2, 1500]);
  t.equal(emu.journal.lastDocument?.keyboard, true);
  t.match(runControl(emu, 'fault keyboard-receipt 99999999 cash'), /^OK/);
});
