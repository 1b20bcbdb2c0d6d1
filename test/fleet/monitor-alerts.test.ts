/**
 * Every alert rule with its threshold, on simulated gateways over a real mosquitto: raised once when the condition
 * holds (after its duration), cleared once when it stops; a restarted monitor takes its retained lists back and
 * raises nothing again; a dead webhook never holds the monitor up.
 */
import t from 'tap';
import { startMosquitto } from '../helpers/broker.ts';
import { buildMonitor } from '../../src/fleet/monitor.ts';
import { AlertEngine, conditions, DEFAULT_THRESHOLDS } from '../../src/fleet/alerts.ts';
import { checkFleetConfig } from '../../src/fleet/cli.ts';
import { AlertWatcher, SimGateway, metric, simHealth, startWebhook, transitions, until } from './monitor-helpers.ts';

t.setTimeout(120_000);

t.test('the rules on a record, with the thresholds', async (t) => {
  const th = { ...DEFAULT_THRESHOLDS };
  const rec = (h: Record<string, unknown>, state: 'online' | 'offline' = 'online') => ({ id: 'g', state, health: h, zreports: [], lastSeen: 0 });
  const names = (h: Record<string, unknown>, state: 'online' | 'offline' = 'online') => [...conditions(rec(h, state), th).keys()].sort();
  t.same(names(simHealth('g')), [], 'a healthy gateway: nothing');
  t.same(names(simHealth('g'), 'offline'), ['offline']);
  t.same(names(simHealth('g', { link: 'down' })), ['register_down']);
  t.same(names(simHealth('g', { paper: 'out' })), ['paper_out']);
  t.same(names(simHealth('g', { hoursOpen: 22.9 })), [], '22.9 h: below shift_hours 23');
  t.same(names(simHealth('g', { hoursOpen: 23 })), ['shift_24h']);
  t.same(names(simHealth('g', { daysLeft: 31 })), []);
  t.same(names(simHealth('g', { daysLeft: 30 })), ['fn_expiring']);
  t.equal(conditions(rec(simHealth('g', { daysLeft: 2 })), th).get('fn_expiring')?.severity, 'critical', '≤ 3 days: critical');
  t.same(names(simHealth('g', { unsent: 5, unsentDays: 2.9 })), []);
  t.same(names(simHealth('g', { unsent: 5, unsentDays: 3 })), ['ofd_backlog_warning']);
  t.same(names(simHealth('g', { unsent: 5, unsentDays: 20 })), ['ofd_backlog_critical'], 'critical replaces the warning');
  t.same(names(simHealth('g', { oldest: 599 })), []);
  t.same(names(simHealth('g', { oldest: 600 })), ['queue_stuck'], 'queue_minutes 10');
  const silent = { ...simHealth('g'), time: '2026-12-02T10:03:00.000Z', register: { link: 'up', last_ok: '2026-12-02T10:00:00.000Z' } };
  t.same(names(silent), ['register_down'], 'last good exchange 3 min before the health message: register_silent_minutes 3');
  t.same(names({ ...silent, time: '2026-12-02T10:02:59.000Z' }), []);

  // durations: pending, then raised once, cleared once
  const e = new AlertEngine({ offline_minutes: 5 });
  const off = rec(simHealth('g'), 'offline');
  t.same(e.evaluate(off, 0), [], 'offline just now: pending');
  t.same(e.evaluate(off, 4 * 60_000), [], 'four minutes: still pending');
  const raised = e.evaluate(off, 5 * 60_000);
  t.same(raised.map((x) => [x.event, x.alert]), [['raised', 'offline']]);
  t.same(e.evaluate(off, 6 * 60_000), [], 'raised once');
  const cleared = e.evaluate(rec(simHealth('g')), 7 * 60_000);
  t.same(cleared.map((x) => [x.event, x.alert]), [['cleared', 'offline']]);
  t.equal(cleared[0]!.since, new Date(5 * 60_000).toISOString(), 'the clear names when it was raised');
  t.same(e.evaluate(rec(simHealth('g')), 8 * 60_000), [], 'cleared once');
  t.same(e.evaluate(off, 9 * 60_000), [], 'offline again: the duration starts over');
  t.same(e.evaluate(rec(simHealth('g')), 10 * 60_000), [], 'back before the duration: never raised');
  t.same(e.evaluate(off, 11 * 60_000), []);
  t.same(e.evaluate(off, 15 * 60_000), [], 'pending from 11 min, not from 9');
  t.equal(e.evaluate(off, 16 * 60_000).length, 1);
});

t.test('simulated gateways on mosquitto: each rule published and posted; a restart raises nothing again', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const hook = await startWebhook();
  t.teardown(() => hook.close());
  const watcher = await AlertWatcher.connect(broker.url);
  t.teardown(() => watcher.close());
  const g = await SimGateway.connect(broker.url, 'shop-41');
  t.teardown(() => g.close());
  await g.health(simHealth('shop-41'));

  const opts = { mqttUrl: broker.url, thresholds: { shift_hours: 20, fn_days: 10, ofd_warn_days: 2, ofd_critical_days: 5, queue_minutes: 1, paper_out_minutes: 0, register_down_minutes: 0 }, webhook: { url: hook.url, minDelayMs: 50 }, settleMs: 300, evaluateMs: 100 };
  let monitor = buildMonitor(opts);
  await monitor.start();
  t.teardown(() => monitor.stop());
  await monitor.ready;
  await until(() => watcher.lists('shop-41').length === 0 && monitor.state.get('shop-41')?.health !== undefined, 'shop-41 seen');

  const steps: Array<[Record<string, unknown>, string[]]> = [
    [simHealth('shop-41', { paper: 'out' }), ['paper_out']],
    [simHealth('shop-41', { hoursOpen: 20.5 }), ['shift_24h']],
    [simHealth('shop-41', { daysLeft: 9 }), ['fn_expiring']],
    [simHealth('shop-41', { unsent: 3, unsentDays: 2 }), ['ofd_backlog_warning']],
    [simHealth('shop-41', { unsent: 3, unsentDays: 6 }), ['ofd_backlog_critical']],
    [simHealth('shop-41', { depth: 2, oldest: 61 }), ['queue_stuck']],
    [simHealth('shop-41', { link: 'down' }), ['register_down']],
    [simHealth('shop-41', { paper: 'out', link: 'down' }), ['paper_out', 'register_down']],
    [simHealth('shop-41'), []],
  ];
  for (const [h, want] of steps) {
    await g.health(h);
    await until(() => JSON.stringify([...(watcher.latest('shop-41') ?? [])].sort()) === JSON.stringify(want), `alerts ${want.join(',') || 'none'}`);
  }
  await until(() => hook.bodies.length >= 16, 'every webhook post');
  const byAlert = new Map<string, string[]>();
  for (const b of hook.bodies) byAlert.set(b.alert, [...(byAlert.get(b.alert) ?? []), b.event]);
  t.same(byAlert.get('shift_24h'), ['raised', 'cleared']);
  t.same(byAlert.get('fn_expiring'), ['raised', 'cleared']);
  t.same(byAlert.get('ofd_backlog_warning'), ['raised', 'cleared']);
  t.same(byAlert.get('ofd_backlog_critical'), ['raised', 'cleared']);
  t.same(byAlert.get('queue_stuck'), ['raised', 'cleared']);
  t.same(byAlert.get('paper_out'), ['raised', 'cleared', 'raised', 'cleared']);
  t.same(byAlert.get('register_down'), ['raised', 'cleared'], 'standing while paper went out too: not raised again');
  t.equal(hook.bodies.length, 16, 'sixteen transitions, sixteen posts');
  t.ok(hook.bodies.every((b) => b.gateway_id === 'shop-41' && typeof b.at === 'string' && typeof b.message === 'string'), 'each post names the gateway, the time and what was seen');

  // restart with an alert standing: taken back from the retained list, not raised again; a new one is
  await g.health(simHealth('shop-41', { paper: 'out' }));
  await until(() => watcher.latest('shop-41')?.includes('paper_out') === true, 'paper_out before the restart');
  await until(() => hook.bodies.length >= 17, 'its post');
  await monitor.stop();
  const postsBefore = hook.bodies.length;
  monitor = buildMonitor(opts);
  await monitor.start();
  await monitor.ready;
  t.same(monitor.alerts.list('shop-41').map((a) => a.alert), ['paper_out'], 'the standing alert is known again');
  await new Promise((r) => setTimeout(r, 800));
  t.equal(hook.bodies.length, postsBefore, 'nothing posted again after the restart');
  t.same(transitions(watcher.lists('shop-41'), 'paper_out'), { raised: 3, cleared: 2 }, 'the list did not drop and re-raise it');
  await g.health(simHealth('shop-41'));
  await until(() => hook.bodies.length === postsBefore + 1, 'the clear after the restart');
  t.same([hook.bodies.at(-1).alert, hook.bodies.at(-1).event], ['paper_out', 'cleared']);
});

t.test('a dead webhook does not hold the monitor up; retained state rebuilds the metrics', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const dead = await startWebhook();
  await dead.close(); // nothing listens on that port any more
  const g = await SimGateway.connect(broker.url, 'shop-9');
  t.teardown(() => g.close());
  await g.health(simHealth('shop-9', { paper: 'out' }));
  const monitor = buildMonitor({ mqttUrl: broker.url, listen: '127.0.0.1:0', webhook: { url: dead.url, minDelayMs: 100, maxAttempts: 3 }, settleMs: 200, evaluateMs: 100 });
  await monitor.start();
  t.teardown(() => monitor.stop());
  await monitor.ready;
  t.equal(await metric(monitor.url!, 'kkt_paper_ok', { gateway_id: 'shop-9', device: 'main' }), 0, 'rebuilt from the retained health');
  t.same(monitor.alerts.list('shop-9').map((a) => a.alert), ['paper_out']);
  for (let i = 0; i < 20; i++) await g.health(simHealth('shop-9', { paper: i % 2 ? 'out' : 'ok' }));
  await until(() => monitor.state.get('shop-9')?.health?.paper === 'out' && monitor.alerts.list('shop-9').length === 1, 'every message handled while the webhook is down');
  t.ok(monitor.webhook!.pendingCount > 0, 'posts wait in the webhook queue');
  await until(() => monitor.webhook!.dropped > 0, 'a post given up after its attempts');
});

t.test('a broker restart: the monitor reconnects, subscribes again and keeps alerting', async (t) => {
  const broker = await startMosquitto({ persistence: true });
  t.teardown(() => broker.stop());
  const g = await SimGateway.connect(broker.url, 'shop-5');
  await g.health(simHealth('shop-5'));
  const monitor = buildMonitor({ mqttUrl: broker.url, listen: '127.0.0.1:0', thresholds: { offline_minutes: 0 }, settleMs: 200, evaluateMs: 100 });
  await monitor.start();
  t.teardown(() => monitor.stop());
  await monitor.ready;
  t.equal(await metric(monitor.url!, 'kkt_gateway_up', { gateway_id: 'shop-5' }), 1);
  await g.close();
  await broker.restart!();
  // the gateway comes back after the restart and loses its paper
  const g2 = await SimGateway.connect(broker.url, 'shop-5');
  t.teardown(() => g2.close());
  await g2.health(simHealth('shop-5', { paper: 'out' }));
  await until(() => monitor.alerts.list('shop-5').some((a) => a.alert === 'paper_out'), 'paper_out after the broker restart');
  const watcher = await AlertWatcher.connect(broker.url);
  t.teardown(() => watcher.close());
  await until(() => watcher.latest('shop-5')?.includes('paper_out') === true, 'the list retained on the restarted broker');
  t.equal(await metric(monitor.url!, 'kkt_paper_ok', { gateway_id: 'shop-5', device: 'main' }), 0);
  t.equal(await metric(monitor.url!, 'kkt_gateway_up', { gateway_id: 'shop-5' }), 1, 'online again');
});

t.test('/metrics behind a bearer token; the configuration file is checked key by key', async (t) => {
  const monitor = buildMonitor({ mqttUrl: 'mqtt://127.0.0.1:1', metricsToken: 'scrape-Token-77' });
  const app = await monitor.app();
  t.teardown(() => monitor.stop());
  monitor.state.ingest('shop-3', 'state', JSON.stringify({ state: 'online' }), Date.now());
  t.equal((await app.inject({ url: '/metrics' })).statusCode, 401, 'no token: 401');
  t.equal((await app.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
  const ok = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer scrape-Token-77' } });
  t.equal(ok.statusCode, 200);
  t.match(ok.headers['content-type'], /text\/plain/);
  t.match(ok.body, 'kkt_gateway_up{gateway_id="shop-3"} 1');
  t.equal(monitor.state.ingest('shop-3', 'health', 'not json', Date.now()), undefined, 'a malformed message is ignored');
  t.equal(monitor.state.malformed, 1, 'and counted');

  t.throws(() => checkFleetConfig([]), /must be a JSON object/);
  t.throws(() => checkFleetConfig({ listen: 'x' }), /HOST:PORT/);
  t.throws(() => checkFleetConfig({ thresholds: { queue_minutes: -1 } }), /must be a number ≥ 0/);
  t.throws(() => checkFleetConfig({ webhook: 'ftp://x' }), /http\(s\) URL/);
  t.throws(() => checkFleetConfig({ mqtt_urll: 'mqtt://x' }), /unknown setting "mqtt_urll"/);
  t.same(checkFleetConfig({ mqtt_url: 'mqtt://x', thresholds: { queue_minutes: 5 }, webhook: { url: 'http://127.0.0.1/h' } }).thresholds, { queue_minutes: 5 });
});
