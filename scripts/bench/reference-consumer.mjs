/**
 * P1's baseline: the least a durable MQTT consumer can do — MQTT.js with a persistent session, and for each QoS 1
 * message one synced LevelDB put, then the PUBACK. No validation, no result message. Plain JavaScript run by a
 * plain `node`, like the gateway's production bundle; started by scripts/bench/ingest.ts and memstart.ts:
 *
 *   node scripts/bench/reference-consumer.mjs URL TOPIC DIR subscribe|idle|COUNT
 *
 * `subscribe` creates the session and exits; `idle` stays connected until SIGTERM (for its memory); with COUNT it
 * takes COUNT messages and prints `{"ms": CONNACK → the COUNT-th put synced, "cpuMs": user+system CPU meanwhile}`.
 */
import mqtt from 'mqtt';
import { Level } from 'level';

const [url, topic, dir, what] = process.argv.slice(2);
const db = new Level(dir, { valueEncoding: 'utf8' });
await db.open();
const count = Number(what) || 0;
let n = 0;
let t0 = 0;
let cpu0 = process.cpuUsage();
const client = mqtt.connect(url, { clientId: 'bench-reference', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
client.handleMessage = (packet, done) => {
  db.put(`m/${String(++n).padStart(10, '0')}`, packet.payload.toString(), { sync: true }).then(() => {
    done(); // → PUBACK
    if (n === count) finish();
  }, done);
};
client.on('connect', async () => {
  if (t0 === 0) {
    t0 = performance.now();
    cpu0 = process.cpuUsage();
  }
  if (count > 0) return;
  await client.subscribeAsync(topic, { qos: 1 });
  if (what === 'subscribe') finish();
  else process.stdout.write('{"ready":true}\n');
});
process.once('SIGTERM', finish);

function finish() {
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  client.end(false, {}, async () => {
    await db.close();
    process.stdout.write(`${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
  });
}
