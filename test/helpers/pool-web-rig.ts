/** The web app over a pool rig's gateway (several register emulators on ptys, one broker, LevelDB on disk). */
import type { FastifyInstance } from 'fastify';
import { makePoolRig, type PoolRegisterSpec, type PoolRig } from './pool-rig.ts';
import { buildWebApp, authFileIn } from '../../src/web/server.ts';
import { createLogger, LogRing } from '../../src/log.ts';
import type { Gateway } from '../../src/service.ts';
import { logOf } from './web-client.ts';

export interface PoolWebRig {
  rig: PoolRig;
  gw: Gateway;
  app: FastifyInstance;
  /** the configuration file the settings page saves (the rig's, with `devices`) */
  configFile: string;
  close(): Promise<void>;
}

export async function makePoolWebRig(registers: PoolRegisterSpec[], config: Record<string, any> = {}): Promise<PoolWebRig> {
  const rig = await makePoolRig({ registers, config });
  const gw = await rig.startGateway();
  const ring = new LogRing();
  const app = await buildWebApp({
    logger: createLogger({ level: 'info', ring, destination: { write: () => true } as never }),
    ring,
    authFile: authFileIn(rig.config.data_dir),
    configFile: rig.configFile,
    gateway: gw,
    listPorts: async () => [...rig.ptys.values()].map((p) => ({ path: p.path, note: 'pty' })),
    loginPerMinute: 50,
  });
  logOf.set(app, () => ring.recent());
  return {
    rig,
    gw,
    app,
    configFile: rig.configFile,
    async close() {
      await app.close();
      await rig.close();
    },
  };
}

/** the Shtrih-M «Касса общего зала» and the ATOL «Бар» of the web tests */
export const TWO_REGISTERS: PoolRegisterSpec[] = [
  { id: 'hall', name: 'Касса общего зала', protocol: 'shtrih' },
  { id: 'bar', name: 'Бар', protocol: 'atol' },
];
