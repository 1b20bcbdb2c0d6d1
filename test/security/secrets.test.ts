/**
 * Secrets never leave the gateway: a full run of the real process (mosquitto with a password, signed receipts with
 * two keys, the web page used as an installer would, debug logging) and every output grepped for every secret —
 * the process's stdout/stderr (journald), every MQTT message it published (results, responses, health, state), and
 * every web response (pages, API, backup, logs, live events).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, freePort } from '../helpers/broker.ts';
import { makeRig } from '../helpers/rig.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { setupCodeIn, waitFor } from '../helpers/web-client.ts';
import { parseConfig } from '../../src/config/index.ts';
import { envelope } from '../../src/security/signature.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';

const MQTT_PW = 'Mqtt-Pw-7c1f0e93';
const KEY1 = 'sign-key-one-5b2d8e41a9';
const KEY2 = 'sign-key-two-c0ffee7788';
const WEB_PW = 'Web-Page-Pw-3141';
const SECRETS = [MQTT_PW, KEY1, KEY2, WEB_PW];

t.setTimeout(120_000);

t.test('no configured secret appears in any output of a full run', async (t) => {
  const pwPort = await freePort();
  const pwDir = mkdtempSync(join(tmpdir(), 'kkt-pw-'));
  const pwfile = join(pwDir, 'passwd');
  execFileSync('mosquitto_passwd', ['-c', '-b', pwfile, 'kkt', MQTT_PW]);
  const broker = await startMosquitto({ perListenerSettings: true, extraConfig: [`listener ${pwPort} 127.0.0.1`, `password_file ${pwfile}`, 'allow_anonymous false'].join('\n') });
  t.teardown(() => broker.stop());
  const rig = await makeRig({ broker: 'mosquitto', externalBroker: broker });
  t.teardown(() => rig.close());
  const webPort = await freePort();
  const config = parseConfig({
    ...rig.config,
    mqtt: { ...rig.config.mqtt, url: `mqtt://127.0.0.1:${pwPort}`, username: 'kkt', password: MQTT_PW, health_interval: 1 },
    security: { signing: { enabled: true, keys: [{ id: 'k1', secret: KEY1 }, { id: 'k2', secret: KEY2 }] } },
    // plain HTTP (web.tls false, a test setting) so fetch() reads every answer; HTTPS is test/security/page-tls.test.ts
    web: { host: '127.0.0.1', port: webPort, tls: false },
    log: { level: 'debug' },
  });
  const gp = startGatewayProcess(config, rig.dir);
  t.teardown(() => gp.child.kill('SIGKILL'));

  // the store: signed receipts with both keys, a forged one, signed commands
  const s = rig.store;
  await s.until(() => s.messages.some((m) => m.topic === `${config.mqtt.base_topic}/health`), 'health from the gateway', 30_000);
  for (const [i, key] of [[1, { id: 'k1', secret: KEY1 }], [2, { id: 'k2', secret: KEY2 }]] as const) {
    await s.client.publishAsync(`${config.mqtt.base_topic}/receipt`, envelope(key, JSON.stringify(sampleReceipt(`sec-${i}`))), { qos: 1 });
  }
  await s.client.publishAsync(`${config.mqtt.base_topic}/receipt`, envelope({ id: 'k1', secret: 'not-the-key' }, JSON.stringify(sampleReceipt('sec-forged'))), { qos: 1 });
  await s.client.publishAsync(`${config.mqtt.base_topic}/request/status`, envelope({ id: 'k2', secret: KEY2 }, JSON.stringify({ transaction: 'st-1' })), { qos: 1 });
  await s.until(() => s.final('sec-1') !== undefined && s.final('sec-2') !== undefined && s.final('sec-forged') !== undefined, 'results', 60_000);
  t.equal(s.final('sec-1')?.status, 'done');
  t.equal(s.final('sec-forged')?.error?.code, 'SIGNATURE');
  await s.until(() => s.messages.some((m) => m.topic === `${config.mqtt.base_topic}/response/status`), 'status response');

  // the web page, as an installer uses it
  const base = `http://127.0.0.1:${webPort}`;
  const bodies: string[] = [];
  const get = async (path: string, cookie = ''): Promise<Response> => {
    const r = await fetch(base + path, { headers: cookie ? { cookie } : {} });
    bodies.push(`${path} ${JSON.stringify([...r.headers])} ${await r.clone().text()}`);
    return r;
  };
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    const r = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    bodies.push(`${path} ${JSON.stringify([...r.headers])} ${await r.clone().text()}`);
    return r;
  };
  await post('/api/setup/code', {});
  const code = await waitFor(async () => setupCodeIn(gp.output().split('\n')), 'the setup code in the log');
  const setup = await post('/api/setup', { code, password: WEB_PW });
  t.equal(setup.status, 200);
  await post('/api/login', { password: `${WEB_PW}-wrong` });
  const cookie = setup.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const { csrf } = (await setup.clone().json()) as { csrf: string };
  await post('/api/check', {}, { cookie, 'x-csrf-token': csrf });
  for (const p of ['/', '/app.js', '/api/session', '/api/status', '/api/config', '/api/config/backup', '/api/zreports', '/api/receipts', '/api/receipts/sec-1', '/api/logs?level=debug', '/api/ports']) {
    t.equal((await get(p, cookie)).status, 200, `GET ${p}`);
  }
  // one live event
  const ctl = new AbortController();
  const ev = await fetch(`${base}/api/events`, { headers: { cookie }, signal: ctl.signal });
  const reader = ev.body!.getReader();
  const first = await reader.read();
  bodies.push(Buffer.from(first.value ?? []).toString());
  ctl.abort();

  gp.child.kill('SIGTERM');
  t.equal(await gp.exited, 0);

  const outputs: Array<[string, string]> = [
    ['process output (journald)', gp.output()],
    ['MQTT messages', JSON.stringify(s.messages)],
    ['web responses', bodies.join('\n')],
  ];
  t.ok(gp.output().length > 2000, `the process wrote its debug log (${gp.output().length} bytes)`);
  t.ok(s.messages.length > 10, `${s.messages.length} MQTT messages seen`);
  for (const [name, text] of outputs) {
    for (const secret of SECRETS) t.notOk(text.includes(secret), `${name}: no "${secret.slice(0, 6)}…"`);
  }
});
