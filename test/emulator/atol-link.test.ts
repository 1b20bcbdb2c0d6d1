/** ATOL emulator: §2.1 frames, §2.2 task buffer rules, and every fault kind, with hand-built host frames. */
import t from 'tap';
import { duplexPair } from '../../drivers/emulator/duplex-pair.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { crc8, encodeFrame, FrameReader } from '../../drivers/emulator/atol/codec.ts';
import { Host, add, bcd, frame, hex, task, text } from './atol-helpers.ts';

function setup(t: { teardown(fn: () => void): void }, printMs = 0) {
  const emu = new Emulator({ protocol: 'atol', clock: { utcOffsetMinutes: 0 }, link: { printMs } });
  const [hostEnd, deviceEnd] = duplexPair();
  emu.attach(deviceEnd);
  const host = new Host(hostEnd as never);
  t.teardown(() => emu.close());
  return { emu, host, hostEnd };
}

const STATUS = task([0x3f]);
const mode1 = task([0x56, 1], bcd(30, 4));

t.test('§2.1 frame vectors: the emulator codec and the test host agree with the spec', async (t) => {
  const vectors: Array<[number, string, string]> = [
    [0x06, 'C4', 'FE 01 00 06 C4 58'],
    [0x07, 'C1 01 02 00 00 A5', 'FE 06 00 07 C1 01 02 00 00 A5 8D'],
    [0x08, 'C3 02', 'FE 02 00 08 C3 02 FC'],
    [0x10, 'C1 01 05 00 00 92 00 01', 'FE 08 00 10 C1 01 05 00 00 92 00 01 1A'],
  ];
  for (const [id, data, wire] of vectors) {
    t.same(encodeFrame(id, hex(data)), hex(wire), `emulator ${wire}`);
    t.same(frame(id, hex(data)), hex(wire), `host ${wire}`);
  }
  t.equal(crc8(hex('F0 A6 57 55 00 00')), 0xfe, 'async result CRC is FE');
  t.same(encodeFrame(0xf0, hex('A6 57 55 00 00')), hex('FE 05 00 F0 A6 57 55 00 00 FD EE'), 'a CRC of FE is stuffed');
  const stuffed = encodeFrame(1, hex('FE FD 01'));
  t.same(stuffed.subarray(0, 9), hex('FE 03 00 01 FD EE FD ED 01'), 'data FE/FD stuffed, LEN counts unstuffed bytes');
  const r = new FrameReader();
  const [f] = r.push(stuffed);
  t.same(f!.data, hex('FE FD 01'));
  t.ok(f!.ok);
  const long = Buffer.alloc(300, 0x11);
  const lf = encodeFrame(2, long);
  t.same([lf[1], lf[2]], [300 & 0x7f, 300 >> 7], 'LEN in 7-bit halves');
  t.same(new FrameReader().push(lf)[0]!.data, long);
});

t.test('a bad CRC is answered with an empty frame of the same ID; an empty host frame gets the answer again', async (t) => {
  const { host, hostEnd } = setup(t);
  const good = frame(0x21, add(1, STATUS));
  const bad = Buffer.from(good);
  bad[bad.length - 1]! ^= 0x01;
  hostEnd.write(bad);
  const empty = await host.rx.next();
  t.same([empty.id, empty.data.length], [0x21, 0], 'empty answer: send it again');
  hostEnd.write(good);
  const answer = await host.rx.next((f) => f.id === 0x21);
  t.same(answer.data, hex('A1'), 'A1: accepted');
  t.equal((await host.asyncResult(1))[2], 0x44, 'the 3F answer on F0');
  hostEnd.write(frame(0x21, Buffer.alloc(0)));
  const again = await host.rx.next((f) => f.id === 0x21);
  t.same(again.data, answer.data, 'the same answer again, not executed twice');
  t.ok(await host.rx.quiet(100), 'no second async result');
});

t.test('task buffer: B2 for a kept TID, C3 state, C2 consumes, B3 unknown, C4 clears, C5 acks and adds', async (t) => {
  const { emu, host } = setup(t);
  t.same(await host.send(hex('C4')), hex('A3'), 'C4 answered');
  t.same(await host.send(add(5, mode1, 0x00)), hex('A1'), 'no result needed: accepted');
  t.ok(await host.rx.quiet(100), 'and no async result without flag bit0');
  t.same(await host.send(add(5, mode1)), hex('B2'), 'TID 5 still kept: exists');
  t.same(await host.send(hex('C3 05')), hex('A3 55 00 00'), 'C3: result');
  t.same(await host.send(hex('C3 09')), hex('B3'), 'C3 of an unknown TID');
  t.same(await host.send(hex('C2 05')), hex('A3'), 'C2 consumes');
  t.same(await host.send(hex('C3 05')), hex('B3'), 'gone');
  t.same(await host.send(hex('C2 05')), hex('B3'), 'C2 again: not found');
  await host.send(add(6, task([0x9a, 0])));
  t.equal(emu.journal.lastFd, 1, 'shift opened once');
  t.same(await host.send(Buffer.concat([hex('C5 06 01 07'), STATUS])), hex('A3 A1'), 'C5: ack state, add state');
  t.equal((await host.asyncResult(7))[2], 0x44, 'the new task answer on F0');
  t.equal((await host.send(hex('C3 07')))[1], 0x44, 'and by C3');
  t.same(await host.send(hex('C3 06')), hex('B3'), 'C5 consumed TID 6');
  t.same(await host.send(hex('C4')), hex('A3'));
  t.same(await host.send(hex('C3 07')), hex('B3'), 'C4 emptied the buffer');
  t.same(await host.send(hex('C7')), hex('B4'), 'unknown buffer command: illegal value');
  t.equal(emu.journal.lastFd, 1);
});

t.test('errors: A4 + 55 err ext synchronously, A7 async; the queue behind stops unless bit1', async (t) => {
  const { host } = setup(t);
  const sync = await host.send(add(1, task([0x92, 0, 1])));
  t.same(sync, hex('A1'), 'accepted');
  t.same(await host.asyncResult(1), hex('A7 01 55 66 00'), '92 outside mode 1: 66h');
  t.same(await host.send(hex('C3 01')), hex('A4 55 66 00'), 'C3 tells the error');
  t.same(await host.send(add(2, task([0x56, 1], bcd(31, 4)), 0x02)), hex('A1'), 'ignore-error without need-result');
  t.ok(await host.rx.quiet(100), 'and no A7');
  t.same(await host.send(hex('C3 02')), hex('A4 55 8C 00'), 'wrong password 8Ch');
});

t.test('print time: Z shows 23h then 17h in 45, other tasks wait (A1) and finish asynchronously', async (t) => {
  const { emu, host } = setup(t, 1200);
  await host.ok(1, mode1);
  await host.ok(2, task([0x9a, 0]));
  await host.ok(3, task([0x48]));
  await host.ok(4, task([0x56, 3], bcd(30, 4)));
  const z = await host.ok(5, task([0x5a]));
  t.same(z, hex('55 00 00'));
  const first = await host.ok(6, task([0x45]));
  t.equal(first[1], 0x23, 'Z printing');
  const queued = await host.send(add(7, task([0x48])));
  t.same(queued, hex('A1'), 'a non-query task waits for the printer');
  // poll as hosts do until the phase changes (no fixed wait)
  let tid = 8;
  let second = first;
  while (second[1] === 0x23) {
    await new Promise((r) => setTimeout(r, 50));
    second = await host.ok(tid++, task([0x45]));
  }
  t.equal(second[1], 0x17, 'FN part of the Z');
  t.same(await host.asyncResult(7, 3000), hex('A6 07 55 00 00'), 'the waiting task ran after the print');
  const after = await host.ok(tid, task([0x45]));
  t.equal(after[1], 0x00, 'mode 0 after 48');
  t.equal(emu.journal.lastDocument?.type, 5);
});

t.test('fault drop-answer: executed, nothing sent; C3 tells the result, a re-add gets B2', async (t) => {
  const { emu, host, hostEnd } = setup(t);
  await host.ok(1, mode1);
  t.match(runControl(emu, 'fault drop-answer'), /^OK/);
  hostEnd.write(frame(0x30, add(2, task([0x9a, 0]))));
  t.ok(await host.rx.quiet(200), 'no answer, no async result');
  t.equal(emu.journal.lastFd, 1, 'but the shift was opened');
  t.same(await host.send(add(2, task([0x9a, 0]))), hex('B2'), 'adding it again: exists, not run twice');
  t.same(await host.send(hex('C3 02')), hex('A3 55 00 00'));
  t.equal(emu.journal.lastFd, 1);
});

t.test('fault drop-ack: the synchronous answer is lost, the async result still comes', async (t) => {
  const { emu, host, hostEnd } = setup(t);
  runControl(emu, 'fault drop-ack');
  hostEnd.write(frame(0x31, add(1, STATUS)));
  const f = await host.rx.next();
  t.equal(f.id, 0xf0, 'only the async packet');
  t.equal(f.data[0], 0xa6);
  hostEnd.write(frame(0x31, Buffer.alloc(0)));
  t.same((await host.rx.next((x) => x.id === 0x31)).data, hex('A1'), 'the answer on request');
});

t.test('fault garble: a bad CRC once; the host asks again with an empty frame and gets it right', async (t) => {
  const { emu, host, hostEnd } = setup(t);
  runControl(emu, 'fault garble');
  hostEnd.write(frame(0x40, hex('C4')));
  const bad = await host.rx.next();
  t.notOk(bad.crcOk, 'garbled');
  hostEnd.write(frame(0x40, Buffer.alloc(0)));
  const good = await host.rx.next();
  t.ok(good.crcOk);
  t.same(good.data, hex('A3'));
});

t.test('fault nak: the frame is treated as a bad CRC (empty answer, not executed)', async (t) => {
  const { emu, host, hostEnd } = setup(t);
  await host.ok(1, mode1);
  runControl(emu, 'fault nak');
  hostEnd.write(frame(0x41, add(2, task([0x9a, 0]))));
  const f = await host.rx.next();
  t.same([f.id, f.data.length], [0x41, 0]);
  t.equal(emu.journal.lastFd, 0, 'not executed');
  t.same(await host.send(add(2, task([0x9a, 0])), 0x41), hex('A1'), 'the resend runs it');
  t.equal(emu.journal.lastFd, 1);
});

t.test('fault stall and silent', async (t) => {
  const { emu, host, hostEnd } = setup(t);
  runControl(emu, 'fault stall 300');
  hostEnd.write(frame(0x50, add(1, STATUS)));
  t.ok(await host.rx.quiet(150), 'late');
  t.same((await host.rx.next((f) => f.id === 0x50)).data, hex('A1'), 'then the answer');
  await host.asyncResult(1);
  runControl(emu, 'silent on');
  hostEnd.write(frame(0x51, add(2, STATUS)));
  t.ok(await host.rx.quiet(200), 'cable pulled: nothing');
  runControl(emu, 'silent off');
  t.same(await host.send(hex('C3 02')), hex('B3'), 'the frame sent while silent was never seen');
});

t.test('paper, cover, FN exhausted, injected errors, 24 h, through the control commands', async (t) => {
  const { emu, host } = setup(t);
  await host.ok(1, mode1);
  await host.ok(2, task([0x9a, 0]));
  runControl(emu, 'paper out');
  const st = await host.ok(3, STATUS);
  t.equal(st[9]! & 0x08, 0, '3F: no paper');
  t.same((await host.ok(4, task([0x45]))).subarray(2), hex('01'), '45 flag b0: no paper');
  t.same((await host.run(5, task([0x92, 0, 1]))).subarray(2), hex('55 67 00'), '67h: no paper');
  runControl(emu, 'paper in');
  runControl(emu, 'cover open');
  t.equal((await host.ok(6, STATUS))[9]! & 0x20, 0x20, '3F: cover open');
  t.same((await host.run(7, task([0x92, 0, 1]))).subarray(2), hex('55 67 00'));
  runControl(emu, 'cover close');
  runControl(emu, 'fault fn-exhausted');
  t.same((await host.run(8, task([0x92, 0, 1]))).subarray(2), hex('55 D8 00'), 'FN exhausted: D8h');
  runControl(emu, 'fault fn-exhausted off');
  runControl(emu, 'fault error 9C 92 1');
  t.same((await host.run(9, task([0x92, 0, 1]))).subarray(2), hex('55 9C 00'), 'injected on 92 only');
  t.same(await host.ok(10, task([0x92, 0, 1])), hex('55 00 00'), 'once');
  await host.ok(11, task([0x59]));
  t.match(runControl(emu, 'clock +25h'), /^OK clock/);
  t.same((await host.run(12, task([0x92, 0, 1]))).subarray(2), hex('55 88 00'), 'shift over 24 h: 88h');
  t.match(runControl(emu, 'status'), /mode 1\/0 .*shift 1 open/);
});

t.test('paper out before item K and during the close', async (t) => {
  const { emu, host } = setup(t);
  await host.ok(1, mode1);
  const item = (name: string): Buffer => task([0xeb, 0], bcd(1000, 7), bcd(1000, 5), bcd(0, 7), [6], bcd(0, 7), [1, 1, 4, 0], bcd(0, 7), [0, 0], text(name));
  runControl(emu, 'fault paper-out before-item 2');
  await host.ok(2, task([0x92, 0, 1]));
  await host.ok(3, item('A'));
  t.same((await host.run(4, item('B'))).subarray(2), hex('55 67 00'), 'item 2: no paper');
  await host.ok(5, task([0x59]));
  runControl(emu, 'paper in');
  t.equal(emu.journal.lastDocument?.type, 2, 'no receipt: only the shift the receipt opened');
  runControl(emu, 'fault paper-out during-close');
  await host.ok(6, task([0x92, 0, 1]));
  await host.ok(7, item('C'));
  t.same(await host.ok(8, task([0x4a, 0, 1], bcd(0, 5))), hex('55 00 00'), 'the receipt is fiscalised');
  t.equal(emu.journal.lastDocument?.type, 3);
  t.equal((await host.ok(9, STATUS))[9]! & 0x08, 0, 'then paper is out');
  runControl(emu, 'paper in');
  t.equal((await host.ok(10, STATUS))[9]! & 0x08, 0x08, 'paper back, printing goes on by itself');
});

t.test('modes: submode 4 after the first 99, 88h entering mode 1 after 24 h, 48 refused with a receipt open', async (t) => {
  const { emu, host } = setup(t);
  await host.ok(1, mode1);
  await host.ok(2, task([0x92, 0, 1]));
  await host.ok(3, task([0xeb, 0], bcd(1000, 7), bcd(1000, 5), bcd(0, 7), [6], bcd(0, 7), [1, 1, 4, 0], bcd(0, 7), [0, 0], text('A')));
  t.equal((await host.ok(4, STATUS))[17], 0x01, 'mode 1 submode 0 with the receipt open');
  const pay = await host.ok(5, task([0x99, 0, 1], bcd(400, 5)));
  t.same([pay.subarray(2, 7), pay.subarray(7, 12)], [bcd(600, 5), bcd(0, 5)], 'remainder 6.00');
  t.equal((await host.ok(6, STATUS))[17], 0x41, 'mode 1 submode 4: payments');
  t.same((await host.run(7, task([0x48]))).subarray(2), hex('55 9B 00'), '48 with a receipt open');
  const done = await host.ok(8, task([0x99, 0, 1], bcd(1000, 5)));
  t.same(done.subarray(7, 12), bcd(400, 5), 'change 4.00');
  await host.ok(9, task([0x4a, 0, 1], bcd(0, 5)));
  t.equal((await host.ok(10, STATUS))[17], 0x01);
  await host.ok(11, task([0x48]));
  runControl(emu, 'clock +25h');
  t.same((await host.run(12, mode1)).subarray(2), hex('55 88 00'), 'registration refused after 24 h');
  await host.ok(13, task([0x56, 3], bcd(30, 4)));
  await host.ok(14, task([0x5a]));
  t.same((await host.run(15, task([0x5a]))).subarray(2), hex('55 8F 00'), 'a second Z: already cleared');
  const r37 = await host.ok(16, task([0x91, 0x37, 0, 0]));
  t.same(r37.subarray(2), hex('00 5A 00 8F 00 00 00 00'), '91 37: command, error, data of the last failure');
});

t.test('91 33 / 34 dates are DD MM YY hh mm; correction receipts 7 and 9; E8 split over blocks', async (t) => {
  const emu = new Emulator({ protocol: 'atol', clock: { now: () => Date.UTC(2026, 0, 15, 10, 20, 30), utcOffsetMinutes: 0 } });
  const [hostEnd, deviceEnd] = duplexPair();
  emu.attach(deviceEnd);
  const host = new Host(hostEnd as never);
  t.teardown(() => emu.close());
  await host.ok(1, mode1);
  await host.ok(2, task([0x92, 0, 9]));
  const value = text('Петров Пётр Петрович');
  const tl = Buffer.alloc(4);
  tl.writeUInt16LE(1021, 0);
  tl.writeUInt16LE(value.length, 2);
  const whole = Buffer.concat([tl, value]);
  await host.ok(3, task([0xe8, 1, 2, 0], whole.subarray(0, 10)));
  await host.ok(4, task([0xe8, 1, 2, 1], whole.subarray(10)));
  await host.ok(5, task([0xea, 0, 1, 0]));
  await host.ok(6, task([0xeb, 0], bcd(50000, 7), bcd(1000, 5), bcd(0, 7), [1], bcd(0, 7), [1, 0x10, 4, 0], bcd(0, 7), [0, 0], text('Коррекция')));
  await host.ok(7, task([0x4a, 0, 2], bcd(0, 5)));
  const doc = emu.journal.lastDocument!;
  t.same([doc.type, doc.operation, doc.correction?.type, doc.tags?.['1021']], [31, 3, 0, 'Петров Пётр Петрович'], 'type 9: correction of a расход, 1021 joined');
  t.equal(doc.items?.[0]?.paymentObject, 10, '1212 as BCD 10h = 10');
  t.same(doc.payments?.electronic, 50000);
  const r33 = await host.ok(8, task([0x91, 0x33, 0, 0]));
  t.equal(r33[7], 9, 'type 9 back');
  t.same(r33.subarray(15, 20), hex('15 01 26 10 20'), 'DD MM YY hh mm');
  await host.ok(9, task([0x92, 0, 7]));
  await host.ok(10, task([0xeb, 0], bcd(100, 7), bcd(1000, 5), bcd(0, 7), [6], bcd(0, 7), [1, 1, 4, 0], bcd(0, 7), [0, 0], text('x')));
  await host.ok(11, task([0x4a, 0, 1], bcd(100, 5)));
  t.same([emu.journal.lastDocument!.type, emu.journal.lastDocument!.operation], [31, 1], 'type 7: correction of a приход');
  t.same((await host.run(12, task([0x92, 0, 3]))).subarray(2), hex('55 6A 00'), 'no receipt type 3');
});

t.test('a failing task stops the ones queued behind it (A5) unless it ignores errors', async (t) => {
  const { host } = setup(t, 1000);
  await host.ok(1, mode1);
  await host.ok(2, task([0x9a, 0]));
  t.same(await host.send(add(3, task([0x92, 0, 1]))), hex('A1'), 'waits for the printer');
  t.same(await host.send(add(4, task([0x92, 0, 1]))), hex('A1'), 'queued behind');
  t.same(await host.send(add(5, task([0x59]))), hex('A1'));
  t.same(await host.asyncResult(3, 4000), hex('A6 03 55 00 00'));
  t.same(await host.asyncResult(4, 4000), hex('A7 04 55 9B 00'), 'a second open: 9Bh');
  t.same(await host.send(hex('C3 05')), hex('A5'), 'the task behind was stopped');
});

t.test('tables: 46 reads 2, 6, 12, 13 in any mode; 50 writes in mode 4 only', async (t) => {
  const { host } = setup(t);
  t.same((await host.ok(1, task([0x46, 2, 0, 1, 1]))).subarray(2), hex('01'), 'table 2: register number 1');
  t.equal((await host.ok(2, task([0x46, 6, 0, 20, 1]))).length, 2 + 48, 'cliché row 20');
  t.same((await host.run(3, task([0x46, 7, 0, 1, 1]))).subarray(2), hex('55 91 00'), 'no table 7');
  t.same((await host.run(4, task([0x46, 13, 0, 1, 4]))).subarray(2), hex('55 93 00'), 'no field 4');
  t.same((await host.run(5, task([0x50, 12, 0, 2, 1], text('КАРТОЙ')))).subarray(2), hex('55 66 00'), '50 outside mode 4');
  await host.ok(6, task([0x56, 4], bcd(30, 4)));
  await host.ok(7, task([0x50, 12, 0, 2, 1], text('КАРТОЙ')));
  t.same((await host.ok(8, task([0x46, 12, 0, 2, 1]))).subarray(2), text('КАРТОЙ'), 'read back');
});

t.test('print time: only whole documents (9A 4A 49 4F 67 5A) keep the printer busy, not items or payments', async (t) => {
  const { host } = setup(t, 5000);
  await host.ok(1, mode1);
  await host.ok(2, task([0x92, 0, 1]));
  await host.ok(3, task([0xeb, 0], bcd(1000, 7), bcd(1000, 5), bcd(0, 7), [4], bcd(0, 7), [1, 1, 4, 0], bcd(0, 7), [0, 0], text('A')));
  await host.ok(4, task([0x99, 0, 1], bcd(1000, 5)));
  await host.ok(5, task([0x4a, 0, 1], bcd(0, 5)));
  t.same(await host.send(add(6, task([0x92, 0, 1]))), hex('A1'));
  t.ok(await host.rx.quiet(300), 'the next receipt waits for the 4A print');
  t.same(await host.send(hex('C3 06')), hex('A1'), 'still pending');
  t.equal((await host.ok(7, STATUS))[0], 0x44, 'status meanwhile');
});

t.test('property: any task payload is answered without throwing; any byte stream leaves the link answering', async (t) => {
  const { AtolDevice } = await import('../../drivers/emulator/atol/device.ts');
  const { Journal } = await import('../../drivers/emulator/journal.ts');
  const { DeviceClock } = await import('../../drivers/emulator/clock.ts');
  const fc = (await import('fast-check')).default;
  const dev = new AtolDevice({ journal: new Journal(), clock: new DeviceClock({ utcOffsetMinutes: 0 }) });
  const codes = [0x3f, 0x45, 0x46, 0x48, 0x49, 0x4a, 0x4f, 0x50, 0x56, 0x59, 0x5a, 0x67, 0x91, 0x92, 0x99, 0x9a, 0xa4, 0xa5, 0xe6, 0xe8, 0xea, 0xeb];
  fc.assert(fc.property(fc.constantFrom(...codes), fc.uint8Array({ maxLength: 80 }), (code, rest) => {
    const out = dev.execute(Buffer.concat([Buffer.from([0, 0, code]), Buffer.from(rest)]));
    return out.data.length >= 1 && (!out.error || (out.data[0] === 0x55 && out.data[1] !== 0));
  }), { numRuns: 3000 });
  const { host, hostEnd } = setup(t);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (noise) => {
    hostEnd.write(Buffer.from(noise));
    return true;
  }), { numRuns: 200 });
  await new Promise((r) => setTimeout(r, 1200)); // a partial frame from the noise is dropped after 500 ms of silence
  while (host.rx.count) await host.rx.next();
  t.same(await host.send(hex('C4'), 0x77), hex('A3'), 'still answering after the noise');
});
