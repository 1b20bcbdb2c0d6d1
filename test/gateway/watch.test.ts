/**
 * FN / OFD watch and the clock guard in health and the `status` command, against the emulator: its OFD queue grows
 * until markOfdSent(), its clock can be advanced or offset from the host's.
 */
import t from 'tap';
import { makeRig, type Rig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';

const H = 3600_000;
const DAY = 24 * H;

async function status(rig: Rig): Promise<any> {
  const transaction = `st-${Math.random().toString(16).slice(2)}`;
  await rig.store.publish('request/status', { transaction });
  const topic = `${rig.store.base}/response/status`;
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === topic && m.body?.transaction === transaction), 'status response');
  return rig.store.messages.find((m) => m.topic === topic && m.body?.transaction === transaction)!.body.data;
}

/** asks `status` until `pred` holds (the device is read only while the queue is idle) */
async function statusWhere(rig: Rig, pred: (s: any) => boolean, what: string): Promise<any> {
  let last: any;
  for (let i = 0; i < 100; i++) {
    last = await status(rig);
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never showed ${what}: ${JSON.stringify(last?.fn_watch ?? last)}`);
}

/** "dd.mm.yyyy HH:MM:SS" → wall-clock ms */
const dmy = (s: string): number => {
  const m = /^(\d{2})\.(\d{2})\.(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(s)!;
  return Date.UTC(+m[3]!, +m[2]! - 1, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
};

t.test('unsent OFD documents: count and oldest date, warn at 3 days, critical at 20, ok once the OFD confirms', async (t) => {
  const rig = await makeRig({ config: { mqtt: { health_interval: 1 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', sampleReceipt('w1'));
  await rig.store.until(() => rig.store.final('w1') !== undefined, 'w1');
  let s = await statusWhere(rig, (x) => x.fn_watch?.ofd?.unsent_count >= 2, 'unsent documents');
  t.match(s.fn_watch, { ofd: { level: 'ok', warn_days: 3, critical_days: 20 }, expiry: '2027-12-31', expiry_level: 'ok', memory_level: 'ok' });
  const regDay = Date.UTC(+s.clock.register.slice(0, 4), +s.clock.register.slice(5, 7) - 1, +s.clock.register.slice(8, 10));
  t.equal(s.fn_watch.days_left, Math.floor((Date.UTC(2027, 11, 31) - Date.parse(`${s.clock.register}Z`)) / DAY), 'FN days left by the register clock');
  t.ok(regDay > 0);
  t.match(s.fn_watch.ofd.oldest_unsent, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/);

  rig.emulator.advanceClock(4 * DAY);
  s = await statusWhere(rig, (x) => x.fn_watch?.ofd?.oldest_age_days >= 4, '4 days of age');
  t.equal(s.fn_watch.ofd.level, 'warn', 'warn after 3 days');
  t.equal(s.fn_watch.ofd.days_before_block, 25);

  rig.emulator.advanceClock(17 * DAY);
  s = await statusWhere(rig, (x) => x.fn_watch?.ofd?.oldest_age_days >= 21, '21 days of age');
  t.equal(s.fn_watch.ofd.level, 'critical', 'critical after 20 days, well before the 30-day block');

  rig.emulator.markOfdSent();
  s = await statusWhere(rig, (x) => x.fn_watch?.ofd?.unsent_count === 0, 'nothing unsent');
  t.match(s.fn_watch.ofd, { level: 'ok', days_before_block: null });
  // health on MQTT carries the same sections
  const health = rig.store.messages.filter((m) => m.topic === `${rig.store.base}/health`).at(-1)?.body;
  t.ok(health?.fn_watch && health?.clock, 'published health has fn_watch and clock');
});

t.test('thresholds are configurable', async (t) => {
  const rig = await makeRig({ config: { watch: { ofd_warn_days: 1, ofd_critical_days: 2 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', sampleReceipt('w2'));
  await rig.store.until(() => rig.store.final('w2') !== undefined, 'w2');
  rig.emulator.advanceClock(1.5 * DAY);
  const s = await statusWhere(rig, (x) => x.fn_watch?.ofd?.oldest_age_days >= 1.5, '1.5 days');
  t.equal(s.fn_watch.ofd.level, 'warn');
});

t.test('clock guard: in sync by default', async (t) => {
  const rig = await makeRig();
  t.teardown(() => rig.close());
  await rig.startGateway();
  const s = await statusWhere(rig, (x) => x.clock?.register, 'register clock');
  t.equal(s.clock.host_synced, true);
  t.ok(Math.abs(s.clock.drift_s) <= 5, `drift ${s.clock.drift_s} s`);
  t.equal(s.clock.warning, undefined);
});

t.test('clock guard: a host clock 2 h behind the register is reported; stamps follow the register', async (t) => {
  // the register runs 2 h ahead of this host: as seen from the gateway, its host clock is stale (Pi without RTC)
  const rig = await makeRig({ emulator: { clock: { offsetMs: 2 * H } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const s = await statusWhere(rig, (x) => x.clock?.drift_s !== null && x.clock?.drift_s !== undefined, 'drift');
  t.ok(Math.abs(s.clock.drift_s - 7200) <= 5, `drift ${s.clock.drift_s} s`);
  t.equal(s.clock.host_synced, false);
  t.match(s.clock.warning, /register/);
  await rig.store.publish('receipt', sampleReceipt('w3'));
  await rig.store.until(() => rig.store.final('w3') !== undefined, 'w3');
  const done = rig.store.final('w3') as any;
  t.equal(done.status, 'done');
  const stamp = dmy(done.timestamp);
  const fiscal = dmy(done.payload.receipt_datetime);
  t.ok(Math.abs(stamp - fiscal) < 10 * 60_000, `result stamped by the corrected clock (${done.timestamp} vs ${done.payload.receipt_datetime})`);
});
