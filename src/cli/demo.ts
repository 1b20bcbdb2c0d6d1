/**
 * `kkt-gateway demo`: an embedded MQTT broker (aedes) on localhost, the register emulator on a TCP port of
 * 127.0.0.1, and the gateway between them; publishes a sample 3-item receipt and prints its results.
 * Needs nothing beyond `npm ci`: no socat, no mosquitto, no build tools.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Aedes } from 'aedes';
import { parseConfig } from '../config/index.ts';
import { createLogger } from '../log.ts';
import { buildGateway } from '../app.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import type { ProtocolName } from '../../drivers/protocols.ts';
import { sampleReceipt } from './sample.ts';

async function listen(server: Server, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  try {
    await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
  } catch {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  }
  return (server.address() as AddressInfo).port;
}

/** The demo's register: where the gateway reaches it (`device.port`), and how to stop it. */
interface DemoRegister {
  port: string;
  close(): Promise<void>;
}

/**
 * The one place that makes the demo's register: the emulator on a TCP port of 127.0.0.1 (`tcp://…`, which the
 * driver speaks like a tty), so no external tool is needed. The same link options as `kkt-emulator --tcp`.
 */
async function startRegister(journalPath: string, protocol: ProtocolName): Promise<DemoRegister> {
  const emulator = new Emulator({ journalPath, protocol });
  // a Shtrih register over TCP sends a 0xFF filler after each ACK of the host (ATOL has no ACK byte)
  const linkOpts = protocol === 'shtrih' ? { fillerAfterAck: true } : {};
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    emulator.attach(socket, linkOpts);
  });
  const port = await listen(server, 0);
  return {
    port: `tcp://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      emulator.close();
    },
  };
}

export async function demo(opts: { once: boolean; protocol?: ProtocolName }): Promise<number> {
  const out = (s: string): boolean => process.stdout.write(`${s}\n`);
  const dir = mkdtempSync(join(tmpdir(), 'kkt-demo-'));

  const broker = await Aedes.createBroker();
  const server = createServer((s: Socket) => broker.handle(s));
  const port = await listen(server, 1883);
  const url = `mqtt://127.0.0.1:${port}`;

  const protocol = opts.protocol ?? 'shtrih';
  const register = await startRegister(join(dir, 'fn-journal.jsonl'), protocol);

  const config = parseConfig({
    gateway_id: 'demo',
    data_dir: join(dir, 'data'),
    mqtt: { url, protocol_version: 4, health_interval: 60 },
    device: { port: register.port },
    web: { port: 0 },
    log: { level: 'warn' },
  });
  const gw = await buildGateway({ config, logger: createLogger({ level: 'warn' }) });
  gw.start();

  out(`broker    ${url} (aedes, embedded)`);
  out(`register  ${protocol === 'atol' ? 'ATOL' : 'Shtrih-M'} emulator on ${register.port}, found by the gateway itself (journal ${join(dir, 'fn-journal.jsonl')})`);
  out(`gateway   base topic ${config.mqtt.base_topic}, data in ${config.data_dir}`);

  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `kkt-demo-store-${process.pid}` });
  await client.subscribeAsync(`${config.mqtt.base_topic}/result`, { qos: 1 });
  const externalId = `demo-${Date.now()}`;
  const done = new Promise<void>((resolve) => {
    client.on('message', (_topic, payload) => {
      const r = JSON.parse(payload.toString()) as { external_id: string; status: string };
      out(`result    ${payload.toString()}`);
      if (r.external_id === externalId && r.status !== 'accepted') resolve();
    });
  });
  const body = JSON.stringify(sampleReceipt(externalId));
  out(`publish   ${config.mqtt.base_topic}/receipt ← 3 items paid by card, external_id ${externalId}`);
  await client.publishAsync(`${config.mqtt.base_topic}/receipt`, body, { qos: 1 });
  await done;

  out('');
  out('Publish another receipt with any MQTT client, e.g.:');
  out(`  mosquitto_pub -h 127.0.0.1 -p ${port} -q 1 -t ${config.mqtt.base_topic}/receipt -m '${body.replace(externalId, 'my-order-1')}'`);
  out(`  mosquitto_sub -h 127.0.0.1 -p ${port} -v -t '${config.mqtt.base_topic}/#'`);
  let closeWeb = async (): Promise<void> => undefined;
  if (!opts.once) {
    // the web page too, on localhost only (its password is asked at first visit; kept in the demo's temp dir)
    const { buildWebApp } = await import('../web/server.ts');
    const web = await buildWebApp({ logger: createLogger({ level: 'warn' }), authFile: join(dir, 'web-auth.json'), configFile: join(dir, 'config.json'), gateway: gw });
    const probe = createServer();
    const webPort = await listen(probe, 8080);
    await new Promise<void>((r) => probe.close(() => r()));
    await web.listen({ host: '127.0.0.1', port: webPort });
    closeWeb = () => web.close();
    out(`web page  http://127.0.0.1:${webPort}/ (set a password at the first visit)`);
    out('Ctrl-C stops the demo.');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  }
  await client.endAsync();
  await closeWeb();
  await gw.stop();
  await gw.store.close();
  await register.close();
  await new Promise<void>((r) => broker.close(() => r()));
  server.close();
  return 0;
}
