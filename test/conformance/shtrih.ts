/**
 * The Shtrih-M conformance target: ShtrihDriver on the emulator's Shtrih front-end over a real pty. Everything
 * protocol-specific the suite needs is here: the driver's options (link timeouts short enough for fault tests) and
 * the device's own error codes for `fault error`.
 */
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { ShtrihDriver } from '../../drivers/shtrih/driver.ts';
import { openPort } from '../../drivers/transport.ts';
import { ptyBench, type ConformanceTarget } from './suite.ts';

/** Shtrih-M link timeouts for tests: short, but longer than the emulator's stalls of the link-fault test */
const SHTRIH_LINK = { enqTimeoutMs: 150, ackTimeoutMs: 150, frameTimeoutMs: 300, retries: 4, answerWaits: 2, defaultAnswerTimeoutMs: 700, answerTimeouts: {} };

export const shtrih: ConformanceTarget = {
  name: 'Shtrih-M',
  protocol: 'shtrih',
  start: () =>
    ptyBench({
      emulator: (journalPath) => new Emulator({ journalPath }),
      driver: (path) => new ShtrihDriver({ openPort: () => openPort(path), link: SHTRIH_LINK, pollIntervalMs: 20, printWaitMs: 3000, continueWaitMs: 3000 }),
    }),
  errors: {
    // 45h: «Cумма всех типов оплаты меньше итога чека» on FF45 (close receipt)
    rejected: { line: 'fault error 45 FF45', deviceCode: 0x45 },
    // 50h: «Идет печать предыдущей команды» twice on FF45: the driver sends it again itself
    busy: { line: 'fault error 50 FF45 2', expect: 'printed' },
  },
};
