/**
 * AtolDriver against the ATOL emulator (drivers/emulator, written independently from the same spec): in-process over
 * real TCP, over a real pty (socat), and the kkt-emulator CLI process over TCP. The full cycle, the journal holds
 * exactly what the driver reports, and the lost-answer cases never print twice.
 */
import t from 'tap';
import { registrationOf } from '../../drivers/emulator/journal.ts';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { AtolDriver } from '../../drivers/atol/driver.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { openPort } from '../../drivers/transport.ts';
import { DriverError, type FiscalReceipt } from '../../drivers/types.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const LINK = { packetTimeoutMs: 300, retries: 3, defaultTaskTimeoutMs: 3000, taskTimeouts: { 0x4a: 3000, 0x5a: 3000, 0x67: 3000, 0x9a: 3000 } };

const receipt = (over: Partial<FiscalReceipt> = {}): FiscalReceipt => ({
  operation: 1,
  items: [
    { name: 'Чайник №5', price: 150000, quantity: 1000, sum: 150000, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
    { name: 'Сахар', price: 5050, quantity: 1500, sum: 7575, vat: 'vat10', paymentMethod: 4, paymentObject: 1 },
    { name: 'Доставка', price: 20000, quantity: 1000, sum: 20000, vat: 'none', paymentMethod: 4, paymentObject: 4 },
  ],
  payments: { cash: 0, electronic: 177575, prepaid: 0, credit: 0, other: 0 },
  total: 177575,
  taxSystem: 'osn',
  cashier: { name: 'Иванова И.И.', inn: '5752203694' },
  customerContact: 'buyer@example.ru',
  ...over,
});

async function tcpEmulator(t: { teardown(fn: () => unknown): void }, identity: Record<string, unknown> = {}) {
  const emu = new Emulator({ protocol: 'atol', clock: { utcOffsetMinutes: 0 }, identity });
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    emu.attach(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const make = (): AtolDriver => new AtolDriver({ openPort: () => openPort(`tcp://127.0.0.1:${port}`), link: LINK, pollIntervalMs: 20, printWaitMs: 3000, zWaitMs: 3000 });
  const driver = make();
  t.teardown(async () => {
    await driver.close().catch(() => undefined);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    emu.close();
  });
  return { emu, driver, make };
}

function fiscalDocs(emu: Emulator): Array<{ fd: number; type: number; total?: number; operation?: number; fiscalSign: number }> {
  const out = [];
  for (let fd = 1; ; fd++) {
    const d = emu.journal.document(fd);
    if (!d) break;
    out.push(d);
  }
  return out;
}

t.test('TCP: open, status, a 3-item card receipt, read back, X, cash, Z, open shift', async (t) => {
  const { emu, driver } = await tcpEmulator(t);
  const info = await driver.open();
  t.match(info, { protocol: 'atol' });
  t.ok(info.model.length > 0 && info.fnNumber.length === 16, `model ${info.model}, FN ${info.fnNumber}`);
  const st = await driver.status();
  t.match(st, { receiptOpen: false, paper: 'ok', coverOpen: false });
  t.ok(st.fn && st.fn.lastFd >= 0);

  const res = await driver.fiscalize(receipt());
  t.match(res, { operation: 1, total: 177575, fnNumber: info.fnNumber });
  const doc = emu.journal.document(res.fdNumber)!;
  t.match(doc, { type: 3, operation: 1, total: 177575, fiscalSign: res.fiscalSign });
  t.equal(doc.items?.length, 3);
  // the journal keeps quantity in millionths
  t.same(doc.items!.map((i) => [i.name, i.price, i.quantity, i.sum, i.vat, i.paymentObject, i.paymentMethod]), [
    ['Чайник №5', 150000, 1_000_000, 150000, 'vat22', 1, 4],
    ['Сахар', 5050, 1_500_000, 7575, 'vat10', 1, 4],
    ['Доставка', 20000, 1_000_000, 20000, 'none', 4, 4],
  ]);
  t.equal(doc.payments?.electronic, 177575);
  t.match(JSON.stringify(doc.tags), /buyer@example\.ru/);
  t.equal(res.receiptNumber, doc.receiptNo, 'receipt number from A4 10');
  t.equal(res.shiftNumber, doc.shift);
  t.equal(res.dateTime, doc.dateTime.slice(0, 16));

  const copy = await driver.documentCopy(res.fdNumber);
  t.match(copy, {
    fdNumber: res.fdNumber, type: 3, fd: res.fdNumber, operation: 1, total: 177575, fiscalSign: res.fiscalSign,
    customerContact: 'buyer@example.ru', cashier: 'Иванова И.И.', receiptNumber: res.receiptNumber, shiftNumber: res.shiftNumber, dateTime: res.dateTime,
    payments: { cash: 0, electronic: 177575, prepaid: 0, credit: 0, other: 0 },
  });
  t.same(copy!.items, [
    { name: 'Чайник №5', price: 150000, quantity: 1000, sum: 150000, vatRate: 11, paymentMethod: 4, paymentObject: 1 },
    { name: 'Сахар', price: 5050, quantity: 1500, sum: 7575, vatRate: 2, paymentMethod: 4, paymentObject: 1 },
    { name: 'Доставка', price: 20000, quantity: 1000, sum: 20000, vatRate: 6, paymentMethod: 4, paymentObject: 4 },
  ]);
  t.equal(await driver.documentCopy(9999), undefined);

  const found = await driver.findDocument(res.fdNumber);
  t.match(found, { fdNumber: res.fdNumber, type: 3, operation: 1, total: 177575, fiscalSign: res.fiscalSign });
  t.same(await driver.lastDocument(), found);

  await driver.xReport();
  await driver.cashIn(10000);
  await driver.cashOut(5000);
  const z = await driver.closeShift({ name: 'Иванова И.И.' });
  const zdoc = emu.journal.document(z.fdNumber)!;
  t.match(zdoc, { type: 5, fiscalSign: z.fiscalSign, shift: z.shiftNumber });
  t.equal(z.unsentCount, emu.journal.ofdQueue().count, "unsent count after the Z");
  t.equal((await driver.status()).shift, 'closed');
  const opened = await driver.openShift({ name: 'Иванова И.И.' });
  t.match(emu.journal.document(opened.fdNumber), { type: 2, shift: opened.shiftNumber });
  t.equal(opened.shiftNumber, z.shiftNumber + 1);
});

t.test('TCP: A4 43 in the FFD 1.2 layout (reason code before FD and FP)', async (t) => {
  const { emu, driver } = await tcpEmulator(t, { ffd: '1.2', ofdInn: '7704211201' });
  const info = await driver.open();
  const reg = registrationOf(emu.journal.identity);
  t.equal(reg.ffd, '1.2');
  t.type(info.registration?.extendedModeBits, 'number', 'the long layout was read');
  t.match(info.registration, { inn: reg.inn, registrationNumber: reg.registrationNumber, fdNumber: reg.fd, fiscalSign: reg.fp, ofdInn: '7704211201' });
});

t.test('TCP: registration data from A4 43; tag 1055 reaches the FN', async (t) => {
  const { emu, driver } = await tcpEmulator(t);
  const info = await driver.open();
  const id = emu.journal.identity;
  t.equal(info.inn, id.inn);
  t.equal(info.registrationNumber, id.registrationNumber);
  t.match(info.registration, { inn: id.inn, registrationNumber: id.registrationNumber, modeBits: registrationOf(id).modes });
  t.same(await driver.registration(), info.registration);
  t.ok(info.taxSystems && info.taxSystems.length > 0, `tax systems ${info.taxSystems}`);
  const usn = await driver.fiscalize(receipt({ taxSystem: 'usn_income' }));
  const osn = await driver.fiscalize(receipt({ taxSystem: 'osn' }));
  t.equal(emu.journal.document(usn.fdNumber)?.taxSystem, 2, 'usn_income → 1055 = 2');
  t.equal(emu.journal.document(osn.fdNumber)?.taxSystem, 1, 'osn → 1055 = 1');
});

t.test('TCP: refund, correction, VAT rates through the probed tax table', async (t) => {
  const { emu, driver } = await tcpEmulator(t);
  await driver.open();
  const refund = await driver.fiscalize(receipt({ operation: 2, payments: { cash: 0, electronic: 177575, prepaid: 0, credit: 0, other: 0 } }));
  t.match(emu.journal.document(refund.fdNumber), { type: 3, operation: 2, total: 177575 });
  const corr = await driver.fiscalize(receipt({ correction: { type: 0, baseDate: '2026-01-10', baseNumber: '7' } }));
  t.match(emu.journal.document(corr.fdNumber), { type: 31, operation: 1, total: 177575 });
  t.same(emu.journal.document(refund.fdNumber)!.items!.map((i) => i.vat), ['vat22', 'vat10', 'none'], 'rates through the probed table 13');
});

t.test('TCP: the register\'s own shift figures (91 registers)', async (t) => {
  const { driver } = await tcpEmulator(t);
  await driver.open();
  await driver.fiscalize(receipt());
  await driver.fiscalize(receipt({ payments: { cash: 77575, electronic: 100000, prepaid: 0, credit: 0, other: 0 } }));
  await driver.fiscalize(receipt({ operation: 2 }));
  await driver.cashIn(30000);
  const f = await driver.shiftFigures();
  t.same(f.counts, { sell: 2, sell_refund: 1, buy: 0, buy_refund: 0 });
  t.same(f.sums.sell, { cash: 77575, electronic: 277575, prepaid: 0, credit: 0, other: 0 });
  t.same(f.sums.sell_refund, { cash: 0, electronic: 177575, prepaid: 0, credit: 0, other: 0 });
  t.equal(f.cashIn, 30000);
  t.equal(f.cashOut, 0);
  t.equal(f.cashInDrawer, 30000 + 77575);
  t.ok(f.shiftNumber! > 0);
  t.ok(Array.isArray(f.missing), `missing: ${f.missing.join(', ') || 'none'}`);
});

t.test('TCP faults: a dropped answer to 4A is recovered by C3 — one receipt, no uncertainty', async (t) => {
  const { emu, driver } = await tcpEmulator(t);
  await driver.open();
  await driver.fiscalize(receipt()); // shift open, warm
  const before = fiscalDocs(emu).length;
  // the next task packets are the status reads before the receipt; arm the fault right before 4A by counting
  // arm "drop-answer" (the next task packet runs, its answer and A6 are not sent) while the payment runs: the next
  // task packet is the 4A
  const dev = emu.atol!;
  const execute = dev.execute.bind(dev);
  let armed = false;
  dev.execute = (p) => {
    if (!armed && p[2] === 0x99) {
      armed = true;
      t.match(runControl(emu, 'fault drop-answer 1'), /^OK/);
    }
    return execute(p);
  };
  const res = await driver.fiscalize(receipt());
  t.ok(armed, 'the fault was armed');
  t.equal(fiscalDocs(emu).length, before + 1, 'exactly one new document');
  t.equal(emu.journal.document(res.fdNumber)?.total, 177575);
});

t.test('TCP faults: silence right after 4A → uncertain; the FN holds it and findDocument says so', async (t) => {
  const { emu, driver } = await tcpEmulator(t);
  await driver.open();
  const st = await driver.status();
  const dev = emu.atol!;
  const execute = dev.execute.bind(dev);
  dev.execute = (p) => {
    const out = execute(p);
    if (p[2] === 0x4a) emu.faults.silent = true;
    return out;
  };
  let err: unknown;
  try {
    await driver.fiscalize(receipt());
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof DriverError && err.kind === 'uncertain', `uncertain: ${String(err)}`);
  emu.faults.silent = false;
  const now = await driver.status();
  t.equal(now.fn!.lastFd, st.fn!.lastFd + (st.shift === 'closed' ? 2 : 1));
  t.match(await driver.findDocument(now.fn!.lastFd), { type: 3, operation: 1, total: 177575 });
});

t.test('pty (socat): the same driver over a serial line', async (t) => {
  const dir = t.testdir();
  const emu = new Emulator({ protocol: 'atol', clock: { utcOffsetMinutes: 0 } });
  const pty = await createPty({ link: path.join(dir, 'ttyATOL') });
  emu.attach(pty.stream);
  const driver = new AtolDriver({ openPort: () => openPort(path.join(dir, 'ttyATOL')), link: LINK, pollIntervalMs: 20, printWaitMs: 3000, zWaitMs: 3000 });
  t.teardown(async () => {
    await driver.close().catch(() => undefined);
    await pty.close();
    emu.close();
  });
  await driver.open();
  const res = await driver.fiscalize(receipt());
  t.match(emu.journal.document(res.fdNumber), { type: 3, total: 177575, fiscalSign: res.fiscalSign });
  const z = await driver.closeShift();
  t.match(emu.journal.document(z.fdNumber), { type: 5 });
});

t.test('the kkt-emulator CLI process over TCP', async (t) => {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/kkt-emulator.js'), '--protocol', 'atol', '--tcp', '0'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => {
    child.kill('SIGTERM');
  });
  const rl = readline.createInterface({ input: child.stdout! });
  const line = await new Promise<string>((resolve, reject) => {
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
  });
  const m = /^TCP (127\.0\.0\.1:\d+)$/.exec(line);
  t.ok(m, line);
  const driver = new AtolDriver({ openPort: () => openPort(`tcp://${m![1]}`), link: LINK, pollIntervalMs: 20, printWaitMs: 3000, zWaitMs: 3000 });
  t.teardown(() => driver.close().catch(() => undefined));
  const info = await driver.open();
  t.equal(info.protocol, 'atol');
  const res = await driver.fiscalize(receipt());
  t.ok(res.fdNumber > 0 && res.fiscalSign > 0);
  t.match(await driver.findDocument(res.fdNumber), { type: 3, total: 177575, fiscalSign: res.fiscalSign });
});
