/**
 * The emulator's pseudo-terminal is raw for a host that does not set the line discipline itself: opened with plain
 * fs (no serialport, no stty), every byte value 0x00–0xFF passes unchanged both ways (no echo, no CR/NL mapping, no
 * signal or flow-control characters, no line buffering), and the emulator link answers over it.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { Collector, hex } from './helpers.ts';

const ALL = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const STATUS_FRAME = hex('02 05 10 1E 00 00 00 0B');

/** the pty opened like a plain file: read/write, not as the controlling terminal, non-blocking reads */
function openPlain(p: string): number {
  return fs.openSync(p, fs.constants.O_RDWR | fs.constants.O_NOCTTY | fs.constants.O_NONBLOCK);
}

/** exactly `n` bytes from the fd, polling non-blocking reads; throws with what came when they do not come */
async function readPlain(fd: number, n: number, timeoutMs = 3000): Promise<Buffer> {
  const out: Buffer[] = [];
  let have = 0;
  const deadline = Date.now() + timeoutMs;
  while (have < n) {
    const chunk = Buffer.alloc(n - have);
    let got = 0;
    try {
      got = fs.readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
    if (got > 0) {
      out.push(chunk.subarray(0, got));
      have += got;
      continue;
    }
    if (Date.now() > deadline) throw new Error(`wanted ${n} bytes, got ${have}: ${Buffer.concat(out).toString('hex')}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Buffer.concat(out);
}

/** nothing more arrives on the fd for a while (no echo, no stray bytes) */
async function nothingMore(fd: number): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 150));
  try {
    return fs.readSync(fd, Buffer.alloc(1), 0, 1, null) === 0;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EAGAIN';
  }
}

t.test('plain fs on the pty: all 256 byte values unchanged both ways, then the emulator answers', async (t) => {
  const link = path.join(t.testdir(), 'ttyKKT');
  const pty = await createPty({ link });
  t.teardown(() => pty.close());
  let fd = openPlain(link);

  // host → device: what the emulator side (socat's stdio) receives
  const device = new Collector(pty.stream);
  fs.writeSync(fd, ALL);
  t.same(await device.read(256), ALL, 'host → device: every byte value unchanged, none added');
  t.ok(await device.quiet(150), 'nothing more on the device side');
  t.ok(await nothingMore(fd), 'no echo to the host');

  // device → host
  pty.stream.write(ALL);
  t.same(await readPlain(fd, 256), ALL, 'device → host: every byte value unchanged (no NL→CRNL, no CR→NL, no line buffering)');
  t.ok(await nothingMore(fd), 'nothing more to the host');
  t.ok(await device.quiet(150), 'no echo to the device');

  // the emulator link over it; and a second open (the host reconnecting) finds the pty still raw
  pty.stream.removeAllListeners('data');
  const emu = new Emulator();
  t.teardown(() => emu.close());
  emu.attach(pty.stream);
  for (const round of ['first open', 'reopened']) {
    if (round === 'reopened') {
      fs.closeSync(fd);
      fd = openPlain(link);
    }
    fs.writeSync(fd, hex('05'));
    t.same(await readPlain(fd, 1), hex('15'), `${round}: ENQ → NAK (idle)`);
    fs.writeSync(fd, STATUS_FRAME);
    t.same(await readPlain(fd, 1), hex('06'), `${round}: the frame → ACK`);
    const head = await readPlain(fd, 2);
    t.same(head[0], 0x02, `${round}: STX`);
    const rest = await readPlain(fd, head[1]! + 1);
    t.same(rest.subarray(0, 3), hex('10 00 1E'), `${round}: 10h answered, no error, operator 30`);
    fs.writeSync(fd, hex('06'));
  }
  fs.closeSync(fd);
});
