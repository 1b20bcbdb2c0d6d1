/**
 * ShtrihDriver's registration data, shift figures, Z-report result and document copies against the scripted
 * register (fake-register.ts), refusals included.
 */
import t from 'tap';
import iconv from 'iconv-lite';
import { ShtrihDriver } from '../../drivers/shtrih/driver.ts';
import { FF09_12, FakeRegister } from './fake-register.ts';
import { fastLink, hex } from './peer.ts';

function setup(reg = new FakeRegister(), opts: Partial<ConstructorParameters<typeof ShtrihDriver>[0]> = {}) {
  const driver = new ShtrihDriver({ port: reg.port, link: fastLink, pollIntervalMs: 1, printWaitMs: 200, ...opts });
  return { reg, driver };
}

t.test('open reads FF09 (FFD 1.05) into DeviceInfo: registration, INN, РНМ, taxation systems', async (t) => {
  const { reg, driver } = setup();
  const info = await driver.open();
  t.same(reg.codes(), ['FC', '11', 'FF02', 'FF09'], 'no table read when FF09 answers');
  t.match(info, { inn: '5752203694', registrationNumber: '0000000001001234', taxSystems: ['osn', 'usn_income'] });
  t.match(info.registration, { source: 'fn', modeBits: 0x21, modes: { internet: true, encryption: true }, fdNumber: 1 });
});

t.test('open reads the FFD 1.2 layout (64 bytes) as well', async (t) => {
  const reg = new FakeRegister();
  reg.ff09 = FF09_12;
  const { driver } = setup(reg);
  const info = await driver.open();
  t.match(info, { inn: '5752203694', registrationNumber: '0000000001001234', taxSystems: ['patent'] });
  t.match(info.registration, { extendedModeBits: 5, ofdInn: '7704358518', fdNumber: 7, fiscalSign: 123456789 });
});

t.test('FF09 refused → table 18 row 1 fields 2 (INN) and 3 (РНМ)', async (t) => {
  const reg = new FakeRegister();
  reg.ff09 = 0x37;
  const { driver } = setup(reg);
  const info = await driver.open();
  t.same(reg.codes().slice(3), ['FF09', '1F', '1F']);
  const reads = reg.peer.executed.filter((p) => p[0] === 0x1f).map((p) => [p[5], p.readUInt16LE(6), p[8]]);
  t.same(reads, [[18, 1, 2], [18, 1, 3]]);
  t.match(info, { inn: '5752203694', registrationNumber: '0000000001001234' });
  t.equal(info.taxSystems, undefined, 'table 18 does not say the taxation systems');
  t.match(info.registration, { source: 'table', taxSystems: [] });
});

t.test('FF09 and table 18 refused → no registration data; open() still succeeds', async (t) => {
  const reg = new FakeRegister();
  reg.ff09 = 0x37;
  reg.table18 = 0x33;
  const { driver } = setup(reg);
  const info = await driver.open();
  t.equal(info.registration, undefined);
  t.equal(info.registrationNumber, undefined);
  t.equal(info.inn, '5752203694', 'the INN of 11h stays');
  t.equal(await driver.registration(), undefined);
});

t.test('registration() re-reads and updates info()', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  reg.ff09 = FF09_12;
  t.match(await driver.registration(), { taxSystems: ['patent'], fdNumber: 7 });
  t.same(driver.info()?.taxSystems, ['patent']);
});

/** a distinct value in every register so that a wrong number or order shows */
function fillRegisters(reg: FakeRegister): void {
  const ops = ['sell', 'buy', 'sell_refund', 'buy_refund'];
  ops.forEach((_, i) => {
    reg.cash.set(193 + i, 100_00 * (i + 1)); // type 1 cash
    reg.cash.set(197 + i, 10_00 * (i + 1)); // type 2
    reg.cash.set(201 + i, 1_00 * (i + 1)); // type 3
    reg.cash.set(205 + i, 1 * (i + 1)); // type 4
    reg.cash.set(4144 + i, 999_999); // type 5: not read by default
    reg.cash.set(4180 + i, 1000_00 * (i + 1)); // type 14 prepayment
    reg.cash.set(4184 + i, 20000_00 * (i + 1)); // type 15 credit
    reg.cash.set(4188 + i, 300000_00 * (i + 1)); // type 16 counter-provision
    reg.ops.set(144 + i, 10 + i);
  });
  reg.cash.set(241, 5555_00);
  reg.cash.set(242, 1000_00);
  reg.cash.set(243, 300_00);
  reg.ops.set(153, 2);
  reg.ops.set(154, 1);
  reg.ops.set(202, 1);
  reg.ops.set(203, 2);
  const cum = Buffer.alloc(32);
  [7_000_000_00n, 50_00n, 30_00n, 1n].forEach((v, i) => cum.writeBigUInt64LE(v, i * 8));
  reg.fef4 = cum;
}

t.test('shiftFigures: registers mapped to operations and payment kinds, cumulative from FE F4', async (t) => {
  const reg = new FakeRegister();
  fillRegisters(reg);
  const { driver } = setup(reg);
  const f = await driver.shiftFigures();
  t.same(f.missing, []);
  t.same(f.counts, { sell: 10, buy: 11, sell_refund: 12, buy_refund: 13 });
  t.same(f.sums.sell, { cash: 100_00, electronic: 10_00 + 1_00 + 1, prepaid: 1000_00, credit: 20000_00, other: 300000_00 });
  t.same(f.sums.buy, { cash: 200_00, electronic: 20_00 + 2_00 + 2, prepaid: 2000_00, credit: 40000_00, other: 600000_00 });
  t.same(f.sums.sell_refund, { cash: 300_00, electronic: 30_00 + 3_00 + 3, prepaid: 3000_00, credit: 60000_00, other: 900000_00 });
  t.same(f.sums.buy_refund, { cash: 400_00, electronic: 40_00 + 4_00 + 4, prepaid: 4000_00, credit: 80000_00, other: 1200000_00 });
  t.match(f, { cashIn: 1000_00, cashOut: 300_00, cashInDrawer: 5555_00, cashInCount: 2, cashOutCount: 1, corrections: 3, shiftNumber: 12 });
  t.same(f.cumulative, { sell: 7_000_000_00, sell_refund: 50_00, buy: 30_00, buy_refund: 1 }, 'FE F4 order: приход, возврат прихода, расход, возврат расхода');
  const codes = reg.codes();
  t.equal(codes.filter((c) => c === '1A').length, 4 * 7 + 3, 'payment types 1–4 and 14–16 per operation, drawer, cash in/out');
  t.equal(codes.filter((c) => c === '1B').length, 4 + 2 + 2);
  t.equal(codes.filter((c) => c === 'FE').length, 1);
  t.ok(reg.peer.executed.some((p) => p[0] === 0x1a && p.length === 7 && p.readUInt16LE(5) === 4180), '≥ 256: two bytes LE');
  t.ok(reg.peer.executed.some((p) => p[0] === 0x1a && p.length === 6 && p[5] === 193), '< 256: one byte');
  t.same(reg.peer.executed.find((p) => p[0] === 0xfe), hex('FE F4 00 00 00 00'));
});

t.test('shiftFigures: electronic payment types 5–13 when configured', async (t) => {
  const reg = new FakeRegister();
  fillRegisters(reg);
  const { driver } = setup(reg, { electronicPaymentTypes: [2, 3, 4, 5] });
  const f = await driver.shiftFigures();
  t.equal(f.sums.sell.electronic, 10_00 + 1_00 + 1 + 999_999);
});

t.test('shiftFigures: every refused figure named in missing, never a silent zero', async (t) => {
  const reg = new FakeRegister();
  fillRegisters(reg);
  for (let n = 4180; n < 4192; n++) reg.refusedCash.add(n); // no types 14–16
  reg.refusedCash.add(241);
  reg.refusedOps.add(147);
  reg.refusedOps.add(203);
  reg.fef4 = 0x37;
  const { driver } = setup(reg);
  const f = await driver.shiftFigures();
  t.same(new Set(f.missing), new Set([
    'sums.sell.prepaid', 'sums.sell.credit', 'sums.sell.other', 'sums.buy.prepaid', 'sums.buy.credit', 'sums.buy.other',
    'sums.sell_refund.prepaid', 'sums.sell_refund.credit', 'sums.sell_refund.other',
    'sums.buy_refund.prepaid', 'sums.buy_refund.credit', 'sums.buy_refund.other',
    'cashInDrawer', 'counts.buy_refund', 'corrections',
    'cumulative.sell', 'cumulative.sell_refund', 'cumulative.buy', 'cumulative.buy_refund',
  ]));
  t.equal(f.cashInDrawer, undefined);
  t.equal(f.corrections, undefined);
  t.equal(f.cumulative, undefined);
  t.equal(f.counts.sell, 10, 'what was given is kept');
});

t.test('shiftFigures: a short FE F4 answer (firmware without it) and an all-FF sum → missing cumulative', async (t) => {
  const reg = new FakeRegister();
  fillRegisters(reg);
  reg.fef4 = Buffer.alloc(8);
  const { driver } = setup(reg);
  const f = await driver.shiftFigures();
  t.equal(f.cumulative, undefined);
  t.ok(f.missing.includes('cumulative.sell'));
  const cum = Buffer.alloc(32);
  cum.fill(0xff, 24);
  reg.fef4 = cum;
  const g = await driver.shiftFigures();
  t.equal(g.cumulative, undefined);
  t.same(g.missing, ['cumulative.buy_refund']);
});

t.test('closeShift: the Z report\'s own FD/FP/date/shift from the FN, stepping back past later documents; unsentCount from FF39', async (t) => {
  const reg = new FakeRegister();
  reg.afterZ = [21];
  const { driver } = setup(reg);
  const z = await driver.closeShift();
  t.same(z, { shiftNumber: 12, fdNumber: 45818, fiscalSign: 0x70000000 + 45818, dateTime: '2026-11-28T10:15', unsentCount: 0 });
  t.same(reg.codes().slice(-4), ['FF01', 'FF0A', 'FF0A', 'FF39'], 'FF0A on FD 45819 (type 21), then on 45818 (type 5)');
});

t.test('closeShift: the captured FF0A of a shift close gives the result (javapos FSFindDocumentTests)', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  reg.onExecute = (name) => {
    if (name !== '41') return;
    // the FN's last document is the captured shift close: 2017-07-06 02:54, FD 6, FP 3647013117, shift 1
    reg.lastFd = 6;
    reg.rawDocs.set(6, hex('05 00 11 07 06 02 36 06 00 00 00 FD 00 61 D9 01 00'));
  };
  const z = await driver.closeShift();
  t.same(z, { fdNumber: 6, fiscalSign: 3647013117, shiftNumber: 1, dateTime: '2017-07-06T02:54', unsentCount: 0 });
});

const tlv = (tag: number, v: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(tag, 0);
  h.writeUInt16LE(v.length, 2);
  return Buffer.concat([h, v]);
};

t.test('documentCopy: FF3A then FF3B until the announced length; decoded', async (t) => {
  const reg = new FakeRegister();
  const items = Array.from({ length: 6 }, (_, i) =>
    tlv(1059, Buffer.concat([tlv(1030, iconv.encode(`Товар ${i + 1}`, 'cp866')), tlv(1079, hex('10 27')), tlv(1023, hex('00 02')), tlv(1043, hex('20 4E')), tlv(1199, hex('0B')), tlv(1214, hex('04')), tlv(1212, hex('01'))])),
  );
  const tlvs = Buffer.concat([tlv(1054, hex('02')), ...items, tlv(1020, hex('C0 D4 01')), tlv(1031, hex('C0 D4 01')), tlv(1040, hex('FA B2 00 00'))]);
  reg.tlvDocs.set(45818, { type: 3, tlvs });
  reg.blockSize = 64;
  const { driver } = setup(reg);
  const doc = await driver.documentCopy(45818);
  t.match(doc, { fdNumber: 45818, type: 3, operation: 2, total: 120000, fd: 45818, payments: { cash: 120000, electronic: 0 } });
  t.equal(doc?.items?.length, 6);
  t.match(doc?.items?.[5], { name: 'Товар 6', price: 10000, quantity: 2000, sum: 20000, vatRate: 11 });
  const blocks = reg.codes().filter((c) => c === 'FF3B').length;
  t.equal(blocks, Math.ceil(tlvs.length / 64), 'stops once the length is read');
  t.same(reg.peer.executed.find((p) => p[1] === 0x3a), hex('FF 3A 1E 00 00 00 FA B2 00 00'));
});

t.test('documentCopy: no such document → undefined; a document cut short → BAD_ANSWER', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  t.equal(await driver.documentCopy(99), undefined);
  reg.tlvDocs.set(7, { type: 3, tlvs: Buffer.concat([tlv(1054, hex('01')), tlv(1020, hex('10 27'))]) });
  reg.cutDocumentsAt = 5;
  await t.rejects(driver.documentCopy(7), { code: 'BAD_ANSWER' });
});
