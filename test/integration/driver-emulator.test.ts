/**
 * The host driver against the emulator over a real pseudo-terminal (socat), through serialport's real binding:
 * the fiscal cycle, every fault kind, and a property test of the exactly-once promise under line trouble.
 */
import t from 'tap';
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { createPty, type Pty } from '../../drivers/emulator/pty.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { ShtrihDriver } from '../../drivers/shtrih/driver.ts';
import { openPort } from '../../drivers/transport.ts';
import { DriverError, type FiscalReceipt } from '../../drivers/types.ts';

interface Bench {
  dir: string;
  emu: Emulator;
  pty: Pty;
  driver: ShtrihDriver;
  close(): Promise<void>;
}

const FAST_LINK = { enqTimeoutMs: 150, ackTimeoutMs: 150, frameTimeoutMs: 300, retries: 4, answerWaits: 2, defaultAnswerTimeoutMs: 700, answerTimeouts: {} };

async function bench(): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-drv-'));
  const emu = new Emulator({ journalPath: join(dir, 'fn.jsonl') });
  const pty = await createPty();
  emu.attach(pty.stream);
  const driver = new ShtrihDriver({ openPort: () => openPort(pty.path), link: FAST_LINK, pollIntervalMs: 20, printWaitMs: 3000, continueWaitMs: 3000 });
  await driver.open();
  return {
    dir,
    emu,
    pty,
    driver,
    async close() {
      await driver.close();
      emu.close();
      await pty.close();
    },
  };
}

/** a 3-item receipt; `n` makes its total unique */
function receipt(n = 0, over: Partial<FiscalReceipt> = {}): FiscalReceipt {
  const delivery = 30000 + n;
  return {
    operation: 1,
    items: [
      { name: 'Кофемолка', price: 199000, quantity: 1000, sum: 199000, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
      { name: 'Кофе в зёрнах 1 кг', price: 84950, quantity: 2000, sum: 169900, vat: 'vat22', paymentMethod: 4, paymentObject: 1 },
      { name: 'Доставка', price: delivery, quantity: 1000, sum: delivery, vat: 'vat22', paymentMethod: 4, paymentObject: 4 },
    ],
    payments: { cash: 0, electronic: 368900 + delivery, prepaid: 0, credit: 0, other: 0 },
    total: 368900 + delivery,
    taxSystem: 'osn',
    cashier: { name: 'Иванова', inn: '500100732259' },
    customerContact: 'client@example.ru',
    ...over,
  };
}

const receiptsIn = (emu: Emulator, total?: number): any[] => {
  const out: any[] = [];
  for (let fd = 1; fd <= emu.journal.lastFd; fd++) {
    const d = emu.journal.find(fd) as any;
    if (d && (d.type === 3 || d.type === 31) && (total === undefined || d.total === total)) out.push(d);
  }
  return out;
};

t.test('the fiscal cycle through a pty: open shift, receipts, X, Z', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  const { driver, emu } = b;
  const info = driver.info()!;
  t.equal(info.protocol, 'shtrih');
  t.equal(info.fnNumber, emu.journal.identity.fnSerial, 'FN number read from the device');

  let st = await driver.status();
  t.equal(st.shift, 'closed');
  const opened = await driver.openShift({ name: 'Иванова' });
  t.equal(opened.shiftNumber, 1);
  st = await driver.status();
  t.equal(st.shift, 'open');

  const r = await driver.fiscalize(receipt(0));
  const doc = emu.journal.find(r.fdNumber) as any;
  t.ok(doc, 'the returned FD number is in the FN');
  t.equal(doc.type, 3);
  t.equal(r.fiscalSign, doc.fiscalSign, 'fiscal sign matches the FN');
  t.equal(doc.total, 398900);
  t.equal(r.total, 398900);
  t.equal(r.shiftNumber, 1);
  t.equal(r.receiptNumber, 1);

  const r2 = await driver.fiscalize(receipt(1, { operation: 2 }));
  t.equal(r2.receiptNumber, 2);
  t.equal(r2.fdNumber, r.fdNumber + 1);

  await driver.xReport();
  await driver.cashIn(10000);
  const z = await driver.closeShift({ name: 'Иванова' });
  t.equal(z.shiftNumber, 1);
  t.equal((emu.journal.find(z.fdNumber) as any)?.type, 5, 'Z-report is the shift-close document');
  st = await driver.status();
  t.equal(st.shift, 'closed');

  const last = await driver.lastDocument();
  t.equal(last.fdNumber, z.fdNumber);
  t.equal(last.type, 5);
  const found = await driver.findDocument(r.fdNumber);
  t.equal(found?.total, 398900);
  t.equal(found?.operation, 1);
  t.equal(await driver.findDocument(9999), undefined, 'an FD the FN does not have');
});

t.test('a 3-item receipt paid electronically lands in the FN with the same items, VAT and payments', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  const rc = receipt(5);
  const r = await b.driver.fiscalize(rc);
  const doc = b.emu.journal.find(r.fdNumber) as any;
  const full = readJournal(join(b.dir, 'fn.jsonl')).documents.find((d) => d.fd === r.fdNumber) as any;
  t.ok(full);
  t.same(full.items.map((i: any) => ({ name: i.name, price: i.price, q: i.quantity, sum: i.sum, vat: i.vat, pm: i.paymentMethod, po: i.paymentObject })), rc.items.map((i) => ({ name: i.name, price: i.price, q: i.quantity * 1000, sum: i.sum, vat: i.vat, pm: i.paymentMethod, po: i.paymentObject })));
  t.same(full.payments, { cash: 0, electronic: rc.total, prepaid: 0, credit: 0, other: 0 });
  t.equal(doc.total, rc.total);
});

t.test('link faults: each completes exactly one document', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  const kinds = ['drop-answer', 'drop-ack', 'garble-answer', 'nak-frame'] as const;
  let n = 10;
  for (const kind of kinds) {
    for (let k = 0; k < 3; k++) {
      n++;
      b.emu.faults.arm(kind, 1 + k); // the fault hits one of the receipt's first commands
      const r = await b.driver.fiscalize(receipt(n));
      t.equal(receiptsIn(b.emu, 368900 + 30000 + n).length, 1, `${kind} #${k + 1}: one document`);
      t.equal((b.emu.journal.find(r.fdNumber) as any).total, 368900 + 30000 + n);
      b.emu.faults.clear();
    }
  }
  b.emu.faults.stall(300, 2);
  const r = await b.driver.fiscalize(receipt(99));
  t.equal(receiptsIn(b.emu, 368900 + 30099).length, 1, 'stall shorter than the answer timeout: one document');
  t.equal(r.total, 368900 + 30099);
});

t.test('cable pulled: NO_LINK, retryable, nothing printed; back: prints once', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  b.emu.faults.silent = true;
  const err = await b.driver.fiscalize(receipt(1)).catch((e: unknown) => e);
  t.ok(err instanceof DriverError);
  t.equal((err as DriverError).code, 'NO_LINK');
  t.equal((err as DriverError).kind, 'retryable');
  t.equal(receiptsIn(b.emu).length, 0);
  b.emu.faults.silent = false;
  await b.driver.fiscalize(receipt(1));
  t.equal(receiptsIn(b.emu).length, 1);
});

t.test('answer lost for good after the closing command: uncertain, and the FN tells the truth', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  const before = (await b.driver.lastDocument()).fdNumber;
  // the register executes FF45, then the cable is pulled before its answer goes out
  const stop = setInterval(() => {
    if (b.emu.journal.lastFd > before) {
      b.emu.faults.silent = true;
      clearInterval(stop);
    }
  }, 1);
  // every answer is held until the host asks with ENQ (recoverable), so the pull lands before FF45's answer leaves
  b.emu.faults.arm('drop-answer', 100);
  const err = await b.driver.fiscalize(receipt(3)).catch((e: unknown) => e);
  clearInterval(stop);
  t.ok(err instanceof DriverError, 'fails');
  t.equal((err as DriverError).kind, 'uncertain', 'marked uncertain');
  b.emu.faults.clear();
  const last = await b.driver.lastDocument();
  t.equal(last.fdNumber, before + 1, 'the FN holds it');
  t.equal(last.total, 398903);
});

t.test('paper out before an item: operator error, receipt cancelled; paper back: one document', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  b.emu.device.paperOutAt({ at: 'before-item', item: 2 });
  const err = await b.driver.fiscalize(receipt(7)).catch((e: unknown) => e);
  t.ok(err instanceof DriverError);
  t.equal((err as DriverError).kind, 'operator', `paper: ${(err as DriverError).code}`);
  t.equal(receiptsIn(b.emu).length, 0, 'nothing fiscalized');
  b.emu.device.paperIn();
  const st = await b.driver.status();
  t.equal(st.receiptOpen, false, 'the half receipt was cancelled');
  await b.driver.fiscalize(receipt(7));
  t.equal(receiptsIn(b.emu).length, 1);
});

t.test('paper out during the close: the receipt is fiscal; printing continues with B0h once paper is back', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  b.emu.device.paperOutAt({ at: 'during-close' });
  const r = await b.driver.fiscalize(receipt(8));
  t.ok(b.emu.journal.find(r.fdNumber), 'fiscalized');
  let st = await b.driver.status();
  t.equal(st.paper, 'out');
  const next = await b.driver.fiscalize(receipt(9)).catch((e: unknown) => e);
  t.ok(next instanceof DriverError && next.kind === 'operator', 'the next receipt waits for paper');
  b.emu.device.paperIn();
  await b.driver.continuePrint();
  st = await b.driver.status();
  t.equal(st.paper, 'ok');
  await b.driver.fiscalize(receipt(9));
  t.equal(receiptsIn(b.emu).length, 2, 'two receipts, each once');
});

t.test('cover open, FN exhausted, device errors: typed, nothing printed', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  b.emu.device.setCover(true);
  const cover = (await b.driver.fiscalize(receipt(1)).catch((e: unknown) => e)) as DriverError;
  t.equal(cover.kind, 'operator', `cover: ${cover.code}`);
  b.emu.device.setCover(false);

  b.emu.device.setFnExhausted(true);
  const fn = (await b.driver.fiscalize(receipt(2)).catch((e: unknown) => e)) as DriverError;
  t.equal(fn.kind, 'fatal', `FN: ${fn.code}`);
  b.emu.device.setFnExhausted(false);

  b.emu.device.injectError({ code: 0x45, command: 0xff45 });
  const rej = (await b.driver.fiscalize(receipt(3)).catch((e: unknown) => e)) as DriverError;
  t.equal(rej.kind, 'rejected', `payments less than total: ${rej.code}`);
  t.equal(rej.deviceCode, 0x45);
  t.equal((await b.driver.status()).receiptOpen, false, 'rejected receipt cancelled');

  b.emu.device.injectError({ code: 0x50, command: 0xff45, count: 2 });
  await b.driver.fiscalize(receipt(4));
  t.equal(receiptsIn(b.emu).length, 1, 'busy twice, then printed once');
});

t.test('24 h shift expiry: SHIFT_EXPIRED until a Z-report', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  b.emu.advanceClock(25 * 3600_000);
  const st = await b.driver.status();
  t.equal(st.shift, 'expired');
  const err = (await b.driver.fiscalize(receipt(1)).catch((e: unknown) => e)) as DriverError;
  t.ok(err instanceof DriverError);
  t.not(err.kind, 'uncertain');
  t.equal(receiptsIn(b.emu).length, 0);
  await b.driver.closeShift();
  await b.driver.openShift();
  await b.driver.fiscalize(receipt(1));
  t.equal(receiptsIn(b.emu).length, 1);
});

t.test('property: line trouble never makes the driver claim a receipt the FN lacks, nor deny one it holds', async (t) => {
  const b = await bench();
  t.teardown(() => b.close());
  await b.driver.openShift();
  let n = 1000;
  const fault = fc.oneof(
    fc.record({ kind: fc.constantFrom('drop-answer', 'drop-ack', 'garble-answer', 'nak-frame'), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('stall'), ms: fc.integer({ min: 50, max: 1500 }), count: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('noise'), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }), delay: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ kind: fc.constant('silent'), after: fc.integer({ min: 0, max: 60 }), ms: fc.integer({ min: 100, max: 1500 }) }),
  );
  let uncertain = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fault, { minLength: 1, maxLength: 3 }), async (faults) => {
      n++;
      const total = 368900 + 30000 + n;
      const timers: NodeJS.Timeout[] = [];
      for (const f of faults) {
        if (f.kind === 'stall') b.emu.faults.stall(f.ms, f.count);
        else if (f.kind === 'noise') timers.push(setTimeout(() => b.pty.stream.write(Buffer.from(f.bytes)), f.delay));
        else if (f.kind === 'silent') {
          timers.push(setTimeout(() => (b.emu.faults.silent = true), f.after));
          timers.push(setTimeout(() => (b.emu.faults.silent = false), f.after + f.ms));
        } else b.emu.faults.arm(f.kind, f.count);
      }
      let outcome: 'ok' | 'failed' | 'uncertain';
      let fd: number | undefined;
      try {
        fd = (await b.driver.fiscalize(receipt(n))).fdNumber;
        outcome = 'ok';
      } catch (e) {
        if (!(e instanceof DriverError)) throw e;
        outcome = e.kind === 'uncertain' ? 'uncertain' : 'failed';
      }
      // let a pulled cable come back before looking into the FN
      const quietAt = Math.max(0, ...faults.map((f) => (f.kind === 'silent' ? f.after + f.ms : 0)));
      await new Promise((r) => setTimeout(r, quietAt + 50));
      for (const x of timers) clearTimeout(x);
      b.emu.faults.clear();
      const held = receiptsIn(b.emu, total);
      if (held.length > 1) return false;
      if (outcome === 'ok' && (held.length !== 1 || held[0].fd !== fd)) return false;
      if (outcome === 'failed' && held.length !== 0) return false;
      if (outcome === 'uncertain') uncertain++;
      // leave the device clean for the next run, as the dispatcher's reconcile would
      await b.driver.cancelReceipt().catch(() => undefined);
      return true;
    }),
    { numRuns: Number(process.env.KKT_PROPERTY_RUNS ?? 30), seed: Number(process.env.KKT_PROPERTY_SEED ?? Date.now() % 2 ** 31), endOnFailure: true },
  );
  t.comment(`${uncertain} uncertain outcomes`);
  t.pass('held every promise');
});
