import t from 'tap';
import fc from 'fast-check';
import { AtolDriver, type AtolDriverOptions } from '../../drivers/atol/driver.ts';
import { UncertainError } from '../../drivers/atol/errors.ts';
import { DriverError, type FiscalReceipt } from '../../drivers/types.ts';
import { FakeAtol } from './fake-register.ts';
import { codeOf, fastLink, type PeerDelivery } from './peer.ts';

const receipt = (over: Partial<FiscalReceipt> = {}): FiscalReceipt => ({
  operation: 1,
  items: [
    { name: 'Чайник №5', price: 150000, quantity: 1000, sum: 150000, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
    { name: 'Доставка', price: 20000, quantity: 1500, sum: 30000, vat: 'vat22', paymentMethod: 4, paymentObject: 13 },
  ],
  payments: { cash: 0, electronic: 180000, prepaid: 0, credit: 0, other: 0 },
  total: 180000,
  taxSystem: 'osn',
  cashier: { name: 'Иванова И.И.', inn: '5752203694' },
  customerContact: 'buyer@example.ru',
  ...over,
});

function setup(reg = new FakeAtol(), opts: Partial<AtolDriverOptions> = {}) {
  const driver = new AtolDriver({ port: reg.port, link: fastLink, pollIntervalMs: 1, printWaitMs: 300, zWaitMs: 300, continueWaitMs: 50, ...opts });
  return { reg, driver };
}

async function rejection(p: Promise<unknown>): Promise<DriverError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DriverError) return err;
    throw err;
  }
  throw new Error('expected a DriverError');
}

const codes = (reg: FakeAtol): string[] => reg.peer.executedCodes();

t.test('open: C4, 3F, A5, A4 31, serial register, tax table probe → DeviceInfo', async (t) => {
  const { reg, driver } = setup();
  const info = await driver.open();
  t.match(info, { protocol: 'atol', model: 'АТОЛ 30Ф', modelCode: 0x45, serial: '106303930512', fnNumber: '9999078900001234' });
  t.match(info.firmware, /^3\.0\.0 build 2195/);
  t.equal(reg.peer.packets[0]!.data[0], 0xc4, 'the link starts with an abort');
  t.same(codes(reg).slice(0, 4), ['3F', 'A5', 'A4 31', '91 16']);
  t.ok(codes(reg).includes('46'), 'tax table read');
  t.equal(reg.mode, 0, 'programming mode left');
  t.same(driver.info(), info);
});

t.test('status: brief and full, paper, cover, shift, FN', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  const brief = await driver.status({ brief: true });
  t.match(brief, { mode: 0, receiptOpen: false, shift: 'open', shiftNumber: 12, receiptNumber: 3, paper: 'ok', coverOpen: false, dateTime: '2026-01-15T10:30:00' });
  t.match(brief.fn, { serial: '9999078900001234', lastFd: 100 });
  t.equal(brief.fn!.expiry, undefined, 'brief: no expiry read');
  const full = await driver.status();
  t.match(full.fn, { lastFd: 100, phase: 3, warnings: 2, expiry: '2027-12-31', unsentCount: 2, unsentSince: '2026-01-15T09:05' });
  reg.failNext.set('91', 0x6c);
  t.equal((await driver.status({ brief: true })).fn!.lastFd, 100, '91 34 refused: the last FD from A4 30');
  t.ok(codes(reg).includes('A4 30'));
  reg.paper = false;
  reg.cover = true;
  reg.shiftOpen = false;
  t.match(await driver.status({ brief: true }), { paper: 'out', coverOpen: true, shift: 'closed' });
});

for (const delivery of ['sync', 'async', 'poll'] as PeerDelivery[]) {
  t.test(`fiscalize (${delivery} results): the §2.4 cycle, bytes of EB/E8/99, result from 91 33 and A4 10`, async (t) => {
    const { reg, driver } = setup(new FakeAtol(delivery));
    await driver.open();
    const before = codes(reg).length;
    const res = await driver.fiscalize(receipt());
    const cycle = ['3F', '91 34', '3F', '56', '92', 'EA', 'EB', 'EA', 'EB', 'E8', 'E8', 'E8', 'E8', '99', '4A', '91 33', 'A4 10'];
    t.same(codes(reg).slice(before), cycle, 'the result needs nothing after 91 33 and A4 10');
    await driver.status({ brief: true });
    t.same(codes(reg).slice(before), [...cycle, '3F'], 'a trailing 3F, the driver\'s next operation, proves the state after the receipt: the brief status that waited for it reads nothing of its own');
    t.match(res, { fdNumber: 101, fiscalSign: 3000000101, dateTime: '2026-01-15T10:30', shiftNumber: 12, receiptNumber: 4, fnNumber: '9999078900001234', operation: 1, total: 180000, change: 0 });
    const c = reg.closed[0]!;
    t.equal(c.type, 1);
    t.same(c.items.map((i) => [i.price, i.quantity, i.sum, i.taxType, i.paymentObject, i.paymentMethod, i.name]), [
      [150000, 1000, 150000, 7, 1, 4, 'Чайник №5'],
      [20000, 1500, 30000, 7, 13, 4, 'Доставка'],
    ], 'vat22 → the probed row whose tag is 11; 1212 = 13 as BCD; the name whole (the two reserved bytes)');
    t.same(c.tags.map((x) => x.tag), [1055, 1008, 1021, 1203]);
    t.same(c.tags[0]!.data, Buffer.from([0x01]), '1055 osn');
    t.equal(c.tags[1]!.data.toString('latin1'), 'buyer@example.ru');
    t.same(c.tags[2]!.data, Buffer.from([0x88, 0xa2, 0xa0, 0xad, 0xae, 0xa2, 0xa0, 0x20, 0x88, 0x2e, 0x88, 0x2e]), '1021 in the device code page');
    t.equal(c.tags[3]!.data.toString('latin1'), '5752203694  ', '1203: 12 characters');
    t.same(c.payments, [{ type: 2, sum: 180000 }]);
    t.equal(reg.docs.length, 2);
  });
}

t.test('the state a receipt proves: the next brief status and the next receipt read nothing of their own', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  await driver.fiscalize(receipt());
  let before = codes(reg).length;
  const st = await driver.status({ brief: true });
  t.same(codes(reg).slice(before), ['3F'], 'brief status right after a receipt: only the receipt\'s trailing 3F, no exchange of its own');
  t.match(st, { receiptOpen: false, shift: 'open', shiftNumber: 12, receiptNumber: 4, paper: 'ok', coverOpen: false });
  t.equal(st.fn!.lastFd, 101, 'the FN last FD is the receipt\'s');
  before = codes(reg).length;
  const res = await driver.fiscalize(receipt());
  t.same(codes(reg).slice(before), ['92', 'EA', 'EB', 'EA', 'EB', 'E8', 'E8', 'E8', 'E8', '99', '4A', '91 33'], 'no status reads around the second receipt');
  t.match(res, { fdNumber: 102, shiftNumber: 12, receiptNumber: 5 });
  await driver.status({ brief: true });
  t.equal(codes(reg).slice(before).at(-1), '3F', 'and its trailing 3F');
  // anything else forgets it: a full status reads the wire, and so does a brief one after another command
  await driver.xReport();
  before = codes(reg).length;
  await driver.status({ brief: true });
  t.ok(codes(reg).slice(before).includes('3F'), 'after another command the brief status reads the register');
});

t.test('a trailing 3F that fails costs the receipt nothing: its result stands, and the next brief status reads the register', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  await driver.fiscalize(receipt());
  await driver.status({ brief: true });
  reg.failNext.set('3F', 0x01);
  const res = await driver.fiscalize(receipt());
  t.match(res, { fdNumber: 102, receiptNumber: 5 }, 'the result came before the 3F');
  const before = codes(reg).length;
  const st = await driver.status({ brief: true });
  t.equal(codes(reg).slice(before).filter((c) => c === '3F').length, 2, 'the refused trailing 3F, then the brief status\'s own: nothing was proven');
  t.match(st, { receiptOpen: false, shift: 'open' });
  t.equal(reg.closed.length, 2, 'each receipt closed once');
});

t.test('the proven state expires with the clock: a brief status reads the register again after stateTtlMs', async (t) => {
  const reg = new FakeAtol();
  const driver = new AtolDriver({ port: reg.port, link: fastLink, pollIntervalMs: 1, stateTtlMs: 50 });
  await driver.open();
  await driver.fiscalize(receipt());
  await new Promise((r) => setTimeout(r, 80));
  const before = codes(reg).length;
  await driver.status({ brief: true });
  t.ok(codes(reg).slice(before).includes('3F'), 'clock too old: read from the wire');
});

t.test('EB bytes, 99 and 4A bytes as sent', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  await driver.fiscalize(receipt({ items: [receipt().items[0]!], total: 150000, payments: { cash: 100000, electronic: 50000, prepaid: 0, credit: 0, other: 0 } }));
  const eb = reg.peer.executed.find((p) => p[2] === 0xeb)!;
  t.equal(eb.subarray(0, 4).toString('hex'), '0000eb00');
  t.equal(eb.subarray(4, 11).toString('hex'), '00000000150000', 'price BCD7');
  t.equal(eb.subarray(11, 16).toString('hex'), '0000001000', 'qty BCD5 (×1000)');
  t.equal(eb.subarray(16, 23).toString('hex'), '00000000150000', 'cost BCD7');
  t.equal(eb[23], 7, 'tax type');
  t.equal(eb.subarray(24, 31).toString('hex'), '00000000000000', 'tax sum: the device computes');
  t.equal(eb.subarray(31, 34).toString('hex'), '000104', 'section 0, 1212, 1214');
  t.equal(eb.subarray(34, 44).toString('hex'), '00'.repeat(10), 'discount sign, discount, two reserved');
  const pays = reg.peer.executed.filter((p) => p[2] === 0x99).map((p) => p.toString('hex'));
  t.same(pays, ['00009900010000100000', '00009900020000050000']);
  t.equal(reg.peer.executed.find((p) => p[2] === 0x4a)!.toString('hex'), '00004a00010000000000');
});

t.test('a closed shift is opened first (56 01, 9A)', async (t) => {
  const reg = new FakeAtol();
  reg.shiftOpen = false;
  const { driver } = setup(reg);
  await driver.open();
  const res = await driver.fiscalize(receipt());
  t.ok(codes(reg).includes('9A'));
  t.match(res, { fdNumber: 102, shiftNumber: 13, receiptNumber: 1 });
  t.same(reg.docs.map((d) => d.type), [2, 2, 3]);
});

t.test('a receipt open on the device: RECEIPT_OPEN before anything is sent', async (t) => {
  const reg = new FakeAtol();
  reg.mode = 1;
  reg.receipt = { type: 1, flags: 0, items: [], tags: [], payments: [] };
  const { driver } = setup(reg);
  const before = codes(reg).length;
  const err = await rejection(driver.fiscalize(receipt()));
  t.equal(err.code, 'RECEIPT_OPEN');
  t.same(codes(reg).slice(before), ['3F']);
  t.equal(await driver.cancelReceipt(), true);
  t.equal(reg.receipt, undefined);
  t.equal(await driver.cancelReceipt(), false);
});

t.test('a step refused before 4A: 59 cancels the receipt, the device error is thrown', async (t) => {
  const { reg, driver } = setup();
  reg.failNext.set('EB', 0x08);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'BAD_PRICE', kind: 'rejected', deviceCode: 0x08 });
  t.ok(codes(reg).includes('59'));
  t.equal(reg.receipt, undefined);
  t.equal(reg.docs.length, 1);
});

t.test('4A refused (72h): cancelled, rejected', async (t) => {
  const { reg, driver } = setup();
  reg.failNext.set('4A', 0x72);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'PAYMENTS_LESS_THAN_TOTAL', kind: 'rejected' });
  t.equal(reg.receipt, undefined);
});

t.test('the answer to 4A lost, the link still up: C3 gets the result, 4A runs once, no uncertainty', async (t) => {
  const { reg, driver } = setup();
  reg.peer.faultsOn.set('4A', { loseAddAnswers: 1 });
  const res = await driver.fiscalize(receipt());
  t.equal(res.fdNumber, 101);
  t.equal(codes(reg).filter((c) => c === '4A').length, 1);
});

t.test('4A executed, then silence: UncertainError with lastFdBefore; the FN holds it (lastDocument / findDocument)', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  reg.peer.faultsOn.set('4A', { silentAfterAdd: true });
  const err = await rejection(driver.fiscalize(receipt()));
  t.ok(err instanceof UncertainError);
  t.equal(err.kind, 'uncertain');
  t.equal(err.code, 'RESULT_UNKNOWN');
  t.equal((err as UncertainError).lastFdBefore, 100);
  t.equal(reg.docs.length, 2, 'the FN has it');
  t.notOk(codes(reg).includes('59'), 'not cancelled');
  reg.peer.faults.silent = false;
  const last = await driver.lastDocument();
  t.match(last, { fdNumber: 101, type: 3, operation: 1, total: 180000, fiscalSign: 3000000101, dateTime: '2026-01-15T10:30' });
  t.same(await driver.findDocument(101), last);
  t.equal(await driver.findDocument(555), undefined);
});

t.test('C1 of 4A lost on the way: not sent again blindly — uncertain, and the FN does not have it', async (t) => {
  const { reg, driver } = setup();
  reg.peer.faultsOn.set('4A', { dropAdds: 1 });
  const err = await rejection(driver.fiscalize(receipt()));
  t.equal(err.kind, 'uncertain');
  t.equal(codes(reg).filter((c) => c === '4A').length, 0);
  t.equal(reg.docs.length, 1);
});

t.test('a body step whose C1 was lost (B3): the receipt is cancelled, retryable, nothing fiscalized', async (t) => {
  const { reg, driver } = setup();
  reg.peer.faultsOn.set('EB', { dropAdds: 1 });
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'ANSWER_LOST', kind: 'retryable' });
  t.ok(codes(reg).includes('59'));
  t.equal(reg.receipt, undefined);
  t.equal(reg.docs.length, 1);
});

t.test('shift over 24 h: 92 refused with 88h → SHIFT_EXPIRED; status says expired until a Z report', async (t) => {
  const { reg, driver } = setup();
  reg.clock = '2026-01-16T09:30:00';
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'SHIFT_EXPIRED', kind: 'retryable', deviceCode: 0x88 });
  t.equal((await driver.status({ brief: true })).shift, 'expired');
  const again = await rejection(driver.fiscalize(receipt()));
  t.equal(again.code, 'SHIFT_EXPIRED');
  const z = await driver.closeShift();
  t.match(z, { shiftNumber: 12, fdNumber: 101 });
  t.equal((await driver.status({ brief: true })).shift, 'closed');
  const res = await driver.fiscalize(receipt());
  t.match(res, { fdNumber: 103, shiftNumber: 13 });
});

t.test('shift over 24 h refused already at 56 01 (88h): SHIFT_EXPIRED, status expired, Z closes it', async (t) => {
  const reg = new FakeAtol();
  reg.expiredAtModeEntry = true;
  reg.clock = '2026-01-16T09:30:00';
  const { driver } = setup(reg);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'SHIFT_EXPIRED', deviceCode: 0x88 });
  t.notOk(codes(reg).includes('92'));
  t.equal((await driver.status({ brief: true })).shift, 'expired');
  await driver.closeShift();
  t.equal((await driver.fiscalize(receipt())).shiftNumber, 13);
});

t.test('a shift this driver opened is expired by the register clock 24 h later', async (t) => {
  const reg = new FakeAtol();
  reg.shiftOpen = false;
  const { driver } = setup(reg);
  const opened = await driver.openShift({ name: 'Иванова' });
  t.match(opened, { shiftNumber: 13, fdNumber: 101, fiscalSign: 3000000101, dateTime: '2026-01-15T10:30' });
  t.same(reg.looseTags.map((x) => x.tag), [1021]);
  t.equal((await driver.status()).shift, 'open');
  reg.clock = '2026-01-16T10:30:00';
  t.equal((await driver.status()).shift, 'expired');
});

t.test('Z report: mode 3 with the sysadmin password, 5A, 45 polled through 23h and 17h, result from 91 34', async (t) => {
  const { reg, driver } = setup();
  const before = codes(reg).length;
  const z = await driver.closeShift({ name: 'Иванова', inn: '5752203694' });
  t.match(z, { shiftNumber: 12, fdNumber: 101, fiscalSign: 3000000101, dateTime: '2026-01-15T10:30' });
  const seq = codes(reg).slice(before);
  const i = seq.indexOf('5A');
  t.ok(i > 0);
  t.same(seq.slice(i + 1, i + 6), ['45', '45', '45', '45', '45'], 'two 23h polls, two 17h polls, then idle');
  const enter = reg.peer.executed.find((p) => p[2] === 0x56)!;
  t.equal(enter.toString('hex'), '00005603' + '00000030');
  t.equal(reg.mode, 0);
  t.equal(reg.shiftOpen, false);
});

t.test('Z: 5A executed, then silence → uncertain', async (t) => {
  const { reg, driver } = setup();
  reg.peer.faultsOn.set('5A', { silentAfterAdd: true });
  const err = await rejection(driver.closeShift());
  t.equal(err.kind, 'uncertain');
  t.equal((err as UncertainError).lastFdBefore, 100);
  t.equal(reg.docs.length, 2);
});

t.test('Z: paper runs out while printing — the FN document exists, so the result is returned', async (t) => {
  const { reg, driver } = setup();
  reg.paperOutInZ = true;
  const z = await driver.closeShift();
  t.equal(z.fdNumber, 101);
});

t.test('X report: mode 2, 67 01, polled while 22h', async (t) => {
  const { reg, driver } = setup();
  const before = codes(reg).length;
  await driver.xReport();
  const seq = codes(reg).slice(before);
  t.ok(seq.includes('67'));
  t.equal(reg.peer.executed.find((p) => p[2] === 0x67)!.toString('hex'), '00006701');
  t.equal(reg.mode, 0);
  t.equal(reg.docs.length, 1, 'no fiscal document');
});

t.test('cash in / out: 49 / 4F in mode 1', async (t) => {
  const { reg, driver } = setup();
  await driver.cashIn(50000);
  await driver.cashOut(1200);
  t.same(reg.cashOps, [{ code: 0x49, sum: 50000 }, { code: 0x4f, sum: 1200 }]);
  t.equal(reg.peer.executed.find((p) => p[2] === 0x49)!.toString('hex'), '000049000000050000');
  const err = await rejection(driver.cashIn(0));
  t.equal(err.code, 'BAD_DOCUMENT');
});

t.test('paper out / cover open before a receipt: operator errors, nothing printed', async (t) => {
  const { reg, driver } = setup();
  reg.paper = false;
  t.match(await rejection(driver.fiscalize(receipt())), { code: 'NO_PAPER', kind: 'operator' });
  reg.paper = true;
  reg.cover = true;
  t.match(await rejection(driver.fiscalize(receipt())), { code: 'COVER_OPEN', kind: 'operator' });
  t.notOk(codes(reg).includes('92'));
  reg.cover = false;
  reg.paper = false;
  setTimeout(() => (reg.paper = true), 10);
  await driver.continuePrint();
  t.pass('continuePrint waits for paper');
});

t.test('VAT without a tax row on this device: BAD_DOCUMENT, nothing sent', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  const before = reg.peer.packets.length;
  const bad = receipt({ items: [{ ...receipt().items[0]!, vat: 'vat7' }], total: 150000, payments: { cash: 150000, electronic: 0, prepaid: 0, credit: 0, other: 0 } });
  const err = await rejection(driver.fiscalize(bad));
  t.match(err, { code: 'BAD_DOCUMENT', kind: 'rejected' });
  t.equal(reg.peer.packets.length, before);
});

t.test('no tax table on the device: the [A2] row numbering (20 % → 1, 0 % → 3, none → 4)', async (t) => {
  const reg = new FakeAtol();
  reg.taxTable = undefined;
  const { driver } = setup(reg);
  await driver.open();
  await driver.fiscalize(receipt({
    items: [
      { name: 'a', price: 100, quantity: 1000, sum: 100, vat: 'vat20', paymentMethod: 4, paymentObject: 1 },
      { name: 'b', price: 100, quantity: 1000, sum: 100, vat: 'vat0', paymentMethod: 4, paymentObject: 1 },
      { name: 'c', price: 100, quantity: 1000, sum: 100, vat: 'none', paymentMethod: 4, paymentObject: 1 },
    ],
    total: 300,
    payments: { cash: 300, electronic: 0, prepaid: 0, credit: 0, other: 0 },
  }));
  t.same(reg.closed[0]!.items.map((i) => i.taxType), [1, 3, 4]);
  const tag1199 = setup(new FakeAtol(), { quirks: { probeTaxTable: false, taxTypes: 'tag1199' } });
  await tag1199.driver.fiscalize(receipt());
  t.same(tag1199.reg.closed[0]!.items.map((i) => i.taxType), [11, 11]);
});

t.test('correction receipt: 92 type 7 ([A3]), 1173 and 1174 tags', async (t) => {
  const { reg, driver } = setup();
  const res = await driver.fiscalize(receipt({ correction: { type: 1, baseDate: '2026-01-10', baseNumber: '12-к' } }));
  t.equal(res.fdNumber, 101);
  const c = reg.closed[0]!;
  t.equal(c.type, 7);
  t.same(c.tags.slice(0, 3).map((x) => x.tag), [1173, 1174, 1055]);
  t.equal(reg.docs[1]!.type, 31);
  await driver.fiscalize(receipt({ operation: 4, correction: { type: 0, baseDate: '2026-01-10' } }));
  t.equal(reg.closed[1]!.type, 10, 'correction of возврат расхода: 10');
  const noType = setup(new FakeAtol(), { quirks: { correctionTypes: { 4: undefined as unknown as number } } });
  const err = await rejection(noType.driver.fiscalize(receipt({ operation: 4, correction: { type: 0, baseDate: '2026-01-10' } })));
  t.equal(err.code, 'BAD_DOCUMENT', 'an operation without a correction type is not sent');
});

t.test('findDocument without A4 40: the last receipt from 91 33', async (t) => {
  const { reg, driver } = setup();
  await driver.fiscalize(receipt());
  reg.findSupported = false;
  t.match(await driver.findDocument(101), { fdNumber: 101, type: 3, operation: 1, total: 180000, fiscalSign: 3000000101 });
  t.equal(await driver.findDocument(100), undefined);
});

t.test('a refund: 92 type 2; a buy: type 4', async (t) => {
  const { reg, driver } = setup();
  await driver.fiscalize(receipt({ operation: 2 }));
  await driver.fiscalize(receipt({ operation: 3 }));
  t.same(reg.closed.map((c) => c.type), [2, 4]);
  t.same(reg.docs.slice(1).map((d) => d.operation), [2, 3]);
});

t.test('closed driver: NOT_OPEN', async (t) => {
  const { driver } = setup();
  await driver.close();
  t.equal((await rejection(driver.status())).code, 'NOT_OPEN');
});

t.test('a replugged port: openPort is called again and the buffer is aborted first', async (t) => {
  let reg = new FakeAtol();
  let opens = 0;
  const driver = new AtolDriver({ openPort: async () => { opens++; return reg.port; }, link: fastLink, pollIntervalMs: 1 });
  await driver.open();
  reg.port.pull();
  reg = new FakeAtol();
  const st = await driver.status({ brief: true });
  t.equal(st.fn!.lastFd, 100);
  t.equal(opens, 2);
  t.equal(reg.peer.packets[0]!.data[0], 0xc4);
  t.equal(codeOf(reg.peer.executed[0]!), '3F');
});

t.test('property: line trouble never makes the driver claim a receipt the FN lacks, nor fail one it holds without uncertainty', async (t) => {
  const fault = fc.record({
    after: fc.integer({ min: 0, max: 30 }),
    kind: fc.constantFrom('loseAnswers', 'corruptAnswers', 'emptyAnswers', 'dropAdds', 'loseAddAnswers', 'loseAsync'),
    n: fc.integer({ min: 1, max: 3 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<PeerDelivery>('sync', 'async', 'poll'), fc.array(fault, { maxLength: 4 }), async (delivery, faults) => {
      const reg = new FakeAtol(delivery);
      const { driver } = setup(reg);
      let packets = 0;
      const peer = reg.peer;
      const orig = peer.port.fromHost;
      peer.port.fromHost = (chunk) => {
        packets++;
        for (const f of faults) if (f.after === packets) Object.assign(peer.faults, { [f.kind]: f.n });
        orig(chunk);
      };
      const before = reg.docs.length;
      let outcome: 'done' | 'uncertain' | 'failed';
      let fd = 0;
      try {
        fd = (await driver.fiscalize(receipt())).fdNumber;
        outcome = 'done';
      } catch (err) {
        if (!(err instanceof DriverError)) throw err;
        outcome = err.kind === 'uncertain' ? 'uncertain' : 'failed';
      }
      const receipts = reg.docs.slice(before).filter((d) => d.type === 3);
      if (receipts.length > 1) return false;
      if (outcome === 'done') return receipts.length === 1 && receipts[0]!.fd === fd && receipts[0]!.total === 180000;
      if (outcome === 'failed') return receipts.length === 0;
      return true;
    }),
    { numRuns: 40 },
  );
  t.pass('40 runs');
});

t.test('tax table probed although the device is in mode 1 at open, or lazily before the first receipt', async (t) => {
  const reg = new FakeAtol();
  reg.mode = 1;
  const { driver } = setup(reg);
  await driver.open();
  t.ok(codes(reg).includes('46'));
  const lazy = setup(new FakeAtol());
  await lazy.driver.fiscalize(receipt());
  t.same(lazy.reg.closed[0]!.items.map((i) => i.taxType), [7, 7], 'vat22 → the probed row, without open()');
  const none = new FakeAtol();
  none.taxTable = undefined;
  const err = await rejection(setup(none).driver.fiscalize(receipt()));
  t.match(err, { code: 'BAD_DOCUMENT', kind: 'rejected' });
  t.match(err.message, /quirks\.vatCodes/);
  t.notOk(none.peer.executedCodes().includes('92'), 'nothing printed');
});
