/**
 * The bench's test bed, made of the project's own parts: a real mosquitto (test/helpers/broker.ts), the emulator
 * on a socat pty behind a measured line (line.ts), the real gateway process (`node dist/kkt-gateway.mjs run
 * --config FILE` as the systemd unit runs it, or the development runner bin/kkt-gateway.js) and a "store" MQTT
 * client (test/helpers/rig.ts). Everything started here is stopped by cleanup(), also on an error or Ctrl-C.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { startMosquitto, type TestBroker } from '../../test/helpers/broker.ts';
import { StoreClient } from '../../test/helpers/rig.ts';
export type { StoreClient } from '../../test/helpers/rig.ts';
import { ROOT } from '../../test/helpers/gateway-process.ts';
import { Emulator, type EmulatorOptions } from '../../drivers/emulator/emulator.ts';
import { createPty, type Pty } from '../../drivers/emulator/pty.ts';
import { parseConfig, type Config } from '../../src/config/index.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { QueueStore } from '../../src/queue/store.ts';
import { acceptedResult, doneResult } from '../../src/fiscal/result.ts';
import { Line } from './line.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------ cleanup

const cleanups: Array<() => Promise<void> | void> = [];
/** run by cleanup({ final: true }) only: what the whole bench uses (the built bundle) */
const finalCleanups: Array<() => Promise<void> | void> = [];

/** registers a stop function; cleanup() runs them newest first */
export function onCleanup(fn: () => Promise<void> | void): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function cleanup(o: { final?: boolean } = {}): Promise<void> {
  if (o.final) cleanups.unshift(...finalCleanups.splice(0));
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([fn(), new Promise((r) => (timer = setTimeout(r, 15_000)))]);
    } catch {
      /* best effort */
    } finally {
      clearTimeout(timer);
    }
  }
}

/** a temp directory removed at cleanup */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kkt-bench-${prefix}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ------------------------------------------------------------------------------------------------ /proc

const CLK_TCK = 100; // USER_HZ: 100 on every Linux architecture node runs on (getconf CLK_TCK)

/**
 * VmRSS and its peak, and VmRSS's parts: anonymous memory (heaps, stacks) and file pages mapped in (the program,
 * its libraries, and LevelDB's table files, which it reads through mmap).
 */
export function procStatus(pid: number): { rssMB: number; hwmMB: number; anonMB: number; fileMB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mb = (k: string): number => (Number(new RegExp(`^${k}:\\s*(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN) * 1024) / 1e6;
  return { rssMB: mb('VmRSS'), hwmMB: mb('VmHWM'), anonMB: mb('RssAnon'), fileMB: mb('RssFile') + mb('RssShmem') };
}

/** write_bytes of /proc/<pid>/io; NaN where the kernel keeps no I/O accounting or the file cannot be read */
export function writeBytes(pid: number): number {
  try {
    const m = /^write_bytes:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** user + system CPU time of a process (all its threads), ms */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

// ------------------------------------------------------------------------------------------------ parts

export async function broker(): Promise<TestBroker> {
  // without Nagle's algorithm on the broker's sockets: otherwise a message the broker sends right after a small one
  // may wait up to 40 ms for a delayed ACK, which is the broker's setting, not the gateway's time
  const b = await startMosquitto({ extraConfig: 'set_tcp_nodelay true' });
  onCleanup(async () => {
    await b.stop();
    // startMosquitto leaves its temp dir (config, persistence) behind: find it by its listener
    for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith('kkt-mosq-'))) {
      const dir = join(tmpdir(), name);
      try {
        if (readFileSync(join(dir, 'mosquitto.conf'), 'utf8').includes(`listener ${b.port} 127.0.0.1\n`)) rmSync(dir, { recursive: true, force: true });
      } catch {
        /* not ours, or gone */
      }
    }
  });
  return b;
}

export interface Register {
  emulator: Emulator;
  pty: Pty;
  line: Line;
  close(): Promise<void>;
}

/** the emulator (FN journal in memory: its fsyncs are not the gateway's) on a pty behind a measured line */
export async function register(o: { baud?: number; emulator?: EmulatorOptions } = {}): Promise<Register> {
  const emulator = new Emulator({ ...o.emulator });
  const pty = await createPty();
  const line = new Line(pty.stream, { baud: o.baud ?? 0, protocol: o.emulator?.protocol ?? 'shtrih' });
  emulator.attach(line.device);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    line.close();
    emulator.close();
    await pty.close();
  };
  onCleanup(close);
  return { emulator, pty, line, close };
}

export async function storeClient(url: string, base: string): Promise<StoreClient> {
  const s = await StoreClient.connect(url, base, 5);
  // the bench's own client sends without Nagle's delay: a publish right after a PUBACK is not held 40 ms
  const noDelay = (): void => void (s.client.stream as Socket | undefined)?.setNoDelay?.(true);
  noDelay();
  s.client.on('connect', noDelay);
  onCleanup(() => s.close());
  return s;
}

/** the gateway's configuration: production defaults but for the broker, the port, a temp data dir and the web page on a free port */
export function gatewayConfig(dir: string, brokerUrl: string, devicePort: string, extra: Record<string, any> = {}): Config {
  return parseConfig(
    {
      gateway_id: 'bench',
      data_dir: join(dir, 'data'),
      ...extra,
      mqtt: { url: brokerUrl, reconnect_min_ms: 200, reconnect_max_ms: 1000, ...extra.mqtt },
      device: { port: devicePort, ...extra.device },
      web: { host: '127.0.0.1', port: 0, ...extra.web },
    },
    {},
    'bench',
  );
}

/**
 * How the gateway process is started. `bundle` (default): what the systemd unit runs, `node dist/kkt-gateway.mjs run`,
 * built by the project's scripts/build.mjs from this working tree into a temp dir (node_modules linked beside it,
 * laid out like /opt/kkt-gateway). `tsx`: the development runner, `node bin/kkt-gateway.js run` (TypeScript compiled
 * at run time by tsx), as the tests run it.
 */
export type RunnerKind = 'bundle' | 'tsx';

let runner: { kind: RunnerKind; script: string; nodeArgs: string[]; nodeEnv: Record<string, string> } | undefined;

/**
 * The variables and node options in a script's first line (`#!/usr/bin/env -S NAME=value … node --flag …`): how its
 * own exec runs it
 */
function shebang(script: string): { nodeArgs: string[]; nodeEnv: Record<string, string> } {
  const first = readFileSync(script, 'utf8').split('\n', 1)[0]!;
  const m = /^#!\S*env -S((?: +[A-Za-z_][A-Za-z0-9_]*=\S*)*) node((?: +\S+)*) *$/.exec(first);
  if (!m) return { nodeArgs: [], nodeEnv: {} };
  const words = (s: string): string[] => s.trim().split(/ +/).filter(Boolean);
  return { nodeArgs: words(m[2]!), nodeEnv: Object.fromEntries(words(m[1]!).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)])) };
}

export async function useRunner(kind: RunnerKind): Promise<{ kind: RunnerKind; script: string; nodeArgs: string[]; nodeEnv: Record<string, string> }> {
  if (kind === 'tsx') return (runner = { kind, script: join(ROOT, 'bin', 'kkt-gateway.js'), nodeArgs: [], nodeEnv: {} });
  const dir = mkdtempSync(join(tmpdir(), 'kkt-bench-bundle-'));
  finalCleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const child = spawn(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--outdir', join(dir, 'dist')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`npm run build (scripts/build.mjs) failed (${code}): ${err}`);
  const script = join(dir, 'dist', 'kkt-gateway.mjs');
  return (runner = { kind, script, ...shebang(script) });
}

/**
 * The node options the gateway runs under (the bundle's first line; none for tsx). The baselines (the reference
 * consumer, an idle node) run under the same, so that a ratio compares the programs, not V8's settings.
 */
export function gatewayNodeArgs(): string[] {
  return runner?.nodeArgs ?? [];
}

/** the variables the bundle's first line sets for node (none for tsx); the baselines get them too */
export function gatewayNodeEnv(): Record<string, string> {
  return runner?.nodeEnv ?? {};
}

/** a one-line account of both, for the notes: `MALLOC_ARENA_MAX=2 --max-semi-space-size=1 …` */
export function gatewayRuntime(): string {
  return [...Object.entries(gatewayNodeEnv()).map(([k, v]) => `${k}=${v}`), ...gatewayNodeArgs()].join(' ');
}

export function runnerKind(): RunnerKind {
  return runner?.kind ?? 'tsx';
}

export interface Gateway {
  child: ChildProcess;
  pid: number;
  /** the last 64 KiB of its stdout and stderr */
  output(): string;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  /** performance.now() just before the spawn */
  spawnedAt: number;
  stop(): Promise<void>;
}

/**
 * The real gateway process with a configuration file (`run --config FILE`), as systemd starts it: plain node with the
 * options of the bundle's first line, no NODE_OPTIONS; `runner` (useRunner) says which entry point. Stopped with SIGTERM (SIGKILL after 20 s).
 */
export function spawnGateway(config: Config, dir: string, o: { env?: NodeJS.ProcessEnv; runner?: RunnerKind; nodeArgs?: string[] } = {}): Gateway {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const script = o.runner === 'tsx' || !runner ? join(ROOT, 'bin', 'kkt-gateway.js') : runner.script;
  const nodeArgs = [...(o.runner === 'tsx' ? [] : gatewayNodeArgs()), ...(o.nodeArgs ?? [])];
  const env = o.env ?? {};
  const spawnedAt = performance.now();
  const nodeEnv = o.runner === 'tsx' ? {} : gatewayNodeEnv();
  const child = spawn(process.execPath, [...nodeArgs, script, 'run', '--config', file], { cwd: dir, env: { ...process.env, NODE_OPTIONS: '', ...nodeEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer): void => void (out = (out + c.toString()).slice(-65536));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit').then(([code, sig]) => (code ?? sig) as number | string);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  onCleanup(stop);
  return { child, pid: child.pid!, output: () => out, exited, spawnedAt, stop };
}

/** the bench's stderr progress lines */
export function progress(line: string): void {
  process.stderr.write(`  ${line}\n`);
}

// ------------------------------------------------------------------------------------------------ store side

/** time (performance.now()) at which each message arrived, by topic suffix and external_id */
export class Arrivals {
  readonly accepted = new Map<string, number>();
  readonly done = new Map<string, number>();
  readonly failed = new Map<string, string>();
  private online: number[] = [];
  private readonly doneListeners: Array<(id: string) => void> = [];
  private waiters: Array<() => void> = [];

  constructor(store: StoreClient) {
    store.client.on('message', (topic, payload) => {
      const now = performance.now();
      if (topic.endsWith('/result')) {
        let r: { external_id?: string; status?: string; error?: { code?: string } };
        try {
          r = JSON.parse(payload.toString());
        } catch {
          return;
        }
        const id = r.external_id ?? '';
        if (r.status === 'accepted' && !this.accepted.has(id)) this.accepted.set(id, now);
        else if (r.status === 'done' && !this.done.has(id)) {
          this.done.set(id, now);
          for (const l of this.doneListeners) l(id);
        } else if (r.status === 'fail') this.failed.set(id, r.error?.code ?? '?');
      } else if (topic.endsWith('/state') && payload.toString().includes('"online"')) this.online.push(now);
      for (const w of this.waiters.splice(0)) w();
    });
  }

  /** called with the external_id of every first `done` result */
  onDone(listener: (id: string) => void): () => void {
    this.doneListeners.push(listener);
    return () => void this.doneListeners.splice(this.doneListeners.indexOf(listener), 1);
  }

  onlineAfter(t: number): number | undefined {
    return this.online.find((x) => x >= t);
  }

  clear(): void {
    this.accepted.clear();
    this.done.clear();
    this.failed.clear();
  }

  /** resolves when `pred` holds; rejects after `ms` naming `what` (and fails at once on a `fail` result) */
  async until(pred: () => boolean, what: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (this.failed.size > 0) throw new Error(`while waiting for ${what}: ${this.failed.size} receipt(s) failed, e.g. ${[...this.failed][0]!.join(': ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** a valid receipt (src/cli/sample.ts: 3 items, card) under an id, as the JSON the store publishes */
export function receiptJson(id: string): string {
  return JSON.stringify(sampleReceipt(id));
}

/** the retained state is `online` (again) after t */
export async function waitOnline(arrivals: Arrivals, after: number, gw: Gateway, ms = 30_000): Promise<number> {
  await arrivals.until(() => arrivals.onlineAfter(after) !== undefined || gw.child.exitCode !== null, 'gateway online', ms);
  if (gw.child.exitCode !== null) throw new Error(`the gateway exited (${gw.child.exitCode}):\n${gw.output().slice(-3000)}`);
  return arrivals.onlineAfter(after)!;
}


// ------------------------------------------------------------------------------------------------ reference

export interface ReferenceProcess {
  pid: number;
  /** the first JSON line it printed that has `key` */
  line(key: string): Promise<Record<string, number | boolean>>;
  exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** the reference consumer (reference-consumer.mjs) as its own process, under a plain node with the gateway's options */
export function spawnReference(url: string, topic: string, dir: string, what: string): ReferenceProcess {
  const child = spawn(process.execPath, [...gatewayNodeArgs(), join(import.meta.dirname, 'reference-consumer.mjs'), url, topic, dir, what], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...gatewayNodeEnv() } });
  let out = '';
  let err = '';
  const listeners: Array<() => void> = [];
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const l of listeners.splice(0)) l();
  });
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-3000)));
  const exited = once(child, 'exit').then(([code, sig]) => (code ?? sig) as number | string);
  void exited.then(() => {
    for (const l of listeners.splice(0)) l();
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  onCleanup(stop);
  const line = async (key: string): Promise<Record<string, number | boolean>> => {
    for (;;) {
      const found = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, number | boolean>)
        .find((j) => key in j);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the reference consumer exited (${child.exitCode ?? child.signalCode}): ${err}`);
      await new Promise<void>((r) => listeners.push(r));
    }
  };
  return { pid: child.pid!, line, exited, stop };
}

/** RSS of an idle node process started with `nodeArgs` and `nodeEnv` (the runtime's floor), MB */
export async function idleNodeRss(nodeArgs: string[], nodeEnv: Record<string, string> = {}): Promise<number> {
  const child = spawn(process.execPath, [...nodeArgs, '-e', "setInterval(() => {}, 1000); process.stdout.write('ready\\n')"], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NODE_OPTIONS: '', ...nodeEnv } });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
  const off = onCleanup(stop);
  try {
    await once(child.stdout!, 'data');
    await sleep(1000);
    return procStatus(child.pid!).rssMB;
  } finally {
    await stop();
    off();
  }
}

// ------------------------------------------------------------------------------------------------ history

/**
 * Gives a gateway's database the history of `n` finished receipts, written through its own store the way the
 * gateway writes them (accept with the `accepted` result in the outbox, complete with the `done` result, the outbox
 * acknowledged), many at a time. LevelDB's compaction work grows with what the database holds; a gateway keeps
 * finished receipts for `queue.retention_days`.
 */
export async function fillHistory(queueDir: string, n: number, resultTopic: string): Promise<void> {
  const store = await QueueStore.open(queueDir, { maxJobs: Number.MAX_SAFE_INTEGER });
  try {
    for (let i = 0; i < n; i += 500) {
      const ids = Array.from({ length: Math.min(500, n - i) }, (_, k) => `history-${i + k}`);
      const now = new Date();
      const accepted = await Promise.all(
        ids.map((id) => store.accept({ kind: 'receipt', externalId: id, body: receiptJson(id), outbox: { topic: resultTopic, payload: JSON.stringify(acceptedResult(id, now)) } })),
      );
      await Promise.all(
        accepted.map((r, k) => {
          if (r.status !== 'accepted') throw new Error(`history: ${r.status}`);
          const fd = i + k + 100;
          const result = doneResult(ids[k]!, { fdNumber: fd, fiscalSign: 1_000_000_000 + fd, dateTime: '2026-11-28T10:15:00', shiftNumber: 1, receiptNumber: fd, fnNumber: '9960440300112233', operation: 1, total: 398900, change: 0 }, { registrationNumber: '0000000001012345', now });
          return store.complete(r.seq, { status: 'done', result, outbox: [{ topic: resultTopic, payload: JSON.stringify(result) }] });
        }),
      );
      for (let batch = await store.outboxBatch(1000); batch.length > 0; batch = await store.outboxBatch(1000)) await Promise.all(batch.map((e) => store.ackOutbox(e.key)));
    }
  } finally {
    await store.close();
  }
}
