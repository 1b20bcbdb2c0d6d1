/**
 * kkt-gateway benchmarks (docs/performance.md): the real gateway process (the production bundle built from this
 * tree, `node dist/kkt-gateway.mjs run`, as the systemd unit runs it), a real mosquitto, the emulator on a socat pty;
 * prints the machine and one markdown table with, per figure, the measured value, the baseline measured in the same
 * run, their ratio, the goal and ✓/✗.
 *
 *   npm run bench                  # full: about 3 minutes
 *   npm run bench -- --quick       # CI: under a minute, smaller counts (said in the notes)
 *   npm run bench -- --only P1,P4  # some figures (P2, P3, P6, P7 share one run; so do P4 and P5)
 *   npm run bench -- --runner tsx  # the gateway as `node bin/kkt-gateway.js` (tsx) instead of the production bundle
 *   npm run bench -- --sustained N --history H
 *                                  # the P6/P7 run: N receipts (full 2,000) on a database already holding H finished
 *                                  # receipts (full 10,000); `--sustained 10000 --history 0` is the long version
 *
 * Exit code 0 whether or not the goals are met (the table says ✗); 1 when the bench itself failed.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { machineDescription } from './machine.ts';
import { formatTable, type Section } from './table.ts';
import { cleanup, useRunner, type RunnerKind } from './harness.ts';
import { ingest } from './ingest.ts';
import { deviceRun } from './device.ts';
import { memoryAndStart } from './memstart.ts';
import { poolRun } from './pool.ts';
import { exitAfterDrain } from '../../src/system/exit.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, sustained: { type: 'string' }, history: { type: 'string' }, runner: { type: 'string' } } });
const quick = values.quick === true;
const only = values.only ? new Set(values.only.toUpperCase().split(',').map((s) => s.trim())) : undefined;
const want = (...ids: string[]): boolean => !only || ids.some((id) => only.has(id));
const runnerKind = (values.runner ?? 'bundle') as RunnerKind;
if (runnerKind !== 'bundle' && runnerKind !== 'tsx') throw new Error('--runner is bundle or tsx');

const size = quick
  ? { ingest: 1000, rounds: 1, sequential: 50, burst: 20, history: 0, sustained: 250, queued: 5000, starts: 1, settleMs: 3000 }
  : { ingest: 5000, rounds: 2, sequential: 300, burst: 100, history: 10_000, sustained: 2000, queued: 100_000, starts: 3, settleMs: 5000 };
if (values.sustained) size.sustained = Number(values.sustained);
if (values.history) size.history = Number(values.history);

let interrupted = false;
/** a missing external tool (socat, …) is its one-line message, not a stack trace */
const oneLine = (err: unknown): string | undefined => ((err as { code?: unknown })?.code === 'MISSING_TOOL' ? (err as Error).message : undefined);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  // Ctrl-C reaches npm, tsx and this process alike, and tsx relays it again: later signals must not cut the cleanup
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${sig}: stopping everything the bench started\n`);
    void cleanup({ final: true }).finally(() => exitAfterDrain(130));
  });
}
// an error outside the awaited chain still stops the broker, socat and the gateways before exiting
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`bench failed: ${oneLine(err) ?? (err as Error)?.stack ?? String(err)}\n`);
    void cleanup({ final: true }).finally(() => exitAfterDrain(1));
  });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const load = loadavg()[0]!;
  const sections = new Map<string, Section>();
  process.stderr.write(`kkt-gateway bench (${quick ? 'quick' : 'full'})\n`);
  try {
    const runner = await useRunner(runnerKind);
    process.stderr.write(`  the gateway: node ${runner.script.replace(/^.*\/(dist|bin)\//, '$1/')} run --config FILE\n`);
    let referenceCpuMs: number | undefined;
    let ingestCpuMs: number | undefined;
    if (want('P1', 'P7')) {
      const r = await ingest({ receipts: size.ingest, rounds: size.rounds });
      sections.set('P1', r.section);
      referenceCpuMs = r.referenceCpuMs;
      ingestCpuMs = r.ingestCpuMs;
      await cleanup();
    }
    if (want('P2', 'P3', 'P6', 'P7')) {
      const run = { overhead: want('P3'), wire: want('P2'), sustained: want('P6', 'P7') };
      const r = await deviceRun({ sequential: size.sequential, burst: size.burst, sustained: size.sustained, history: size.history, window: 50, referenceCpuMs, ingestCpuMs, run });
      for (const [k, v] of Object.entries(r)) if (v) sections.set(k.toUpperCase(), v);
      await cleanup();
    }
    if (want('P4', 'P5')) {
      const r = await memoryAndStart({ queued: size.queued, starts: size.starts, settleMs: size.settleMs });
      sections.set('P4', r.p4);
      sections.set('P5', r.p5);
      await cleanup();
    }
    if (want('P8')) {
      sections.set('P8', await poolRun({ perRegister: quick ? 4 : 10, printMs: 1500 }));
      await cleanup();
    }
  } finally {
    await cleanup({ final: true });
  }
  const chosen = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8'].filter((id) => sections.has(id) && want(id)).map((id) => sections.get(id)!);
  const seconds = (performance.now() - t0) / 1000;
  const out = [
    `## kkt-gateway benchmarks (${quick ? 'quick' : 'full'}), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    ...machineDescription(),
    `- the gateway process: ${runnerKind === 'bundle' ? '`node dist/kkt-gateway.mjs run` (the production bundle, built from this tree by scripts/build.mjs, as the systemd unit runs it)' : '`node bin/kkt-gateway.js run` (the development runner: TypeScript through tsx)'}`,
    `- load average when the bench started: ${load.toFixed(2)} (other busy processes make every figure worse); the bench took ${seconds.toFixed(0)} s`,
    '',
    formatTable(chosen.flatMap((s) => s.rows)),
    '',
    ...chosen.flatMap((s) => s.notes.map((n) => `- ${n}`)),
    '',
  ];
  process.stdout.write(out.join('\n'));
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err: Error) => {
    if (interrupted) return;
    process.stderr.write(`bench failed: ${oneLine(err) ?? err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
