/**
 * Shift policy and Z-reports end to end (real broker, emulator on a real pty, in-process gateway): the shift is
 * opened before the first receipt, closed at the configured time of the register's clock and before 24 h — also
 * with no receipt coming (the gateway's timer queues the close) — an expired shift is closed first, receipts wait
 * and never fail; Z-reports carry the shift's figures, are published on <base>/zreport and listed by `zreports`.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeRig, type Rig } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { localMs } from '../../src/gateway/shifts.ts';

const H = 3600_000;
const docs = (rig: Rig): any[] => readJournal(join(rig.dir, 'fn.jsonl')).documents as any[];
const types = (rig: Rig): number[] => docs(rig).map((d) => d.type);
const zreports = (rig: Rig): any[] => rig.store.messages.filter((m) => m.topic === `${rig.store.base}/zreport`).map((m) => m.body);

/** "HH:MM" of the register's clock `hours` from now */
function registerTimePlus(rig: Rig, hours: number): string {
  const d = new Date(rig.emulator.clock.localMs() + hours * H);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

async function rigWithSchedule(closeInHours: number): Promise<Rig> {
  // the rig's config is parsed before the emulator exists: set close_at from a throwaway clock of the same offset
  const probe = new Date(Date.now() - new Date().getTimezoneOffset() * 60_000 + closeInHours * H);
  const closeAt = `${String(probe.getUTCHours()).padStart(2, '0')}:${String(probe.getUTCMinutes()).padStart(2, '0')}`;
  return makeRig({ config: { shift: { close_at: closeAt, max_hours: 23.5 }, mqtt: { health_interval: 1 } } });
}

async function sell(rig: Rig, id: string): Promise<any> {
  await rig.store.publish('receipt', sampleReceipt(id));
  return id;
}

async function allDone(rig: Rig, ids: string[]): Promise<void> {
  await rig.store.until(() => ids.every((id) => rig.store.final(id) !== undefined), `results of ${ids.join(', ')}`, 30_000);
  for (const id of ids) {
    const f = rig.store.final(id)!;
    if (f.status !== 'done') throw new Error(`${id}: ${JSON.stringify(f.error)}`);
  }
}

async function command(rig: Rig, name: string, params: Record<string, unknown> = {}): Promise<any> {
  const transaction = `${name}-${Math.random().toString(16).slice(2)}`;
  await rig.store.publish(`request/${name}`, { transaction, ...params });
  const topic = `${rig.store.base}/response/${name}`;
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === topic && m.body?.transaction === transaction), `response to ${name}`, 30_000);
  return rig.store.messages.find((m) => m.topic === topic && m.body?.transaction === transaction)!.body;
}

t.test('the shift is opened automatically before the first receipt', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  await rig.startGateway();
  t.same(types(rig), [], 'nothing printed at start');
  await allDone(rig, [await sell(rig, 'first')]);
  t.same(types(rig), [2, 3], 'shift open, then the receipt');
  const [open, receipt] = docs(rig);
  t.equal(receipt.shift, open.shift, 'the receipt is in the opened shift');
  t.equal(rig.store.final('first')?.payload?.shift_number, open.shift);
});

t.test('a shift left running past its closing time in the emulator\'s advanced clock is closed automatically with receipts still flowing', async (t) => {
  const rig = await rigWithSchedule(2);
  t.teardown(() => rig.close());
  await rig.startGateway();
  t.equal(registerTimePlus(rig, 2), rig.config.shift.close_at, 'close time 2 h ahead on the register clock');
  await allDone(rig, [await sell(rig, 's1-a')]);
  const shift1 = docs(rig)[0].shift;

  // 3 h later by the register's clock: past close_at. Receipts published now wait for the close and the new shift.
  rig.emulator.advanceClock(3 * H);
  // the driver extrapolates the register's clock between reads (up to stateTtlMs, 10 s): a clock that jumps is seen
  // at the next full read — the gateway's status poll (health_interval 1 s here)
  const advanced = rig.emulator.clock.localMs() - 5000;
  await rig.store.until(() => localMs(rig.gateway?.registers[0]?.device?.status.dateTime ?? '') >= advanced, 'the gateway reads the advanced clock');
  const burst = [];
  for (let i = 0; i < 5; i++) burst.push(await sell(rig, `s2-${i}`));
  await allDone(rig, burst);
  await rig.store.until(() => zreports(rig).length === 1, 'Z-report of shift 1');
  const z1 = zreports(rig)[0];
  t.match(z1, { shift_number: shift1, reason: 'schedule', receipts_count: 1, operations: { sell: { count: 1, total: 3989, electronic: 3989 } } });
  const d = docs(rig);
  const close1 = d.findIndex((x) => x.type === 5);
  t.ok(close1 > 0, 'Z-report in the FN');
  t.equal(d[close1].shift, shift1);
  t.same(d.slice(close1 + 1).map((x) => x.type), [2, 3, 3, 3, 3, 3], 'new shift opened, then the waiting receipts');
  for (const id of burst) t.equal(rig.store.final(id)?.payload?.shift_number, shift1 + 1, `${id} in the new shift`);
  t.equal(rig.store.results().filter((r) => r.status === 'fail').length, 0, 'no receipt failed');

  // no receipts at all: a day later the timer closes the shift by itself (max_hours comes first)
  rig.emulator.advanceClock(24 * H);
  await rig.store.until(() => zreports(rig).length === 2, 'Z-report by the timer', 30_000);
  const z2 = zreports(rig)[1];
  t.match(z2, { shift_number: shift1 + 1, receipts_count: 5, operations: { sell: { count: 5, total: 5 * 3989 } } });
  t.ok(['max_hours', 'schedule', 'expired'].includes(z2.reason), `closed by policy (${z2.reason})`);
  t.equal(types(rig).at(-1), 5, 'the timer only closes; no shift is opened without a receipt');
  t.equal(z2.cumulative_total, 6 * 3989, 'cumulative total over both Z-reports');
  await allDone(rig, [await sell(rig, 's3')]);
  t.equal(rig.store.final('s3')?.payload?.shift_number, shift1 + 2, 'the next receipt opens the next shift');
  const listed = (await command(rig, 'zreports', { limit: 10 })).data;
  t.same(listed.map((z: any) => z.shift_number), [shift1 + 1, shift1], 'stored, newest first');
});

t.test('a shift found expired at start is closed first; the receipt waiting for it does not fail', async (t) => {
  const rig = await makeRig({ config: { mqtt: { health_interval: 1 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await allDone(rig, [await sell(rig, 'before')]);
  await rig.stopGateway();
  rig.emulator.advanceClock(25 * H);
  await sell(rig, 'after'); // queued in the broker's session while the gateway is down
  await rig.startGateway();
  await allDone(rig, ['after']);
  await rig.store.until(() => zreports(rig).length === 1, 'Z-report of the expired shift');
  t.match(zreports(rig)[0], { reason: 'expired', receipts_count: 1 });
  t.same(types(rig), [2, 3, 5, 2, 3]);
});

t.test('close_shift command: the Z-report per the contract, published, stored, listed by zreports', async (t) => {
  const rig = await makeRig({ config: { fiscal: { registration_number: '0000000001012345' } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const base = sampleReceipt('z-sell') as any;
  const refund = structuredClone(base);
  refund.external_id = 'z-refund';
  refund.operation = 'sell_refund';
  refund.receipt.items = [base.receipt.items[2]];
  refund.receipt.payments = [{ type: 1, sum: 300 }];
  refund.receipt.total = 300;
  const offset = structuredClone(base);
  offset.external_id = 'z-offset';
  offset.receipt.payments = [{ type: 2, sum: 3989 }];
  const credit = structuredClone(base);
  credit.external_id = 'z-credit';
  for (const i of credit.receipt.items) i.payment_method = 'credit';
  credit.receipt.payments = [{ type: 3, sum: 3989 }];
  const cash = structuredClone(base);
  cash.external_id = 'z-cash';
  cash.receipt.payments = [{ type: 0, sum: 989 }, { type: 1, sum: 3000 }];
  for (const r of [base, refund, offset, credit, cash]) await rig.store.publish('receipt', r);
  await allDone(rig, ['z-sell', 'z-refund', 'z-offset', 'z-credit', 'z-cash']);
  const res = await command(rig, 'close_shift');
  t.equal(res.status, 'ok');
  await rig.store.until(() => zreports(rig).length === 1, 'zreport topic');
  const z = zreports(rig)[0];
  t.same(res.data, z, 'the response carries the same report');
  const zDoc = docs(rig).find((d) => d.type === 5);
  t.match(z, {
    shift_number: zDoc.shift,
    fiscal_document_number: zDoc.fd,
    fiscal_document_attribute: zDoc.fiscalSign,
    reason: 'command',
    receipts_count: 5,
    operations: {
      sell: { count: 4, total: 4 * 3989, cash: 989, electronic: 3989 + 3000, advance_offset: 3989, credit: 3989 },
      sell_refund: { count: 1, total: 300, electronic: 300 },
    },
    payments: { cash: 989, electronic: 6989, advance_offset: 3989, credit: 3989 },
    returns: { count: 1, total: 300 },
    total: 4 * 3989 - 300,
    cumulative_total: 4 * 3989 - 300,
    fn_number: '9960440300112233',
    registration_number: '0000000001012345',
    tax_systems: ['osn'],
    figures_source: 'register',
    gateway_tally: { receipts_count: 5, total: 4 * 3989 - 300 },
  });
  t.same(z.mismatch, [], 'the register\'s counters and the gateway\'s tally agree');
  t.match(z.datetime, /^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$/);
  t.ok(z.ofd_unsent.count >= 7, 'documents not yet sent to the OFD (open, 5 receipts, close)');
  // the emulator's own counters of the closed shift agree with the gateway's book
  t.equal(zDoc.counters.totals['1'], 4 * 398900);
  t.equal(zDoc.counters.totals['2'], 30000);
  const listed = await command(rig, 'zreports', { limit: 5 });
  t.equal(listed.status, 'ok');
  t.same(listed.data, [z]);
  // the book starts again: the next shift's Z-report counts only its own receipts
  await allDone(rig, [await sell(rig, 'z-next')]);
  const res2 = await command(rig, 'close_shift');
  t.match(res2.data, { shift_number: zDoc.shift + 1, receipts_count: 1, total: 3989, cumulative_total: 5 * 3989 - 300 });
});
