/**
 * ShtrihDriver's registration data, shift figures, Z report and document copies against the emulator's Shtrih
 * front-end over a real pty (socat + serialport), judged by what was sent and by the emulator's journal.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runControl } from '../../drivers/emulator/control.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import type { JournalIdentity } from '../../drivers/emulator/journal.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { ShtrihDriver } from '../../drivers/shtrih/driver.ts';
import { openPort } from '../../drivers/transport.ts';
import type { FiscalReceipt, OpName, Payments } from '../../drivers/types.ts';

t.setTimeout(300_000);

const LINK = { enqTimeoutMs: 300, ackTimeoutMs: 300, frameTimeoutMs: 500, retries: 6, answerWaits: 2, defaultAnswerTimeoutMs: 3000, answerTimeouts: {} };

async function bench(journalPath: string, identity?: Partial<JournalIdentity>) {
  const emu = new Emulator({ journalPath, ...(identity ? { identity } : {}) });
  const pty = await createPty();
  emu.attach(pty.stream);
  const driver = new ShtrihDriver({ openPort: () => openPort(pty.path), link: LINK, pollIntervalMs: 20, printWaitMs: 5000, continueWaitMs: 3000 });
  const info = await driver.open();
  return {
    emu, driver, info,
    async close() {
      await driver.close();
      emu.close();
      await pty.close();
    },
  };
}

const pay = (p: Partial<Payments>): Payments => ({ cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0, ...p });

function receipt(operation: FiscalReceipt['operation'], price: number, payments: Partial<Payments>, quantity = 1000): FiscalReceipt {
  const sum = (price * quantity) / 1000;
  return {
    operation,
    items: [{ name: 'Кофе в зёрнах 1 кг', price, quantity, sum, vat: 'vat22', paymentMethod: 4, paymentObject: 1 }],
    payments: pay(payments),
    total: sum,
    taxSystem: 'osn',
    cashier: { name: 'Иванова', inn: '500100732259' },
    customerContact: 'client@example.ru',
  };
}

const OPS: readonly OpName[] = ['sell', 'sell_refund', 'buy', 'buy_refund'];
const opName = (op: number): OpName => OPS[op - 1]!;

t.test('registration data, shift figures, Z report, document copy and cumulative totals against the emulator', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-shtrih-fig-'));
  const journalPath = join(dir, 'fn.jsonl');
  let b = await bench(journalPath, { inn: '5010051677', registrationNumber: '0000000001057364', taxSystems: 0x01 | 0x02, ffd: '1.2' });
  const id = b.emu.journal.identity;

  t.test('registration: FF09 as the emulator registered the FN', async (t) => {
    t.equal(b.info.inn, id.inn);
    t.equal(b.info.registrationNumber, id.registrationNumber);
    t.same(b.info.taxSystems, ['osn', 'usn_income']);
    t.equal(b.info.registration?.source, 'fn');
    if (id.ofdInn) t.equal(b.info.registration?.ofdInn, id.ofdInn);
    if (id.registrationFd !== undefined) t.equal(b.info.registration?.fdNumber, id.registrationFd);
    if (id.modes !== undefined) t.equal(b.info.registration?.modeBits, id.modes);
  });

  const receipts: FiscalReceipt[] = [
    receipt(1, 150000, { cash: 150000 }),
    receipt(1, 84950, { electronic: 169900 }, 2000),
    receipt(1, 30000, { prepaid: 10000, electronic: 20000 }),
    receipt(1, 40000, { credit: 40000 }),
    receipt(1, 5000, { other: 5000 }),
    receipt(2, 150000, { cash: 150000 }),
    receipt(3, 7000, { cash: 7000 }),
  ];
  const results: Array<{ fd: number; r: FiscalReceipt }> = [];
  const expectCounts = { sell: 0, sell_refund: 0, buy: 0, buy_refund: 0 } as Record<OpName, number>;
  const expectSums = Object.fromEntries(OPS.map((o) => [o, pay({})])) as Record<OpName, Payments>;
  const before = await b.driver.shiftFigures();
  t.test('figures of the shift: what the gateway sent', async (t) => {
    if ((await b.driver.status()).shift !== 'open') await b.driver.openShift();
    await b.driver.cashIn(100000); // change for the refund and the расход
    for (const r of receipts) {
      const res = await b.driver.fiscalize(r);
      results.push({ fd: res.fdNumber, r });
      const op = opName(r.operation);
      expectCounts[op]++;
      for (const k of Object.keys(r.payments) as Array<keyof Payments>) expectSums[op][k] += r.payments[k];
    }
    await b.driver.cashOut(30000);
    const f = await b.driver.shiftFigures();
    t.same(f.missing, [], 'the emulator gives every figure');
    for (const op of OPS) {
      t.equal(f.counts[op] - before.counts[op], expectCounts[op], `counts.${op}`);
      for (const k of Object.keys(expectSums[op]) as Array<keyof Payments>) {
        t.equal(f.sums[op][k] - before.sums[op][k], expectSums[op][k], `sums.${op}.${k}`);
      }
    }
    t.equal(f.cashIn - before.cashIn, 100000, 'cash in');
    t.equal(f.cashOut - before.cashOut, 30000, 'cash out');
    t.equal((f.cashInCount ?? -1) - (before.cashInCount ?? 0), 1, 'cash-in count');
    t.equal((f.cashOutCount ?? -1) - (before.cashOutCount ?? 0), 1, 'cash-out count');
    t.ok(f.cumulative, 'cumulative totals');
    for (const op of OPS) {
      const sent = (Object.values(expectSums[op]) as number[]).reduce((a, v) => a + v, 0);
      t.equal((f.cumulative?.[op] ?? NaN) - (before.cumulative?.[op] ?? 0), sent, `cumulative.${op}`);
    }
  });

  t.test('document copy: the FN\'s copy of each receipt equals what was sent', async (t) => {
    for (const { fd, r } of results) {
      const c = await b.driver.documentCopy(fd);
      t.ok(c, `FD ${fd}`);
      t.match(c, { fdNumber: fd, type: 3, fd, operation: r.operation, total: r.total, payments: r.payments, cashier: 'Иванова', customerContact: 'client@example.ru' });
      t.same(c?.items?.map((i) => ({ name: i.name, price: i.price, quantity: i.quantity, sum: i.sum, vatRate: i.vatRate, paymentMethod: i.paymentMethod, paymentObject: i.paymentObject })),
        r.items.map((i) => ({ name: i.name, price: i.price, quantity: i.quantity, sum: i.sum, vatRate: 11, paymentMethod: i.paymentMethod, paymentObject: i.paymentObject })));
      const j = b.emu.journal.find(fd);
      t.equal(c?.fiscalSign, j?.fiscalSign, 'fiscal sign as the journal holds it');
    }
    t.equal(await b.driver.documentCopy(b.emu.journal.lastFd + 10), undefined, 'no such document');
  });

  let cumulativeAfterZ: Record<OpName, number> | undefined;
  t.test('Z report: its own FD, FP, date and shift from the FN; registers cleared, cumulative kept', async (t) => {
    const shiftBefore = (await b.driver.status()).shiftNumber;
    const z = await b.driver.closeShift();
    const j = b.emu.journal.find(z.fdNumber);
    t.equal(z.fdNumber, b.emu.journal.lastFd);
    t.equal(j?.type, 5, 'a shift-close document');
    t.equal(z.fiscalSign, j?.fiscalSign);
    t.equal(z.shiftNumber, shiftBefore);
    t.equal(typeof z.unsentCount, 'number');
    const f = await b.driver.shiftFigures();
    t.same(f.counts, { sell: 0, sell_refund: 0, buy: 0, buy_refund: 0 }, 'counts cleared by the Z report');
    t.equal(f.sums.sell.cash, 0);
    cumulativeAfterZ = f.cumulative;
    t.ok(cumulativeAfterZ && cumulativeAfterZ.sell > 0, 'cumulative survives the Z report');
  });

  t.test('cumulative totals survive an emulator restart and grow in the next shift', async (t) => {
    await b.close();
    b = await bench(journalPath);
    const f = await b.driver.shiftFigures();
    t.same(f.cumulative, cumulativeAfterZ);
    await b.driver.fiscalize(receipt(1, 12300, { cash: 12300 }));
    const g = await b.driver.shiftFigures();
    t.equal((g.cumulative?.sell ?? 0) - (cumulativeAfterZ?.sell ?? 0), 12300);
  });

  t.teardown(() => b.close());
});

t.test('FFD 1.05 registration (47-byte FF09) and the table 18 fallback against the emulator', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-shtrih-reg-'));
  const b = await bench(join(dir, 'fn.jsonl'), { inn: '7707083893', registrationNumber: '0000000002003001', taxSystems: 0x20, ffd: '1.05', modes: 0x21 });
  t.teardown(() => b.close());
  t.match(b.info, { inn: '7707083893', registrationNumber: '0000000002003001', taxSystems: ['patent'] });
  t.match(b.info.registration, { source: 'fn', modeBits: 0x21, modes: { internet: true, encryption: true } });
  t.equal(b.info.registration?.extendedModeBits, undefined, 'the 1.05 layout has no extended flags');
  const answer = runControl(b.emu, 'fault error 37 FF09');
  t.match(answer, /^OK/);
  const reg = await b.driver.registration();
  t.match(reg, { source: 'table', inn: '7707083893', registrationNumber: '0000000002003001', taxSystems: [] });
  t.same(b.driver.info()?.taxSystems, ['patent'], 'taxation systems read before are kept when the table cannot say them');
});

t.test('a receipt made on the keyboard shows in the register\'s figures and in its FN copy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-shtrih-kbd-'));
  const b = await bench(join(dir, 'fn.jsonl'));
  t.teardown(() => b.close());
  await b.driver.openShift();
  await b.driver.fiscalize(receipt(1, 10000, { electronic: 10000 }));
  const answer = runControl(b.emu, 'fault keyboard-receipt 25000 card');
  t.match(answer, /^OK/);
  const f = await b.driver.shiftFigures();
  t.equal(f.counts.sell, 2, 'the gateway sent one, the register counts two');
  t.equal(f.sums.sell.electronic, 35000);
  const copy = await b.driver.documentCopy(b.emu.journal.lastFd);
  t.match(copy, { type: 3, operation: 1, total: 25000, payments: { electronic: 25000, cash: 0 } });
});
