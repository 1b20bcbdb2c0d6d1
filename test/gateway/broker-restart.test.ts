/**
 * Acknowledgements across broker restarts and refused writes (src/mqtt/bridge.ts, src/gateway/outbox.ts), with a
 * real mosquitto:
 * - the broker restarted without persistence while a receipt is being written: the PUBACK of that receipt must not
 *   go out on the next connection. There the broker numbers its messages afresh, so the stale PUBACK would
 *   acknowledge whichever new message has the same packet id — one the gateway has not stored yet. If that write
 *   then fails, the broker does not redeliver it, and the receipt is lost;
 * - a refused write is answered at once and redelivered at once (no stall of the connection);
 * - an outbox entry is removed only after the broker acknowledged it.
 */
import t from 'tap';
import { join } from 'node:path';
import type { IPublishPacket, MqttClient, Packet } from 'mqtt';
import { makeRig, type Rig } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';

const receiptCount = (rig: Rig): number => readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).length;
const mentions = (ops: readonly unknown[], id: string): boolean =>
  ops.some((op) => {
    const { key, value } = op as { key?: unknown; value?: unknown };
    return String(key).includes(id) || (value !== undefined && JSON.stringify(value).includes(id));
  });

t.test('a receipt stored across a broker restart is not acknowledged on the new connection (no stale PUBACK)', async (t) => {
  const A = 'stale-a';
  const B = 'stale-b';
  let releaseA!: () => void;
  const gateA = new Promise<void>((r) => (releaseA = r));
  let reachedA!: () => void;
  const writingA = new Promise<void>((r) => (reachedA = r));
  let heldA = false;
  let failedB = false;
  const rig = await makeRig({
    broker: 'mosquitto',
    brokerOptions: { persistence: false },
    beforeWrite: async (ops) => {
      if (!heldA && mentions(ops, A)) {
        // the disk is slow on A: the broker restarts meanwhile
        heldA = true;
        reachedA();
        await gateA;
      } else if (!failedB && mentions(ops, B)) {
        // B's write fails once: not acknowledged, so the broker must redeliver it
        failedB = true;
        throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      }
    },
  });
  t.teardown(() => rig.close());
  const gw = await rig.startGateway();
  const client = (gw.bridge as unknown as { client: MqttClient }).client;
  // packet ids as the gateway saw them, and the PUBACKs it sent, per connection
  const streams: unknown[] = [];
  const connOf = (): number => (streams.includes(client.stream) ? streams.indexOf(client.stream) : streams.push(client.stream) - 1);
  const received: Array<{ conn: number; id: string; mid: number }> = [];
  const pubacks: Array<{ conn: number; mid: number }> = [];
  client.on('packetreceive', (p: Packet) => {
    if (p.cmd === 'publish') received.push({ conn: connOf(), id: String(JSON.parse(String((p as IPublishPacket).payload)).external_id), mid: (p as IPublishPacket).messageId! });
  });
  client.on('packetsend', (p: Packet) => {
    if (p.cmd === 'puback') pubacks.push({ conn: connOf(), mid: (p as { messageId: number }).messageId });
  });

  await rig.store.publish('receipt', crashReceipt(A, 0));
  await writingA;
  await rig.broker.restart!(); // without persistence: both sessions are gone
  await rig.store.until(() => gw.bridge.connected && rig.store.client.connected, 'gateway and store reconnected', 20_000);
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === `${rig.store.base}/state` && m.body?.state === 'online'), 'gateway online again', 20_000);
  await rig.store.publish('receipt', crashReceipt(B, 1));
  await rig.store.until(() => received.some((r) => r.id === B), 'B delivered to the gateway', 10_000);
  const a = received.find((r) => r.id === A)!;
  const b = received.find((r) => r.id === B)!;
  const connB = b.conn;
  t.not(connB, a.conn, 'precondition: B came on a later connection than A');
  t.equal(b.mid, a.mid, 'precondition: the new session reuses the packet id of the receipt still being written');
  releaseA();

  const done = (id: string): boolean => rig.store.results(id).some((r) => r.status === 'done');
  await rig.store.until(() => done(A) && done(B), 'A and B printed and answered', 30_000).catch((err: Error) => t.fail(err.message));
  t.comment(JSON.stringify({ received, pubacks, connB }));
  t.ok(failedB, 'B failed its first write');
  // B was not stored on connection connB (its write failed there), so nothing with its packet id may be acknowledged
  // on it; A's PUBACK belongs to the connection before the restart, which is gone
  t.same(pubacks.filter((p) => p.conn === connB && p.mid === a.mid), [], 'no PUBACK for that packet id on the connection after the restart');
  t.equal(receiptCount(rig), 2, 'each printed once');
  t.ok(done(A), 'A done');
  t.ok(done(B), 'B done: redelivered after its failed write');
});

t.test('a receipt whose write fails is redelivered at once: the STORAGE answer does not stall the connection', async (t) => {
  // The gateway answers a refused write with a `fail`/STORAGE result from inside the message handler. MQTT.js reads
  // packets one at a time, so waiting there for the broker's PUBACK of that answer stalled every packet (and the
  // pings) until the keepalive timeout: 45 s without receipts.
  const C = 'refused-once';
  let failed = false;
  const rig = await makeRig({
    broker: 'mosquitto',
    beforeWrite: (ops) => {
      if (!failed && mentions(ops, C)) {
        failed = true;
        throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      }
    },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const t0 = Date.now();
  await rig.store.publish('receipt', crashReceipt(C, 0));
  await rig.store
    .until(() => rig.store.results(C).some((r) => r.status === 'done'), 'the receipt printed after its redelivery', 10_000)
    .catch((err: Error) => t.fail(err.message));
  t.ok(failed, 'its first write failed');
  t.same(rig.store.results(C).filter((r) => r.status === 'fail').map((r) => r.error?.code), ['STORAGE'], 'the store was told at once');
  t.ok(Date.now() - t0 < 10_000, `printed ${Date.now() - t0} ms after it was sent (the keepalive is ${rig.config.mqtt.keepalive} s)`);
  t.equal(receiptCount(rig), 1, 'printed once');
});

t.test('an outbox entry leaves the outbox only after the broker acknowledged its publish', async (t) => {
  // results are enqueued and the pump kicked from inside the message handlers, where publish() does not wait for
  // a PUBACK; the pump must not inherit that
  const rig = await makeRig({ broker: 'mosquitto' });
  t.teardown(() => rig.close());
  const gw = await rig.startGateway();
  const client = (gw.bridge as unknown as { client: MqttClient }).client;
  const payloadOfMid = new Map<number, string>();
  const acknowledged = new Set<string>();
  client.on('packetsend', (p: Packet) => {
    if (p.cmd === 'publish' && (p as IPublishPacket).qos > 0) payloadOfMid.set((p as IPublishPacket).messageId!, String((p as IPublishPacket).payload));
  });
  client.on('packetreceive', (p: Packet) => {
    const payload = p.cmd === 'puback' ? payloadOfMid.get((p as { messageId: number }).messageId) : undefined;
    if (payload !== undefined) acknowledged.add(payload);
  });
  const store = gw.store;
  const payloadOfKey = new Map<string, string>();
  const early: string[] = [];
  let acks = 0;
  const batch = store.outboxBatch.bind(store);
  const ack = store.ackOutboxMany.bind(store);
  store.outboxBatch = async (limit) => {
    const entries = await batch(limit);
    for (const e of entries) payloadOfKey.set(e.key, e.payload);
    return entries;
  };
  store.ackOutboxMany = (keys) => {
    for (const key of keys) {
      acks++;
      const payload = payloadOfKey.get(key);
      if (payload === undefined || !acknowledged.has(payload)) early.push(payload ?? key);
    }
    return ack(keys);
  };
  const ids = Array.from({ length: 20 }, (_, i) => `ob-ack-${i}`);
  for (const [i, id] of ids.entries()) await rig.store.publish('receipt', crashReceipt(id, i));
  await rig.store.until(() => ids.every((id) => rig.store.results(id).some((r) => r.status === 'done')), 'all printed', 30_000);
  await rig.store.until(() => store.outboxDepth() === 0, 'outbox empty', 10_000);
  t.ok(acks >= 40, `${acks} outbox entries removed (an accepted and a done result per receipt)`);
  t.same(early, [], 'none removed before the broker acknowledged it');
});
