/**
 * The ATOL v3 conformance target: AtolDriver on the emulator's ATOL front-end over a real pty. Everything
 * protocol-specific the suite needs is here: the driver's options (task and packet timeouts short enough for fault
 * tests) and the device's own error codes for `fault error` (kkt-protocols.md §2.3).
 */
import { AtolDriver } from '../../drivers/atol/driver.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { openPort } from '../../drivers/transport.ts';
import { ptyBench, type ConformanceTarget } from './suite.ts';

/** ATOL v3 task timeouts for tests: every task well within the suite's waits, packets longer than its stalls */
const ATOL_TASK_MS = 3000;
const ATOL_LINK = {
  packetTimeoutMs: 500,
  retries: 3,
  defaultTaskTimeoutMs: ATOL_TASK_MS,
  taskTimeouts: { 0x4a: ATOL_TASK_MS, 0x5a: ATOL_TASK_MS, 0x67: ATOL_TASK_MS, 0x9a: ATOL_TASK_MS, 0x59: ATOL_TASK_MS },
};

export const atol: ConformanceTarget = {
  name: 'ATOL v3',
  protocol: 'atol',
  start: () =>
    ptyBench({
      emulator: (journalPath) => new Emulator({ protocol: 'atol', journalPath }),
      driver: (path) => new AtolDriver({ openPort: () => openPort(path), link: ATOL_LINK, pollIntervalMs: 20, printWaitMs: 3000, zWaitMs: 3000, continueWaitMs: 3000 }),
    }),
  errors: {
    // 72h: «Сумма платежей меньше суммы чека» on 4A (close receipt)
    rejected: { line: 'fault error 72 4A', deviceCode: 0x72 },
    // 76h: «Предыдущая операция не завершена» on 4A: retryable, handed up (the task buffer itself is the busy wait)
    busy: { line: 'fault error 76 4A', expect: 'retryable' },
  },
};
