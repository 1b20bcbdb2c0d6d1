/** Builds a Gateway from a configuration: the one place where the real store, port and driver are made. */
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import type { Config } from './config/index.ts';
import type { Logger } from './log.ts';
import { QueueStore, type QueueOptions } from './queue/store.ts';
import { Gateway } from './service.ts';
import { ShtrihDriver } from '../drivers/shtrih/driver.ts';
import { openPort } from '../drivers/transport.ts';

export interface AppOptions {
  config: Config;
  logger: Logger;
  /** test hook: sees (and may fail) every LevelDB batch, e.g. to play a full disk */
  beforeWrite?: QueueOptions['beforeWrite'];
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
  });
  const driverLog = logger.child({ part: 'driver' });
  const driverFactory = async (): Promise<ShtrihDriver> =>
    new ShtrihDriver({
      openPort: () => openPort(config.device.port, { baudRate: config.device.baud_rate }),
      passwords: { operator: config.device.password, sysadmin: config.device.password },
      logger: driverLog,
      link: { logger: driverLog, ...(config.device.answer_timeout_ms ? { defaultAnswerTimeoutMs: config.device.answer_timeout_ms } : {}) },
    });
  return new Gateway({ config, logger, store, driverFactory, ...(o.backoff ? { backoff: o.backoff } : {}) });
}
