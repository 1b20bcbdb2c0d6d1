/**
 * The register protocols the gateway speaks: one entry each, with the question that recognises it on a port and a
 * factory for its driver. The composition root asks this registry; nothing else outside drivers/ names a protocol.
 * A third protocol = a driver, an emulator front-end, and one entry here.
 */
import type { BytePort } from './transport.ts';
import type { FiscalDriver } from './types.ts';
import { probeAtol, probeShtrih, type ProbeAnswer } from './probe.ts';
import { ShtrihDriver } from './shtrih/driver.ts';
import type { Logger } from './shtrih/protocol.ts';

import type { ProtocolName } from './protocols.ts';

export { PROTOCOLS, type ProtocolName } from './protocols.ts';

export interface DriverParams {
  openPort: () => Promise<BytePort>;
  /** the register's administrator password (Shtrih: operator and sysadmin; ATOL: the mode password) */
  password: number;
  logger: Logger;
  answerTimeoutMs?: number;
}

export interface ProtocolEntry {
  name: ProtocolName;
  /** human name for messages and `kkt-gateway ports` */
  title: string;
  /**
   * Serial speeds to try, most likely first. Registers on USB (CDC-ACM) answer at any speed; over RS-232 a Shtrih is
   * often left at the factory 4800 and installers rarely know the setting.
   */
  bauds: number[];
  /** default TCP port of the register's network interface */
  tcpPort: number;
  probe(port: BytePort, timeoutMs: number): Promise<ProbeAnswer>;
  create(p: DriverParams): Promise<FiscalDriver>;
}

const shtrih: ProtocolEntry = {
  name: 'shtrih',
  title: 'Shtrih-M',
  bauds: [115200, 4800, 9600, 19200, 38400, 57600, 2400],
  tcpPort: 7778,
  probe: probeShtrih,
  create: async (p) =>
    new ShtrihDriver({
      openPort: p.openPort,
      passwords: { operator: p.password, sysadmin: p.password },
      logger: p.logger,
      link: { logger: p.logger, ...(p.answerTimeoutMs ? { defaultAnswerTimeoutMs: p.answerTimeoutMs } : {}) },
    }),
};

const atol: ProtocolEntry = {
  name: 'atol',
  title: 'ATOL',
  bauds: [115200, 57600, 38400, 19200, 9600],
  tcpPort: 5555,
  probe: probeAtol,
  create: async (p) => {
    const { AtolDriver } = await import('./atol/driver.ts');
    return new AtolDriver({
      openPort: p.openPort,
      passwords: { mode: p.password, programming: p.password },
      logger: p.logger,
      link: { logger: p.logger, ...(p.answerTimeoutMs ? { defaultTaskTimeoutMs: p.answerTimeoutMs } : {}) },
    });
  },
};

export const registry: Record<ProtocolName, ProtocolEntry> = { shtrih, atol };

/** The order in which `auto` asks: ATOL's question first (a Shtrih ignores it), then Shtrih's. */
export const PROBE_ORDER: ProtocolEntry[] = [atol, shtrih];
