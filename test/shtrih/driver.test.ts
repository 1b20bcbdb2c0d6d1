import t from 'tap';
import { ShtrihDriver, type ShtrihDriverOptions } from '../../drivers/shtrih/driver.ts';
import { UncertainError } from '../../drivers/shtrih/errors.ts';
import { DriverError, type FiscalReceipt } from '../../drivers/types.ts';
import { FakeRegister } from './fake-register.ts';
import { MemPort, ShtrihPeer, fastLink } from './peer.ts';

const receipt = (over: Partial<FiscalReceipt> = {}): FiscalReceipt => ({
  operation: 1,
  items: [
    { name: 'Чайник', price: 150000, quantity: 1000, sum: 150000, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
    { name: 'Доставка', price: 20000, quantity: 1500, sum: 30000, vat: 'vat22', paymentMethod: 4, paymentObject: 4 },
  ],
  payments: { cash: 0, electronic: 180000, prepaid: 0, credit: 0, other: 0 },
  total: 180000,
  taxSystem: 'osn',
  cashier: { name: 'Иванова И.И.', inn: '5752203694' },
  customerContact: 'buyer@example.ru',
  ...over,
});

function setup(reg = new FakeRegister(), opts: Partial<ShtrihDriverOptions> = {}) {
  const driver = new ShtrihDriver({ port: reg.port, link: fastLink, pollIntervalMs: 1, printWaitMs: 200, continueWaitMs: 200, ...opts });
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

t.test('open: FCh + 11h + FF02 → DeviceInfo', async (t) => {
  const { driver } = setup();
  const info = await driver.open();
  t.match(info, { protocol: 'shtrih', model: 'ШТРИХ-МИНИ-01Ф', modelCode: 30, serial: '4239', inn: '5752203694', fnNumber: '9289000100055632' });
  t.match(info.firmware, /C\. build 8150/);
  t.same(driver.info(), info);
});

t.test('status: mode, shift, paper, cover, FN', async (t) => {
  const { reg, driver } = setup();
  const s = await driver.status();
  t.match(s, { mode: 2, submode: 0, receiptOpen: false, shift: 'open', shiftNumber: 12, paper: 'ok', coverOpen: false });
  t.match(s.fn, { serial: '9289000100055632', lastFd: 45817, expiry: '2027-12-31', unsentCount: 0 });
  reg.mode = 3;
  reg.submodes = [3];
  reg.flags |= 1 << 10;
  t.match(await driver.status(), { shift: 'expired', paper: 'waiting_continue', coverOpen: true });
  reg.mode = 4;
  reg.flags &= ~0x02;
  t.match(await driver.status(), { shift: 'closed', paper: 'out' });
  reg.mode = 8;
  reg.submodes = [2];
  t.match(await driver.status(), { shift: 'open', receiptOpen: true, paper: 'out' });
});

t.test('fiscalize: items, receipt tags, close; result from FF45, FF40, FF0A', async (t) => {
  const { reg, driver } = setup();
  await driver.open();
  const r = await driver.fiscalize(receipt());
  t.same(r, {
    fdNumber: 45818, fiscalSign: 0x70000000 + 45818, dateTime: '2026-11-28T10:15', shiftNumber: 12, receiptNumber: 5,
    fnNumber: '9289000100055632', operation: 1, total: 180000, change: 0,
  });
  const codes = reg.codes();
  t.same(codes.slice(4), ['10', 'FF01', 'FF46', 'FF46', 'FF0C', 'FF45', 'FF40', 'FF0A'], 'no 10h after FF45: the print is not followed');
  const items = reg.peer.executed.filter((p) => p[0] === 0xff && p[1] === 0x46);
  t.equal(items[1]!.readUIntLE(7, 6), 1_500_000, 'quantity 1.5 in millionths');
  t.equal(items[1]![28], 0xcb, 'VAT 22 % tax byte');
  t.equal(reg.docs.get(45818)!.tail.readUIntLE(1, 5), 180000, 'the register saw the full payment');
});

t.test('the state a receipt proves: the next brief status and the next receipt read nothing of their own', async (t) => {
  const reg = new FakeRegister();
  reg.extendedAnswers = true;
  const { driver } = setup(reg);
  await driver.open();
  await driver.status({ brief: true });
  let before = reg.codes().length;
  const r1 = await driver.fiscalize(receipt());
  t.same(reg.codes().slice(before), ['FF46', 'FF46', 'FF0C', 'FF45'], 'the status just read proves the state: no 10h/FF01 before, no FF40 nor 10h after');
  t.match(r1, { fdNumber: 45818, shiftNumber: 12, receiptNumber: 5 });
  before = reg.codes().length;
  const st = await driver.status({ brief: true });
  t.same(reg.codes().slice(before), [], 'brief status right after a receipt: no exchange');
  t.match(st, { mode: 2, receiptOpen: false, shift: 'open', shiftNumber: 12, receiptNumber: 5, paper: 'ok' });
  t.equal(st.fn!.lastFd, 45818);
  t.match(st.dateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/, 'the register clock, extrapolated');
  const r2 = await driver.fiscalize(receipt());
  t.match(r2, { fdNumber: 45819, shiftNumber: 12, receiptNumber: 6 });
  t.equal((await driver.status()).fn!.lastFd, 45819, 'a full status reads the register and agrees');
  await driver.xReport();
  before = reg.codes().length;
  await driver.status({ brief: true });
  t.ok(reg.codes().slice(before).includes('10'), 'after another command the brief status reads the register');
});

t.test('a failed receipt forgets the proven state: the next receipt reads the register first', async (t) => {
  const reg = new FakeRegister();
  reg.extendedAnswers = true;
  const { driver } = setup(reg);
  await driver.open();
  await driver.fiscalize(receipt());
  reg.mode = 4; // the shift was closed behind the driver's back (e.g. at the keyboard)
  let before = reg.codes().length;
  await rejection(driver.fiscalize(receipt({ items: [] as never })));
  t.same(reg.codes().slice(before, before + 1), ['FF0C'], 'the proven state is used: the receipt is sent at once (no 10h), and refused');
  before = reg.codes().length;
  await driver.fiscalize(receipt());
  t.same(reg.codes().slice(before, before + 2), ['10', 'E0'], 'the mode is read again and the closed shift opened');
});

t.test('fiscalize: FF45 with DATE_TIME needs no FF0A', async (t) => {
  const reg = new FakeRegister();
  reg.extendedAnswers = true;
  const { driver } = setup(reg);
  const r = await driver.fiscalize(receipt());
  t.equal(r.dateTime, '2026-11-28T10:15');
  t.notOk(reg.codes().includes('FF0A'));
  t.equal(r.fnNumber, '9289000100055632', 'FF02 when open() was not called');
});

t.test('fiscalize: a closed shift is opened first (E0h)', async (t) => {
  const reg = new FakeRegister();
  reg.mode = 4;
  const { driver } = setup(reg);
  const r = await driver.fiscalize(receipt());
  t.same(reg.codes().slice(0, 4), ['10', 'E0', '10', 'FF01']);
  t.equal(r.shiftNumber, 13);
  t.equal(r.receiptNumber, 1);
});

t.test('fiscalize: an open receipt or an expired shift is refused before anything is sent', async (t) => {
  const reg = new FakeRegister();
  reg.mode = 8;
  const { driver } = setup(reg);
  const open = await rejection(driver.fiscalize(receipt()));
  t.match(open, { code: 'RECEIPT_OPEN', kind: 'retryable' });
  reg.mode = 3;
  const expired = await rejection(driver.fiscalize(receipt()));
  t.match(expired, { code: 'SHIFT_EXPIRED', kind: 'retryable' });
  t.same(reg.codes(), ['10', '10']);
});

t.test('fiscalize: an item refused → 88h cancels, the original error is thrown', async (t) => {
  const reg = new FakeRegister();
  reg.failOnce('FF46', 0x33);
  const { driver } = setup(reg);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'BAD_PARAMETERS', kind: 'rejected', deviceCode: 0x33, command: 'FF46' });
  t.same(reg.codes().slice(2), ['FF46', '88']);
});

t.test('fiscalize: the second item refused with an open receipt → cancelled (mode back to 2)', async (t) => {
  const reg = new FakeRegister();
  reg.failNext.set('FF46', []);
  const { driver } = setup(reg);
  const r = receipt();
  r.items[1]!.vat = 'unknown' as never;
  const bad = await rejection(driver.fiscalize(r));
  t.match(bad, { code: 'BAD_DOCUMENT', kind: 'rejected' });
  t.same(reg.codes(), [], 'a document that cannot be encoded sends nothing');
  reg.failOnce('FF0C', 0x10);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'FN_TLV_TOO_LARGE' });
  t.equal(reg.mode, 2);
  t.equal(reg.codes().at(-1), '88');
});

t.test('fiscalize: FF45 refused by the device → cancelled, not uncertain', async (t) => {
  const reg = new FakeRegister();
  reg.failOnce('FF45', 0x45);
  const { driver } = setup(reg);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'PAYMENTS_LESS_THAN_TOTAL', kind: 'rejected' });
  t.equal(reg.codes().at(-1), '88');
});

t.test('fiscalize: FF45 taken but its answer lost for good → uncertain with the last FD before', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  reg.peer.faultsOn.set('FF45', { forgetAnswers: 1 });
  const err = await rejection(driver.fiscalize(receipt()));
  t.ok(err instanceof UncertainError);
  t.match(err, { code: 'RESULT_UNKNOWN', kind: 'uncertain', command: 'FF45' });
  t.equal((err as UncertainError).lastFdBefore, 45817);
  t.equal(reg.codes().filter((c) => c === 'FF45').length, 1, 'FF45 never sent twice');
  t.notOk(reg.codes().includes('88'), 'no cancel after a possibly executed close');
  t.equal(reg.lastFd, 45818, 'it was in fact fiscalized: the caller reconciles');
});

t.test('fiscalize: FF45 certainly not delivered → not uncertain, the receipt is cancelled', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  reg.peer.faultsOn.set('FF45', { nakFrames: fastLink.retries });
  const err = await rejection(driver.fiscalize(receipt()));
  t.notOk(err instanceof UncertainError);
  t.match(err, { code: 'LINK_ERROR', kind: 'retryable' });
  t.notOk(reg.codes().includes('FF45'));
  t.equal(reg.codes().at(-1), '88', 'the open receipt is cancelled');
  t.equal(reg.mode, 2);
});

t.test('fiscalize: busy printing (50h) is waited out', async (t) => {
  const reg = new FakeRegister();
  reg.failOnce('FF46', 0x50);
  reg.failOnce('FF46', 0x50);
  const { driver } = setup(reg);
  const r = await driver.fiscalize(receipt());
  t.equal(r.fdNumber, 45818);
  t.equal(reg.codes().filter((c) => c === 'FF46').length, 4);
});

t.test('fiscalize: correction receipt sends 1173/1174 before the items', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  await driver.fiscalize(receipt({ correction: { type: 0, baseDate: '2026-11-27', baseNumber: '1' } }));
  t.same(reg.codes().slice(2, 4), ['FF0C', 'FF46']);
  const first = reg.peer.executed[2]!;
  t.equal(first.readUInt16LE(6), 1173);
});

t.test('fiscalize: item tags go by FF4D right after their item', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  const r = receipt();
  r.items[0]!.measure = 11;
  await driver.fiscalize(r);
  t.same(reg.codes().slice(2, 5), ['FF46', 'FF4D', 'FF46']);
});

t.test('paper after FF45: the result at once; the next receipt\'s first command finds out (submode 3 → B0h, paper out → NO_PAPER)', async (t) => {
  const reg = new FakeRegister();
  reg.extendedAnswers = true; // answers with the clock: the state a receipt proves is kept
  const { driver } = setup(reg);
  await driver.open();
  reg.onExecute = (name) => {
    if (name !== 'FF45') return;
    // printing goes on after the answer, then waits for "continue": a command in between is refused (58h)
    reg.submodes = [5, 3];
    reg.failOnce('FF46', 0x58);
  };
  t.equal((await driver.fiscalize(receipt())).fdNumber, 45818, 'fiscalized: the result without following the print');
  t.notOk(reg.codes().includes('B0'), 'nothing sent after FF45 and its FN reads');
  reg.onExecute = () => undefined;
  let before = reg.codes().length;
  t.equal((await driver.fiscalize(receipt())).fdNumber, 45819, 'the next receipt is fiscalized');
  t.same(reg.codes().slice(before, before + 6), ['FF46', '10', '10', 'B0', '10', 'FF46'], 'its first item refused while printing: the print followed (B0h at submode 3), then the item sent again');
  t.equal(reg.codes().filter((c) => c === 'FF46').length, 5, 'on the wire: each receipt\'s two items and the one refusal');

  reg.onExecute = (name) => {
    if (name !== 'FF45') return;
    reg.submodes = [2, 2, 2, 2, 2, 2];
    reg.failOnce('FF46', 0x6b);
  };
  t.equal((await driver.fiscalize(receipt())).fdNumber, 45820, 'fiscalized although paper runs out while it prints');
  reg.onExecute = () => undefined;
  before = reg.codes().length;
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'NO_PAPER', kind: 'operator' }, 'the next receipt waits for paper');
  t.equal(reg.codes().slice(before).filter((c) => c === 'FF46').length, 1, 'its first item (refused) is not sent again without paper');
  t.equal(reg.codes().filter((c) => c === 'B0').length, 1, 'no B0h while paper is out');
});

t.test('the first command after an unfollowed print refused with the register idle: that refusal, no second try', async (t) => {
  const reg = new FakeRegister();
  reg.extendedAnswers = true; // answers with the clock: the state a receipt proves is kept
  const { driver } = setup(reg);
  await driver.open();
  await driver.fiscalize(receipt());
  reg.failOnce('FF46', 0x4e); // the shift passed 24 h
  const before = reg.codes().length;
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { deviceCode: 0x4e }, 'the command\'s own error');
  t.same(reg.codes().slice(before, before + 2), ['FF46', '10'], 'one status read tells the register is idle');
  t.equal(reg.codes().slice(before).filter((c) => c === 'FF46').length, 1, 'not sent again');
});

t.test('fiscalize refuses to start while paper is out', async (t) => {
  const reg = new FakeRegister();
  reg.submodes = [1, 1];
  const { driver } = setup(reg);
  const err = await rejection(driver.fiscalize(receipt()));
  t.match(err, { code: 'NO_PAPER', kind: 'operator' });
  t.notOk(reg.codes().includes('FF46'));
});

t.test('continuePrint waits for submode 3, then B0h', async (t) => {
  const reg = new FakeRegister();
  reg.submodes = [2, 2, 3];
  const { driver } = setup(reg);
  await driver.continuePrint();
  t.same(reg.codes(), ['10', '10', '10', 'B0', '10']);
  reg.submodes = Array.from({ length: 1000 }, () => 2);
  const err = await rejection(driver.continuePrint());
  t.match(err, { code: 'NO_PAPER', kind: 'operator' });
});

t.test('cancelReceipt, lastDocument, findDocument', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  t.equal(await driver.cancelReceipt(), false);
  reg.mode = 8;
  t.equal(await driver.cancelReceipt(), true);
  t.equal(reg.mode, 2);
  await driver.fiscalize(receipt());
  t.match(await driver.lastDocument(), { fdNumber: 45818, type: 3, operation: 1, total: 180000 });
  t.match(await driver.findDocument(45818), { fdNumber: 45818, type: 3 });
  t.equal(await driver.findDocument(99), undefined, 'FN "no data" → undefined');
});

t.test('openShift / closeShift / xReport / cash', async (t) => {
  const reg = new FakeRegister();
  reg.mode = 4;
  const { driver } = setup(reg);
  t.same(await driver.openShift({ name: 'Иванова' }), { shiftNumber: 13, fdNumber: 45818, fiscalSign: 0x70000000 + 45818, dateTime: '2026-11-28T10:15' });
  await driver.xReport();
  await driver.cashIn(10000);
  await driver.cashOut(5000);
  t.same(await driver.closeShift(), { shiftNumber: 13, fdNumber: 45819, fiscalSign: 0x70000000 + 45819, dateTime: '2026-11-28T10:15', unsentCount: 0 });
  t.equal(reg.mode, 4);
  for (const c of ['E0', '40', '50', '51', '41']) t.ok(reg.codes().includes(c), c);
  const again = await rejection(driver.closeShift());
  t.match(again, { code: 'WRONG_MODE', deviceCode: 0x73 });
});

t.test('closeShift with its answer lost → uncertain', async (t) => {
  const reg = new FakeRegister();
  const { driver } = setup(reg);
  reg.peer.faultsOn.set('41', { forgetAnswers: 1 });
  const err = await rejection(driver.closeShift());
  t.match(err, { kind: 'uncertain', command: '41h', lastFdBefore: 45817 });
  t.equal(reg.mode, 4, 'the shift was in fact closed');
});

t.test('no link → NO_LINK retryable; a gone port is reopened through the factory', async (t) => {
  const dead = new MemPort();
  new ShtrihPeer(dead, () => Buffer.alloc(0), { silent: true });
  const regs: FakeRegister[] = [];
  const driver = new ShtrihDriver({
    link: fastLink,
    pollIntervalMs: 1,
    openPort: async () => {
      if (regs.length === 0) {
        regs.push(new FakeRegister({ silent: true }));
        return regs[0]!.port;
      }
      regs.push(new FakeRegister());
      return regs.at(-1)!.port;
    },
  });
  const err = await rejection(driver.status());
  t.match(err, { code: 'NO_LINK', kind: 'retryable' });
  regs[0]!.port.pull();
  t.match(await driver.status(), { mode: 2 });
  t.equal(regs.length, 2);
  await driver.close();
  t.match(await rejection(driver.status()), { code: 'NOT_OPEN' });
});
