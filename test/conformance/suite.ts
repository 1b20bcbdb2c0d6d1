/**
 * The conformance suite every register driver passes against its emulator, over a real pseudo-terminal (socat)
 * through serialport's real binding: the fiscal cycle, a receipt landing in the FN as sent, every fault kind the
 * emulator takes with the outcome the gateway relies on, and a property test of the exactly-once promise under line
 * trouble. The suite is protocol-neutral: it drives the driver only through FiscalDriver, injects faults only with
 * the emulator's text control commands (drivers/emulator/control.ts, the same for every front-end), and judges only
 * by the shared FN journal. What differs between protocols (link timeouts, device error codes) lives in the target
 * (shtrih.ts, atol.ts). A new protocol = a driver, an emulator front-end, its target file and one line in
 * conformance.test.ts.
 */
import type { Test } from 'tap';
import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator } from '../../drivers/emulator/emulator.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { DriverError, type DeviceInfo, type FiscalDriver, type FiscalReceipt } from '../../drivers/types.ts';

/** One driver on one emulator over one pty, opened. */
export interface Bench {
  driver: FiscalDriver;
  emu: Emulator;
  /** the emulator's FN journal file */
  journalPath: string;
  /** one emulator control line (`fault drop-answer 2`, `paper in`, …); throws on an `ERR` answer */
  control(line: string): string;
  /** bytes the host receives as if from the line (noise on the wire) */
  noise(bytes: Uint8Array): void;
  close(): Promise<void>;
}

export interface ConformanceTarget {
  /** shown in test names */
  name: string;
  /** what `driver.info().protocol` must say */
  protocol: DeviceInfo['protocol'];
  start(): Promise<Bench>;
  /** `fault error` control lines in the protocol's own codes */
  errors: {
    /** the closing command refused for the receipt's content (e.g. payments less than the total): `rejected`, cancelled */
    rejected: { line: string; deviceCode: number };
    /**
     * the closing command refused with the device's "busy, try again" code: `printed` when the driver waits and
     * sends it again itself (one document), `retryable` when it hands the error up (typed retryable, nothing
     * printed, the receipt cancelled; the next try prints once)
     */
    busy: { line: string; expect: 'printed' | 'retryable' };
  };
  /** runs of the property test (default 30; $KKT_PROPERTY_RUNS overrides) */
  propertyRuns?: number;
}

/**
 * A bench over a real pty: the emulator serves one end, the driver opens the slave path with serialport.
 * `emulator(journalPath)` makes the emulator, `driver(path)` the (unopened) driver for the pty's path.
 */
export async function ptyBench(o: { emulator: (journalPath: string) => Emulator; driver: (path: string) => FiscalDriver }): Promise<Bench> {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-conf-'));
  const journalPath = join(dir, 'fn.jsonl');
  const emu = o.emulator(journalPath);
  const pty = await createPty();
  emu.attach(pty.stream);
  const driver = o.driver(pty.path);
  try {
    await driver.open();
  } catch (e) {
    emu.close();
    await pty.close();
    throw e;
  }
  return {
    driver,
    emu,
    journalPath,
    control(line) {
      const answer = runControl(emu, line);
      if (!answer.startsWith('OK')) throw new Error(`emulator control "${line}": ${answer}`);
      return answer;
    },
    noise: (bytes) => void pty.stream.write(Buffer.from(bytes)),
    async close() {
      await driver.close();
      emu.close();
      await pty.close();
    },
  };
}

const BASE = 368900 + 30000;

/** a 3-item receipt paid electronically; `n` makes its total unique (BASE + n) */
export function receipt(n = 0, over: Partial<FiscalReceipt> = {}): FiscalReceipt {
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

/** receipts and corrections the FN holds, optionally only those of one total */
function receiptsIn(emu: Emulator, total?: number): Array<{ fd: number; total?: number }> {
  const out: Array<{ fd: number; total?: number }> = [];
  for (let fd = 1; fd <= emu.journal.lastFd; fd++) {
    const d = emu.journal.find(fd);
    if (d && (d.type === 3 || d.type === 31) && (total === undefined || d.total === total)) out.push(d);
  }
  return out;
}

async function failure(p: Promise<unknown>): Promise<DriverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e instanceof DriverError) return e;
  throw new Error(`expected a DriverError, got ${e === undefined ? 'success' : String(e)}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Registers every conformance test for `target` as one subtest of `t`. */
export function conformance(t: Test, target: ConformanceTarget): void {
  t.test(`conformance: ${target.name}`, async (t) => {
    const bench = async (t: Test): Promise<Bench> => {
      const b = await target.start();
      t.teardown(() => b.close());
      return b;
    };

    t.test('the fiscal cycle: open shift, receipts, X, cash in/out, Z, the FN read back', async (t) => {
      const { driver, emu, journalPath } = await bench(t);
      const info = driver.info()!;
      t.equal(info.protocol, target.protocol, 'the driver says its protocol');
      t.equal(info.fnNumber, emu.journal.identity.fnSerial, 'FN number read from the device');

      let st = await driver.status();
      t.equal(st.shift, 'closed');
      t.equal(st.receiptOpen, false);
      t.equal(st.paper, 'ok');
      const opened = await driver.openShift({ name: 'Иванова' });
      t.equal(opened.shiftNumber, 1);
      t.equal(emu.journal.find(opened.fdNumber)?.type, 2, 'shift-open document in the FN');
      t.equal(opened.fiscalSign, emu.journal.find(opened.fdNumber)?.fiscalSign, 'its fiscal sign');
      st = await driver.status();
      t.equal(st.shift, 'open');
      t.equal(st.shiftNumber, 1);

      const r = await driver.fiscalize(receipt(0));
      const doc = emu.journal.find(r.fdNumber);
      t.ok(doc, 'the returned FD number is in the FN');
      t.equal(doc?.type, 3);
      t.equal(r.fiscalSign, doc?.fiscalSign, 'fiscal sign matches the FN');
      t.equal(r.dateTime.slice(0, 16), doc?.dateTime.slice(0, 16), 'date-time of the FN document');
      t.equal(doc?.total, BASE);
      t.equal(r.total, BASE);
      t.equal(r.operation, 1);
      t.equal(r.shiftNumber, 1);
      t.equal(r.receiptNumber, 1);
      t.equal(r.fnNumber, emu.journal.identity.fnSerial);

      const r2 = await driver.fiscalize(receipt(1, { operation: 2 }));
      t.equal(r2.receiptNumber, 2);
      t.equal(r2.fdNumber, r.fdNumber + 1);
      t.equal(r2.operation, 2);
      t.equal(emu.journal.find(r2.fdNumber)?.operation, 2, 'a sale return in the FN');

      await driver.xReport();
      await driver.cashIn(10000);
      await driver.cashOut(2500);
      const nf = readJournal(journalPath).nonFiscal.map((d) => ({ type: d.type, sum: d.sum, shift: d.shift }));
      t.match(nf, [{ type: 'x_report', shift: 1 }, { type: 'cash_in', sum: 10000, shift: 1 }, { type: 'cash_out', sum: 2500, shift: 1 }], 'X report, cash in and out on the register');
      t.equal(nf.length, 3);

      const z = await driver.closeShift({ name: 'Иванова' });
      t.equal(z.shiftNumber, 1);
      t.equal(emu.journal.find(z.fdNumber)?.type, 5, 'Z-report is the shift-close document');
      t.equal(z.fiscalSign, emu.journal.find(z.fdNumber)?.fiscalSign);
      st = await driver.status();
      t.equal(st.shift, 'closed');

      const last = await driver.lastDocument();
      t.equal(last.fdNumber, z.fdNumber);
      t.equal(last.type, 5);
      t.equal(last.fiscalSign, z.fiscalSign);
      const found = await driver.findDocument(r.fdNumber);
      t.equal(found?.fdNumber, r.fdNumber);
      t.equal(found?.type, 3);
      t.equal(found?.total, BASE);
      t.equal(found?.operation, 1);
      t.equal(found?.fiscalSign, r.fiscalSign);
      t.equal(await driver.findDocument(9999), undefined, 'an FD the FN does not have');

      const again = await driver.openShift();
      t.equal(again.shiftNumber, 2, 'the next shift');
    });

    t.test('a 3-item receipt paid electronically lands in the FN with the same items, VAT and payments', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      const rc = receipt(5);
      const r = await b.driver.fiscalize(rc);
      const full = readJournal(b.journalPath).documents.find((d) => d.fd === r.fdNumber);
      t.ok(full, 'in the journal');
      t.equal(full?.type, 3);
      t.equal(full?.operation, 1);
      t.same(
        (full?.items ?? []).map((i) => ({ name: i.name, price: i.price, q: i.quantity, sum: i.sum, vat: i.vat, pm: i.paymentMethod, po: i.paymentObject })),
        // the journal keeps quantities in millionths (FiscalItem: thousandths)
        rc.items.map((i) => ({ name: i.name, price: i.price, q: i.quantity * 1000, sum: i.sum, vat: i.vat, pm: i.paymentMethod, po: i.paymentObject })),
        'items: name, price, quantity, sum, VAT rate, 1214, 1212',
      );
      t.same(full?.payments, { cash: 0, electronic: rc.total, prepaid: 0, credit: 0, other: 0 }, 'paid electronically (1081)');
      t.equal(full?.total, rc.total);
      t.equal(full?.taxSystem, 1, '1055: osn');
      t.equal(receiptsIn(b.emu).length, 1, 'one document');
    });

    t.test('link faults (dropped answer, dropped ACK, garbled byte, NAK, stall): each completes exactly one document', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      let n = 10;
      for (const kind of ['drop-answer', 'drop-ack', 'garble', 'nak']) {
        for (let k = 1; k <= 3; k++) {
          n++;
          b.control(`fault ${kind} ${k}`); // the fault hits one of the receipt's first exchanges
          const r = await b.driver.fiscalize(receipt(n));
          t.equal(receiptsIn(b.emu, BASE + n).length, 1, `${kind} ×${k}: one document`);
          t.equal(b.emu.journal.find(r.fdNumber)?.total, BASE + n, `${kind} ×${k}: the FD the driver returned`);
          t.equal(b.emu.faults.describe(), 'none', `${kind} ×${k}: every armed fault hit the receipt`);
          b.control('fault clear');
        }
      }
      b.control('fault stall 300 2');
      const r = await b.driver.fiscalize(receipt(99));
      t.equal(receiptsIn(b.emu, BASE + 99).length, 1, 'stall shorter than the answer timeout: one document');
      t.equal(r.total, BASE + 99);
      t.equal(b.emu.faults.describe(), 'none', 'both stalls hit the receipt');
      t.equal(receiptsIn(b.emu).length, 13, 'thirteen receipts, each once');
    });

    t.test('cable pulled: NO_LINK, retryable, nothing printed; back: prints once', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      b.control('silent on');
      const err = await failure(b.driver.fiscalize(receipt(1)));
      t.equal(err.code, 'NO_LINK');
      t.equal(err.kind, 'retryable');
      t.equal(receiptsIn(b.emu).length, 0, 'nothing printed');
      b.control('silent off');
      const r = await b.driver.fiscalize(receipt(1));
      t.equal(receiptsIn(b.emu).length, 1, 'printed once');
      t.equal(b.emu.journal.find(r.fdNumber)?.total, BASE + 1);
    });

    t.test('answer lost for good after the closing command: uncertain, and the FN tells the truth', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      const before = (await b.driver.lastDocument()).fdNumber;
      // the register executes the closing command, then the cable is pulled before its answer gets out
      const stop = setInterval(() => {
        if (b.emu.journal.lastFd > before) {
          b.control('silent on');
          clearInterval(stop);
        }
      }, 1);
      // every answer is held back (recoverably) until the host asks again, so the pull lands before the close's answer
      b.control('fault drop-answer 100');
      const err = await failure(b.driver.fiscalize(receipt(3))).finally(() => clearInterval(stop));
      t.equal(err.kind, 'uncertain', `marked uncertain (${err.code})`);
      t.equal(receiptsIn(b.emu).length, 1, 'the register did fiscalize it');
      b.control('fault clear');
      const last = await b.driver.lastDocument();
      t.equal(last.fdNumber, before + 1, 'lastDocument: the FN holds it');
      t.equal(last.type, 3);
      t.equal(last.total, BASE + 3);
      const found = await b.driver.findDocument(before + 1);
      t.equal(found?.total, BASE + 3, 'findDocument agrees');
      t.equal(found?.fiscalSign, b.emu.journal.find(before + 1)?.fiscalSign);
    });

    t.test('paper out before an item: operator error, receipt cancelled; paper back: one document', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      b.control('fault paper-out before-item 2');
      const err = await failure(b.driver.fiscalize(receipt(7)));
      t.equal(err.kind, 'operator', `paper: ${err.code}`);
      t.equal(receiptsIn(b.emu).length, 0, 'nothing fiscalized');
      b.control('paper in');
      const st = await b.driver.status();
      t.equal(st.receiptOpen, false, 'the half receipt was cancelled');
      t.equal(st.paper, 'ok');
      await b.driver.fiscalize(receipt(7));
      t.equal(receiptsIn(b.emu, BASE + 7).length, 1, 'one document');
      t.equal(receiptsIn(b.emu).length, 1);
    });

    t.test('paper out during the close: the receipt is fiscal; printing continues once paper is back', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      b.control('fault paper-out during-close');
      const r = await b.driver.fiscalize(receipt(8));
      t.equal(b.emu.journal.find(r.fdNumber)?.total, BASE + 8, 'fiscalized');
      let st = await b.driver.status();
      t.equal(st.paper, 'out', 'paper out reported');
      const next = await failure(b.driver.fiscalize(receipt(9)));
      t.equal(next.kind, 'operator', `the next receipt waits for paper (${next.code})`);
      t.equal(receiptsIn(b.emu).length, 1, 'not printed without paper');
      b.control('paper in');
      await b.driver.continuePrint();
      st = await b.driver.status();
      t.equal(st.paper, 'ok');
      await b.driver.fiscalize(receipt(9));
      t.equal(receiptsIn(b.emu, BASE + 8).length, 1);
      t.equal(receiptsIn(b.emu, BASE + 9).length, 1);
      t.equal(receiptsIn(b.emu).length, 2, 'two receipts, each once');
    });

    t.test('cover open, FN exhausted, device errors: typed, nothing printed', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      b.control('cover open');
      const cover = await failure(b.driver.fiscalize(receipt(1)));
      t.equal(cover.kind, 'operator', `cover: ${cover.code}`);
      t.equal(receiptsIn(b.emu).length, 0);
      b.control('cover close');

      b.control('fault fn-exhausted on');
      const fn = await failure(b.driver.fiscalize(receipt(2)));
      t.equal(fn.kind, 'fatal', `FN: ${fn.code}`);
      t.equal(receiptsIn(b.emu).length, 0);
      b.control('fault fn-exhausted off');

      b.control(target.errors.rejected.line);
      const rej = await failure(b.driver.fiscalize(receipt(3)));
      t.equal(rej.kind, 'rejected', `refused for its content: ${rej.code}`);
      t.equal(rej.deviceCode, target.errors.rejected.deviceCode, 'the device code is kept');
      t.equal(receiptsIn(b.emu).length, 0);
      t.equal((await b.driver.status()).receiptOpen, false, 'rejected receipt cancelled');

      b.control(target.errors.busy.line);
      if (target.errors.busy.expect === 'retryable') {
        const busy = await failure(b.driver.fiscalize(receipt(4)));
        t.equal(busy.kind, 'retryable', `busy: ${busy.code}`);
        t.equal(receiptsIn(b.emu).length, 0, 'nothing printed');
        t.equal((await b.driver.status()).receiptOpen, false, 'the receipt cancelled');
      }
      await b.driver.fiscalize(receipt(4));
      t.equal(receiptsIn(b.emu).length, 1, 'busy, then printed once');
      t.equal(receiptsIn(b.emu, BASE + 4).length, 1);
    });

    t.test('24 h shift expiry: SHIFT_EXPIRED until a Z-report', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      b.control('clock +25h');
      const st = await b.driver.status();
      t.equal(st.shift, 'expired');
      const err = await failure(b.driver.fiscalize(receipt(1)));
      t.equal(err.code, 'SHIFT_EXPIRED');
      t.not(err.kind, 'uncertain');
      t.equal(receiptsIn(b.emu).length, 0);
      const z = await b.driver.closeShift();
      t.equal(z.shiftNumber, 1);
      t.equal((await b.driver.status()).shift, 'closed');
      await b.driver.openShift();
      await b.driver.fiscalize(receipt(1));
      t.equal(receiptsIn(b.emu).length, 1);
    });

    t.test('property: noise, drops and stalls never make the driver claim a receipt the FN lacks, nor deny one it holds', async (t) => {
      const b = await bench(t);
      await b.driver.openShift();
      let n = 1000;
      const fault = fc.oneof(
        fc.record({ kind: fc.constantFrom('drop-answer', 'drop-ack', 'garble', 'nak'), count: fc.integer({ min: 1, max: 3 }) }),
        fc.record({ kind: fc.constant('stall' as const), ms: fc.integer({ min: 50, max: 1500 }), count: fc.integer({ min: 1, max: 3 }) }),
        fc.record({ kind: fc.constant('noise' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }), delay: fc.integer({ min: 0, max: 40 }) }),
        fc.record({ kind: fc.constant('silent' as const), after: fc.integer({ min: 0, max: 60 }), ms: fc.integer({ min: 100, max: 1500 }) }),
      );
      const outcomes = { ok: 0, failed: 0, uncertain: 0 };
      const seed = Number(process.env.KKT_PROPERTY_SEED ?? Date.now() % 2 ** 31);
      await fc.assert(
        fc.asyncProperty(fc.array(fault, { minLength: 1, maxLength: 3 }), async (faults) => {
          n++;
          const total = BASE + n;
          const timers: NodeJS.Timeout[] = [];
          for (const f of faults) {
            if (f.kind === 'stall') b.control(`fault stall ${f.ms} ${f.count}`);
            else if (f.kind === 'noise') timers.push(setTimeout(() => b.noise(f.bytes), f.delay));
            else if (f.kind === 'silent') {
              timers.push(setTimeout(() => b.control('silent on'), f.after));
              timers.push(setTimeout(() => b.control('silent off'), f.after + f.ms));
            } else b.control(`fault ${f.kind} ${f.count}`);
          }
          let outcome: keyof typeof outcomes;
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
          await sleep(quietAt + 50);
          for (const x of timers) clearTimeout(x);
          b.control('fault clear');
          outcomes[outcome]++;
          const held = receiptsIn(b.emu, total);
          if (held.length > 1) return false; // printed twice
          if (outcome === 'ok' && (held.length !== 1 || held[0]!.fd !== fd)) return false; // claimed one the FN lacks
          if (outcome === 'failed' && held.length !== 0) return false; // failed one the FN holds, not marked uncertain
          // leave the device clean for the next run, as the dispatcher's reconcile would
          await b.driver.cancelReceipt().catch(() => undefined);
          return true;
        }),
        { numRuns: Number(process.env.KKT_PROPERTY_RUNS ?? target.propertyRuns ?? 30), seed, endOnFailure: true },
      );
      t.comment(`seed ${seed}: ${JSON.stringify(outcomes)}`);
      t.pass('held every promise');
    });
  });
}
