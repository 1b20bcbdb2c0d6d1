/**
 * The pool from the command line, as an installer runs it: `kkt-gateway run --device hall=PTY --device PTY` (the
 * second id generated), the real process, two emulators (Shtrih-M and ATOL, protocol found by itself), a real
 * broker: receipts are printed on both and each result names its register; a command without `device` is refused.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePoolRig } from '../helpers/pool-rig.ts';
import { ROOT } from '../helpers/gateway-process.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';

t.test('--device ID=PATH and --device PATH make a pool of two in the real process', async (t) => {
  const rig = await makePoolRig({ registers: [{ id: 'x', protocol: 'shtrih', emulator: { link: { printMs: 150 } } }, { id: 'y', protocol: 'atol', emulator: { link: { printMs: 150 } } }], broker: 'mosquitto' });
  t.teardown(() => rig.close());
  const file = join(rig.dir, 'cli-config.json');
  writeFileSync(file, JSON.stringify({ gateway_id: 'cli', data_dir: join(rig.dir, 'cli-data'), mqtt: { url: rig.broker.url, base_topic: rig.config.mqtt.base_topic }, web: { host: '127.0.0.1', port: 0 }, log: { level: 'warn' } }));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'kkt-gateway.js'), 'run', '--config', file, '--device', `hall=${rig.ptys.get('x')!.path}`, '--device', rig.ptys.get('y')!.path], { cwd: rig.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  t.teardown(async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
  const base = rig.config.mqtt.base_topic;
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === `${base}/state` && m.body?.state === 'online'), `gateway online: ${out}`, 30_000);
  const ids = Array.from({ length: 8 }, (_, i) => `cli-${i}`);
  for (const [i, id] of ids.entries()) await rig.store.publish('receipt', crashReceipt(id, i));
  await rig.store.until(() => ids.every((id) => rig.store.final(id)), `results: ${out.slice(-2000)}`, 60_000);
  const devices = new Set(ids.map((id) => (rig.store.final(id) as any).device));
  t.same([...devices].sort(), ['hall', 'kkt2'], 'printed on both registers, named hall and kkt2 (generated)');
  t.ok(ids.every((id) => rig.store.final(id)?.status === 'done'));
  await rig.store.publish('request/x_report', { transaction: 'x-1' });
  await rig.store.until(() => rig.store.messages.some((m) => m.topic === `${base}/response/x_report` && m.body?.transaction === 'x-1'), 'x_report answer');
  t.match(rig.store.messages.find((m) => m.topic === `${base}/response/x_report`)!.body, { status: 'error', error: { code: 'DEVICE_REQUIRED' } });
  const health = rig.store.messages.filter((m) => m.topic === `${base}/health`).at(-1)!.body;
  t.same(health.registers.map((r: any) => [r.id, r.register.protocol]), [['hall', 'shtrih'], ['kkt2', 'atol']], 'health: one section per register, the protocols found by asking');
});
