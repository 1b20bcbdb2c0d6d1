import t from 'tap';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import { cmd, cp866, errOf, ff45, ff46, fn, hex, le, makeDevice, tlv } from './helpers.ts';

const u = (b: Buffer, off: number, len: number): number => b.readUIntLE(off, len);

t.test('FCh names a ШТРИХ-М-01Ф without a password', async (t) => {
  const { dev } = makeDevice();
  const a = dev.handle(hex('FC'));
  t.same([...a.subarray(0, 2)], [0xfc, 0]);
  t.equal(a[6], 250, 'model');
  t.equal(iconv.decode(a.subarray(8), 'win1251'), 'ШТРИХ-М-01Ф');
});

t.test('10h answers LEN 16 with mode 4 and paper flags', async (t) => {
  const { dev } = makeDevice();
  const a = dev.handle(cmd(0x10));
  t.equal(a.length, 16);
  t.equal(a[2], 30, 'operator');
  t.equal(a[5], 4, 'mode: shift closed');
  t.equal(a[6], 0, 'submode');
  t.equal(u(a, 3, 2) & 0x82, 0x82, 'receipt roll and optical sensor');
});

t.test('11h answers LEN 48 with serial, INN and last closed shift', async (t) => {
  const { dev } = makeDevice();
  dev.handle(cmd(0xe0));
  dev.handle(cmd(0x41));
  const a = dev.handle(cmd(0x11));
  t.equal(a.length, 48);
  t.equal(a[15], 4, 'mode');
  t.equal(u(a, 36, 2), 1, 'last closed shift');
  t.equal(u(a, 42, 6), 5010051677, 'INN');
  t.equal(u(a, 11, 2), 2, 'through document number');
});

t.test('passwords: operators 1..28, admin 29, sysadmin 30; FN and Z need 29/30', async (t) => {
  const { dev } = makeDevice();
  t.equal(errOf(dev.handle(Buffer.concat([hex('10'), le(5, 4)]))), 0);
  t.equal(dev.handle(Buffer.concat([hex('10'), le(5, 4)]))[2], 5, 'operator echoed');
  t.same(dev.handle(Buffer.concat([hex('10'), le(31, 4)])), hex('10 4F'));
  t.same(dev.handle(Buffer.concat([hex('FF 01'), le(5, 4)])), hex('FF 01 4F'));
  t.same(dev.handle(Buffer.concat([hex('41'), le(28, 4)])), hex('41 4F'));
  t.equal(errOf(dev.handle(Buffer.concat([hex('FF 01'), le(29, 4)]))), 0);
});

t.test('unknown commands get 37h; error answers are 2 bytes, 3 for FFxx', async (t) => {
  const { dev } = makeDevice();
  t.same(dev.handle(cmd(0x99)), hex('99 37'));
  t.same(dev.handle(fn(0x99)), hex('FF 99 37'));
  t.same(dev.handle(hex('10 1E')), hex('10 33'), 'short password');
});

t.test('shift: E0h opens (FD 2), again 3Ch; 41h closes (FD 5), again 3Dh', async (t) => {
  const { dev, journal } = makeDevice();
  t.same(dev.handle(cmd(0xe0)), hex('E0 00 1E'));
  t.equal(dev.mode, 2);
  t.same(dev.handle(cmd(0xe0)), hex('E0 3C'));
  t.same(dev.handle(cmd(0x41)), hex('41 00 1E'));
  t.equal(dev.mode, 4);
  t.same(dev.handle(cmd(0x41)), hex('41 3D'));
  t.same(journal.lastDocument?.type, 5);
  t.equal(journal.lastFd, 2);
});

t.test('a full cycle: open shift, FF46×3, FF0C, FF45, FF0A of that FD, 41h', async (t) => {
  const { dev, journal } = makeDevice();
  t.equal(errOf(dev.handle(cmd(0xe0))), 0);
  t.same(dev.handle(ff46({ price: 10000, qty: 2_000_000, name: 'Чай' })), hex('FF 46 00'));
  t.equal(dev.mode, 8, 'sale receipt open');
  t.equal(errOf(dev.handle(ff46({ price: 550, qty: 1_500_000, tax: 0x02, method: 1, object: 10 }))), 0);
  t.equal(errOf(dev.handle(ff46({ price: 100, sum: 100, taxSum: 18, tax: 0xcc }))), 0);
  t.equal(errOf(dev.handle(fn(0x0c, tlv(1008, cp866('buyer@example.com')), tlv(1021, cp866('Иванов И.'))))), 0);
  const a = dev.handle(ff45({ electronic: 20925 }));
  t.equal(a.length, 3 + 5 + 4 + 4 + 5, 'change, FD, FP and DATE_TIME');
  t.equal(u(a, 3, 5), 0, 'no change');
  const fd = u(a, 8, 4);
  const fp = u(a, 12, 4);
  t.equal(fd, 2, 'FD 1 was the shift open');
  t.same([...a.subarray(16)], [26, 1, 15, 10, 0], 'DATE_TIME5');
  t.equal(dev.mode, 2);

  const f = dev.handle(fn(0x0a, le(fd, 4)));
  t.same([...f.subarray(0, 5)], [0xff, 0x0a, 0, 3, 0], 'receipt, no OFD ticket');
  t.equal(u(f, 10, 4), fd);
  t.equal(u(f, 14, 4), fp);
  t.equal(f[18], 1, 'приход');
  t.equal(u(f, 19, 5), 20925);

  const doc = journal.lastDocument!;
  t.equal(doc.receiptNo, 1);
  t.same(doc.items!.map((i) => [i.sum, i.vat, i.taxByte]), [[20000, 'vat22', 0xcb], [825, 'vat10', 0x02], [100, 'vat122', 0xcc]]);
  t.equal(doc.items![2]!.vatSum, 18);
  t.notOk('vatSum' in doc.items![0]!, 'taxSum all-FF is "not given"');
  t.equal(doc.items![0]!.name, 'Чай');
  t.equal(doc.tags!['1008'], 'buyer@example.com');
  t.equal(doc.tags!['1021'], 'Иванов И.');
  t.same(doc.payments, { cash: 0, electronic: 20925, prepaid: 0, credit: 0, other: 0 });
  t.equal(doc.taxSystem, 1);

  t.same(dev.handle(fn(0x40)), Buffer.concat([hex('FF 40 00 01'), le(1, 2), le(1, 2)]), 'FF40: shift 1, receipt 1');
  t.equal(errOf(dev.handle(cmd(0x41))), 0);
  const z = journal.lastDocument!;
  t.equal(z.type, 5);
  t.equal(z.counters!.receipts['1'], 1);
  t.equal(z.counters!.totals['1'], 20925);
  t.equal(z.counters!.payments['1'].electronic, 20925);
  const zf = dev.handle(fn(0x0a, le(z.fd, 4)));
  t.equal(u(zf, 18, 2), 1, 'FF0A of a shift close carries the shift number');
});

t.test('FF46 in mode 4 opens the shift first; in mode 3 answers 4Eh', async (t) => {
  const { dev, journal, clock } = makeDevice();
  t.equal(errOf(dev.handle(ff46({ price: 100 }))), 0);
  t.same(journal.find(1)?.type, 2, 'shift-open FD first');
  t.equal(dev.mode, 8);
  t.equal(errOf(dev.handle(ff45({ cash: 100 }))), 0);
  clock.advance(25 * 3600_000);
  t.equal(dev.mode, 3);
  t.same(dev.handle(ff46({ price: 100 })), hex('FF 46 4E'));
  t.same(dev.handle(cmd(0xe0)), hex('E0 3C'));
  t.equal(errOf(dev.handle(cmd(0x41))), 0, 'Z report allowed in mode 3');
  t.equal(dev.mode, 4);
  dev.handle(ff46({ price: 100 }));
  clock.advance(24 * 3600_000);
  t.same(dev.handle(ff45({ cash: 100 })), hex('FF 45 4E'), 'a receipt left open past 24 h cannot be closed');
  t.same(dev.handle(cmd(0x88)), hex('88 00 1E'));
  t.equal(dev.mode, 3);
});

t.test('FF45 checks: zero total 8Eh, payments short 45h, non-cash above total 4Dh, cash change', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(cmd(0xe0));
  dev.handle(ff46({ price: 0 }));
  t.same(dev.handle(ff45({ cash: 0 })), hex('FF 45 8E'));
  dev.handle(cmd(0x88));
  dev.handle(ff46({ price: 1000 }));
  t.same(dev.handle(ff45({ cash: 500, electronic: 400 })), hex('FF 45 45'));
  t.same(dev.handle(ff45({ electronic: 1001 })), hex('FF 45 4D'));
  t.same(dev.handle(ff45({ electronic: 600, prepaid: 500 })), hex('FF 45 4D'));
  t.same(dev.handle(ff45({ cash: 1000, taxSystem: 4 })), hex('FF 45 33'), 'unregistered tax system');
  const a = dev.handle(ff45({ cash: 2000, electronic: 500 }));
  t.equal(errOf(a), 0);
  t.equal(u(a, 3, 5), 1500, 'change from cash');
  t.same(journal.lastDocument!.payments, { cash: 500, electronic: 500, prepaid: 0, credit: 0, other: 0 });
});

t.test('FF45 payment slots: prepaid 14, credit 15, other 16, electronic 2..13', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(ff46({ price: 1000 }));
  const slots = [0, 100, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 300, 200, 200];
  const req = fn(0x45, ...slots.map((s) => le(s, 5)), Buffer.from([0]), Buffer.alloc(30), Buffer.from([2]));
  t.equal(errOf(dev.handle(req)), 0);
  t.same(journal.lastDocument!.payments, { cash: 0, electronic: 300, prepaid: 300, credit: 200, other: 200 });
  t.equal(journal.lastDocument!.taxSystem, 2);
});

t.test('88h cancels an open receipt without an FD; with none open 55h', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(cmd(0xe0));
  dev.handle(ff46({ price: 100, type: 2 }));
  t.equal(dev.mode, 0x28, 'sale return open');
  t.same(dev.handle(ff46({ price: 100, type: 1 })), hex('FF 46 49'), 'another operation in the same receipt');
  t.same(dev.handle(cmd(0xe0)), hex('E0 4A'));
  const fds = journal.lastFd;
  t.same(dev.handle(cmd(0x88)), hex('88 00 1E'));
  t.equal(dev.mode, 2);
  t.equal(journal.lastFd, fds);
  t.same(dev.handle(cmd(0x88)), hex('88 55'));
});

t.test('FF0C 1173 before the first FF46 makes a correction receipt (FD 31)', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(cmd(0xe0));
  const base = tlv(1174, Buffer.concat([tlv(1178, le(Date.UTC(2026, 0, 10) / 1000, 4)), tlv(1179, cp866('№ 12'))]));
  t.equal(errOf(dev.handle(fn(0x0c, tlv(1173, Buffer.from([1])), base))), 0);
  dev.handle(ff46({ price: 5000, tax: 0xcb }));
  const a = dev.handle(ff45({ cash: 5000 }));
  t.equal(errOf(a), 0);
  const doc = journal.lastDocument!;
  t.equal(doc.type, 31);
  t.same(doc.correction, { type: 1, baseDate: '2026-01-10', baseNumber: '№ 12' });
  t.equal(dev.handle(fn(0x0a, le(doc.fd, 4)))[3], 31);
  dev.handle(ff46({ price: 100 }));
  dev.handle(ff45({ cash: 100 }));
  t.equal(journal.lastDocument!.type, 3, 'the next receipt is an ordinary one');
  t.equal(journal.lastDocument!.receiptNo, 2);
});

t.test('FF4D binds TLVs to the last item; FF4A forms a correction receipt', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(cmd(0xe0));
  t.same(dev.handle(fn(0x4d, tlv(1197, cp866('шт')))), hex('FF 4D 55'), 'no item yet');
  dev.handle(ff46({ price: 100 }));
  t.equal(errOf(dev.handle(fn(0x4d, tlv(1197, cp866('шт'))))), 0);
  dev.handle(ff45({ cash: 100 }));
  t.same(journal.lastDocument!.items![0]!.tlvs, { '1197': 'шт' });
  const req = fn(0x4a, Buffer.from([0, 1]), le(700, 5), le(700, 5), ...Array.from({ length: 10 }, () => le(0, 5)), Buffer.from([1]));
  const a = dev.handle(req);
  t.equal(errOf(a), 0);
  t.equal(u(a, 3, 2), 2, 'receipt number in shift');
  t.equal(a.length, 3 + 2 + 4 + 4 + 5);
  t.equal(journal.lastDocument!.type, 31);
  t.equal(journal.lastDocument!.total, 700);
});

t.test('FF45 without the extended tail when the setting is off', async (t) => {
  const { dev } = makeDevice({ extendedFdAnswers: false });
  dev.handle(ff46({ price: 100 }));
  t.equal(dev.handle(ff45({ cash: 100 })).length, 3 + 13);
});

t.test('paper out before item 2: FF46 answers 6Bh until paper is back', async (t) => {
  const { dev } = makeDevice();
  dev.paperOutAt({ at: 'before-item', item: 2 });
  t.equal(errOf(dev.handle(ff46({ price: 100 }))), 0);
  t.same(dev.handle(ff46({ price: 200 })), hex('FF 46 6B'));
  t.equal(dev.submode, 1);
  t.equal(dev.handle(cmd(0x10))[3]! & 0x82, 0, 'paper flags clear');
  dev.paperIn();
  t.equal(dev.submode, 0);
  t.equal(errOf(dev.handle(ff46({ price: 200 }))), 0);
  t.equal(errOf(dev.handle(ff45({ cash: 300 }))), 0);
});

t.test('paper out during the close: fiscalized, submode 2, then 3 after paper in, 58h until B0h', async (t) => {
  const { dev, journal } = makeDevice();
  dev.paperOutAt({ at: 'during-close' });
  dev.handle(ff46({ price: 100 }));
  const a = dev.handle(ff45({ cash: 100 }));
  t.equal(errOf(a), 0, 'the receipt is fiscalized');
  t.equal(journal.lastDocument!.type, 3);
  t.equal(dev.submode, 2);
  t.equal(dev.handle(cmd(0x10))[6], 2);
  t.same(dev.handle(cmd(0xb0)), hex('B0 6B'));
  t.same(dev.handle(ff46({ price: 100 })), hex('FF 46 58'));
  dev.paperIn();
  t.equal(dev.submode, 3);
  t.same(dev.handle(cmd(0x41)), hex('41 58'));
  t.equal(errOf(dev.handle(fn(0x01))), 0, 'FN status still answers');
  t.same(dev.handle(cmd(0xb0)), hex('B0 00 1E'));
  t.equal(dev.submode, 0);
  t.equal(errOf(dev.handle(cmd(0x41))), 0);
});

t.test('cover open, FN exhausted, injected errors', async (t) => {
  const { dev } = makeDevice();
  dev.setCover(true);
  t.equal(dev.handle(cmd(0x10))[4]! & 0x04, 0x04, 'cover flag (bit 10)');
  t.same(dev.handle(cmd(0xe0)), hex('E0 6B'));
  dev.setCover(false);
  dev.setFnExhausted(true);
  t.same(dev.handle(cmd(0xe0)), hex('E0 14'));
  t.equal(errOf(dev.handle(fn(0x01))), 0, 'queries still work');
  dev.setFnExhausted(false);
  dev.injectError({ code: 0x50, command: 0xff46, count: 2 });
  t.equal(errOf(dev.handle(cmd(0x10))), 0, 'other commands unaffected');
  t.same(dev.handle(ff46({ price: 1 })), hex('FF 46 50'));
  t.same(dev.handle(ff46({ price: 1 })), hex('FF 46 50'));
  t.equal(errOf(dev.handle(ff46({ price: 1 }))), 0);
  dev.injectError({ code: 0x11 });
  t.same(dev.handle(cmd(0x10)), hex('10 11'));
});

t.test('FF01, FF02, FF03, FF39, FF3F and the OFD pointer', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(cmd(0xe0));
  dev.handle(ff46({ price: 100 }));
  const s = dev.handle(fn(0x01));
  t.same([...s.subarray(3, 8)], [3, 4, 1, 1, 0], 'phase, receipt doc open with data, shift open');
  t.equal(s.subarray(13, 29).toString('ascii'), '9960440300112233');
  t.equal(u(s, 29, 4), 1);
  t.equal(s.length, 33);
  dev.handle(ff45({ cash: 100 }));
  t.same(dev.handle(fn(0x02)).subarray(3).toString(), '9960440300112233');
  t.same(dev.handle(fn(0x03)), hex('FF 03 00 1B 0C 1F'));
  t.same(dev.handle(fn(0x3f)), hex('FF 3F 00 02 00'));
  const q = dev.handle(fn(0x39));
  t.equal(u(q, 5, 2), 2);
  t.equal(u(q, 7, 4), 1, 'oldest unsent FD');
  t.same([...q.subarray(11, 16)], [26, 1, 15, 10, 0]);
  t.equal(journal.markOfdSent(1), 1);
  t.same(dev.handle(fn(0x3f)), hex('FF 3F 00 01 00'));
  t.equal(dev.handle(fn(0x0a, le(1, 4)))[4], 1, 'FD 1 has its OFD ticket');
  journal.markOfdSent();
  t.same(dev.handle(fn(0x39)).subarray(5), Buffer.alloc(11));
  t.same(dev.handle(fn(0x0a, le(99, 4))), hex('FF 0A 08'), 'no such FD');
});

t.test('FF41/FF0B and FF42/FF43 open and close the shift in the FN', async (t) => {
  const { dev, journal } = makeDevice();
  t.equal(errOf(dev.handle(fn(0x41))), 0);
  dev.handle(fn(0x0c, tlv(1021, cp866('Кассир'))));
  const o = dev.handle(fn(0x0b));
  t.same([u(o, 3, 2), u(o, 5, 4)], [1, 1]);
  t.equal(journal.lastDocument!.tags!['1021'], 'Кассир');
  t.same(dev.handle(fn(0x41)), hex('FF 41 3C'));
  t.equal(errOf(dev.handle(fn(0x42))), 0);
  const c = dev.handle(fn(0x43));
  t.same([u(c, 3, 2), u(c, 5, 4)], [1, 2]);
  t.equal(c.length, 3 + 2 + 4 + 4 + 5);
  t.same(dev.handle(fn(0x42)), hex('FF 42 3D'));
});

t.test('old-style 80h/85h receipt, cash in/out, X report', async (t) => {
  const { dev, journal } = makeDevice();
  dev.handle(cmd(0xe0));
  const c50 = dev.handle(cmd(0x50, le(10000, 5)));
  t.equal(errOf(c50), 0);
  t.equal(u(c50, 3, 2), 2, 'document number');
  t.same(dev.handle(cmd(0x51, le(20000, 5))), hex('51 46'), 'not enough cash');
  const sale = cmd(0x80, le(2000, 5), le(1250, 5), Buffer.from([1, 1, 0, 0, 0]), iconv.encode('Хлеб', 'win1251'), Buffer.alloc(36));
  t.same(dev.handle(sale), hex('80 00 1E'));
  const close = cmd(0x85, le(3000, 5), le(0, 5), le(0, 5), le(0, 5), le(0, 2), Buffer.alloc(4), Buffer.alloc(40));
  const a = dev.handle(close);
  t.same(a, Buffer.concat([hex('85 00 1E'), le(500, 5)]));
  const doc = journal.lastDocument!;
  t.same([doc.total, doc.items![0]!.quantity, doc.items![0]!.vat, doc.items![0]!.name], [2500, 2_000_000, 'vat20', 'Хлеб']);
  t.equal(errOf(dev.handle(cmd(0x51, le(12500, 5)))), 0, 'cash in drawer covers it now');
  t.equal(errOf(dev.handle(cmd(0x40))), 0);
  t.same(dev.handle(Buffer.concat([hex('40'), le(1, 4)])), hex('40 4F'), 'X report needs admin');
});

t.test('garbage never throws and always answers with the request code', async (t) => {
  const { dev } = makeDevice();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 260 }), (bytes) => {
      const a = dev.handle(Buffer.from(bytes));
      return a.length >= 2;
    }),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.constantFrom(0x46, 0x45, 0x4a, 0x0c, 0x4d, 0x0a, 0x0b, 0x43), fc.uint8Array({ maxLength: 200 }), (sub, tail) => {
      const a = dev.handle(Buffer.concat([Buffer.from([0xff, sub]), le(30, 4), Buffer.from(tail)]));
      return a[0] === 0xff && a[1] === sub && a.length >= 3;
    }),
    { numRuns: 3000 },
  );
  t.pass('no throw');
});
