/**
 * P2, P3, P6, P7: one real gateway process printing on the emulator (zero print time, FN journal in memory) through
 * a socat pty behind the measured line (line.ts), a real mosquitto, receipts from src/cli/sample.ts.
 *
 *   P3 gateway overhead   receipts one at a time: publish → `done` at the store, minus the emulator's own time
 *                         (request frame delivered to it → its answer written), instant line
 *   P2 wire efficiency    a burst at 115200 baud (both directions paced): receipts/s vs the line's limit for the
 *                         bytes that were actually exchanged (bytes × 10 / baud)
 *   P6 SD wear, P7 CPU    a sustained run (a store keeping `window` receipts unanswered), instant line: bytes the
 *                         process wrote (/proc/<pid>/io write_bytes) and its user+system CPU (/proc/<pid>/stat),
 *                         per receipt
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as h from './harness.ts';
import { fmt, percentile, type Row, type Section } from './table.ts';

export interface DeviceOptions {
  /** P3: receipts one at a time */
  sequential: number;
  /** P2: receipts in the burst at 115200 baud */
  burst: number;
  /** P6/P7: receipts in the sustained run */
  sustained: number;
  /** P6/P7: receipts a store keeps unanswered */
  window: number;
  /** finished receipts in the database before the gateway starts (harness.fillHistory) */
  history: number;
  /** P7's baseline: the reference consumer's CPU per message (P1), when measured */
  referenceCpuMs?: number;
  /** P7: the gateway's CPU per receipt while only ingesting (P1), when measured */
  ingestCpuMs?: number;
  /** which of the runs (default all); `wire` is P2 on both protocols (the ATOL one on a gateway of its own) */
  run?: { overhead?: boolean; wire?: boolean; sustained?: boolean };
}

export interface DeviceSections {
  p2?: Section;
  p3?: Section;
  p6?: Section;
  p7?: Section;
}

const BAUD = 115200;
const WARM_UP = 10;

export async function deviceRun(o: DeviceOptions): Promise<DeviceSections> {
  const run = { overhead: true, wire: true, sustained: true, ...o.run };
  const broker = await h.broker();
  const reg = await h.register();
  const dir = h.tempDir('device');
  const config = h.gatewayConfig(dir, broker.url, reg.pty.path);
  if (o.history > 0) {
    const t0 = performance.now();
    await h.fillHistory(resolve(config.data_dir, 'queue'), o.history, `${config.mqtt.base_topic}/result`);
    h.progress(`P2/P3/P6/P7: a history of ${o.history.toLocaleString('en-US')} finished receipts written in ${fmt.num((performance.now() - t0) / 1000)} s`);
  }
  const store = await h.storeClient(broker.url, config.mqtt.base_topic);
  const arrivals = new h.Arrivals(store);
  const gw = h.spawnGateway(config, dir);
  await h.waitOnline(arrivals, gw.spawnedAt, gw);

  // warm-up: the register is identified, the shift opened, the code paths compiled
  for (let i = 0; i < WARM_UP; i++) await store.publish('receipt', h.receiptJson(`warm-${i}`));
  await arrivals.until(() => arrivals.done.size >= WARM_UP, 'the warm-up receipts', 60_000);

  const out: DeviceSections = {};
  if (run.overhead) out.p3 = await overhead(o.sequential, store, arrivals, reg);
  if (run.wire) out.p2 = await wire(o.burst, store, arrivals, reg);
  if (run.sustained) Object.assign(out, await sustained(o, store, arrivals, gw, resolve(config.data_dir, 'queue')));
  await gw.stop();
  if (run.wire) {
    const atol = await wireAtol(o.burst, broker.url);
    out.p2 = { rows: [...out.p2!.rows, ...atol.rows], notes: [...out.p2!.notes, ...atol.notes] };
  }
  return out;
}

/** P2 on the ATOL protocol: its own emulator (ATOL v3 front-end), gateway and store, the same burst */
async function wireAtol(n: number, brokerUrl: string): Promise<Section> {
  const reg = await h.register({ emulator: { protocol: 'atol' } });
  const dir = h.tempDir('device-atol');
  const config = h.gatewayConfig(dir, brokerUrl, reg.pty.path, { gateway_id: 'bench-atol', device: { protocol: 'atol' } });
  const store = await h.storeClient(brokerUrl, config.mqtt.base_topic);
  const arrivals = new h.Arrivals(store);
  const gw = h.spawnGateway(config, dir);
  await h.waitOnline(arrivals, gw.spawnedAt, gw);
  for (let i = 0; i < WARM_UP; i++) await store.publish('receipt', h.receiptJson(`warm-atol-${i}`));
  await arrivals.until(() => arrivals.done.size >= WARM_UP, 'the ATOL warm-up receipts', 60_000);
  const section = await wire(n, store, arrivals, reg, 'ATOL');
  await gw.stop();
  await reg.close();
  return section;
}

// ------------------------------------------------------------------------------------------------ P3

async function overhead(n: number, store: h.StoreClient, arrivals: h.Arrivals, reg: h.Register): Promise<Section> {
  const total: number[] = [];
  const accepted: number[] = [];
  const emulator: number[] = [];
  const over: number[] = [];
  let frames = 0;
  for (let i = 0; i < n; i++) {
    const id = `p3-${i}`;
    const body = h.receiptJson(id);
    const s0 = reg.line.stats();
    const t0 = performance.now();
    await store.publish('receipt', body);
    await arrivals.until(() => arrivals.done.has(id), `the result of ${id}`, 30_000);
    const s1 = reg.line.stats();
    const t = arrivals.done.get(id)! - t0;
    accepted.push((arrivals.accepted.get(id) ?? NaN) - t0);
    const e = s1.emulatorMs - s0.emulatorMs;
    frames += s1.frames - s0.frames;
    total.push(t);
    emulator.push(e);
    over.push(t - e);
  }
  h.progress(`P3: ${n} receipts one at a time`);
  const sort = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
  const [T, E, O, A] = [sort(total), sort(emulator), sort(over), sort(accepted)];
  const row = (p: number, goal: number): Row => {
    const v = percentile(O, p);
    const t = percentile(T, p);
    return {
      id: 'P3',
      figure: `gateway overhead p${p}`,
      value: fmt.ms(v),
      baseline: `publish→done ${fmt.ms(t)}`,
      ratio: fmt.ratio(v / t),
      goal: `≤ ${goal} ms`,
      ok: v <= goal,
    };
  };
  return {
    rows: [row(50, 5), row(99, 20)],
    notes: [
      `P3: ${n} receipts one at a time on an instant line; per receipt publish→\`done\` p50 ${fmt.ms(percentile(T, 50))} / p99 ${fmt.ms(percentile(T, 99))} (publish→\`accepted\` p50 ${fmt.ms(percentile(A, 50))}), of it the emulator's own time (request frame delivered → answer written) p50 ${fmt.ms(percentile(E, 50))} / p99 ${fmt.ms(percentile(E, 99))}; ${fmt.num(frames / n, 0)} request frames per receipt: the p50 overhead is ${fmt.ms(percentile(O, 50) / (frames / n))} per frame exchanged (each exchange is ENQ→NAK, frame→ACK + answer, ACK sent with the next ENQ, through serialport and the socat pty), MQTT and LevelDB included. The overhead is taken per receipt: p99 is of the per-receipt differences, not a difference of percentiles.`,
    ],
  };
}

// ------------------------------------------------------------------------------------------------ P2

async function wire(n: number, store: h.StoreClient, arrivals: h.Arrivals, reg: h.Register, protocol: 'Shtrih' | 'ATOL' = 'Shtrih'): Promise<Section> {
  const line = reg.line;
  await h.sleep(200);
  line.setBaud(BAUD);
  const s0 = line.stats();
  line.resetWindow();
  const ids = Array.from({ length: n }, (_, i) => `p2-${protocol}-${i}`);
  await Promise.all(ids.map((id) => store.publish('receipt', h.receiptJson(id))));
  let snapshot: { stats: ReturnType<typeof line.stats>; window: ReturnType<typeof line.window> } | undefined;
  await arrivals.until(() => {
    if (!ids.every((id) => arrivals.done.has(id))) return false;
    snapshot = { stats: line.stats(), window: line.window() };
    return true;
  }, `the results of the ${n}-receipt burst at ${BAUD} baud`, 60_000 + n * 1000);
  line.setBaud(0);
  const { stats: s1, window: w } = snapshot!;
  const bytes = s1.hostToDevice - s0.hostToDevice + s1.deviceToHost - s0.deviceToHost;
  const busyMs = (bytes * 10 * 1000) / BAUD;
  const elapsed = w.last - w.first;
  const rate = (n * 1000) / elapsed;
  const limit = (n * 1000) / busyMs;
  const emuMs = s1.emulatorMs - s0.emulatorMs;
  h.progress(`P2 ${protocol}: ${n} receipts at ${BAUD} baud`);
  const frames = (s1.frames - s0.frames) / n;
  return {
    rows: [
      {
        id: 'P2',
        figure: `wire efficiency, ${protocol} (${BAUD} baud)`,
        value: `${fmt.num(rate)} receipts/s; ${fmt.num(frames, 0)} exchanges, ${fmt.int(bytes / n)} B per receipt`,
        baseline: `${fmt.num(limit)} receipts/s line limit`,
        ratio: fmt.ratio(rate / limit),
        goal: '≥ 0.85× limit',
        ok: rate / limit >= 0.85,
      },
    ],
    notes: [
      `P2 (${protocol}): a burst of ${n} receipts, print time 0, both directions paced at ${BAUD} baud 8N1; ${fmt.int(bytes / n)} bytes per receipt on the line (host→register ${fmt.int((s1.hostToDevice - s0.hostToDevice) / n)}, register→host ${fmt.int((s1.deviceToHost - s0.deviceToHost) / n)}, ${fmt.num(frames, 1)} request frames${protocol === 'ATOL' ? ': every packet the host sent, task layer included (add task, acknowledge, ask for a result)' : ', one per command'}) = ${fmt.ms(busyMs / n)} of line time per receipt; measured ${fmt.ms(elapsed / n)} per receipt from the first byte of the burst to the last, of which the emulator's own time ${fmt.ms(emuMs / n)} and the rest (${fmt.ms((elapsed - busyMs - emuMs) / n)}) is the line standing idle on the host side (gateway, serialport, socat pty), including ${fmt.ms((s1.lateMs - s0.lateMs) / n)} by which the bench's line model delivered chunks late.`,
    ],
  };
}

// ------------------------------------------------------------------------------------------------ P6, P7

/** user+system CPU ms of the main thread and of all the others (/proc/<pid>/task/<tid>/stat) */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // node 20 does not name its threads: the main thread (JS), and the others (libuv pool: fs, serialport
      // reads/drains, LevelDB batches; LevelDB's compaction thread; V8's GC and compiler threads)
      const kind = Number(tid) === pid ? 'main thread' : 'other threads';
      out.set(kind, (out.get(kind) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / 100);
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/**
 * Bytes written into a LevelDB directory, from outside: every file's largest size seen (sampled every 100 ms), less
 * its size at the start. LevelDB only appends to its files or writes them once (log, tables, MANIFEST), so this
 * counts the log, the memtable flushes and the compactions; a file created and deleted between two samples is missed.
 */
class DirWrites {
  private readonly start = new Map<string, number>();
  private readonly max = new Map<string, number>();
  private timer: NodeJS.Timeout;

  constructor(private readonly dir: string) {
    for (const [name, size] of this.sizes()) this.start.set(name, size);
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }

  private sizes(): Map<string, number> {
    const m = new Map<string, number>();
    for (const name of readdirSync(this.dir)) {
      try {
        m.set(name, statSync(join(this.dir, name)).size);
      } catch {
        /* deleted meanwhile */
      }
    }
    return m;
  }

  private sample(): void {
    for (const [name, size] of this.sizes()) this.max.set(name, Math.max(size, this.max.get(name) ?? 0));
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    let total = 0;
    for (const [name, size] of this.max) total += Math.max(0, size - (this.start.get(name) ?? 0));
    return total;
  }
}

async function sustained(o: DeviceOptions, store: h.StoreClient, arrivals: h.Arrivals, gw: h.Gateway, queueDir: string): Promise<{ p6: Section; p7: Section }> {
  await h.sleep(2000); // the tail of the previous phases (outbox acks, compaction) settles
  const n = o.sustained;
  const ids = Array.from({ length: n }, (_, i) => `p6-${i}`);
  const bodies = ids.map((id) => h.receiptJson(id));
  const jsonBytes = bodies.reduce((a, b) => a + Buffer.byteLength(b), 0) / n;
  const dirWrites = new DirWrites(queueDir);
  const wb0 = h.writeBytes(gw.pid);
  const cpu0 = h.cpuMs(gw.pid);
  const threads0 = threadCpu(gw.pid);
  const t0 = performance.now();
  // a store that keeps `window` receipts unanswered
  const mine = new Set(ids);
  let finished = 0;
  let next = 0;
  let lastReport = t0;
  const off = arrivals.onDone((id) => void (mine.has(id) && finished++));
  try {
    while (finished < n) {
      while (next < n && next - finished < o.window) void store.publish('receipt', bodies[next++]!);
      await arrivals.until(() => finished >= n || (next < n && next - finished < o.window), 'the sustained run', 60_000);
      if (performance.now() - lastReport > 30_000) {
        lastReport = performance.now();
        h.progress(`P6/P7: ${finished}/${n} receipts`);
      }
    }
  } finally {
    off();
  }
  const elapsed = performance.now() - t0;
  const cpu = h.cpuMs(gw.pid) - cpu0;
  const threads1 = threadCpu(gw.pid);
  // the tail: outbox entries removed after the PUBACKs, memtable flush / compaction in progress
  let wb = h.writeBytes(gw.pid);
  if (Number.isNaN(wb)) await h.sleep(3000);
  else {
    for (let i = 0; i < 40; i++) {
      await h.sleep(500);
      const now = h.writeBytes(gw.pid);
      if (now === wb && i >= 3) break;
      wb = now;
    }
  }
  const written = wb - wb0;
  const dirBytes = dirWrites.stop();
  h.progress(`P6/P7: ${n} receipts sustained`);

  const useDir = !(written > 0);
  const perReceipt = (useDir ? dirBytes : written) / n;
  const wear = perReceipt / jsonBytes;
  const cpuPer = cpu / n;
  const split = [...threads1]
    .map(([k, v]) => [k, v - (threads0.get(k) ?? 0)] as const)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${fmt.num(v / n, 2)}`)
    .join(', ');
  return {
    p6: {
      rows: [
        {
          id: 'P6',
          figure: 'SD wear',
          value: `${fmt.bytes(perReceipt)} written per receipt`,
          baseline: `${fmt.int(jsonBytes)} B receipt JSON`,
          ratio: fmt.ratio(wear),
          goal: '≤ 4× JSON',
          ok: wear <= 4,
        },
      ],
      notes: [
        `P6: ${n.toLocaleString('en-US')} receipts through the gateway (${fmt.num((n * 1000) / elapsed)} receipts/s, a store keeping ${o.window} unanswered)${o.history > 0 ? ` on a database that already held ${o.history.toLocaleString('en-US')} finished receipts (LevelDB's compaction work grows with what it holds)` : ' on a new database'}, measured by ${useDir ? 'the growth of the LevelDB directory (write_bytes of /proc/<pid>/io stayed 0 or could not be read: no I/O accounting in this kernel/container), which undercounts the device writes (see docs/performance.md)' : '/proc/<pid>/io write_bytes of the gateway process: what it sent to the block device, LevelDB log, flushes and compactions'}: ${fmt.int(useDir ? dirBytes : written)} B in all.${useDir ? '' : ` That is ${fmt.num(written / n / 4096, 1)} 4-KiB pages per receipt: every synced batch writes out at least the page at the end of the LevelDB log, however few bytes it appended. What LevelDB itself appended to its files (directory growth, each file's largest size sampled every 100 ms) was ${fmt.bytes(dirBytes / n)} per receipt.`}`,
      ],
    },
    p7: {
      rows: [
        {
          id: 'P7',
          figure: 'CPU per receipt',
          value: `${fmt.num(cpuPer, 2)} ms`,
          baseline: o.referenceCpuMs !== undefined ? `${fmt.num(o.referenceCpuMs, 2)} ms reference (ingest only)` : '–',
          ratio: o.referenceCpuMs !== undefined ? fmt.ratio(cpuPer / o.referenceCpuMs) : '–',
          goal: '≤ 1 ms',
          ok: cpuPer <= 1,
        },
      ],
      notes: [
        `P7: user+system CPU of the gateway process (/proc/<pid>/stat, all threads) over the same ${n.toLocaleString('en-US')}-receipt run: ${fmt.int(cpu)} ms in ${fmt.num(elapsed / 1000)} s (${fmt.num((cpu / elapsed) * 100, 0)}% of one core); per receipt by thread: ${split}.${o.ingestCpuMs !== undefined ? ` Ingest alone (P1) took ${fmt.num(o.ingestCpuMs, 2)} ms per receipt.` : ''}`,
      ],
    },
  };
}
