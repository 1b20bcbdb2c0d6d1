/**
 * The command line, as real child processes against a rig gateway on mosquitto: `kkt-gateway request` prints the
 * status response (exit 0), an error response (exit 1), a timeout (exit 2), bad arguments (64), no broker (69); `kkt-gateway fleet`
 * serves /metrics with the gateway, reads its --config, stops on SIGTERM with exit code 0.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeRig } from '../helpers/rig.ts';
import { freePort } from '../helpers/broker.ts';
import { ROOT } from '../helpers/gateway-process.ts';
import { metric, until } from './monitor-helpers.ts';

t.setTimeout(120_000);
const BIN = join(ROOT, 'bin', 'kkt-gateway.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return once(child, 'close').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

t.test('kkt-gateway request and kkt-gateway fleet against a rig gateway', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', config: { gateway_id: 'shop-7', mqtt: { health_interval: 1 } } });
  t.teardown(() => rig.close());
  await rig.startGateway();

  const status = await run(['request', '--mqtt-url', rig.broker.url, 'shop-7', 'status']);
  t.equal(status.code, 0, 'exit 0', { stderr: status.stderr });
  const body = JSON.parse(status.stdout);
  t.equal(body.status, 'ok');
  t.match(body.transaction, /^cli-/, 'a transaction of its own');
  t.equal(body.data?.gateway_id, 'shop-7', 'the status response: the gateway\'s health');
  t.equal(body.data?.register?.link, 'up');

  const withTx = await run(['request', '--mqtt-url', rig.broker.url, 'shop-7', 'zreports', '{"limit":1,"transaction":"tx-fixed-1"}']);
  t.equal(withTx.code, 0, { stderr: withTx.stderr });
  t.equal(JSON.parse(withTx.stdout).transaction, 'tx-fixed-1', 'a given transaction is used');

  const bad = await run(['request', '--mqtt-url', rig.broker.url, 'shop-7', 'no_such_command']);
  t.equal(bad.code, 1, 'an error response: exit 1');
  t.equal(JSON.parse(bad.stdout).status, 'error', 'the error response is printed');

  const silent = await run(['request', '--mqtt-url', rig.broker.url, '--timeout', '1', 'nobody-here', 'status']);
  t.equal(silent.code, 2, 'no answer: exit 2');
  t.match(silent.stderr, /no response from nobody-here/);
  t.equal(silent.stdout, '');

  const badJson = await run(['request', '--mqtt-url', rig.broker.url, 'shop-7', 'status', '{nope']);
  t.equal(badJson.code, 64);
  t.match(badJson.stderr, /not JSON/);
  t.equal((await run(['request', 'shop-7', 'status'])).code, 64, 'no --mqtt-url');
  const noBroker = await run(['request', '--mqtt-url', 'mqtt://127.0.0.1:1', 'shop-7', 'status']);
  t.equal(noBroker.code, 69, 'the broker unreachable: exit 69');
  t.match(noBroker.stderr, /cannot connect to mqtt:\/\/127\.0\.0\.1:1/);
  t.equal((await run(['request', '--mqtt-url', rig.broker.url, 'a/b', 'status'])).code, 64, 'a topic separator in the id');

  // the monitor as its own process
  const port = await freePort();
  const cfgFile = join(rig.dir, 'fleet.json');
  writeFileSync(cfgFile, JSON.stringify({ thresholds: { offline_minutes: 1 }, log_level: 'warn', auth_file: join(rig.dir, 'fleet-auth.json') }));
  const child = spawn(process.execPath, [BIN, 'fleet', '--mqtt-url', rig.broker.url, '--listen', `127.0.0.1:${port}`, '--config', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(() => void child.kill('SIGKILL'));
  const closed = once(child, 'close');
  await until(() => out.includes('fleet monitor:'), 'the monitor started', 30_000);
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await metric(url, 'kkt_register_up', { gateway_id: 'shop-7', device: 'main' })) === 1, 'shop-7 on /metrics', 30_000);
  t.equal(await metric(url, 'kkt_gateway_up', { gateway_id: 'shop-7' }), 1);
  const list = (await (await fetch(`${url}/api/gateways`)).json()) as { gateways: Array<{ gateway_id: string }> };
  t.same(list.gateways.map((g) => g.gateway_id), ['shop-7'], 'open on loopback: the list without a login');
  child.kill('SIGTERM');
  const [code] = await closed;
  t.equal(code, 0, 'SIGTERM: exit 0', { output: out });

  const badCfg = join(rig.dir, 'bad.json');
  writeFileSync(badCfg, JSON.stringify({ thresholds: { offline_minute: 1 } }));
  const rejected = await run(['fleet', '--mqtt-url', rig.broker.url, '--config', badCfg]);
  t.equal(rejected.code, 78, 'a bad configuration: EX_CONFIG');
  t.match(rejected.stderr, /unknown threshold "offline_minute"/);
  const badListen = await run(['fleet', '--mqtt-url', rig.broker.url, '--listen', 'nowhere']);
  t.equal(badListen.code, 78);
  t.match(badListen.stderr, /HOST:PORT/);
});
