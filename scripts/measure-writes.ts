/**
 * Disk writes per receipt (SD-card wear): pushes N receipts through a real gateway process (aedes broker, emulator on
 * a pty) and prints the bytes the process wrote (/proc/<pid>/io write_bytes, LevelDB log and compaction included)
 * per receipt, against the size of the receipt JSON.
 *
 *   node --import=tsx scripts/measure-writes.ts [N=200]
 */
import { readFileSync } from 'node:fs';
import { makeRig } from '../test/helpers/rig.ts';
import { startGatewayProcess } from '../test/helpers/gateway-process.ts';
import { sampleReceipt } from '../src/cli/sample.ts';

const n = Number(process.argv[2] ?? 200);
const writeBytes = (pid: number): number => Number(/^write_bytes:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);

const rig = await makeRig();
const gw = startGatewayProcess(rig.config, rig.dir);
try {
  await rig.store.until(() => rig.store.messages.some((m) => m.topic.endsWith('/state') && m.body?.state === 'online'), 'gateway online', 30_000);
  await rig.store.publish('receipt', sampleReceipt('warm-up'));
  await rig.store.until(() => rig.store.final('warm-up') !== undefined, 'warm-up', 30_000);
  await new Promise((r) => setTimeout(r, 2000));
  const before = writeBytes(gw.pid);
  const ids = Array.from({ length: n }, (_, i) => `measure-${i}`);
  let jsonBytes = 0;
  const t0 = Date.now();
  for (const id of ids) {
    const body = JSON.stringify(sampleReceipt(id));
    jsonBytes += Buffer.byteLength(body);
    await rig.store.publish('receipt', body);
  }
  await rig.store.until(() => ids.every((id) => rig.store.final(id) !== undefined), 'all results', 600_000);
  await new Promise((r) => setTimeout(r, 2000)); // outbox removals and compaction tail
  const written = writeBytes(gw.pid) - before;
  const perReceipt = written / n;
  const jsonPer = jsonBytes / n;
  process.stdout.write(
    [
      `receipts            ${n} in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      `receipt JSON        ${jsonPer.toFixed(0)} B each`,
      `written to disk     ${written} B total, ${perReceipt.toFixed(0)} B per receipt (${(perReceipt / jsonPer).toFixed(1)}× the JSON)`,
      `per 1000 receipts   ${((perReceipt * 1000) / 1048576).toFixed(2)} MiB`,
      '',
    ].join('\n'),
  );
} finally {
  gw.child.kill('SIGTERM');
  await gw.exited;
  await rig.close();
}
