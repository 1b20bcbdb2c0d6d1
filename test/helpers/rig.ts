/**
 * A test rig of real parts: a broker (aedes or mosquitto) on loopback TCP, the register emulator on a real
 * pseudo-terminal, and the gateway (in-process, or as a child process) with its LevelDB in a temp dir, plus a
 * "store" MQTT client that publishes receipts and collects results.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Emulator, type EmulatorOptions } from '../../drivers/emulator/emulator.ts';
import { createPty, type Pty } from '../../drivers/emulator/pty.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { buildGateway } from '../../src/app.ts';
import type { Gateway } from '../../src/service.ts';
import { startAedes, startMosquitto, type MosquittoOptions, type TestBroker } from './broker.ts';

export interface ResultMsg {
  external_id: string;
  status: 'accepted' | 'done' | 'fail';
  error: { code: string; type: string; retryable: boolean; field?: string } | null;
  payload: Record<string, unknown> | null;
}

/** Collects messages by topic; waits for predicates. */
export class StoreClient {
  readonly messages: Array<{ topic: string; body: any }> = [];
  private waiters: Array<() => void> = [];

  constructor(readonly client: MqttClient, readonly base: string) {
    client.on('message', (topic, payload) => {
      let body: unknown;
      try {
        body = JSON.parse(payload.toString());
      } catch {
        body = payload.toString();
      }
      this.messages.push({ topic, body });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string, base: string, protocolVersion: 4 | 5 = 4): Promise<StoreClient> {
    const client = await mqtt.connectAsync(url, { protocolVersion, clientId: `store-${process.pid}-${Math.random().toString(16).slice(2)}`, clean: true });
    const sc = new StoreClient(client, base);
    await client.subscribeAsync(`${base}/#`, { qos: 1 });
    return sc;
  }

  results(externalId?: string): ResultMsg[] {
    return this.messages.filter((m) => m.topic === `${this.base}/result` && (externalId === undefined || m.body?.external_id === externalId)).map((m) => m.body as ResultMsg);
  }

  final(externalId: string): ResultMsg | undefined {
    return this.results(externalId).find((r) => r.status !== 'accepted');
  }

  async publish(subtopic: string, body: unknown): Promise<void> {
    await this.client.publishAsync(`${this.base}/${subtopic}`, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1 });
  }

  /** resolves when `pred` holds; rejects after `ms` with `what` */
  async until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** the register protocols the rig can emulate */
export type RigProtocol = 'shtrih' | 'atol';

/** the protocols the gateway-level tests (scenarios, crash, quick chaos) run on */
export const RIG_PROTOCOLS: readonly RigProtocol[] = ['shtrih', 'atol'];

export interface RigOptions {
  /**
   * which emulator front-end serves the pty; the gateway's `device.protocol` is set to it too (give
   * `config.device.protocol: 'auto'` to have the gateway find it by itself). Default 'shtrih'.
   */
  protocol?: RigProtocol;
  broker?: 'aedes' | 'mosquitto';
  brokerOptions?: MosquittoOptions;
  /** passed to the gateway's queue store: sees every LevelDB batch, may fail it */
  beforeWrite?: (ops: readonly unknown[]) => void | Promise<void>;
  /** passed to the gateway's queue store: called after every synced batch */
  afterSync?: () => void | Promise<void>;
  backoff?: { minMs: number; maxMs: number };
  /** a broker the test started itself (the rig does not stop it) */
  externalBroker?: TestBroker;
  emulator?: EmulatorOptions;
  config?: Record<string, any>;
  dir?: string;
  /** a stable symlink for the pty (like /dev/serial/by-id/…); the gateway is configured with it */
  ptyLink?: string;
}

export interface Rig {
  dir: string;
  protocol: RigProtocol;
  broker: TestBroker;
  emulator: Emulator;
  pty: Pty;
  config: Config;
  store: StoreClient;
  gateway?: Gateway;
  startGateway(): Promise<Gateway>;
  stopGateway(): Promise<void>;
  close(): Promise<void>;
}

export async function makeRig(o: RigOptions = {}): Promise<Rig> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'kkt-rig-'));
  const broker = o.externalBroker ?? (o.broker === 'mosquitto' ? await startMosquitto(o.brokerOptions) : await startAedes());
  const protocol = o.protocol ?? 'shtrih';
  const emulator = makeEmulator(protocol, { journalPath: join(dir, 'fn.jsonl'), ...o.emulator });
  // the gateway opens a link of this rig's own, like a by-id link: once this pty is gone it can never reach the
  // pseudo-terminal another test gets under the freed /dev/pts number
  const pty = await createPty({ link: o.ptyLink ?? join(dir, 'tty') });
  emulator.attach(pty.stream);
  const config = parseConfig(
    {
      gateway_id: 'test',
      data_dir: join(dir, 'data'),
      ...o.config,
      mqtt: { url: broker.url, protocol_version: 4, reconnect_min_ms: 200, reconnect_max_ms: 1000, ...o.config?.mqtt },
      device: { port: pty.path, protocol, ...o.config?.device },
      web: { host: '127.0.0.1', port: 0, https_port: 0, ...o.config?.web },
      log: { level: process.env.KKT_TEST_LOG ?? 'silent', ...o.config?.log },
    },
    {},
    'test',
  );
  const store = await StoreClient.connect(broker.url, config.mqtt.base_topic);
  const rig: Rig = {
    dir,
    protocol,
    broker,
    emulator,
    pty,
    config,
    store,
    ...inProcessGateway(() => rig, config, o),
    async close() {
      await rig.stopGateway();
      await store.close();
      emulator.close();
      await pty.close();
      if (!o.externalBroker) await broker.stop();
    },
  };
  return rig;
}

/** startGateway/stopGateway of a rig: the gateway in this process, built from `config`, kept in `holder().gateway` */
export function inProcessGateway(holder: () => { gateway?: Gateway }, config: Config, o: Pick<RigOptions, 'beforeWrite' | 'afterSync' | 'backoff'>): Pick<Rig, 'startGateway' | 'stopGateway'> {
  return {
    async startGateway() {
      const gw = await buildGateway({ config, logger: createLogger({ level: config.log.level, destination: process.stderr as any }), ...(o.beforeWrite ? { beforeWrite: o.beforeWrite } : {}), ...(o.afterSync ? { afterSync: o.afterSync } : {}), backoff: o.backoff ?? { minMs: 50, maxMs: 1000 } });
      const ready = gw.ready();
      gw.start();
      await ready;
      holder().gateway = gw;
      return gw;
    },
    async stopGateway() {
      const h = holder();
      const gw = h.gateway;
      h.gateway = undefined;
      if (gw) {
        await gw.stop(1000);
        await gw.store.close();
      }
    },
  };
}

/** An emulator speaking `protocol` (scripts/chaos uses it too). */
export function makeEmulator(protocol: RigProtocol, opts: EmulatorOptions = {}): Emulator {
  return new Emulator({ ...opts, protocol });
}
