/**
 * `kkt-gateway ports`: asks each candidate port which register answers (protocol, speed), then opens that
 * register's driver to read its model and serial number. Read-only: nothing is printed or fiscalized.
 */
import { registry } from '../../drivers/registry.ts';
import { openPort } from '../../drivers/transport.ts';
import type { DeviceInfo } from '../../drivers/types.ts';
import { describe, detect, type Detected } from './detect.ts';

export interface Identified {
  target: string;
  detected?: Detected;
  info?: Pick<DeviceInfo, 'protocol' | 'model' | 'serial' | 'fnNumber'>;
  /** why nothing answered, or why the port could not be asked */
  problem?: string;
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export async function identify(target: string, opts: { timeoutMs?: number; password?: number } = {}): Promise<Identified> {
  const isTcp = target.startsWith('tcp://');
  const open = (baudRate: number | undefined) => openPort(target, { baudRate: baudRate ?? 115200, connectTimeoutMs: 2000 });
  let detected: Detected | undefined;
  try {
    detected = await detect({ openPort: open, isTcp, protocol: 'auto', baudRate: 115200, timeoutMs: opts.timeoutMs ?? 400 });
  } catch (err) {
    const msg = (err as Error).message;
    return { target, problem: /lock|busy/i.test(msg) ? `in use by another program (the running gateway?): ${msg}` : `cannot be opened: ${msg}` };
  }
  if (!detected) return { target, problem: isTcp ? 'nothing answered (asked as ATOL and as Shtrih-M)' : 'nothing answered (asked as ATOL and as Shtrih-M at the usual speeds)' };
  const found = detected;
  const driver = await registry[found.protocol].create({ openPort: () => open(found.baudRate), password: opts.password ?? 30, logger: quiet });
  try {
    const i = await driver.open();
    return { target, detected: found, info: { protocol: i.protocol, model: i.model, serial: i.serial, fnNumber: i.fnNumber } };
  } catch (err) {
    return { target, detected: found, problem: `${describe(found)} answered, but identifying it failed: ${(err as Error).message}` };
  } finally {
    await driver.close().catch(() => undefined);
  }
}

export function formatIdentified(r: Identified): string {
  if (r.info && r.detected) {
    return `answered: ${describe(r.detected)} — ${r.info.model}, serial ${r.info.serial}${r.info.fnNumber ? `, FN ${r.info.fnNumber}` : ''}`;
  }
  return r.problem ?? 'nothing answered';
}
