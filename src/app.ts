/** Builds a Gateway from a configuration: the one place where the real store, port and driver are made. */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import type { Config, DeviceConfig, PoolDeviceConfig } from './config/index.ts';
import type { Logger } from './log.ts';
import { QueueStore, type QueueOptions } from './queue/store.ts';
import { Gateway } from './service.ts';
import { registry } from '../drivers/registry.ts';
import { openPort } from '../drivers/transport.ts';
import { DriverError, type FiscalDriver } from '../drivers/types.ts';
import { DetectionMemory, describe, detect, type Detected } from './device/detect.ts';

export interface AppOptions {
  config: Config;
  logger: Logger;
  /** test hook: sees (and may fail) every LevelDB batch, e.g. to play a full disk */
  beforeWrite?: QueueOptions['beforeWrite'];
  /** test hook: after every synced batch (a power-cut test keeps a copy of the database at each sync point) */
  afterSync?: QueueOptions['afterSync'];
  /** dispatcher backoff after a device problem (default 200 ms doubling to 10 s) */
  backoff?: { minMs: number; maxMs: number };
}

export async function buildGateway(o: AppOptions): Promise<Gateway> {
  const { config, logger } = o;
  const dir = path.resolve(config.data_dir);
  await fs.mkdir(dir, { recursive: true });
  const store = await QueueStore.open(path.join(dir, 'queue'), {
    maxJobs: config.queue.max_receipts,
    retentionDays: config.queue.retention_days,
    logger: logger.child({ part: 'queue' }),
    ...(o.beforeWrite ? { beforeWrite: o.beforeWrite } : {}),
    ...(o.afterSync ? { afterSync: o.afterSync } : {}),
  });
  const driverFactory = (device: PoolDeviceConfig) => registerDriverFactory(device, dir, logger.child({ part: 'driver', device: device.id }));
  return new Gateway({ config, logger, store, driverFactory, ...(o.backoff ? { backoff: o.backoff } : {}) });
}

/**
 * Makes the register's driver each time the link opens: the configured protocol, or with `auto` the one that
 * answered on the port (asked again at every open, so a replugged or swapped register is found anew).
 */
export function registerDriverFactory(device: DeviceConfig, dataDir: string, logger: Logger): () => Promise<FiscalDriver> {
  const { port, baud_rate, password } = device;
  const memory = DetectionMemory.inDataDir(dataDir);
  const isTcp = port.startsWith('tcp://');
  const open = (baudRate: number | undefined) => openPort(port, { baudRate: baudRate ?? baud_rate });
  let last: Detected | undefined;
  return async () => {
    let found: Detected;
    if (device.protocol === 'auto') {
      const d = await detect({
        openPort: open, isTcp, protocol: 'auto', baudRate: baud_rate, remembered: last ?? (await memory.get(port)),
        onTry: (a) => logger.debug(a, 'asking the port which register it is'),
      });
      if (!d) {
        throw new DriverError('NO_LINK', 'retryable',
          `no register answered on ${port} (asked as ATOL and as Shtrih-M${isTcp ? '' : ', at the usual speeds'}); is it on and is this its port?`);
      }
      if (last?.protocol !== d.protocol || last.baudRate !== d.baudRate) logger.info({ port, ...d }, `register found: ${describe(d)}`);
      last = d;
      await memory.set(port, d).catch((err: Error) => logger.warn({ err: err.message }, 'could not remember the detected register'));
      found = d;
    } else {
      found = { protocol: device.protocol, baudRate: baud_rate };
    }
    return registry[found.protocol].create({
      openPort: () => open(found.baudRate),
      password,
      logger,
      ...(device.answer_timeout_ms ? { answerTimeoutMs: device.answer_timeout_ms } : {}),
    });
  };
}
