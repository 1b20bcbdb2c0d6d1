import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { SerialPort } from 'serialport';
import { closeSerialPort } from '../helpers/serial.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { Collector, hex } from './helpers.ts';

const STATUS_FRAME = hex('02 05 10 1E 00 00 00 0B');
const ROOT = path.resolve(import.meta.dirname, '../..');

function openPort(p: string): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path: p, baudRate: 115200 }, (err) => (err ? reject(err) : resolve(port)));
  });
}


/** ENQ, then 10h; returns the reply to ENQ, the ACK of the frame and the answer frame */
async function exchange(port: SerialPort): Promise<Buffer[]> {
  const rx = new Collector(port);
  port.write(hex('05'));
  const enq = await rx.read(1);
  port.write(STATUS_FRAME);
  const ack = await rx.read(1);
  const answer = await rx.frame();
  port.write(hex('06'));
  return [enq, ack, answer.subarray(1, 5)];
}

const GOOD_EXCHANGE = [hex('15'), hex('06'), hex('10 10 00 1E')];

t.test('through a real pty (socat) with the serialport binding, raw bytes both ways, and a replug', async (t) => {
  const emu = new Emulator();
  const link = path.join(t.testdir(), 'ttyKKT');
  let pty = await createPty({ link });
  emu.attach(pty.stream);
  let port = await openPort(link);
  t.same(await exchange(port), GOOD_EXCHANGE, 'ENQ → NAK, frame → ACK + 10h answer');

  const rx = new Collector(port);
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  pty.stream.write(all);
  t.same(await rx.read(256), all, 'device → host: every byte value unchanged, no echo');
  await closeSerialPort(port);

  await pty.close();
  pty = await createPty({ link });
  emu.attach(pty.stream);
  port = await openPort(link);
  t.same(await exchange(port), GOOD_EXCHANGE, 'ENQ → NAK, frame → ACK + 10h answer');
  await closeSerialPort(port);
  await pty.close();
  emu.close();
});

t.test('the CLI: PTY line, control lines, serving, SIGTERM, --dump', async (t) => {
  const journal = path.join(t.testdir(), 'fn.jsonl');
  const cli = spawn(process.execPath, [path.join(ROOT, 'bin/kkt-emulator.js'), '--pty', '--journal', journal], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: cli.stdout });
  const it = lines[Symbol.asyncIterator]();
  const next = async (): Promise<string> => String((await it.next()).value);
  const first = await next();
  t.match(first, /^PTY \/dev\/pts\/\d+$/);
  cli.stdin.write('fault drop-answer\n');
  t.equal(await next(), 'OK drop-answer ×1');
  cli.stdin.write('nonsense\n');
  t.match(await next(), /^ERR /);

  const port = await openPort(first.slice(4));
  const rx = new Collector(port);
  port.write(hex('02 05 E0 1E 00 00 00 FB'));
  t.same(await rx.read(1), hex('06'));
  t.ok(await rx.quiet(150), 'answer dropped');
  port.write(hex('05'));
  t.same(await rx.read(1), hex('06'));
  t.same((await rx.frame()).subarray(2, 5), hex('E0 00 1E'));
  port.write(hex('06'));
  await closeSerialPort(port);

  cli.stdin.write('status\n');
  t.match(await next(), /^OK mode 2\/0 .*lastFd 1/);
  const exit = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
  cli.kill('SIGTERM');
  t.equal(await exit, 0);

  const dump = spawn(process.execPath, [path.join(ROOT, 'bin/kkt-emulator.js'), '--journal', journal, '--dump'], { cwd: ROOT });
  let out = '';
  dump.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => dump.once('exit', r));
  const parsed = JSON.parse(out) as { documents: Array<{ type: number }> };
  t.same(parsed.documents.map((d) => d.type), [2]);
});
