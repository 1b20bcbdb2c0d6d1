/**
 * The register's own figures end to end, on both protocols (real broker, the emulator on a real pty, the gateway with
 * no registration data configured): every result and Z-report carries the registration number read from the
 * register; after a shift with cash, card, advance-offset and return receipts plus one typed on the register's
 * keyboard, the published Z-report's figures equal what the emulator's FN journal holds for that shift, and the
 * difference with the gateway's tally is named; the cumulative total grows across shifts and across an emulator
 * restart on the same journal.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeRig, makeEmulator, RIG_PROTOCOLS, type Rig } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { exampleD } from '../fiscal/fixtures.ts';

const docs = (rig: Rig): any[] => readJournal(join(rig.dir, 'fn.jsonl')).documents as any[];
const zreports = (rig: Rig): any[] => rig.store.messages.filter((m) => m.topic === `${rig.store.base}/zreport`).map((m) => m.body);
const rub = (k: number): number => Number((k / 100).toFixed(2));

async function allDone(rig: Rig, ids: string[]): Promise<any[]> {
  await rig.store.until(() => ids.every((id) => rig.store.final(id) !== undefined), `results of ${ids.join(', ')}`, 30_000);
  return ids.map((id) => {
    const f = rig.store.final(id)!;
    if (f.status !== 'done') throw new Error(`${id}: ${JSON.stringify(f.error)}`);
    return f;
  });
}

async function command(rig: Rig, name: string, params: Record<string, unknown> = {}): Promise<any> {
  const transaction = `${name}-${Math.random().toString(16).slice(2)}`;
  await rig.store.publish(`request/${name}`, { transaction, ...params });
  const topic = `${rig.store.base}/response/${name}`;
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === topic && m.body?.transaction === transaction), `response to ${name}`, 30_000);
  return rig.store.messages.find((m) => m.topic === topic && m.body?.transaction === transaction)!.body;
}

/** The figures of one shift as the FN journal holds them: receipts per operation and sums per payment kind. */
function journalFigures(all: any[], shift: number): Record<string, { count: number; total: number; cash: number; electronic: number; prepaid: number; credit: number; other: number }> {
  const ops: Record<string, any> = {};
  for (const name of ['sell', 'sell_refund', 'buy', 'buy_refund']) ops[name] = { count: 0, total: 0, cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 };
  const names: Record<number, string> = { 1: 'sell', 2: 'sell_refund', 3: 'buy', 4: 'buy_refund' };
  for (const d of all) {
    if ((d.type !== 3 && d.type !== 31) || d.shift !== shift) continue;
    const o = ops[names[d.operation]!]!;
    o.count++;
    o.total += d.total;
    for (const k of ['cash', 'electronic', 'prepaid', 'credit', 'other']) o[k] += d.payments[k];
    o.cash -= d.change ?? 0;
  }
  return ops;
}

for (const protocol of RIG_PROTOCOLS) {
  t.test(`${protocol}: registration number from the register, Z-report figures from the register, a keyboard receipt named`, async (t) => {
    const rig = await makeRig({ protocol });
    t.teardown(() => rig.close());
    await rig.startGateway();
    const rn = readJournal(join(rig.dir, 'fn.jsonl')).identity!.registrationNumber;
    t.match(rn, /^\d{16}$/, `the emulator's registration number ${rn}`);

    const base = sampleReceipt(`${protocol}-card`) as any;
    const cash = structuredClone(base);
    cash.external_id = `${protocol}-cash`;
    cash.receipt.payments = [{ type: 0, sum: 3989 }];
    const offset = structuredClone(base);
    offset.external_id = `${protocol}-offset`;
    offset.receipt.payments = [{ type: 2, sum: 3989 }];
    const refund = structuredClone(base);
    refund.external_id = `${protocol}-refund`;
    refund.operation = 'sell_refund';
    refund.receipt.items = [base.receipt.items[2]];
    refund.receipt.payments = [{ type: 1, sum: 300 }];
    refund.receipt.total = 300;
    const ids = [base, cash, offset, refund].map((r) => r.external_id as string);
    for (const r of [base, cash, offset, refund]) await rig.store.publish('receipt', r);
    const results = await allDone(rig, ids);
    for (const r of results) t.equal(r.payload.ecr_registration_number, rn, `${r.external_id}: РНМ from the register`);

    t.match(runControl(rig.emulator, 'fault keyboard-receipt 12345 cash'), /^OK keyboard receipt FD \d+/, 'a receipt typed on the keyboard');
    const res = await command(rig, 'close_shift');
    t.equal(res.status, 'ok', JSON.stringify(res.error));
    await rig.store.until(() => zreports(rig).length === 1, 'zreport topic');
    const z = zreports(rig)[0];
    const all = docs(rig);
    const zDoc = all.find((d) => d.type === 5)!;
    const want = journalFigures(all, zDoc.shift);
    t.equal(want.sell!.count, 4, 'the journal holds 3 gateway receipts and the keyboard one');
    t.match(z, {
      figures_source: 'register',
      shift_number: zDoc.shift,
      fiscal_document_number: zDoc.fd,
      fiscal_document_attribute: zDoc.fiscalSign,
      registration_number: rn,
      receipts_count: 5,
      returns: { count: 1, total: 300 },
    });
    for (const op of ['sell', 'sell_refund'] as const) {
      const w = want[op]!;
      t.same(
        { count: z.operations[op].count, total: z.operations[op].total, cash: z.operations[op].cash, electronic: z.operations[op].electronic, advance_offset: z.operations[op].advance_offset },
        { count: w.count, total: rub(w.total), cash: rub(w.cash), electronic: rub(w.electronic), advance_offset: rub(w.prepaid) },
        `${op}: the register's figures are the FN's`,
      );
    }
    t.equal(z.total, rub(want.sell!.total - want.sell_refund!.total));
    t.same(z.mismatch, [
      { field: 'operations.sell.count', register: 4, gateway: 3 },
      { field: 'operations.sell.total', register: rub(3 * 398900 + 12345), gateway: rub(3 * 398900) },
      { field: 'operations.sell.cash', register: rub(398900 + 12345), gateway: rub(398900) },
    ], 'the keyboard receipt is the difference with the gateway\'s tally');
    t.match(z.gateway_tally, { receipts_count: 4 });

    const health = await command(rig, 'status');
    t.match(health.data.zreport_check, { shift_number: zDoc.shift, figures_source: 'register', mismatch: [{ field: 'operations.sell.count' }] }, 'health names the mismatch');
    t.match(health.data.registration, { registration_number: rn, source: { registrationNumber: 'register' } });
    const firstCumulative = z.cumulative_total;
    t.ok(firstCumulative >= z.total, 'the cumulative total holds at least this shift');

    // next shift: the cumulative total grows by exactly its receipts; across an emulator restart on the same journal too
    const [next] = await allDone(rig, [await publish(rig, `${protocol}-next`)]);
    t.equal(next.payload.ecr_registration_number, rn);
    const z2 = (await command(rig, 'close_shift')).data;
    t.equal(z2.cumulative_total, rub(Math.round(firstCumulative * 100) + 398900), 'cumulative total + this shift');
    t.same(z2.mismatch, [], 'nothing outside the gateway this shift');

    await rig.stopGateway();
    rig.emulator.close();
    const again = makeEmulator(protocol, { journalPath: join(rig.dir, 'fn.jsonl') });
    again.attach(rig.pty.stream);
    rig.emulator = again;
    await rig.startGateway();
    await allDone(rig, [await publish(rig, `${protocol}-after-restart`)]);
    const z3 = (await command(rig, 'close_shift')).data;
    t.equal(z3.cumulative_total, rub(Math.round(z2.cumulative_total * 100) + 398900), 'the cumulative total survives the emulator restart');
    t.equal(z3.figures_source, 'register');
  });
}

for (const protocol of RIG_PROTOCOLS) {
  t.test(`${protocol}: a correction receipt in the shift is no mismatch`, async (t) => {
    const rig = await makeRig({ protocol });
    t.teardown(() => rig.close());
    await rig.startGateway();
    const c = exampleD();
    c.external_id = `${protocol}-correction`;
    await rig.store.publish('receipt', sampleReceipt(`${protocol}-plain`));
    await rig.store.publish('receipt', c);
    await allDone(rig, [`${protocol}-plain`, `${protocol}-correction`]);
    const z = (await command(rig, 'close_shift')).data;
    t.equal(z.figures_source, 'register');
    t.same(z.mismatch, [], 'the register counts the correction its own way; nothing differs');
    t.equal(z.operations.sell.total, 3989 + c.correction.total, 'its sum is in the shift');
  });
}

async function publish(rig: Rig, id: string): Promise<string> {
  await rig.store.publish('receipt', sampleReceipt(id));
  return id;
}
