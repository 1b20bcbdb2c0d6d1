/**
 * The fleet monitor against real gateways (the in-process gateway on the emulator over a pty, and the gateway as a
 * child process) and simulated ones (plain MQTT clients publishing like a gateway) on a real mosquitto:
 * /metrics shows each; an unplugged register raises `register_down` once and clears it once on replug (the retained
 * list and the webhook); a gateway killed with SIGKILL goes kkt_gateway_up 0 through its last will.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRig } from '../helpers/rig.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { buildMonitor } from '../../src/fleet/monitor.ts';
import { AlertWatcher, SimGateway, metric, parseMetrics, series, simHealth, startWebhook, transitions, until } from './monitor-helpers.ts';

t.setTimeout(180_000);

t.test('real and simulated gateways on mosquitto: metrics, register down/up, a killed gateway', async (t) => {
  const rigDir = mkdtempSync(join(tmpdir(), 'kkt-fleet-'));
  const ptyLink = join(rigDir, 'by-id-kkt');
  const rig = await makeRig({ broker: 'mosquitto', dir: rigDir, ptyLink, config: { gateway_id: 'shop-1', mqtt: { health_interval: 1 }, device: { answer_timeout_ms: 1000 } } });
  let pty = rig.pty;
  t.teardown(async () => {
    await pty.close();
    await rig.close();
  });
  await rig.startGateway();
  // the gateway's first health may precede its first register read (link down, no paper yet): wait for a full one
  await rig.store.until(() => rig.store.messages.some((m) => m.topic.endsWith('/health') && m.body?.register?.link === 'up' && m.body?.paper === 'ok' && m.body?.fn_watch), 'a health message with the register read');

  // simulated gateways publish before the monitor starts: it must rebuild them from the retained messages
  const sims = await Promise.all(['sim-a', 'sim-b', 'sim-c'].map((id) => SimGateway.connect(rig.broker.url, id)));
  t.teardown(() => Promise.all(sims.map((s) => s.close())));
  await sims[0]!.health(simHealth('sim-a', { depth: 3, oldest: 42, hoursOpen: 5.5, daysLeft: 180, unsent: 4, unsentDays: 1.5 }));
  await sims[1]!.health(simHealth('sim-b', { paper: 'out' }));
  await sims[2]!.health(simHealth('sim-c', { zAt: '01.12.2026 23:50:00' }));

  const hook = await startWebhook(1); // the first POST fails: the monitor retries
  t.teardown(() => hook.close());
  const watcher = await AlertWatcher.connect(rig.broker.url);
  t.teardown(() => watcher.close());

  const monitor = buildMonitor({
    mqttUrl: rig.broker.url,
    listen: '127.0.0.1:0',
    thresholds: { register_down_minutes: 0, register_silent_minutes: 0.15, offline_minutes: 0 },
    webhook: { url: hook.url, minDelayMs: 100, maxDelayMs: 400 },
    settleMs: 300,
    evaluateMs: 200,
  });
  await monitor.start();
  t.teardown(() => monitor.stop());
  await monitor.ready;
  const url = monitor.url!;

  // every gateway is on /metrics
  await until(async () => (await metric(url, 'kkt_register_up', { gateway_id: 'shop-1', device: 'main' })) === 1, 'the real gateway\'s register up');
  const m = parseMetrics(await (await fetch(`${url}/metrics`)).text());
  for (const id of ['shop-1', 'sim-a', 'sim-b', 'sim-c']) {
    t.equal(m.get(series('kkt_gateway_up', { gateway_id: id })), 1, `${id} up`);
    t.ok(m.has(series('kkt_last_seen_seconds', { gateway_id: id })), `${id} last seen`);
    t.ok(m.has(series('kkt_queue_depth', { gateway_id: id })), `${id} queue depth`);
  }
  t.equal(m.get(series('kkt_queue_depth', { gateway_id: 'sim-a' })), 3);
  t.equal(m.get(series('kkt_queue_oldest_seconds', { gateway_id: 'sim-a' })), 42);
  t.equal(m.get(series('kkt_shift_open_hours', { gateway_id: 'sim-a', device: 'main' })), 5.5);
  t.equal(m.get(series('kkt_fn_days_left', { gateway_id: 'sim-a', device: 'main' })), 180);
  t.equal(m.get(series('kkt_ofd_unsent_documents', { gateway_id: 'sim-a', device: 'main' })), 4);
  t.equal(m.get(series('kkt_ofd_oldest_unsent_days', { gateway_id: 'sim-a', device: 'main' })), 1.5);
  t.equal(m.get(series('kkt_paper_ok', { gateway_id: 'sim-a', device: 'main' })), 1);
  t.equal(m.get(series('kkt_paper_ok', { gateway_id: 'sim-b', device: 'main' })), 0, 'paper out on sim-b');
  t.equal(m.get(series('kkt_paper_ok', { gateway_id: 'shop-1', device: 'main' })), 1, 'the emulator has paper');
  t.equal(m.get(series('kkt_zreport_last_timestamp_seconds', { gateway_id: 'sim-c', device: 'main' })), Math.floor(new Date(2026, 11, 1, 23, 50, 0).getTime() / 1000), 'the last Z-report\'s time from health (zreport_check)');
  // a Z-report message (not retained: only seen while the monitor runs) gives the time of the newest
  await sims[2]!.zreport({ shift_number: 9, fiscal_document_number: 91, datetime: '02.12.2026 00:10:00', receipts_count: 5 });
  const zAt = Math.floor(new Date(2026, 11, 2, 0, 10, 0).getTime() / 1000);
  await until(async () => (await metric(url, 'kkt_zreport_last_timestamp_seconds', { gateway_id: 'sim-c', device: 'main' })) === zAt, 'the Z-report message\'s time');
  t.equal((monitor.detail('sim-c')?.zreports as any[])[0]?.fiscal_document_number, 91, 'the Z-report kept for the detail view');
  t.ok((m.get(series('kkt_fn_days_left', { gateway_id: 'shop-1', device: 'main' })) ?? -1) >= 0, 'the emulator\'s FN days left');
  const text = await (await fetch(`${url}/metrics`)).text();
  t.match(text, /# TYPE kkt_gateway_up gauge/);
  await until(() => watcher.latest('sim-b')?.includes('paper_out') === true, 'paper_out on sim-b');

  // unplug the register (the pty goes away, as a USB cable pulled): register_down raised, once; replug: cleared, once
  await pty.close();
  await until(() => watcher.latest('shop-1')?.includes('register_down') === true, 'register_down published', 60_000);
  t.equal(await metric(url, 'kkt_register_up', { gateway_id: 'shop-1', device: 'main' }), 0, 'kkt_register_up 0');
  await new Promise((r) => setTimeout(r, 2500)); // several health messages and evaluations while it stays down
  const spacer = await createPty(); // takes the freed /dev/pts number, so the replugged device gets a new one
  t.teardown(() => spacer.close());
  pty = await createPty({ link: ptyLink });
  rig.emulator.attach(pty.stream);
  await until(() => watcher.latest('shop-1')?.includes('register_down') === false, 'register_down cleared', 60_000);
  await until(() => hook.bodies.filter((b) => b.gateway_id === 'shop-1' && b.alert === 'register_down').length >= 2, 'both webhook posts');
  await new Promise((r) => setTimeout(r, 1500));
  t.same(transitions(watcher.lists('shop-1'), 'register_down'), { raised: 1, cleared: 1 }, 'the published list raised it once and cleared it once', { lists: watcher.messages.filter((x) => x.topic.endsWith('/shop-1')).map((x) => x.body), hook: hook.bodies });
  let posts = hook.bodies.filter((b) => b.gateway_id === 'shop-1' && b.alert === 'register_down');
  t.same(posts.map((b) => b.event), ['raised', 'cleared'], 'the webhook got the raise and the clear, once each');
  t.equal(await metric(url, 'kkt_register_up', { gateway_id: 'shop-1', device: 'main' }), 1, 'kkt_register_up 1 after the replug');

  // a register that stops answering while the gateway is idle (the link stays "up", its last good exchange ages)
  runControl(rig.emulator, 'silent on');
  await until(() => watcher.latest('shop-1')?.includes('register_down') === true, 'register_down for a silent register', 60_000);
  t.equal(await metric(url, 'kkt_register_up', { gateway_id: 'shop-1', device: 'main' }), 0, 'kkt_register_up 0 while silent');
  await new Promise((r) => setTimeout(r, 2500));
  runControl(rig.emulator, 'silent off');
  await until(() => watcher.latest('shop-1')?.includes('register_down') === false, 'register_down cleared when it answers again', 60_000);
  await until(() => hook.bodies.filter((b) => b.gateway_id === 'shop-1' && b.alert === 'register_down').length >= 4, 'four webhook posts');
  await new Promise((r) => setTimeout(r, 1500));
  t.same(transitions(watcher.lists('shop-1'), 'register_down'), { raised: 2, cleared: 2 }, 'raised once and cleared once more');
  posts = hook.bodies.filter((b) => b.gateway_id === 'shop-1' && b.alert === 'register_down');
  t.same(posts.map((b) => b.event), ['raised', 'cleared', 'raised', 'cleared']);
  t.ok(hook.requests > hook.bodies.length, 'a failed POST was retried');
  t.equal(await metric(url, 'kkt_register_up', { gateway_id: 'shop-1', device: 'main' }), 1, 'kkt_register_up back to 1');

  // the list is retained: a newcomer gets the current one
  const late = await AlertWatcher.connect(rig.broker.url);
  t.teardown(() => late.close());
  await until(() => late.latest('sim-b') !== undefined && late.latest('shop-1') !== undefined, 'retained lists');
  t.same(late.latest('sim-b'), ['paper_out']);
  t.same(late.latest('shop-1'), []);
  t.ok(late.messages.every((x) => x.retain), 'delivered as retained');

  // a simulated gateway whose connection drops: its last will → up 0 and the offline alert
  sims[2]!.kill();
  await until(async () => (await metric(url, 'kkt_gateway_up', { gateway_id: 'sim-c' })) === 0, 'sim-c up 0');
  await until(() => watcher.latest('sim-c')?.includes('offline') === true, 'offline alert for sim-c');

  // the real gateway as a child process, killed with SIGKILL: up 0 through its last will
  const dir = mkdtempSync(join(tmpdir(), 'kkt-fleet-proc-'));
  const rig2 = await makeRig({ externalBroker: rig.broker, dir, config: { gateway_id: 'shop-2', mqtt: { health_interval: 1 } } });
  t.teardown(() => rig2.close());
  const proc = startGatewayProcess(rig2.config, dir);
  t.teardown(() => void proc.child.kill('SIGKILL'));
  await until(async () => (await metric(url, 'kkt_gateway_up', { gateway_id: 'shop-2' })) === 1, 'shop-2 up', 60_000);
  await until(async () => (await metric(url, 'kkt_register_up', { gateway_id: 'shop-2', device: 'main' })) === 1, 'shop-2 register up', 60_000);
  proc.child.kill('SIGKILL');
  t.equal(await proc.exited, 'SIGKILL');
  await until(async () => (await metric(url, 'kkt_gateway_up', { gateway_id: 'shop-2' })) === 0, 'shop-2 up 0 after kill -9', 60_000);
  await until(() => watcher.latest('shop-2')?.includes('offline') === true, 'offline alert for shop-2');
  t.equal(await metric(url, 'kkt_gateway_up', { gateway_id: 'shop-1' }), 1, 'the others stay up');
});
