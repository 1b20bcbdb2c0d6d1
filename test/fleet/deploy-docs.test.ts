/**
 * docs/fleet.md's deployment files, checked by the tools that consume them: the Prometheus alert rules with promtool
 * (syntax, and `promtool test rules` with series that must and must not fire each alert), the Grafana dashboard's
 * queries (valid PromQL, only the monitor's metric names), and the mosquitto ACL of the doc run by a real mosquitto:
 * a gateway can publish only under its own base topic.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { startMosquitto } from '../helpers/broker.ts';
import { docBlock, ROOT } from './doc-blocks.ts';

const run = promisify(execFile);
const ALERTS = join(ROOT, 'docs', 'fleet', 'alerts.yml');
const DASHBOARD = join(ROOT, 'docs', 'fleet', 'grafana-dashboard.json');

/** the metrics the fleet monitor exports (issue 16) */
const METRICS = [
  'kkt_gateway_up',
  'kkt_last_seen_seconds',
  'kkt_queue_depth',
  'kkt_queue_oldest_seconds',
  'kkt_register_up',
  'kkt_paper_ok',
  'kkt_shift_open_hours',
  'kkt_fn_days_left',
  'kkt_ofd_unsent_documents',
  'kkt_ofd_oldest_unsent_days',
  'kkt_zreport_last_timestamp_seconds',
];

const dir = mkdtempSync(join(tmpdir(), 'kkt-deploy-docs-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function promtool(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('promtool is not installed (apt-get install prometheus; scripts/tools.mjs)');
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

t.test('alerts.yml passes promtool check rules', async (t) => {
  const r = await promtool('check', 'rules', ALERTS);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /SUCCESS: 12 rules found/);
});

t.test('promtool check rules refuses a broken rules file (the check can fail)', async (t) => {
  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, readFileSync(ALERTS, 'utf8').replace('expr: kkt_paper_ok == 0', 'expr: kkt_paper_ok == == 0'));
  const r = await promtool('check', 'rules', bad);
  t.not(r.code, 0, 'a PromQL syntax error is reported');
});

const alert = (name: string, labels: Record<string, string>, summary: string, description?: string): Record<string, unknown> => ({
  exp_labels: labels,
  exp_annotations: { summary, ...(description ? { description } : {}) },
});

t.test('each alert fires on its series and not on healthy ones (promtool test rules)', async (t) => {
  const series = (s: string, values: string): Record<string, string> => ({ series: s, values });
  const tests = {
    rule_files: [ALERTS],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          series('up{job="kkt-fleet",instance="mon:9464"}', '1x40'),
          series('kkt_gateway_up{gateway_id="a"}', '1 1 0x40'),
          series('kkt_gateway_up{gateway_id="b"}', '1x40'),
          series('kkt_gateway_up{gateway_id="c"}', '1x40'),
          series('kkt_last_seen_seconds{gateway_id="a"}', '0+60x40'),
          series('kkt_last_seen_seconds{gateway_id="b"}', '10x40'),
          series('kkt_last_seen_seconds{gateway_id="c"}', '0+60x40'),
          series('kkt_register_up{gateway_id="b",device="dev-b"}', '1 1 0x40'),
          series('kkt_register_up{gateway_id="c",device="dev-c"}', '1x40'),
          series('kkt_paper_ok{gateway_id="b",device="dev-b"}', '1x40'),
          series('kkt_paper_ok{gateway_id="c",device="dev-c"}', '1 0x40'),
          series('kkt_queue_depth{gateway_id="b"}', '3x40'),
          series('kkt_queue_oldest_seconds{gateway_id="b"}', '0+60x40'),
          series('kkt_queue_depth{gateway_id="c"}', '0x40'),
          series('kkt_queue_oldest_seconds{gateway_id="c"}', '0+60x40'),
          series('kkt_shift_open_hours{gateway_id="b",device="dev-b"}', '23.5x40'),
          series('kkt_shift_open_hours{gateway_id="c",device="dev-c"}', '5x40'),
          series('kkt_fn_days_left{gateway_id="b",device="dev-b"}', '2x40'),
          series('kkt_fn_days_left{gateway_id="c",device="dev-c"}', '20x40'),
          series('kkt_fn_days_left{gateway_id="a",device="dev-a"}', '300x40'),
          series('kkt_ofd_oldest_unsent_days{gateway_id="b",device="dev-b"}', '26x40'),
          series('kkt_ofd_oldest_unsent_days{gateway_id="c",device="dev-c"}', '4x40'),
          series('kkt_ofd_oldest_unsent_days{gateway_id="a",device="dev-a"}', '0x40'),
        ],
        alert_rule_test: [
          { eval_time: '30m', alertname: 'KktMonitorDown', exp_alerts: [] },
          {
            eval_time: '20m',
            alertname: 'KktGatewayOffline',
            exp_alerts: [alert('KktGatewayOffline', { severity: 'critical', gateway_id: 'a' }, 'Gateway a is offline', 'Its retained state is offline (clean stop or last will) for 10 minutes: receipts for it wait in the broker.')],
          },
          { eval_time: '8m', alertname: 'KktGatewayOffline', exp_alerts: [] },
          // c: online but silent (its last message ages); a: silent too but offline, KktGatewayOffline covers it
          {
            eval_time: '20m',
            alertname: 'KktHealthStale',
            exp_alerts: [alert('KktHealthStale', { severity: 'warning', gateway_id: 'c' }, 'No message from gateway c for 20m 0s', 'State still says online: the shop\'s broker or its bridge may be cut off (see $SYS/broker/connection/<bridge>/state).')],
          },
          { eval_time: '10m', alertname: 'KktRegisterDown', exp_alerts: [alert('KktRegisterDown', { severity: 'critical', gateway_id: 'b', device: 'dev-b' }, 'Register dev-b of gateway b does not answer')] },
          { eval_time: '10m', alertname: 'KktPaperOut', exp_alerts: [alert('KktPaperOut', { severity: 'critical', gateway_id: 'c', device: 'dev-c' }, 'Register dev-c of gateway c is out of paper')] },
          {
            eval_time: '5m',
            alertname: 'KktShiftNear24h',
            exp_alerts: [alert('KktShiftNear24h', { severity: 'warning', gateway_id: 'b', device: 'dev-b' }, 'The shift on b has been open 23.5 h (the register blocks at 24 h)')],
          },
          { eval_time: '5m', alertname: 'KktFnExpiring', exp_alerts: [alert('KktFnExpiring', { severity: 'critical', gateway_id: 'b', device: 'dev-b' }, 'The FN of b expires in 2 days: replace it now')] },
          { eval_time: '5m', alertname: 'KktFnExpiringSoon', exp_alerts: [alert('KktFnExpiringSoon', { severity: 'warning', gateway_id: 'c', device: 'dev-c' }, 'The FN of c expires in 20 days')] },
          { eval_time: '5m', alertname: 'KktOfdBacklog', exp_alerts: [alert('KktOfdBacklog', { severity: 'warning', gateway_id: 'c', device: 'dev-c' }, 'c: documents not sent to the OFD for 4 days')] },
          {
            eval_time: '5m',
            alertname: 'KktOfdBacklogCritical',
            exp_alerts: [alert('KktOfdBacklogCritical', { severity: 'critical', gateway_id: 'b', device: 'dev-b' }, 'b: documents not sent to the OFD for 26 days (the FN blocks at 30)')],
          },
          // b: 3 queued, the oldest 25 min at 25m (fires after 15 min + 5 min for); c: nothing queued
          { eval_time: '18m', alertname: 'KktQueueStuck', exp_alerts: [] },
          { eval_time: '25m', alertname: 'KktQueueStuck', exp_alerts: [alert('KktQueueStuck', { severity: 'critical', gateway_id: 'b' }, 'b: the oldest queued receipt waits for 25m 0s')] },
        ],
      },
      {
        // (samples closer than the 5 min lookback, or the series vanishes between them and `for` restarts)
        interval: '2m',
        // Z-report timestamps: d's last one 30 h before the end of the series, e's renewed every "day"
        input_series: [series('kkt_zreport_last_timestamp_seconds{gateway_id="d"}', '0+0x900'), series('kkt_zreport_last_timestamp_seconds{gateway_id="e"}', '0+0x720 86400+0x720 172800+0x720')],
        alert_rule_test: [
          { eval_time: '25h', alertname: 'KktNoZReport', exp_alerts: [] },
          {
            eval_time: '28h',
            alertname: 'KktNoZReport',
            exp_alerts: [alert('KktNoZReport', { severity: 'warning', gateway_id: 'd' }, 'd: no Z-report for more than 26 hours')],
          },
        ],
      },
    ],
  };
  const file = join(dir, 'alerts.test.yml');
  writeFileSync(file, JSON.stringify(tests, null, 2)); // YAML is a superset of JSON
  const r = await promtool('test', 'rules', file);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /SUCCESS/);

  // and the same test fails when a threshold is broken (the rules are what decides)
  const broken = join(dir, 'alerts-broken.yml');
  writeFileSync(broken, readFileSync(ALERTS, 'utf8').replace('expr: kkt_fn_days_left <= 3', 'expr: kkt_fn_days_left <= 1'));
  writeFileSync(file, JSON.stringify({ ...tests, rule_files: [broken] }, null, 2));
  const r2 = await promtool('test', 'rules', file);
  t.not(r2.code, 0, 'a changed threshold fails the rule test');
  t.match(r2.out, /KktFnExpiring/);
});

t.test('the Grafana dashboard: valid JSON, valid PromQL, only the monitor\'s metrics, every metric shown', async (t) => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ name: string }> } };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr));
  t.ok(exprs.length >= 10, `${exprs.length} queries`);
  const used = new Set(exprs.flatMap((e) => e.match(/\bkkt_[a-z_]+/g) ?? []));
  t.same([...used].filter((m) => !METRICS.includes(m)), [], 'no metric outside the monitor\'s');
  t.same(METRICS.filter((m) => !used.has(m)), [], 'every metric on the dashboard');
  t.ok(dash.templating.list.some((v) => v.name === 'gateway'), 'a gateway variable');
  // PromQL syntax: as recording rules through promtool ($gateway as Grafana substitutes "All")
  const rules = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:q${i}`, expr: e.replaceAll('$gateway', '.*') })) }] };
  const file = join(dir, 'dashboard-queries.yml');
  writeFileSync(file, JSON.stringify(rules));
  const r = await promtool('check', 'rules', file);
  t.equal(r.code, 0, r.out);
});

t.test('the doc\'s mosquitto ACL: a gateway publishes only under its own base topic', async (t) => {
  const aclFile = join(dir, 'acl');
  writeFileSync(aclFile, docBlock('acl-config') + '\n');
  const broker = await startMosquitto({ extraConfig: `acl_file ${aclFile}` });
  t.teardown(() => broker.stop());
  const connect = (username: string, protocolVersion: 4 | 5 = 5) =>
    mqtt.connectAsync(broker.url, { username, clientId: `${username}-${Math.random().toString(16).slice(2)}`, protocolVersion, clean: true, reconnectPeriod: 0 });
  const watcher = await connect('fleet');
  t.teardown(() => watcher.endAsync(true));
  const seen: string[] = [];
  watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
  await watcher.subscribeAsync(['kkt/+/state', 'kkt/+/health'], { qos: 1 });
  const store = await connect('store');
  t.teardown(() => store.endAsync(true));
  const results: string[] = [];
  store.on('message', (topic) => results.push(topic));
  await store.subscribeAsync('kkt/+/result', { qos: 1 });

  const gw = await connect('shop-041-1');
  t.teardown(() => gw.endAsync(true));
  // MQTT 5: mosquitto answers a refused publish with PUBACK "not authorized" (135); the message goes nowhere
  const refused = await gw.publishAsync('kkt/shop-042-1/state', JSON.stringify({ state: 'offline' }), { qos: 1, retain: true }).then(
    (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  t.equal(refused, 135, 'another gateway\'s state: not authorized');
  await gw.publishAsync('kkt/shop-042-1/result', '{"external_id":"x"}', { qos: 1 }).catch(() => undefined);
  await gw.publishAsync('kkt/shop-041-1/result', '{"external_id":"own"}', { qos: 1 });
  await gw.publishAsync('kkt/shop-041-1/state', JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
  const deadline = Date.now() + 10_000;
  while ((results.length < 1 || seen.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  t.same(results, ['kkt/shop-041-1/result'], 'the store got the own result only');
  t.same(seen, ['kkt/shop-041-1/state {"state":"online"}'], 'the monitor saw only the own state');

  // a gateway cannot read another's receipts either (mosquitto grants the subscription, checks each delivery)
  const got: string[] = [];
  gw.on('message', (topic) => got.push(topic));
  await gw.subscribeAsync(['kkt/shop-042-1/receipt', 'kkt/shop-041-1/receipt'], { qos: 1 });
  await store.publishAsync('kkt/shop-042-1/receipt', '{"external_id":"theirs"}', { qos: 1 });
  await store.publishAsync('kkt/shop-041-1/receipt', '{"external_id":"mine"}', { qos: 1 });
  const until = Date.now() + 10_000;
  while (got.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  t.same(got, ['kkt/shop-041-1/receipt'], 'the gateway got its own receipt only');
  // and the store cannot fake a gateway's state
  const fake = await store.publishAsync('kkt/shop-041-1/state', JSON.stringify({ state: 'offline' }), { qos: 1, retain: true }).then(
    (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  t.equal(fake, 135, 'the store publishing a gateway\'s state: not authorized');
});
