/**
 * The simulator end to end, small: `npm run fleet-sim`'s script with 20 gateways for a few seconds. It exits 0 only
 * when the monitor saw every gateway online and every injected fault (paper out, register down, offline by the last
 * will) raised its alert on kkt/fleet/alert/<id>; its stdout is the table the README records.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './doc-blocks.ts';

t.test('fleet-sim --gateways 20: every fault alerted, the figures printed', async (t) => {
  const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'scripts', 'fleet-sim', 'index.ts'), '--gateways', '20', '--minutes', '0.1', '--seed', '7'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 100_000);
  t.teardown(() => {
    clearTimeout(timer);
    child.kill('SIGKILL');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 0, 'exit 0: every gateway seen, every alert raised', { err, out });
  t.match(out, /^\|  \| 20 gateways \|$/m, 'one column, 20 gateways');
  t.match(out, /^\| faults injected \(alerts missing after 30 s\) \| 20 \(0 missing\) \|$/m);
  for (const row of ['broker CPU', 'broker RSS', 'monitor CPU', 'monitor RSS', 'fault → alert p50', 'fault → alert p99', '/metrics scrape p50 / max']) {
    t.match(out, new RegExp(`^\\| ${row.replace(/[/()]/g, '\\$&')}[^|]*\\| [0-9]`, 'm'), `${row} measured`);
  }
  t.match(out, /^\| \/metrics size \| \d+ KiB, 20 gateways \|$/m, 'every gateway in /metrics');
  t.match(out, /- CPU: .*cores/, 'the machine described');
});
