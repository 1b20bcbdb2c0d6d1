/**
 * Two mosquittos bridged, as in docs/fleet.md: the shop's broker (the gateway's) bridges to the central one (the
 * store's). The bridge configuration is the one the doc shows, written by this test into a temp dir. A receipt
 * published on the central broker reaches the real gateway process on the shop broker and its result comes back on
 * the central broker; the retained state and health are served by the central broker; a gateway killed with
 * SIGKILL (no DISCONNECT) has its last will cross the bridge.
 */
import t from 'tap';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { makeRig, StoreClient } from '../helpers/rig.ts';
import { startMosquitto } from '../helpers/broker.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { docBlock } from './doc-blocks.ts';

/**
 * The shop broker's bridge section: the connection (here plain TCP on loopback, the site's own part in the doc)
 * followed verbatim by the doc's tested block, with the bridge's client id set to `name`.
 */
function bridgeConfig(name: string, centralPort: number): string {
  const block = docBlock('bridge-config');
  if (!/^remote_clientid \S+$/m.test(block)) throw new Error('the bridge block has no remote_clientid line');
  return [`connection ${name}`, `address 127.0.0.1:${centralPort}`, block.replace(/^remote_clientid \S+$/m, `remote_clientid ${name}`)].join('\n');
}

/** every retained message under `filter` the broker holds now (a fresh subscription's retained burst) */
async function retainedOn(url: string, filter: string, expect: number, ms = 10_000): Promise<Map<string, unknown>> {
  const probe: MqttClient = await mqtt.connectAsync(url, { clientId: `probe-${process.pid}-${Math.random().toString(16).slice(2)}`, clean: true });
  const got = new Map<string, unknown>();
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${got.size} of ${expect} retained messages under ${filter}: ${[...got.keys()].join(', ')}`)), ms);
      probe.on('message', (topic, payload, packet) => {
        if (!packet.retain) return;
        got.set(topic, JSON.parse(payload.toString()));
        if (got.size >= expect) {
          clearTimeout(timer);
          resolve();
        }
      });
      probe.subscribe(filter, { qos: 1 });
    });
  } finally {
    await probe.endAsync(true);
  }
  return got;
}

t.test('shop broker bridged to a central one: receipts in, results, state, health and the last will out', async (t) => {
  const central = await startMosquitto();
  t.teardown(() => central.stop());
  const shop = await startMosquitto({ extraConfig: bridgeConfig('bridge-shop-1', central.port) });
  t.teardown(() => shop.stop());

  // the bridge is up when its notification on the central broker says 1
  const watcher = await StoreClient.connect(central.url, '$SYS/broker/connection/bridge-shop-1');
  t.teardown(() => watcher.close());
  await watcher.until(() => watcher.messages.some((m) => m.topic.endsWith('/state') && String(m.body) === '1'), 'the bridge connected to the central broker');

  const rig = await makeRig({ externalBroker: shop, config: { gateway_id: 'shop-1', mqtt: { health_interval: 1 } } });
  t.teardown(async () => {
    await rig.close();
    rmSync(rig.dir, { recursive: true, force: true });
  });
  t.equal(rig.config.mqtt.base_topic, 'kkt/shop-1');
  const store = await StoreClient.connect(central.url, 'kkt/shop-1');
  t.teardown(() => store.close());

  const gw = startGatewayProcess(rig.config, rig.dir);
  t.teardown(() => void gw.child.kill('SIGKILL'));
  const stateOn = (c: StoreClient, s: string): boolean => c.messages.some((m) => m.topic === 'kkt/shop-1/state' && m.body?.state === s);
  await store.until(() => stateOn(store, 'online'), 'online on the central broker', 30_000).catch((err) => {
    throw new Error(`${err.message}\n${gw.output().split('\n').slice(-20).join('\n')}`);
  });
  await store.until(() => store.messages.some((m) => m.topic === 'kkt/shop-1/health'), 'health on the central broker');

  // a receipt from the central broker: fiscalized on the shop's register, its result back on the central broker
  await store.publish('receipt', sampleReceipt('bridged-1'));
  await store.until(() => store.final('bridged-1') !== undefined, 'the result on the central broker', 30_000);
  t.same(store.results('bridged-1').map((r) => r.status), ['accepted', 'done'], 'accepted, then done, on the central broker');
  // the same through the shop broker (the rig's own client there): one result of each, none looped back
  await rig.store.until(() => rig.store.final('bridged-1') !== undefined, 'the result on the shop broker');
  t.same(rig.store.results('bridged-1').map((r) => r.status), ['accepted', 'done'], 'the shop broker saw the same results once');

  // a request/response command crosses too
  await store.publish('request/status', { transaction: 'st-1' });
  await store.until(() => store.messages.some((m) => m.topic === 'kkt/shop-1/response/status' && m.body?.transaction === 'st-1'), 'the status response on the central broker');
  const resp = store.messages.find((m) => m.topic === 'kkt/shop-1/response/status')!.body;
  t.equal(resp.status, 'ok');
  t.equal(resp.data?.gateway_id, 'shop-1');

  // retained on the central broker: a client that subscribes now gets state and health from it
  const retained = await retainedOn(central.url, 'kkt/shop-1/#', 2);
  t.same(retained.get('kkt/shop-1/state'), { state: 'online' }, 'retained online on the central broker');
  t.equal((retained.get('kkt/shop-1/health') as { gateway_id?: string })?.gateway_id, 'shop-1', 'retained health on the central broker');

  // printed once
  const receipts = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(receipts.length, 1, 'one receipt in the FN journal');

  // SIGKILL: no DISCONNECT, the shop broker publishes the last will, the bridge carries it
  gw.child.kill('SIGKILL');
  await gw.exited;
  await store.until(() => stateOn(store, 'offline'), 'the last will (offline) on the central broker', 30_000);
  const after = await retainedOn(central.url, 'kkt/shop-1/state', 1);
  t.same(after.get('kkt/shop-1/state'), { state: 'offline' }, 'offline retained on the central broker');
});
