/**
 * P8 pool throughput: the real gateway process with a pool of 1, 2 and 3 registers (Shtrih-M, ATOL, Shtrih-M
 * emulators, each on its own pty) that take a realistic time to print (1.5 s per closing command), a real
 * mosquitto, a burst of receipts: receipts/s with N registers against N × the one-register rate of the same run.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../../src/config/index.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import * as h from './harness.ts';
import { fmt, type Section } from './table.ts';

export interface PoolOptions {
  /** receipts in the measured burst per register of the pool */
  perRegister: number;
  /** the emulators' print time of a receipt (closing command), ms */
  printMs: number;
}

const PROTOCOLS = ['shtrih', 'atol', 'shtrih'] as const;

async function poolRate(n: number, o: PoolOptions): Promise<{ rate: number; seconds: number; receipts: number; spread: string }> {
  const broker = await h.broker();
  const regs = await Promise.all(PROTOCOLS.slice(0, n).map((protocol) => h.register({ emulator: { protocol, link: { printMs: o.printMs } } })));
  const dir = h.tempDir(`pool-${n}`);
  const config = parseConfig({
    gateway_id: 'bench',
    data_dir: join(dir, 'data'),
    mqtt: { url: broker.url, reconnect_min_ms: 200, reconnect_max_ms: 1000 },
    devices: regs.map((r, i) => ({ id: `r${i + 1}`, port: r.pty.path, protocol: PROTOCOLS[i] })),
    web: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn' },
  }, {}, 'bench');
  const store = await h.storeClient(broker.url, config.mqtt.base_topic);
  const arrivals = new h.Arrivals(store);
  const t0 = performance.now();
  const gw = h.spawnGateway(config, dir);
  await h.waitOnline(arrivals, t0, gw);
  // warm-up, one receipt pinned to each register: every shift is open before the measured burst
  const warm = regs.map((_, i) => `warm-${n}-${i}`);
  for (const [i, id] of warm.entries()) await store.publish('receipt', { ...sampleReceipt(id), device: `r${i + 1}` });
  await arrivals.until(() => warm.every((id) => arrivals.done.has(id)), `pool of ${n}: warm-up`, 60_000);
  const ids = Array.from({ length: o.perRegister * n }, (_, i) => `pool-${n}-${i}`);
  const start = performance.now();
  for (const id of ids) await store.publish('receipt', h.receiptJson(id));
  await arrivals.until(() => ids.every((id) => arrivals.done.has(id)), `pool of ${n}: the burst`, 60_000 + ids.length * o.printMs * 3);
  const last = Math.max(...ids.map((id) => arrivals.done.get(id)!));
  const seconds = (last - start) / 1000;
  const spread = regs.map((r, i) => `r${i + 1}:${r.emulator.journal.lastFd}`).join(' ');
  await gw.stop();
  for (const r of regs) await r.close();
  await store.close();
  await broker.stop();
  return { rate: ids.length / seconds, seconds, receipts: ids.length, spread };
}

export async function poolRun(o: PoolOptions): Promise<Section> {
  const runs: Array<Awaited<ReturnType<typeof poolRate>>> = [];
  for (const n of [1, 2, 3]) {
    const r = await poolRate(n, o);
    h.progress(`P8: ${n} register(s): ${r.receipts} receipts in ${fmt.num(r.seconds)} s = ${fmt.num(r.rate, 2)}/s (last FD per FN ${r.spread})`);
    runs.push(r);
    await h.cleanup();
  }
  const one = runs[0]!.rate;
  const rows = runs.slice(1).map((r, i) => {
    const n = i + 2;
    const ratio = r.rate / (n * one);
    return {
      id: 'P8',
      figure: `pool throughput, ${n} registers (${fmt.num(o.printMs / 1000)} s a receipt)`,
      value: `${fmt.num(r.rate, 2)} receipts/s`,
      baseline: `${n} × ${fmt.num(one, 2)}/s one register`,
      ratio: fmt.ratio(ratio),
      goal: '≥ 0.90× N × one',
      ok: ratio >= 0.9,
    };
  });
  return {
    rows,
    notes: [
      `P8: the gateway process with a pool of 1, 2, 3 registers (Shtrih-M, ATOL, Shtrih-M emulators; ${fmt.num(o.printMs / 1000)} s to print a receipt); a burst of ${o.perRegister} receipts per register after a warm-up receipt on each; time from the first publish to the last \`done\`. Per run: ${runs.map((r, i) => `${i + 1}: ${r.receipts} in ${fmt.num(r.seconds)} s (${r.spread})`).join('; ')}`,
    ],
  };
}
