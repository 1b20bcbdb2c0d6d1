/**
 * The bridge's MQTT client writes packet numbers without mqtt-packet's table of 65,536 pre-made Buffers (MQTT.js
 * `writeCache: false`): that table is ~6.5 MB of heap for the life of the process (issue 17, P4). A real mosquitto;
 * messages both ways (the bridge's retained `online`, a QoS 1 receipt and its PUBACK, a publish of the gateway's).
 */
import t from 'tap';
import mqtt from 'mqtt';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { startMosquitto } from '../helpers/broker.ts';
import { MqttBridge } from '../../src/mqtt/bridge.ts';
import { createLogger } from '../../src/log.ts';
import { parseConfig } from '../../src/config/index.ts';

// mqtt-packet as MQTT.js itself loads it (a dependency of mqtt, not of ours)
const fromMqtt = createRequire(createRequire(import.meta.url).resolve('mqtt'));
const numbers = fromMqtt('mqtt-packet/numbers.js') as { cache: Record<number, Buffer> };
const packet = fromMqtt('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };

t.test('no pre-made number table once the bridge has exchanged packets', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const id = `nc-${process.pid}`;
  const got: string[] = [];
  const bridge = new MqttBridge({
    mqtt: parseConfig({ device: { port: '/dev/null' }, mqtt: { url: broker.url, base_topic: `t/${id}`, client_id: id } }).mqtt,
    logger: createLogger({ destination: new Writable({ write: (_c, _e, cb) => cb() }), level: 'silent' }),
    onMessage: async (_topic, payload) => void got.push(payload.toString()),
  });
  const up = new Promise<void>((resolve) => bridge.once('connect', () => resolve()));
  bridge.start();
  t.teardown(() => bridge.stop());
  await up;
  const store = await mqtt.connectAsync(broker.url, { clientId: `nc-store-${process.pid}`, clean: true });
  t.teardown(() => store.endAsync(true));
  const results = new Promise<Buffer>((resolve) => store.on('message', (_topic, payload) => resolve(payload)));
  await store.subscribeAsync(`t/${id}/result/#`, { qos: 1 });
  await store.publishAsync(`t/${id}/receipt`, 'r-1', { qos: 1 });
  await bridge.publish(`t/${id}/result/r-1`, '{"status":"done"}');
  t.equal((await results).toString(), '{"status":"done"}', 'a message from the bridge arrives');
  t.same(got, ['r-1'], 'a message to the bridge is handled (and acknowledged: publishAsync resolved)');
  t.equal(packet.writeToStream.cacheNumbers, false, 'mqtt-packet writes numbers without its cache');
  t.equal(Object.keys(numbers.cache).length, 0, 'the 65,536-entry table was never built');
});
