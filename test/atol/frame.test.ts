import t from 'tap';
import fc from 'fast-check';
import { Deframer, crc8, decodeFrame, encodeFrame, frameCrc } from '../../drivers/atol/frame.ts';
import { hex, peerFrame } from './peer.ts';

t.test('recomputed frames of kkt-protocols.md §2.1', async (t) => {
  t.same(encodeFrame(0x06, hex('C4')), hex('FE 01 00 06 C4 58'), 'abort, ID 6');
  t.same(encodeFrame(0x07, hex('C1 01 02 00 00 A5')), hex('FE 06 00 07 C1 01 02 00 00 A5 8D'), 'add task 2');
  t.same(encodeFrame(0x08, hex('C3 02')), hex('FE 02 00 08 C3 02 FC'), 'state of task 2');
  t.same(encodeFrame(0x10, hex('C1 01 05 00 00 92 00 01')), hex('FE 08 00 10 C1 01 05 00 00 92 00 01 1A'), 'add task 5: open receipt');
  t.equal(crc8(hex('F0 A6 57 55 00 00')), 0xfe, 'CRC of the async result');
  t.equal(frameCrc(0xf0, hex('A6 57 55 00 00')), 0xfe);
  // [A1]'s dump: the same C3 02 with IDs 9 and 10
  t.same(encodeFrame(0x09, hex('C3 02')), hex('FE 02 00 09 C3 02 BA'));
  t.same(encodeFrame(0x0a, hex('C3 02')), hex('FE 02 00 0A C3 02 70'));
});

t.test('stuffing: FE → FD EE, FD → FD ED in DATA and in the CRC; LEN counts unstuffed bytes', async (t) => {
  const f = encodeFrame(0x01, hex('FE FD 00'));
  t.same(f.subarray(0, 4), hex('FE 03 00 01'));
  t.same(f.subarray(4, 8), hex('FD EE FD ED'));
  t.same(decodeFrame(f), { id: 1, data: hex('FE FD 00') });
  // async frame whose CRC is FE: the CRC itself is stuffed
  const a = encodeFrame(0xf0, hex('A6 57 55 00 00'));
  t.same(a.subarray(-2), hex('FD EE'));
  t.same(decodeFrame(a), { id: 0xf0, data: hex('A6 57 55 00 00') });
});

t.test('7-bit length halves', async (t) => {
  const data = Buffer.alloc(300, 0x11);
  const f = encodeFrame(0x02, data);
  t.same(f.subarray(1, 3), Buffer.from([300 & 0x7f, 300 >> 7]));
  t.same(decodeFrame(f)?.data, data);
});

t.test('deframer: split chunks, garbage, bad CRC, a frame cut by a new FE', async (t) => {
  const d = new Deframer();
  const good = encodeFrame(0x05, hex('A3 55 00 00'));
  const bad = Buffer.from(encodeFrame(0x06, hex('A3 44')));
  bad[bad.length - 1]! ^= 0x01;
  const cut = encodeFrame(0x07, hex('A1 00 00 00')).subarray(0, 5);
  const stream = Buffer.concat([hex('00 11 22'), good, bad, cut, encodeFrame(0x08, hex('B3'))]);
  const frames = [];
  for (let i = 0; i < stream.length; i += 3) frames.push(...d.push(stream.subarray(i, i + 3)));
  t.same(frames, [{ id: 5, data: hex('A3 55 00 00') }, { id: 8, data: hex('B3') }]);
  t.equal(d.stats.badCrc, 1);
  t.equal(d.stats.broken, 1);
  t.ok(d.stats.stray >= 3);
  t.equal(decodeFrame(hex('FE 01 00 06 C4 59')), undefined, 'a wrong CRC is no frame');
  t.equal(decodeFrame(hex('FE 01 00 06 FD 11 58')), undefined, 'a bad escape is no frame');
});

t.test('crcOverStuffed variant ([A1]) differs only when DATA holds FE/FD', async (t) => {
  const plain = hex('C1 01 02 00 00 A5');
  t.same(encodeFrame(7, plain, { crcOverStuffed: true }), encodeFrame(7, plain));
  const special = hex('E8 FE 00');
  const f = encodeFrame(7, special, { crcOverStuffed: true });
  t.not(f.toString('hex'), encodeFrame(7, special).toString('hex'));
  t.same(decodeFrame(f, { crcOverStuffed: true })?.data, special);
  t.equal(decodeFrame(f), undefined);
});

t.test('property: round trip, and the test peer agrees byte for byte', async (t) => {
  t.doesNotThrow(() => fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xf0 }).filter((n) => n !== 0xfe && n !== 0xfd), fc.uint8Array({ maxLength: 400 }), (id, data) => {
      const f = encodeFrame(id, data);
      const back = decodeFrame(f);
      return back !== undefined && back.id === id && Buffer.compare(back.data, Buffer.from(data)) === 0 && Buffer.compare(f, peerFrame(id, data)) === 0;
    }),
  ));
});

t.test('property: frames survive any noise between them and any chunking', async (t) => {
  t.doesNotThrow(() => fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 0xdf }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 8 })), { maxLength: 8 }),
      fc.integer({ min: 1, max: 17 }),
      (items, chunk) => {
        // noise without FE: anything else may precede a frame and is skipped
        const parts = items.map(([id, data, noise]) => Buffer.concat([Buffer.from(noise.filter((b) => b !== 0xfe)), encodeFrame(id, data)]));
        const stream = Buffer.concat(parts);
        const d = new Deframer();
        const out = [];
        for (let i = 0; i < stream.length; i += chunk) out.push(...d.push(stream.subarray(i, i + chunk)));
        return out.length === items.length && out.every((f, i) => f.id === items[i]![0] && Buffer.compare(f.data, Buffer.from(items[i]![1])) === 0);
      },
    ),
  ));
});
