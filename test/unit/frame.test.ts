import t from 'tap';
import { encodeFrame, decodeFrame, lrc, commandCode } from '../../drivers/shtrih/frame.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('encodes the captured 10h request of a ШТРИХ-МИНИ-01Ф session', async (t) => {
  t.same(encodeFrame(hex('10 1E 00 00 00')), hex('02 05 10 1E 00 00 00 0B'));
  t.same(encodeFrame(hex('11 1E 00 00 00')), hex('02 05 11 1E 00 00 00 0A'));
  t.same(encodeFrame(hex('FF 01 1E 00 00 00')), hex('02 06 FF 01 1E 00 00 00 E6'));
});

t.test('decodes the captured 10h answer and rejects a damaged one', async (t) => {
  const frame = hex('02 10 10 00 1E B2 02 02 00 00 9F F8 00 00 00 75 08 00 B6');
  const payload = decodeFrame(frame);
  t.ok(payload);
  t.equal(payload!.length, 16);
  t.equal(commandCode(payload!), 0x10);
  const bad = Buffer.from(frame);
  bad[5] = bad[5]! ^ 0x01;
  t.equal(decodeFrame(bad), null, 'a flipped bit fails the LRC');
  t.equal(decodeFrame(frame.subarray(0, frame.length - 1)), null, 'a short frame is refused');
});

t.test('LRC covers LEN and the payload, not STX', async (t) => {
  t.equal(lrc(5, hex('10 1E 00 00 00')), 0x0b);
  t.equal(commandCode(hex('FF 46 00')), 0xff46);
  t.throws(() => encodeFrame(Buffer.alloc(256)));
  t.throws(() => encodeFrame(Buffer.alloc(0)));
});
