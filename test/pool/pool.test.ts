/**
 * Several registers on one gateway, end to end with real parts: two or three emulators (Shtrih-M and ATOL), each on
 * its own pty with its own FN, one in-process gateway with `devices: [...]`, a real broker.
 * A burst is spread over the pool exactly once; paper out on one register leaves the others printing and the
 * receipt on its wire is finished there; a Z-report on one register while another prints; the 24 h rule on each;
 * routing by INN, a pin (`device`), refusals for what no register can take.
 */
import t from 'tap';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';
import { fnSerialOf, makePoolRig, type PoolRig } from '../helpers/pool-rig.ts';

const H = 3600_000;
const receiptsOf = (rig: PoolRig, id: string): any[] => readJournal(rig.journalOf(id)).documents.filter((d: any) => d.type === 3) as any[];
const docsOf = (rig: PoolRig, id: string): any[] => readJournal(rig.journalOf(id)).documents as any[];
const totalOf = (i: number): number => 199000 + 169900 + 30000 + i;

async function finals(rig: PoolRig, ids: string[], ms = 60_000): Promise<void> {
  await rig.store.until(() => ids.every((id) => rig.store.final(id) !== undefined), `results of ${ids.length} receipts`, ms);
}

async function command(rig: PoolRig, name: string, params: Record<string, unknown> = {}): Promise<any> {
  const transaction = `${name}-${Math.random().toString(16).slice(2)}`;
  await rig.store.publish(`request/${name}`, { transaction, ...params });
  const topic = `${rig.store.base}/response/${name}`;
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === topic && m.body?.transaction === transaction), `response to ${name}`, 60_000);
  return rig.store.messages.find((m) => m.topic === topic && m.body?.transaction === transaction)!.body;
}

t.test('a burst spread over three registers (two Shtrih-M, one ATOL): each receipt once across all FNs, each result names its register', async (t) => {
  const rig = await makePoolRig({
    registers: [
      { id: 'hall', name: 'Касса общего зала', protocol: 'shtrih', emulator: { link: { printMs: 60 } } },
      { id: 'bar', protocol: 'atol', emulator: { link: { printMs: 60 } } },
      { id: 'annex', protocol: 'shtrih', emulator: { link: { printMs: 60 } } },
    ],
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const ids = Array.from({ length: 45 }, (_, i) => `burst-${i}`);
  for (const [i, id] of ids.entries()) await rig.store.publish('receipt', crashReceipt(id, i));
  await finals(rig, ids);

  const where = new Map<number, string[]>();
  for (const reg of ['hall', 'bar', 'annex']) {
    const totals = receiptsOf(rig, reg).map((d) => d.total as number);
    t.ok(totals.length > 0, `${reg} printed some of the burst (${totals.length})`);
    t.same(totals, [...totals].sort((a, b) => a - b), `${reg} printed its receipts in the order accepted`);
    for (const total of totals) where.set(total, [...(where.get(total) ?? []), reg]);
  }
  ids.forEach((id, i) => {
    const f = rig.store.final(id)!;
    const on = where.get(totalOf(i)) ?? [];
    t.equal(on.length, 1, `${id} is in exactly one FN`);
    t.equal(f.status, 'done');
    t.equal((f as any).device, on[0], `${id}'s result names the register whose FN holds it`);
    const idx = ['hall', 'bar', 'annex'].indexOf(on[0]!);
    t.equal(f.payload?.fn_number, fnSerialOf(idx), `${id}'s fn_number is that register's FN`);
  });
  const health = await rig.gateway!.health();
  t.match(health, { pool: { registers: 3, up: 3, waiting: 0 } });
  t.same((health.registers as any[]).map((r) => [r.id, r.register.protocol]), [['hall', 'shtrih'], ['bar', 'atol'], ['annex', 'shtrih']]);
  t.equal((health.registers as any[])[0].name, 'Касса общего зала');
});

t.test('paper out on one register mid-burst: the others go on; the receipt on its wire is finished there once paper is back', async (t) => {
  const rig = await makePoolRig({
    registers: [
      { id: 'a', protocol: 'shtrih', emulator: { link: { printMs: 80 } } },
      { id: 'b', protocol: 'atol', emulator: { link: { printMs: 80 } } },
    ],
    config: { mqtt: { health_interval: 1 } },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const a = rig.emulators.get('a')!.device.register;
  // warm up: both registers have an open shift
  const warm = ['w-0', 'w-1', 'w-2', 'w-3'];
  for (const [i, id] of warm.entries()) await rig.store.publish('receipt', crashReceipt(id, 100 + i));
  await finals(rig, warm);
  const aBefore = receiptsOf(rig, 'a').length;
  a.paperOutAt({ at: 'before-item', item: 1 });
  const ids = Array.from({ length: 20 }, (_, i) => `p-${i}`);
  for (const [i, id] of ids.entries()) await rig.store.publish('receipt', crashReceipt(id, i));
  // a stops in the middle of a receipt (open on the register, not in its FN); b prints the rest
  await rig.store.until(() => a.paperOut, 'paper out on a');
  await rig.store.until(() => ids.filter((id) => rig.store.final(id)).length >= ids.length - 1, 'all but the one on a', 60_000);
  const waiting = ids.filter((id) => !rig.store.final(id));
  t.equal(waiting.length, 1, 'exactly one receipt waits: the one on a\'s wire');
  const health = await rig.gateway!.health();
  const ha = (health.registers as any[]).find((r) => r.id === 'a');
  t.ok(ha.in_flight, 'health shows a receipt in flight on a');
  a.paperIn();
  await finals(rig, ids);
  const w = waiting[0]!;
  t.equal((rig.store.final(w) as any).device, 'a', 'finished on the register it was started on');
  const all = [...receiptsOf(rig, 'a'), ...receiptsOf(rig, 'b')];
  ids.forEach((id, i) => t.equal(all.filter((d) => d.total === totalOf(i)).length, 1, `${id} printed once`));
  t.ok(receiptsOf(rig, 'a').length >= aBefore + 1, 'a printed the receipt it had started');
  t.ok(receiptsOf(rig, 'b').length >= ids.length - 2, 'b printed the others');
});

t.test('a Z-report on one register while the other prints; the 24 h rule on both, one closing at a time', async (t) => {
  const rig = await makePoolRig({
    registers: [
      { id: 'a', protocol: 'shtrih', emulator: { link: { printMs: 1500 } } },
      { id: 'b', protocol: 'atol', emulator: { link: { printMs: 30 } } },
    ],
    config: { mqtt: { health_interval: 1 } },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const first = ['z-0', 'z-1'];
  for (const [i, id] of first.entries()) await rig.store.publish('receipt', crashReceipt(id, 200 + i));
  await finals(rig, first);
  const missing = await command(rig, 'close_shift');
  t.match(missing, { status: 'error', error: { code: 'DEVICE_REQUIRED' } }, 'a command without `device` is refused when there are several');
  t.match(await command(rig, 'close_shift', { device: 'nope' }), { status: 'error', error: { code: 'UNKNOWN_DEVICE' } });

  const bBefore = receiptsOf(rig, 'b').length;
  const zDone = command(rig, 'close_shift', { device: 'a' });
  const during = Array.from({ length: 6 }, (_, i) => `zb-${i}`);
  for (const [i, id] of during.entries()) await rig.store.publish('receipt', crashReceipt(id, 300 + i));
  const z = await zDone;
  t.ok(receiptsOf(rig, 'b').length >= bBefore + 3, `b printed receipts while a's Z-report printed (${receiptsOf(rig, 'b').length - bBefore})`);
  t.match(z, { status: 'ok', device: 'a', data: { device: 'a' } }, 'the Z-report names its register');
  await finals(rig, during);
  t.equal(docsOf(rig, 'a').filter((d) => d.type === 5).length, 1);
  t.equal(docsOf(rig, 'b').filter((d) => d.type === 5).length, 0, 'b kept its shift');

  // a day later on both registers' clocks: both shifts must close (24 h), one after the other
  for (const e of rig.emulators.values()) e.advanceClock(25 * H);
  const zreports = (): any[] => rig.store.messages.filter((m) => m.topic === `${rig.store.base}/zreport`).map((m) => m.body);
  const aOpen = docsOf(rig, 'a').at(-1)?.type !== 5;
  await rig.store.until(() => zreports().some((r) => r.device === 'b'), 'b closed by the 24 h rule', 60_000);
  t.match(zreports().find((r) => r.device === 'b'), { device: 'b', fn_number: fnSerialOf(1) }, 'b\'s automatic Z-report names b and its FN');
  if (aOpen) await rig.store.until(() => zreports().filter((r) => r.device === 'a').length === 2, 'a closed by the 24 h rule too', 60_000);
  t.equal(docsOf(rig, 'a').at(-1)?.type, 5, 'a\'s shift is closed as well');
  const after = ['n-0', 'n-1', 'n-2', 'n-3'];
  for (const [i, id] of after.entries()) await rig.store.publish('receipt', crashReceipt(id, 400 + i));
  await finals(rig, after);
  for (const id of after) t.equal(rig.store.final(id)?.status, 'done', `${id} printed in a new shift`);
});

t.test('routing by INN between registers of two legal entities; a pin; what no register can take is refused at once', async (t) => {
  const rig = await makePoolRig({
    registers: [
      { id: 'ip', protocol: 'shtrih', identity: { inn: '5010051677' } },
      { id: 'ooo', protocol: 'atol', identity: { inn: '7707083893' } },
    ],
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  // each register's INN is read from the register itself
  await rig.store.until(() => rig.gateway!.registers.every((r) => r.registration().companyInn), 'both registrations read', 20_000);
  const forInn = (id: string, inn: string, extra: Record<string, unknown> = {}): any => {
    const r = sampleReceipt(id) as any;
    r.receipt.company.inn = inn;
    return { ...r, ...extra };
  };
  await rig.store.publish('receipt', forInn('inn-a1', '5010051677'));
  await rig.store.publish('receipt', forInn('inn-b1', '7707083893'));
  await rig.store.publish('receipt', forInn('inn-a2', '5010051677'));
  await rig.store.publish('receipt', forInn('inn-x', '7736207543'));
  await rig.store.publish('receipt', forInn('pin-bad', '5010051677', { device: 'ooo' }));
  await rig.store.publish('receipt', forInn('pin-none', '5010051677', { device: 'elsewhere' }));
  await finals(rig, ['inn-a1', 'inn-b1', 'inn-a2', 'inn-x', 'pin-bad', 'pin-none']);
  t.match(rig.store.final('inn-a1'), { status: 'done', device: 'ip' });
  t.match(rig.store.final('inn-a2'), { status: 'done', device: 'ip' });
  t.match(rig.store.final('inn-b1'), { status: 'done', device: 'ooo' });
  t.match(rig.store.final('inn-x'), { status: 'fail', error: { code: 'COMPANY_INN_MISMATCH', type: 'validation' } }, 'an INN no register has: refused');
  t.match(rig.store.final('pin-bad'), { status: 'fail', error: { code: 'COMPANY_INN_MISMATCH' } }, 'pinned to a register of another INN: refused');
  t.match(rig.store.final('pin-none'), { status: 'fail', error: { code: 'UNKNOWN_DEVICE', field: 'device' } });
  t.equal(receiptsOf(rig, 'ip').length, 2);
  t.equal(receiptsOf(rig, 'ooo').length, 1);
  t.equal(rig.gateway!.store.depth(), 0, 'nothing refused was queued');

  // a pin to a register that fits
  await rig.store.publish('receipt', forInn('pin-ok', '7707083893', { device: 'ooo' }));
  await finals(rig, ['pin-ok']);
  t.match(rig.store.final('pin-ok'), { status: 'done', device: 'ooo' });
});

t.test('a command pinned to a register that went silent does not hold back the receipts others can print', async (t) => {
  const { runControl } = await import('../../drivers/emulator/control.ts');
  const rig = await makePoolRig({
    registers: [
      { id: 'a', protocol: 'shtrih', device: { answer_timeout_ms: 500 } },
      { id: 'b', protocol: 'atol' },
    ],
    config: { mqtt: { health_interval: 1 } },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', { ...sampleReceipt('warm-a'), device: 'a' });
  await finals(rig, ['warm-a']);
  runControl(rig.emulators.get('a')!, 'silent on');
  const x = command(rig, 'x_report', { device: 'a' });
  await rig.store.until(() => !rig.gateway!.register('a').link.state.up || !!rig.gateway!.register('a').dispatcher.state.blocked, 'a seen away', 30_000);
  const ids = ['after-0', 'after-1', 'after-2'];
  for (const id of ids) await rig.store.publish('receipt', sampleReceipt(id));
  await finals(rig, ids, 30_000);
  for (const id of ids) t.match(rig.store.final(id), { status: 'done', device: 'b' }, `${id} printed on b while a is away`);
  runControl(rig.emulators.get('a')!, 'silent off');
  t.match(await x, { status: 'ok', device: 'a' }, 'the X-report runs on a once it answers again');
});
