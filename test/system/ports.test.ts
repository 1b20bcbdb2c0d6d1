/**
 * `kkt-gateway ports --device PATH`: the real CLI asks a pty with the emulator behind it which register answers, and
 * says that nothing answered on a pty nobody serves.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { createPty } from '../../drivers/emulator/pty.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function ports(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/kkt-gateway.js'), 'ports', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

t.test('a register behind a pty: its protocol, speed, model and serial; an empty pty: nothing answered', async (t) => {
  const emu = new Emulator();
  const dir = t.testdir();
  const served = await createPty({ link: path.join(dir, 'ttyKKT') });
  emu.attach(served.stream);
  const empty = await createPty({ link: path.join(dir, 'ttyNobody') });
  t.teardown(async () => {
    emu.close();
    await served.close();
    await empty.close();
  });

  const r = await ports(['--device', served.path, '--device', empty.path]);
  t.equal(r.code, 0, r.err);
  const block = (p: string): string => {
    const lines = r.out.split('\n');
    const i = lines.findIndex((l) => l.includes(p));
    return lines.slice(i, i + 3).join('\n');
  };
  t.match(block(served.path), /^\[register\]/, 'the served pty is a register');
  t.match(block(served.path), /answered: Shtrih-M at 115200 baud — .+, serial \d+/, 'protocol, speed, model and serial');
  t.match(block(empty.path), /^\[other\]/, 'the empty pty is no register');
  t.match(block(empty.path), /nothing answered \(asked as ATOL and as Shtrih-M at the usual speeds\)/);
  t.match(r.out, `one register found: set "device": { "port": "${served.path}" }`);

  const quick = await ports(['--no-probe', '--device', served.path]);
  t.notMatch(quick.out, /answered:|nothing answered \(/, '--no-probe asks nothing');
});
