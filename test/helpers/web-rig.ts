/** The web app over a real gateway (the rig: broker, emulator on a pty, LevelDB), its config saved to a file. */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { makeRig, type Rig } from './rig.ts';
import { buildWebApp, authFileIn, type WebDeps } from '../../src/web/server.ts';
import { createLogger, LogRing } from '../../src/log.ts';
import { saveConfig } from '../../src/config/index.ts';
import type { Gateway } from '../../src/service.ts';
import { logOf } from './web-client.ts';

export interface WebRig {
  rig: Rig;
  gw: Gateway;
  app: FastifyInstance;
  configFile: string;
  ring: LogRing;
}

/** `secrets` are masked in the web logger's lines, as main.ts does with the configured ones */
export async function makeWebRig(rigConfig: Record<string, any>, secrets: string[], extra: Partial<WebDeps> = {}): Promise<WebRig> {
  const rig = await makeRig({ config: rigConfig });
  const gw = await rig.startGateway();
  const configFile = join(rig.dir, 'config.json');
  await saveConfig(configFile, rig.config);
  const ring = new LogRing();
  const logger = createLogger({ level: 'info', ring, destination: { write: () => true } as never, secrets });
  const app = await buildWebApp({
    logger,
    ring,
    authFile: authFileIn(rig.config.data_dir),
    configFile,
    gateway: gw,
    listPorts: async () => [{ path: rig.pty.path, byId: '/dev/serial/by-id/usb-SHTRIH-M_ShtrihFR-F-if00', vendorId: '1fc9', productId: '0083', family: 'shtrih', note: 'Shtrih-M (CDC)' }],
    loginPerMinute: 5,
    ...extra,
  });
  logOf.set(app, () => ring.recent());
  return { rig, gw, app, configFile, ring };
}
