/** SD-card care: a serving, idle gateway process writes nothing to disk (write_bytes from /proc/<pid>/io). */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { makeRig } from '../helpers/rig.ts';
import { startGatewayProcess } from '../helpers/gateway-process.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';

export function writeBytes(pid: number): number {
  const m = /^write_bytes:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  if (!m) throw new Error(`no write_bytes in /proc/${pid}/io`);
  return Number(m[1]);
}

t.test('idle for a few seconds: no disk writes after the first receipt', async (t) => {
  // health every second, so the idle period covers several health publications and device polls
  const rig = await makeRig({ config: { mqtt: { health_interval: 1 } } });
  t.teardown(() => rig.close());
  const gw = startGatewayProcess(rig.config, rig.dir);
  t.teardown(() => void gw.child.kill('SIGKILL'));
  await rig.store.until(() => rig.store.messages.some((m) => m.topic.endsWith('/state') && m.body?.state === 'online'), 'gateway online', 30_000);
  // serving and warm: one receipt through (store open, register identified, shift opened)
  await rig.store.publish('receipt', sampleReceipt('warm-up'));
  await rig.store.until(() => rig.store.final('warm-up') !== undefined, 'warm-up receipt', 30_000);
  await rig.store.until(() => rig.store.messages.filter((m) => m.topic.endsWith('/health')).length >= 2, 'health publications');
  // the tail of the warm-up (outbox entry removed after the result's PUBACK, LevelDB log) settles first
  await new Promise((r) => setTimeout(r, 2000));
  const before = writeBytes(gw.pid);
  const healthBefore = rig.store.messages.filter((m) => m.topic.endsWith('/health')).length;
  await new Promise((r) => setTimeout(r, 5000));
  const after = writeBytes(gw.pid);
  t.ok(rig.store.messages.filter((m) => m.topic.endsWith('/health')).length > healthBefore, 'the gateway was alive and publishing health while idle');
  t.equal(after - before, 0, `no bytes written to disk while idle (wrote ${after - before})`);
  gw.child.kill('SIGTERM');
  t.equal(await gw.exited, 0);
});
