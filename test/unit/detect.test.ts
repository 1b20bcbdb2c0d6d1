/**
 * Finding the register by itself: the order of the questions, the answers of the emulator on a real pty (through
 * serialport's real binding), nothing answering, and the memory of what was found.
 */
import t from 'tap';
import { join } from 'node:path';
import net from 'node:net';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { isAtolAnswer } from '../../drivers/probe.ts';
import { openPort } from '../../drivers/transport.ts';
import { DetectionMemory, attempts, detect } from '../../src/device/detect.ts';

t.test('questions: the last finding first, the configured speed next, then each protocol’s usual speeds', async (t) => {
  const auto = attempts({ isTcp: false, protocol: 'auto', baudRate: 115200, remembered: { protocol: 'shtrih', baudRate: 4800 } });
  t.same(auto.slice(0, 3), [
    { protocol: 'shtrih', baudRate: 4800 },
    { protocol: 'atol', baudRate: 115200 },
    { protocol: 'shtrih', baudRate: 115200 },
  ]);
  const shtrihBauds = auto.filter((a) => a.protocol === 'shtrih').map((a) => a.baudRate);
  for (const b of [2400, 4800, 9600, 19200, 38400, 57600, 115200]) t.ok(shtrihBauds.includes(b), `Shtrih asked at ${b}`);
  t.equal(new Set(auto.map((a) => `${a.protocol}@${a.baudRate}`)).size, auto.length, 'no question twice');

  t.same(attempts({ isTcp: true, protocol: 'auto', baudRate: 115200 }), [
    { protocol: 'atol', baudRate: undefined },
    { protocol: 'shtrih', baudRate: undefined },
  ], 'over TCP: one question per protocol, no speeds');
  t.same(attempts({ isTcp: false, protocol: 'shtrih', baudRate: 9600 }), [{ protocol: 'shtrih', baudRate: 9600 }], 'pinned: only that protocol at that speed');
  t.same(attempts({ isTcp: false, protocol: 'auto', baudRate: 115200, remembered: { protocol: 'atol', baudRate: 115200 } })[0], { protocol: 'atol', baudRate: 115200 });
});

t.test('the ATOL answer is recognised by its frame and packet id, not by any FE byte', async (t) => {
  t.ok(isAtolAnswer(Buffer.from('0015fe02000655a7', 'hex')), 'a frame with the probe id after noise');
  t.notOk(isAtolAnswer(Buffer.from('fe020007', 'hex')), 'another packet id');
  t.notOk(isAtolAnswer(Buffer.from('15fe', 'hex')), 'a lone FE');
  t.notOk(isAtolAnswer(Buffer.from('06', 'hex')), 'a Shtrih ACK');
});

t.test('a Shtrih emulator on a pty is found as Shtrih; silent, nothing is found; the port gone is an error', async (t) => {
  const emu = new Emulator();
  const pty = await createPty();
  emu.attach(pty.stream);
  t.teardown(async () => {
    emu.close();
    await pty.close();
  });
  const tried: string[] = [];
  const fdBefore = emu.journal.lastFd;
  const open = (b: number | undefined) => openPort(pty.path, { baudRate: b ?? 115200 });
  const found = await detect({ openPort: open, isTcp: false, protocol: 'auto', baudRate: 115200, timeoutMs: 300, onTry: (a) => tried.push(`${a.protocol}:${a.answer}`) });
  t.same(found, { protocol: 'shtrih', baudRate: 115200 });
  t.same(tried, ['atol:no', 'shtrih:yes'], 'asked as ATOL first (the Shtrih ignored it), then as Shtrih');
  t.equal(emu.journal.lastFd, fdBefore, 'nothing was fiscalized by asking');

  runControl(emu, 'silent on');
  const none = await detect({ openPort: open, isTcp: false, protocol: 'auto', baudRate: 115200, timeoutMs: 60 });
  t.equal(none, undefined, 'a silent register: nothing found');
  runControl(emu, 'silent off');

  await t.rejects(detect({ openPort: (b) => openPort(join(t.testdir(), 'no-such-tty'), { baudRate: b ?? 115200 }), isTcp: false, protocol: 'auto', baudRate: 115200, timeoutMs: 60 }),
    'a port that cannot be opened is an error, not "nothing answered"');
});

t.test('an ATOL emulator on a pty is found as ATOL at once; over TCP too', async (t) => {
  const emu = new Emulator({ protocol: 'atol' });
  const pty = await createPty();
  emu.attach(pty.stream);
  t.teardown(async () => {
    emu.close();
    await pty.close();
  });
  const tried: string[] = [];
  const found = await detect({ openPort: (b) => openPort(pty.path, { baudRate: b ?? 115200 }), isTcp: false, protocol: 'auto', baudRate: 115200, timeoutMs: 300, onTry: (a) => tried.push(`${a.protocol}:${a.answer}`) });
  t.same(found, { protocol: 'atol', baudRate: 115200 });
  t.same(tried, ['atol:yes']);

  const server = net.createServer((s) => emu.attach(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const target = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  t.same(await detect({ openPort: () => openPort(target), isTcp: true, protocol: 'auto', baudRate: 115200, timeoutMs: 300 }), { protocol: 'atol' });
  const shtrihOnly = await detect({ openPort: () => openPort(target), isTcp: true, protocol: 'shtrih', baudRate: 115200, timeoutMs: 100 });
  t.equal(shtrihOnly, undefined, 'pinned to Shtrih, an ATOL register does not answer ENQ');
});

t.test('what was found is remembered per port', async (t) => {
  const dir = t.testdir();
  const m = DetectionMemory.inDataDir(dir);
  t.equal(await m.get('/dev/ttyACM0'), undefined);
  await m.set('/dev/ttyACM0', { protocol: 'atol', baudRate: 115200 });
  await m.set('tcp://10.0.0.5:7778', { protocol: 'shtrih' });
  const again = DetectionMemory.inDataDir(dir);
  t.same(await again.get('/dev/ttyACM0'), { protocol: 'atol', baudRate: 115200 });
  t.same(await again.get('tcp://10.0.0.5:7778'), { protocol: 'shtrih' });
});
