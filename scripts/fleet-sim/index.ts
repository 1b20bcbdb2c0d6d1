/**
 * `npm run fleet-sim -- --gateways N [--minutes M] [--seed S]`: N simulated gateways on one mosquitto (loopback, a
 * free port), each through the gateway's real MQTT bridge and health code (./gateway.ts), watched by the fleet monitor
 * (src/fleet/monitor.ts, in a process of its own so that its CPU and memory can be read), at 100 gateways and then at N
 * (so the growth shows; N = 100 runs once). Prints, for each size: broker CPU and RSS, the monitor's CPU and RSS, the
 * time from a simulated fault (paper out, register down, offline by a socket closed without DISCONNECT) to its alert
 * on `kkt/fleet/alert/<id>` (p50/p99), and the time to scrape /metrics. Bounded: each size takes about M minutes
 * (default 1) of steady load plus the ramp-up; stops by itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import mqtt from 'mqtt';
import { machineDescription } from '../bench/machine.ts';
import { exitAfterDrain } from '../../src/system/exit.ts';
import { startBroker, type SimBroker } from './broker.ts';
import { SimGateway, rng, type Fault, type SimClock } from './gateway.ts';
import { ProcWatch, openFilesLimit } from './procstat.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const HEALTH_MS = 2000;
const DAY_MS = 20_000;
const FAULT_HOLD_MS = 8000;
const ALERT_TIMEOUT_MS = 30_000;

interface PhaseResult {
  n: number;
  connectS: number;
  msgPerS: number;
  zreports: number;
  broker: { cpuPct: number; rss: number; peakRss: number } | undefined;
  monitor: { cpuPct: number; rss: number; peakRss: number } | undefined;
  sim: { cpuPct: number; rss: number; peakRss: number } | undefined;
  alertMs: Record<Fault, number[]>;
  missed: number;
  faults: number;
  scrapeMs: number[];
  scrapeBytes: number;
  seriesUp: number;
  seenByMonitor: number;
  loadAvg: number;
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const mb = (b: number | undefined): string => (b === undefined ? '–' : `${(b / 2 ** 20).toFixed(1)} MB`);
const ms = (x: number): string => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : Math.round(x)} ms` : '–');
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

async function startMonitor(url: string, dir: string): Promise<{ child: ChildProcess; url: string; stop(): Promise<void> }> {
  const opts = {
    mqttUrl: url,
    base: 'kkt',
    listen: '127.0.0.1:0',
    authFile: join(dir, 'fleet-auth.json'),
    // compressed time: the rules that wait minutes fire at once here (what is measured is the path, not the wait)
    thresholds: { offline_minutes: 0, register_down_minutes: 0, paper_out_minutes: 0 },
    evaluateMs: 1000,
    settleMs: 500,
  };
  const child = spawn(process.execPath, ['--import=tsx', join(import.meta.dirname, 'monitor-child.ts'), JSON.stringify(opts)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-4000)));
  const lines = createInterface({ input: child.stdout! });
  const monUrl = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`the fleet monitor did not start: ${err}`)), 30_000);
    lines.once('line', (l) => (clearTimeout(t), resolve((JSON.parse(l) as { url: string }).url)));
    child.once('exit', (code) => (clearTimeout(t), reject(new Error(`the fleet monitor exited ${code}: ${err}`))));
  });
  return {
    child,
    url: monUrl,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([new Promise((r) => child.once('exit', r)), sleep(5000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

async function scrape(url: string): Promise<{ ms: number; text: string }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/metrics`);
  const text = await res.text();
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return { ms: performance.now() - t0, text };
}

const upSeries = (text: string): { total: number; up: number } => {
  const lines = text.split('\n').filter((l) => l.startsWith('kkt_gateway_up{'));
  return { total: lines.length, up: lines.filter((l) => l.endsWith(' 1')).length };
};

async function phase(n: number, minutes: number, seed: number, say: (s: string) => void): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-fleet-sim-'));
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })];
  const rand = rng(seed + n);
  try {
    const broker: SimBroker = await startBroker(n + 100);
    cleanups.unshift(() => broker.stop());
    const monitor = await startMonitor(broker.url, dir);
    cleanups.unshift(() => monitor.stop());

    // the observer: every alert list the monitor publishes, with the time it arrived
    const observer = await mqtt.connectAsync(broker.url, { clientId: `fleet-sim-observer-${process.pid}`, clean: true, reconnectPeriod: 0 });
    cleanups.unshift(() => observer.endAsync(true));
    const alertWaiters = new Map<string, { kind: Fault; resolve: (at: number) => void }>();
    observer.on('message', (topic, payload) => {
      const at = performance.now();
      const id = topic.slice('kkt/fleet/alert/'.length);
      const w = alertWaiters.get(id);
      if (!w) return;
      try {
        const list = (JSON.parse(payload.toString()) as { alerts?: Array<{ alert: string }> }).alerts ?? [];
        if (list.some((a) => a.alert === w.kind)) {
          alertWaiters.delete(id);
          w.resolve(at);
        }
      } catch {
        /* not an alert list */
      }
    });
    await observer.subscribeAsync('kkt/fleet/alert/+', { qos: 1 });

    const clock: SimClock = { t0: Date.now(), dayMs: DAY_MS };
    const gateways = Array.from({ length: n }, (_, i) => new SimGateway(i + 1, broker.url, clock, HEALTH_MS, rand));
    cleanups.unshift(async () => {
      await Promise.all(gateways.map((g) => g.stop().catch(() => undefined)));
    });
    say(`  ${n} gateways: connecting…`);
    const c0 = performance.now();
    for (let i = 0; i < n; i += 50) await Promise.all(gateways.slice(i, i + 50).map((g) => g.start()));
    const connectS = (performance.now() - c0) / 1000;

    // the monitor has every gateway online
    const seenDeadline = Date.now() + 60_000;
    let seen = 0;
    while (Date.now() < seenDeadline) {
      seen = upSeries((await scrape(monitor.url)).text).up;
      if (seen >= n) break;
      await sleep(500);
    }
    say(`  ${n} gateways: connected in ${connectS.toFixed(1)} s, ${seen} online at the monitor; ${minutes} min of load…`);

    const brokerW = new ProcWatch(broker.pid);
    const monW = new ProcWatch(monitor.child.pid!);
    const simW = new ProcWatch(process.pid);
    brokerW.start();
    monW.start();
    simW.start();
    const pub0 = gateways.reduce((s, g) => s + g.published, 0);
    const z0 = gateways.reduce((s, g) => s + g.zreports, 0);
    const w0 = performance.now();
    const windowMs = minutes * 60_000;

    // faults: spread over the first 70 % of the window, on distinct gateways, kinds in turn
    const kinds: Fault[] = ['paper_out', 'register_down', 'offline'];
    const faults = Math.min(n, Math.max(30, Math.round(n / 20)));
    const order = gateways.map((g) => ({ g, r: rand() })).sort((a, b) => a.r - b.r).map((x) => x.g);
    const alertMs: Record<Fault, number[]> = { paper_out: [], register_down: [], offline: [] };
    let missed = 0;
    const faultRuns: Array<Promise<void>> = [];
    for (let i = 0; i < faults; i++) {
      const g = order[i % order.length]!;
      const kind = kinds[i % kinds.length]!;
      const at = (windowMs * 0.7 * i) / faults;
      faultRuns.push(
        (async () => {
          await sleep(at);
          const raised = new Promise<number>((resolve) => alertWaiters.set(g.id, { kind, resolve }));
          const t0 = performance.now();
          await g.fault(kind);
          const t = await Promise.race([raised, sleep(ALERT_TIMEOUT_MS).then(() => undefined)]);
          if (t === undefined) {
            alertWaiters.delete(g.id);
            missed++;
          } else alertMs[kind].push(t - t0);
          await sleep(FAULT_HOLD_MS);
          await g.recover(kind);
        })(),
      );
    }
    // /metrics scraped every 5 s through the window
    const scrapeMs: number[] = [];
    let scrapeBytes = 0;
    let seriesUp = 0;
    while (performance.now() - w0 < windowMs) {
      await sleep(5000);
      const s = await scrape(monitor.url);
      scrapeMs.push(s.ms);
      scrapeBytes = Buffer.byteLength(s.text);
      seriesUp = upSeries(s.text).total;
    }
    await Promise.all(faultRuns);
    const elapsedS = (performance.now() - w0) / 1000;
    const result: PhaseResult = {
      n,
      connectS,
      msgPerS: (gateways.reduce((s, g) => s + g.published, 0) - pub0) / elapsedS,
      zreports: gateways.reduce((s, g) => s + g.zreports, 0) - z0,
      broker: brokerW.stop(),
      monitor: monW.stop(),
      sim: simW.stop(),
      alertMs,
      missed,
      faults,
      scrapeMs,
      scrapeBytes,
      seriesUp,
      seenByMonitor: seen,
      loadAvg: loadavg()[0]!,
    };
    return result;
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

function table(results: PhaseResult[]): string {
  const head = ['', ...results.map((r) => `${r.n.toLocaleString('en-US')} gateways`)];
  const rows: string[][] = [];
  const row = (label: string, f: (r: PhaseResult) => string): void => void rows.push([label, ...results.map(f)]);
  const all = (r: PhaseResult): number[] => [...r.alertMs.paper_out, ...r.alertMs.register_down, ...r.alertMs.offline];
  row('connect all (50 at a time)', (r) => `${r.connectS.toFixed(1)} s`);
  row('messages to the broker (health, Z-reports)', (r) => `${Math.round(r.msgPerS)} msg/s (${r.zreports} Z-reports)`);
  row('broker CPU (% of one core)', (r) => (r.broker ? `${r.broker.cpuPct.toFixed(1)} %` : '–'));
  row('broker RSS (peak)', (r) => mb(r.broker?.peakRss));
  row('monitor CPU (% of one core)', (r) => (r.monitor ? `${r.monitor.cpuPct.toFixed(1)} %` : '–'));
  row('monitor RSS (peak)', (r) => mb(r.monitor?.peakRss));
  row('fault → alert p50', (r) => ms(pct(all(r), 50)));
  row('fault → alert p99', (r) => ms(pct(all(r), 99)));
  row('  paper out / register down / offline p50', (r) => [r.alertMs.paper_out, r.alertMs.register_down, r.alertMs.offline].map((x) => ms(pct(x, 50))).join(' / '));
  row('faults injected (alerts missing after 30 s)', (r) => `${r.faults} (${r.missed} missing)`);
  row('/metrics scrape p50 / max', (r) => `${ms(pct(r.scrapeMs, 50))} / ${ms(Math.max(...r.scrapeMs))}`);
  row('/metrics size', (r) => `${(r.scrapeBytes / 1024).toFixed(0)} KiB, ${r.seriesUp} gateways`);
  row('simulator process CPU / RSS', (r) => (r.sim ? `${r.sim.cpuPct.toFixed(1)} % / ${mb(r.sim.peakRss)}` : '–'));
  row('load average (1 min) at the end', (r) => r.loadAvg.toFixed(2));
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { gateways: { type: 'string', default: '1000' }, minutes: { type: 'string', default: '1' }, seed: { type: 'string', default: '1' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('npm run fleet-sim -- [--gateways N (default 1000)] [--minutes M per size (default 1)] [--seed S]\nRuns 100 simulated gateways, then N, against one local mosquitto with the fleet monitor watching; prints the figures.\n');
    return 0;
  }
  const n = Number(values.gateways);
  const minutes = Number(values.minutes);
  const seed = Number(values.seed);
  if (!Number.isInteger(n) || n < 1 || n > 20_000) throw new Error(`--gateways takes a whole number 1…20000, not "${values.gateways}"`);
  if (!(minutes > 0 && minutes <= 30)) throw new Error(`--minutes takes a number in (0, 30], not "${values.minutes}"`);
  if (!Number.isInteger(seed)) throw new Error(`--seed takes a whole number, not "${values.seed}"`);
  // one descriptor per gateway here (the monitor and the broker are processes of their own)
  const limit = openFilesLimit();
  if (limit < n + 200) throw new Error(`open files limit ${limit} is too low for ${n} gateways: raise it first (ulimit -n ${Math.max(4096, 2 * n + 200)})`);

  const sizes = n > 100 ? [100, n] : [n];
  const say = (s: string): void => void process.stderr.write(`${s}\n`);
  say(`fleet-sim: ${sizes.join(' then ')} gateways, health every ${HEALTH_MS / 1000} s, a register day every ${DAY_MS / 1000} s, ${minutes} min per size, seed ${seed}`);
  const results: PhaseResult[] = [];
  for (const size of sizes) results.push(await phase(size, minutes, seed, say));

  const out = [
    `## fleet-sim: ${sizes.join(' and ')} gateways on one mosquitto, the fleet monitor watching`,
    '',
    ...machineDescription(),
    `- run: health every ${HEALTH_MS / 1000} s per gateway, a register day every ${DAY_MS / 1000} s (a Z-report each), ${minutes} min of load per size, seed ${seed}; faults held ${FAULT_HOLD_MS / 1000} s then undone`,
    '',
    table(results),
    '',
    '- fault → alert: from the fault (its health message handed to MQTT.js, or the socket destroyed without DISCONNECT so the broker publishes the last will) to the alert list naming it on kkt/fleet/alert/<id>, as a client on the same broker receives it; the monitor\'s thresholds are 0 minutes for offline, register down and paper out (time is compressed here).',
    '- CPU: user+system seconds from /proc/<pid>/stat over the load window; RSS: VmRSS sampled every second, the peak. The simulator shares the same 2 cores.',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return results.some((r) => r.missed > 0 || r.seenByMonitor < r.n) ? 1 : 0;
}

main().then(
  (code) => exitAfterDrain(code),
  (err: Error) => {
    process.stderr.write(`fleet-sim: ${err.message}\n`);
    return exitAfterDrain(1);
  },
);
