/**
 * A pool rig: several register emulators (Shtrih-M and ATOL), each on its own real pseudo-terminal with its own FN,
 * one broker and one gateway (in-process, or as a child process from the written config file) configured with
 * `devices: [...]`, plus the "store" MQTT client.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Emulator, EmulatorOptions } from '../../drivers/emulator/emulator.ts';
import type { JournalIdentity } from '../../drivers/emulator/journal.ts';
import { createPty, type Pty } from '../../drivers/emulator/pty.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import type { Gateway } from '../../src/service.ts';
import { startAedes, startMosquitto, type TestBroker } from './broker.ts';
import { StoreClient, inProcessGateway, makeEmulator, type RigProtocol } from './rig.ts';

export interface PoolRegisterSpec {
  id: string;
  name?: string;
  protocol: RigProtocol;
  /** the emulated FN's identity (INN, taxation systems…); a distinct FN serial is given to each anyway */
  identity?: Partial<JournalIdentity>;
  emulator?: EmulatorOptions;
  /** more settings of this register in `devices[]` */
  device?: Record<string, unknown>;
}

export interface PoolRig {
  dir: string;
  broker: TestBroker;
  emulators: Map<string, Emulator>;
  ptys: Map<string, Pty>;
  config: Config;
  /** the same configuration as a file, for a gateway child process */
  configFile: string;
  store: StoreClient;
  gateway?: Gateway;
  /** the FN journal file of a register */
  journalOf(id: string): string;
  startGateway(): Promise<Gateway>;
  stopGateway(): Promise<void>;
  close(): Promise<void>;
}

/** a 16-digit FN serial, distinct per register of the rig */
export const fnSerialOf = (i: number): string => `99604403${String(100000 + i).padStart(8, '0')}`;

export async function makePoolRig(o: {
  registers: PoolRegisterSpec[];
  broker?: 'aedes' | 'mosquitto';
  config?: Record<string, any>;
  backoff?: { minMs: number; maxMs: number };
  baseTopic?: string;
}): Promise<PoolRig> {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-pool-'));
  const broker = o.broker === 'mosquitto' ? await startMosquitto({ persistence: false }) : await startAedes();
  const emulators = new Map<string, Emulator>();
  const ptys = new Map<string, Pty>();
  const journalOf = (id: string): string => join(dir, `fn-${id}.jsonl`);
  const devices: Record<string, unknown>[] = [];
  for (const [i, r] of o.registers.entries()) {
    const emulator = makeEmulator(r.protocol, { journalPath: journalOf(r.id), ...r.emulator, identity: { fnSerial: fnSerialOf(i), kktSerial: `00123456789${String(10000 + i)}`, ...r.identity } });
    const pty = await createPty({ link: join(dir, `tty-${r.id}`) }); // a private link, as in rig.ts
    emulator.attach(pty.stream);
    emulators.set(r.id, emulator);
    ptys.set(r.id, pty);
    devices.push({ id: r.id, ...(r.name ? { name: r.name } : {}), port: pty.path, protocol: r.protocol, ...r.device });
  }
  const raw = {
    gateway_id: 'pool',
    data_dir: join(dir, 'data'),
    ...o.config,
    mqtt: { url: broker.url, protocol_version: 4, reconnect_min_ms: 200, reconnect_max_ms: 1000, ...(o.baseTopic ? { base_topic: o.baseTopic } : {}), ...o.config?.mqtt },
    devices,
    web: { host: '127.0.0.1', port: 0, ...o.config?.web },
    log: { level: process.env.KKT_TEST_LOG ?? 'silent', ...o.config?.log },
  };
  const config = parseConfig(raw, {}, 'pool');
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(raw, null, 2));
  const store = await StoreClient.connect(broker.url, config.mqtt.base_topic);
  const rig: PoolRig = {
    dir,
    broker,
    emulators,
    ptys,
    config,
    configFile,
    store,
    journalOf,
    ...inProcessGateway(() => rig, config, o),
    async close() {
      await rig.stopGateway();
      await store.close();
      for (const e of emulators.values()) e.close();
      for (const p of ptys.values()) await p.close();
      await broker.stop();
    },
  };
  return rig;
}
