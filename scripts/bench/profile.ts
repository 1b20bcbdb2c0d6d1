/**
 * The per-receipt CPU profile (issue 17 item 4): the P6/P7 path (a store keeping 50 receipts unanswered, instant
 * line) with the gateway under `node --cpu-prof`; prints the functions with the most self time, by file.
 *
 *   node --import=tsx scripts/bench/profile.ts [receipts=400] [--runner tsx] [--protocol atol]
 *
 * The profile (.cpuprofile, for Chrome DevTools) stays in the directory it prints.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as h from './harness.ts';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 400);
  const runnerKind = args.includes('--runner') ? (args[args.indexOf('--runner') + 1] as h.RunnerKind) : 'bundle';
  const protocol = args.includes('--protocol') ? (args[args.indexOf('--protocol') + 1] as 'shtrih' | 'atol') : 'shtrih';
  await h.useRunner(runnerKind);
  const out = mkdtempSync(join(tmpdir(), 'kkt-prof-'));
  const broker = await h.broker();
  const reg = await h.register({ emulator: { protocol } });
  const dir = h.tempDir('profile');
  const config = h.gatewayConfig(dir, broker.url, reg.pty.path, { device: { protocol } });
  const store = await h.storeClient(broker.url, config.mqtt.base_topic);
  const arrivals = new h.Arrivals(store);
  const gw = h.spawnGateway(config, dir, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${out}`] });
  await h.waitOnline(arrivals, gw.spawnedAt, gw);
  const ids = Array.from({ length: n }, (_, i) => `prof-${i}`);
  let next = 0;
  const cpu0 = h.cpuMs(gw.pid);
  while (arrivals.done.size < n) {
    while (next < n && next - arrivals.done.size < 50) void store.publish('receipt', h.receiptJson(ids[next++]!));
    await arrivals.until(() => arrivals.done.size >= n || (next < n && next - arrivals.done.size < 50), 'the receipts', 120_000);
  }
  const cpu = h.cpuMs(gw.pid) - cpu0;
  await gw.stop();
  await h.cleanup({ final: true });
  const file = readdirSync(out).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${out}`);
  const p = JSON.parse(readFileSync(join(out, file), 'utf8')) as Profile;
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const node of p.nodes) {
    const us = self.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const where = f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|src|drivers)\//, '$1/') || '(native)';
    byFn.set(`${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`, (byFn.get(`${f.functionName || '(anonymous)'} ${where}:${f.lineNumber + 1}`) ?? 0) + us);
    const pkg = where.startsWith('(') ? where : where.split('/').slice(0, where.startsWith('@') ? 2 : 1).join('/');
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + us);
  }
  const top = (m: Map<string, number>, k: number): string[] =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000 / n).toFixed(3)} ms/receipt  ${name}`);
  process.stdout.write(`${n} receipts (${protocol}), process CPU ${(cpu / n).toFixed(2)} ms per receipt; main-thread samples ${(total / 1000 / n).toFixed(2)} ms per receipt (idle included)\nprofile: ${join(out, file)}\n\nby package / top directory:\n${top(byFile, 15).join('\n')}\n\nby function (self time):\n${top(byFn, 40).join('\n')}\n`);
}

main().then(() => process.exit(0), (err: Error) => {
  process.stderr.write(`${err.stack}\n`);
  void h.cleanup({ final: true }).finally(() => process.exit(1));
});
