/**
 * The bridge takes the messages that arrive together at once (not one at a time, as MQTT.js would hand them over)
 * and acknowledges each only after its handler resolved, in arrival order, on the connection it came on. A real
 * mosquitto over TCP; the publisher is a plain MQTT.js client whose QoS 1 callbacks are the PUBACKs.
 */
import t from 'tap';
import mqtt from 'mqtt';
import { startMosquitto } from '../helpers/broker.ts';
import { MqttBridge } from '../../src/mqtt/bridge.ts';
import { createLogger } from '../../src/log.ts';
import { parseConfig } from '../../src/config/index.ts';
import { Writable } from 'node:stream';

const sink = new Writable({ write: (_c, _e, cb) => cb() });

function bridgeConfig(url: string, id: string) {
  return parseConfig({ device: { port: '/dev/null' }, mqtt: { url, base_topic: `t/${id}`, client_id: id } }).mqtt;
}

/** the PUBACKs the bridge's own client writes, by message id, with the payload of the message each acknowledges */
type Acks = { sent: string[]; ids: Map<number, string> };

async function startBridge(url: string, id: string, onMessage: (topic: string, payload: Buffer) => Promise<void>, acks?: Acks): Promise<MqttBridge> {
  const connect = (u: string, o: mqtt.IClientOptions): mqtt.MqttClient => {
    const c = mqtt.connect(u, o);
    if (acks) {
      c.on('packetreceive', (p) => void (p.cmd === 'publish' && p.messageId !== undefined && acks.ids.set(p.messageId, p.payload.toString())));
      c.on('packetsend', (p) => void (p.cmd === 'puback' && acks.sent.push(acks.ids.get(p.messageId!) ?? '?')));
    }
    return c;
  };
  const bridge = new MqttBridge({ mqtt: bridgeConfig(url, id), logger: createLogger({ destination: sink, level: 'silent' }), onMessage, connect });
  const up = new Promise<void>((resolve) => bridge.once('connect', () => resolve()));
  bridge.start();
  await up;
  return bridge;
}

t.test('messages arriving together are handled together; each PUBACK only after its handler resolved, in order', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const n = 20;
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const acks: Acks = { sent: [], ids: new Map() };
  const acked = acks.sent;
  const allStarted = new Promise<void>((resolve) => {
    void startBridge(broker.url, `ga-${process.pid}`, (_topic, payload) => {
      const id = payload.toString();
      started.push(id);
      if (started.length === n) resolve();
      return new Promise<void>((r) => release.set(id, r));
    }, acks).then((b) => t.teardown(() => b.stop()));
  });
  // wait for the bridge's subscription
  await new Promise((r) => setTimeout(r, 300));
  const pub = await mqtt.connectAsync(broker.url, { clientId: `pub-${process.pid}`, clean: true });
  t.teardown(() => pub.endAsync(true));
  await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(`t/ga-${process.pid}/receipt`, String(i), { qos: 1 })));
  await allStarted;
  t.equal(started.length, n, `all ${n} handlers run before any of them resolved (not one message at a time)`);
  t.same(started, Array.from({ length: n }, (_, i) => String(i)), 'handlers start in arrival order');
  await new Promise((r) => setTimeout(r, 200));
  t.same(acked, [], 'no PUBACK while every handler is still storing');
  // resolve the later half first: none of them may be acknowledged before the earlier messages are
  for (let i = n - 1; i >= n / 2; i--) release.get(String(i))!();
  await new Promise((r) => setTimeout(r, 200));
  t.same(acked, [], 'stored messages behind an unstored one wait for it (PUBACKs in arrival order)');
  for (let i = 0; i < n / 2; i++) release.get(String(i))!();
  const deadline = Date.now() + 5000;
  while (acked.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(acked, Array.from({ length: n }, (_, i) => String(i)), 'every message acknowledged once stored, in arrival order');
});

t.test('a handler that fails: no PUBACK for it nor for anything after it on that connection; all of it redelivered', async (t) => {
  const broker = await startMosquitto();
  t.teardown(() => broker.stop());
  const id = `gf-${process.pid}`;
  const seen = new Map<string, number>();
  let failOnce = true;
  const bridge = await startBridge(broker.url, id, async (_topic, payload) => {
    const m = payload.toString();
    seen.set(m, (seen.get(m) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 20));
    if (m === '3' && failOnce) {
      failOnce = false;
      throw new Error('disk refused the write');
    }
  });
  t.teardown(() => bridge.stop());
  const pub = await mqtt.connectAsync(broker.url, { clientId: `pubf-${process.pid}`, clean: true });
  t.teardown(() => pub.endAsync(true));
  await Promise.all(Array.from({ length: 8 }, (_, i) => pub.publishAsync(`t/${id}/receipt`, String(i), { qos: 1 })));
  // the publisher's PUBACKs come from the broker; wait until every message reached the bridge after the reconnect
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !(seen.get('3') === 2 && [...seen.keys()].length === 8)) await new Promise((r) => setTimeout(r, 50));
  t.equal(seen.get('3'), 2, 'the failed message is redelivered after the reconnect');
  for (const m of ['0', '1', '2']) t.equal(seen.get(m), 1, `message ${m}, stored and acknowledged before the failure, is not redelivered`);
  // what came after the failed one was not acknowledged on the dropped connection: redelivered as well (or, if it
  // had not reached the bridge yet, delivered once)
  for (const m of ['4', '5', '6', '7']) t.ok((seen.get(m) ?? 0) >= 1, `message ${m} delivered`);
});
