import t from 'tap';
import { mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, redactConfig, saveConfig, secretValues } from '../../src/config/index.ts';

t.test('defaults for everything but the port; ids from the host name', async (t) => {
  const c = parseConfig({ device: { port: '/dev/ttyACM0' } }, {}, 'pi-kassa');
  t.equal(c.gateway_id, 'pi-kassa');
  t.equal(c.mqtt.base_topic, 'kkt/pi-kassa');
  t.equal(c.mqtt.client_id, 'kkt-gateway-pi-kassa');
  t.equal(c.mqtt.url, 'mqtt://localhost:1883');
  t.equal(c.device?.baud_rate, 115200);
  t.equal(c.queue.max_receipts, 100000);
  t.equal(c.shift.close_at, '03:00');
  t.equal(c.security.signing.enabled, false);
});

t.test('flags override the file', async (t) => {
  const c = parseConfig({ device: { port: '/dev/ttyACM0' }, mqtt: { url: 'mqtt://a:1883' } }, { mqttUrl: 'mqtts://b:8883', baseTopic: 'shops/1', device: 'tcp://10.0.0.5:7778', dataDir: '/srv/kkt', webPort: 9090 }, 'h');
  t.equal(c.mqtt.url, 'mqtts://b:8883');
  t.equal(c.mqtt.base_topic, 'shops/1');
  t.equal(c.device?.port, 'tcp://10.0.0.5:7778');
  t.equal(c.data_dir, '/srv/kkt');
  t.equal(c.web.port, 9090);
});

t.test('every bad field is named', async (t) => {
  const err = (() => {
    try {
      parseConfig({ mqtt: { url: 'http://x', protocol_version: 3, bogus: 1 }, shift: { close_at: '25:00' }, queue: { max_receipts: 0 } }, {}, 'h');
    } catch (e) {
      return e;
    }
  })() as ConfigError;
  t.ok(err instanceof ConfigError);
  const fields = err.problems.map((p) => p.field).sort();
  t.same(fields, ['device', 'mqtt.bogus', 'mqtt.protocol_version', 'mqtt.url', 'queue.max_receipts', 'shift.close_at'].sort());
  t.match(err.problems.find((p) => p.field === 'mqtt.bogus')?.message, /unknown setting/);
  await t.rejects(loadConfig(join(mkdtempSync(join(tmpdir(), 'kkt-cfg-')), 'none.json')), ConfigError, 'a missing file leaves the port missing');
});

t.test('secrets are redacted and listed; saved atomically with mode 0600', async (t) => {
  const c = parseConfig({ device: { port: 'p' }, mqtt: { password: 'hunter2-long' }, security: { signing: { keys: [{ id: 'k1', secret: 'sixteen-chars-secret!' }] } } }, {}, 'h');
  const r = redactConfig(c);
  t.equal(r.mqtt.password, '***');
  t.equal(r.security.signing.keys[0]?.secret, '***');
  t.equal(c.mqtt.password, 'hunter2-long', 'the original is untouched');
  t.same(secretValues(c).sort(), ['hunter2-long', 'sixteen-chars-secret!'].sort());
  const dir = mkdtempSync(join(tmpdir(), 'kkt-cfg-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, '{"old": true}');
  await saveConfig(file, c);
  t.same(JSON.parse(readFileSync(file, 'utf8')).device.port, 'p');
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.same(readdirSync(dir), ['config.json'], 'no temp file left behind');
  t.same((await loadConfig(file, {}, 'h')).mqtt.password, 'hunter2-long', 'round trip');
});

t.test('devices: a pool of registers; `device` is a pool of one; --device ID=PATH / PATH', async (t) => {
  const { registersOf } = await import('../../src/config/devices.ts');
  const one = parseConfig({ device: { port: '/dev/ttyACM0' } }, {}, 'h');
  t.same(registersOf(one).map((d) => [d.id, d.port, d.protocol]), [['kkt1', '/dev/ttyACM0', 'auto']], 'a single device is register kkt1');
  const pool = parseConfig({ devices: [{ id: 'hall', name: 'Касса общего зала', port: '/dev/ttyACM0' }, { id: 'bar', port: 'tcp://10.0.0.7:5555', protocol: 'atol', company_inn: '7707083893' }] }, {}, 'h');
  t.same(registersOf(pool).map((d) => [d.id, d.name ?? '', d.protocol, d.baud_rate]), [['hall', 'Касса общего зала', 'auto', 115200], ['bar', '', 'atol', 115200]], 'defaults per register');
  const bad = (input: unknown, o = {}): string[] => {
    try {
      parseConfig(input, o, 'h');
      return [];
    } catch (e) {
      return (e as ConfigError).problems.map((p) => `${p.field}: ${p.message}`);
    }
  };
  t.match(bad({ device: { port: 'a' }, devices: [{ id: 'x', port: 'b' }] }), [/^devices: give either/], 'not both');
  t.match(bad({ devices: [{ id: 'x', port: 'a' }, { id: 'x', port: 'b' }] }), [/^devices\.1\.id: /], 'ids unique');
  t.match(bad({ devices: [{ id: 'x', port: 'a' }, { id: 'y', port: 'a' }] }), [/^devices\.1\.port: /], 'ports unique');
  t.match(bad({ devices: [{ port: 'a' }] }), [/devices\.0\.id/], 'an id is required in devices');
  t.match(bad({ devices: [] }), [/devices/], 'at least one');

  const flags = parseConfig({ device: { port: '/dev/old', protocol: 'shtrih' } }, { device: ['/dev/ttyACM0', 'bar=tcp://127.0.0.1:5555'] }, 'h');
  t.same(registersOf(flags).map((d) => [d.id, d.port, d.protocol]), [['kkt1', '/dev/ttyACM0', 'shtrih'], ['bar', 'tcp://127.0.0.1:5555', 'shtrih']], 'repeated --device: a pool; the file\'s device settings are the defaults');
  const single = parseConfig({ device: { port: '/dev/old' } }, { device: ['/dev/new'] }, 'h');
  t.equal(registersOf(single)[0]!.port, '/dev/new', 'one plain --device sets the port, as always');
  t.equal(single.devices, undefined);
  const named = parseConfig({ devices: [{ id: 'hall', port: '/dev/a' }, { id: 'bar', port: '/dev/b' }] }, { device: ['bar=/dev/c'] }, 'h');
  t.same(registersOf(named).map((d) => `${d.id}=${d.port}`), ['hall=/dev/a', 'bar=/dev/c'], 'ID=PATH sets that register\'s port');
});
