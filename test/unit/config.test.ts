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
