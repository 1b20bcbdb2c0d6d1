import t from 'tap';
import { duplexPair } from '../../drivers/emulator/duplex-pair.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { Collector, cmd, ff46, hex } from './helpers.ts';

const ENQ = hex('05');
const ACK = hex('06');
const NAK = hex('15');
/** 10h with password 30, framed by hand: STX LEN=5 10 1E 00 00 00 LRC=0B */
const STATUS_FRAME = hex('02 05 10 1E 00 00 00 0B');

function frameOf(payload: Buffer): Buffer {
  let x = payload.length;
  for (const b of payload) x ^= b;
  return Buffer.concat([Buffer.from([0x02, payload.length]), payload, Buffer.from([x])]);
}

function setup(t: { teardown(fn: () => void): void }, linkOpts = {}) {
  const emu = new Emulator({ clock: { utcOffsetMinutes: 0 } });
  const [host, device] = duplexPair();
  const link = emu.attach(device, linkOpts);
  const rx = new Collector(host);
  t.teardown(() => emu.close());
  return { emu, host, rx, link };
}

t.test('idle: ENQ → NAK; a frame → ACK, answer; host ACK → idle again', async (t) => {
  const { host, rx, link } = setup(t);
  host.write(ENQ);
  t.same(await rx.read(1), NAK);
  host.write(STATUS_FRAME);
  t.same(await rx.read(1), ACK);
  const answer = await rx.frame();
  t.equal(answer[1], 16, 'LEN 16');
  t.same(answer.subarray(2, 5), hex('10 00 1E'));
  t.equal(link.linkState, 'holding');
  host.write(ACK);
  host.write(ENQ);
  t.same(await rx.read(1), NAK);
  t.equal(link.linkState, 'idle');
});

t.test('lost answer: the device holds it; ENQ → ACK + the same answer', async (t) => {
  const { emu, host, rx } = setup(t);
  runControl(emu, 'fault drop-answer');
  host.write(frameOf(cmd(0xe0)));
  t.same(await rx.read(1), ACK);
  t.ok(await rx.quiet(100), 'no answer sent');
  t.equal(emu.journal.lastFd, 1, 'but the command was executed');
  host.write(ENQ);
  t.same(await rx.read(1), ACK);
  const answer = await rx.frame();
  t.same(answer.subarray(2, 5), hex('E0 00 1E'));
  host.write(ENQ);
  t.same(await rx.read(1), ACK, 'still unacknowledged: ACK and resend');
  t.same(await rx.frame(), answer);
  host.write(ACK);
  host.write(ENQ);
  t.same(await rx.read(1), NAK);
});

t.test('host NAK of an answer: the device waits for ENQ, then resends', async (t) => {
  const { emu, host, rx } = setup(t);
  runControl(emu, 'fault garble');
  host.write(STATUS_FRAME);
  t.same(await rx.read(1), ACK);
  const garbled = await rx.frame();
  t.not(garbled.toString('hex'), '', 'something arrived');
  host.write(NAK);
  t.ok(await rx.quiet(100), 'nothing resent by itself');
  host.write(ENQ);
  t.same(await rx.read(1), ACK);
  const good = await rx.frame();
  t.same(good.subarray(2, 5), hex('10 00 1E'));
  t.not(good.toString('hex'), garbled.toString('hex'));
  let x = good[1]!;
  for (const b of good.subarray(2, -1)) x ^= b;
  t.equal(x, good.at(-1), 'LRC ok');
});

t.test('bad LRC → NAK, nothing executed; a NAK fault on a good frame likewise', async (t) => {
  const { emu, host, rx } = setup(t);
  const bad = frameOf(cmd(0xe0));
  bad.writeUInt8(bad.at(-1)! ^ 0xff, bad.length - 1);
  host.write(bad);
  t.same(await rx.read(1), NAK);
  t.equal(emu.journal.lastFd, 0);
  runControl(emu, 'fault nak');
  host.write(frameOf(cmd(0xe0)));
  t.same(await rx.read(1), NAK);
  t.equal(emu.journal.lastFd, 0);
  host.write(frameOf(cmd(0xe0)));
  t.same(await rx.read(1), ACK);
  await rx.frame();
  t.equal(emu.journal.lastFd, 1);
});

t.test('inter-byte timeout discards a partial frame', async (t) => {
  const { host, rx } = setup(t, { interByteTimeoutMs: 30 });
  host.write(STATUS_FRAME.subarray(0, 4));
  await new Promise((r) => setTimeout(r, 80));
  host.write(ENQ);
  t.same(await rx.read(1), NAK, 'the ENQ is seen as a control byte again');
  host.write(STATUS_FRAME);
  t.same(await rx.read(1), ACK);
  t.equal((await rx.frame())[1], 16);
});

t.test('a frame split over many writes is assembled; 0xFF fillers are ignored', async (t) => {
  const { host, rx } = setup(t);
  host.write(hex('FF FF'));
  for (const b of STATUS_FRAME) host.write(Buffer.from([b]));
  t.same(await rx.read(1), ACK);
  t.equal((await rx.frame())[1], 16);
});

t.test('dropped ACK: the command is executed and answered without the ACK', async (t) => {
  const { emu, host, rx } = setup(t);
  runControl(emu, 'fault drop-ack');
  host.write(frameOf(cmd(0xe0)));
  const answer = await rx.frame();
  t.same(answer.subarray(2, 5), hex('E0 00 1E'));
  t.equal(emu.journal.lastFd, 1);
});

t.test('a new frame while an answer is unacknowledged is a new command', async (t) => {
  const { emu, host, rx } = setup(t);
  host.write(frameOf(ff46({ price: 100 })));
  t.same(await rx.read(1), ACK);
  await rx.frame();
  host.write(frameOf(cmd(0x88)));
  t.same(await rx.read(1), ACK);
  t.same((await rx.frame()).subarray(2, 5), hex('88 00 1E'));
  t.equal(emu.device.mode, 2);
});

t.test('print time: ENQ while the answer is prepared → ACK, then the answer', async (t) => {
  const { host, rx } = setup(t, { printMs: 150 });
  host.write(frameOf(cmd(0xe0)));
  t.same(await rx.read(1), ACK);
  host.write(ENQ);
  t.same(await rx.read(1), ACK, 'busy: ACK');
  t.same((await rx.frame()).subarray(2, 5), hex('E0 00 1E'));
  t.ok(await rx.quiet(50), 'sent once');
});

t.test('stall, silence (cable pulled) and its end', async (t) => {
  const { emu, host, rx } = setup(t);
  runControl(emu, 'fault stall 100');
  host.write(STATUS_FRAME);
  t.same(await rx.read(1), ACK);
  t.equal((await rx.frame())[1], 16);
  host.write(ACK);
  t.equal(runControl(emu, 'silent on'), 'OK silent on');
  host.write(ENQ);
  host.write(STATUS_FRAME);
  t.ok(await rx.quiet(100), 'no answer at all');
  runControl(emu, 'silent off');
  host.write(ENQ);
  t.same(await rx.read(1), NAK);
});

t.test('baud pacing still delivers every byte in order', async (t) => {
  const { host, rx } = setup(t, { baud: 115200 });
  host.write(STATUS_FRAME);
  t.same(await rx.read(1), ACK);
  t.equal((await rx.frame())[1], 16);
});

t.test('line noise never crashes the link', async (t) => {
  const { host, rx } = setup(t);
  const noise = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 73 + 11) & 0xff));
  host.write(noise);
  await new Promise((r) => setTimeout(r, 100));
  host.write(hex('06'));
  await new Promise((r) => setTimeout(r, 100));
  const drained = rx.pending;
  await rx.read(drained);
  host.write(ENQ);
  const b = await rx.read(1);
  t.ok(b[0] === 0x15 || b[0] === 0x06, 'still speaks the protocol');
});
