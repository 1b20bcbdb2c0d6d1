import t from 'tap';
import fc from 'fast-check';
import iconv from 'iconv-lite';
import * as codec from '../../drivers/shtrih/codec.ts';
import { Cmd } from '../../drivers/shtrih/codec.ts';
import { encodeFrame } from '../../drivers/shtrih/frame.ts';
import { parseTlvs } from '../../drivers/shtrih/bytes.ts';
import { DriverError, type FiscalReceipt } from '../../drivers/types.ts';
import { hex } from './peer.ts';
import { STATUS_11_ANSWER } from './fixtures.ts';


t.test('request frames match the captured session', async (t) => {
  t.same(encodeFrame(codec.passwordOnly(Cmd.SHORT_STATUS, 30)), hex('02 05 10 1E 00 00 00 0B'));
  t.same(encodeFrame(codec.passwordOnly(Cmd.STATUS, 30)), hex('02 05 11 1E 00 00 00 0A'));
  t.same(encodeFrame(codec.passwordOnly(Cmd.FN_STATUS, 30)), hex('02 06 FF 01 1E 00 00 00 E6'));
  t.same(codec.deviceTypeRequest(), hex('FC'));
  t.same(codec.passwordOnly(Cmd.CANCEL_RECEIPT, 1), hex('88 01 00 00 00'));
  t.same(codec.findDocumentRequest(30, 45817), hex('FF 0A 1E 00 00 00 F9 B2 00 00'));
  t.same(codec.cashRequest(Cmd.CASH_IN, 30, 150000), hex('50 1E 00 00 00 F0 49 02 00 00'));
  t.same(codec.cutRequest(30, true), hex('25 1E 00 00 00 01'));
  const line = codec.printStringRequest(30, 'Спасибо');
  t.equal(line.length, 1 + 4 + 1 + 40);
  t.equal(line[5], 0x02, 'receipt tape');
});

t.test('10h: the captured answer', async (t) => {
  const s = codec.decodeShortStatus(hex('10 00 1E B2 02 02 00 00 9F F8 00 00 00 75 08 00'));
  t.same(s, { operator: 30, flags: 0x02b2, mode: 2, modeStatus: 0, submode: 0 });
  const withResult = codec.decodeShortStatus(hex('10 00 1E B2 02 28 03 00 9F F8 00 00 00 75 08 00 01'));
  t.equal(withResult.mode, 8, 'low nibble: open document');
  t.equal(withResult.modeStatus, 2, 'high nibble: sale return');
  t.equal(withResult.submode, 3);
  t.equal(withResult.lastPrintResult, 1);
});

t.test('11h: 48-byte answer with the captured facts', async (t) => {
  t.equal(STATUS_11_ANSWER.length, 48);
  const s = codec.decodeFullStatus(STATUS_11_ANSWER);
  t.equal(s.documentNumber, 55);
  t.equal(s.lastClosedShift, 9);
  t.equal(s.serial, 4239);
  t.equal(s.inn, '5752203694');
  t.equal(s.mode, 4);
  t.equal(s.firmwareVersion, 'C.');
  t.equal(s.firmwareBuild, 8150);
  t.equal(s.firmwareDate, '2025-10-23');
  t.equal(s.dateTime, '2026-11-28T05:20:00');
  const long = codec.decodeFullStatus(Buffer.concat([STATUS_11_ANSWER, hex('01 00')]));
  t.equal(long.serial, 2 ** 32 + 4239, 'the high word of the serial number when present');
});

t.test('FF45: the captured answer, with and without DATE_TIME', async (t) => {
  const r = codec.decodeCloseReceipt(hex('FF 45 00 00 00 00 00 00 B3 60 03 00 DB 45 DB 70'));
  t.same(r, { change: 0, fdNumber: 221363, fiscalSign: 0x70db45db });
  const ext = codec.decodeCloseReceipt(hex('FF 45 00 00 00 00 00 00 B3 60 03 00 DB 45 DB 70 12 06 15 06 25'));
  t.equal(ext.dateTime, '2018-06-21T06:37');
});

t.test('FF01: the captured answer', async (t) => {
  const s = codec.decodeFnStatus(
    Buffer.concat([hex('FF 01 00 03 00 00 01 00 12 06 15 06 25'), Buffer.from('9289000100055632', 'ascii'), hex('F9 B2 00 00')]),
  );
  t.equal(s.lastFd, 45817);
  t.equal(s.serial, '9289000100055632');
  t.equal(s.phase, 3);
  t.equal(s.shiftOpen, true);
  t.equal(s.dateTime, '2018-06-21T06:37');
});

t.test('FF0A: the captured receipt; shift documents', async (t) => {
  const d = codec.decodeDocument(hex('FF 0A 00 03 00 12 06 15 06 25 F9 B2 00 00 79 58 50 F5 01 F0 49 02 00 00'));
  t.same(d, { type: 3, ofdTicket: false, dateTime: '2018-06-21T06:37', fdNumber: 45817, fiscalSign: 0xf5505879, operation: 1, total: 150000 });
  const shift = codec.decodeDocument(hex('FF 0A 00 02 01 1A 0B 1C 05 14 FA B2 00 00 01 02 03 04 0C 00'));
  t.equal(shift.type, 2);
  t.equal(shift.shiftNumber, 12);
  t.equal(shift.operation, undefined);
});

t.test('FF02, FF03, FF39, FF3F, FF40, FCh, 50h, FF4A answers', async (t) => {
  t.equal(codec.decodeFnNumber(Buffer.concat([hex('FF 02 00'), Buffer.from('9289000100055632')])), '9289000100055632');
  t.equal(codec.decodeFnExpiry(hex('FF 03 00 1B 0C 1F 01 00')), '2027-12-31');
  t.same(codec.decodeOfdStatus(hex('FF 39 00 01 00 03 00 F9 B2 00 00 1A 0B 1C 05 14')), {
    status: 1, reading: false, queueCount: 3, firstFd: 45817, firstDateTime: '2026-11-28T05:20',
  });
  t.equal(codec.decodeUnconfirmedCount(hex('FF 3F 00 05 00')), 5);
  t.same(codec.decodeShiftParams(hex('FF 40 00 01 0C 00 05 00')), { open: true, shiftNumber: 12, receiptNumber: 5 });
  const type = codec.decodeDeviceType(Buffer.concat([hex('FC 00 00 00 01 0D 00 00'), iconv.encode('ШТРИХ-МИНИ-01Ф', 'win1251')]));
  t.equal(type.name, 'ШТРИХ-МИНИ-01Ф');
  t.same(codec.decodeCash(Cmd.CASH_IN, hex('50 00 1E 38 00')), { operator: 30, documentNumber: 56 });
  t.same(codec.decodeCorrection(hex('FF 4A 00 01 00 B3 60 03 00 DB 45 DB 70')), { receiptNumber: 1, fdNumber: 221363, fiscalSign: 0x70db45db });
});

t.test('FF46: one item line', async (t) => {
  const req = codec.operationRequest(30, {
    operation: 1, quantity: 1000, price: 150000, sum: 150000, taxCode: codec.VAT_CODES.vat22, department: 1,
    paymentMethod: 4, paymentObject: 1, name: 'Товар',
  });
  t.same(
    req,
    hex('FF 46 1E 00 00 00 01 40 42 0F 00 00 00 F0 49 02 00 00 F0 49 02 00 00 FF FF FF FF FF CB 01 04 01 D2 EE E2 E0 F0'),
  );
  const frac = codec.operationRequest(30, {
    operation: 2, quantity: 1500, price: 1001, taxSum: 17, taxCode: 0x08, department: 1, paymentMethod: 1, paymentObject: 10,
    name: 'x'.repeat(200),
  });
  t.same(frac.subarray(7, 13), hex('60 E3 16 00 00 00'), '1.5 = 1500 thousandths = 1 500 000 millionths');
  t.same(frac.subarray(18, 23), hex('FF FF FF FF FF'), 'sum not given: the device computes');
  t.same(frac.subarray(23, 28), hex('11 00 00 00 00'), 'tax sum given');
  t.equal(frac.length, 160, 'LEN 160 with a 128-byte name');
  t.throws(() => codec.operationRequest(30, { operation: 1, quantity: 1000, price: -1, taxCode: 1, department: 1, paymentMethod: 4, paymentObject: 1, name: 'a' }));
});

t.test('FF45: payment slots, rounding, tax sums, tax system', async (t) => {
  const req = codec.closeReceiptRequest(30, {
    payments: { cash: 100, electronic: 200, prepaid: 300, credit: 400, other: 500 },
    taxSystem: 'usn_income',
  });
  t.equal(req.length, 2 + 4 + 16 * 5 + 1 + 6 * 5 + 1);
  const slot = (n: number) => req.readUIntLE(6 + (n - 1) * 5, 5);
  t.same([slot(1), slot(2), slot(3), slot(13), slot(14), slot(15), slot(16)], [100, 200, 0, 0, 300, 400, 500]);
  t.equal(req[86], 0, 'rounding');
  t.ok(req.subarray(87, 117).every((b) => b === 0), 'tax sums zero: the device computes');
  t.equal(req[117], 2, 'tag 1055 bit of УСН доход');
  t.same(Object.values(codec.TAX_SYSTEM_BITS), [1, 2, 4, 8, 16, 32]);
});

t.test('FF4A: correction receipt V2 layout', async (t) => {
  const req = codec.correctionRequest(30, { type: 1, calcSign: 1, total: 1000, cash: 1000, electronic: 0, prepaid: 0, credit: 0, other: 0, taxSystem: 'osn' });
  t.equal(req.length, 2 + 4 + 2 + 12 * 5 + 1);
  t.same(req.subarray(6, 13), hex('01 01 E8 03 00 00 00'));
  t.equal(req[req.length - 1], 1);
});

t.test('VAT tax byte is the Shtrih bitmask, not tag 1199', async (t) => {
  t.same(codec.VAT_CODES, {
    vat20: 0x01, vat10: 0x02, vat0: 0x04, none: 0x08, vat120: 0x10, vat110: 0x20,
    vat5: 0x81, vat7: 0x82, vat105: 0x84, vat107: 0x88, vat22: 0xcb, vat122: 0xcc,
  });
  t.same(codec.VAT_CODES_NANO, { vat22: 0x90, vat122: 0xa0 });
});

t.test('TLVs: correction 1173/1174 STLV, receipt tags in CP866, blocks ≤ 250 bytes', async (t) => {
  const [t1173, t1174] = codec.correctionTlvs({ type: 1, baseDate: '2026-11-27', baseNumber: '№ 12' });
  t.same(t1173, hex('95 04 01 00 01'));
  const inner = parseTlvs(parseTlvs(t1174!)[0]!.value);
  t.same(inner.map((x) => x.tag), [1178, 1179]);
  t.equal(inner[0]!.value.readUInt32LE(0), Date.UTC(2026, 10, 27) / 1000);
  t.equal(iconv.decode(inner[1]!.value, 'cp866'), '№ 12');
  const receipt: FiscalReceipt = {
    operation: 1, items: [], payments: { cash: 0, electronic: 0, prepaid: 0, credit: 0, other: 0 }, total: 0, taxSystem: 'osn',
    cashier: { name: 'Иванова', inn: '5752203694' }, customerContact: 'a@b.ru', customerName: 'ООО Ромашка', customerInn: '7707083893',
  };
  const tlvs = parseTlvs(Buffer.concat(codec.receiptTlvs(receipt)));
  t.same(tlvs.map((x) => x.tag), [1008, 1021, 1203, 1227, 1228]);
  t.equal(iconv.decode(tlvs[1]!.value, 'cp866'), 'Иванова');
  t.equal(tlvs[2]!.value.toString('ascii'), '5752203694  ', 'INN padded to 12');
  const many = Array.from({ length: 10 }, () => codec.tlvString(1008, 'x'.repeat(60), 64));
  const blocks = codec.tlvBlocks(many);
  t.ok(blocks.every((b) => b.length <= codec.MAX_TLV_BLOCK));
  t.same(Buffer.concat(blocks), Buffer.concat(many), 'order kept');
  t.same(codec.itemTlvs({ name: 'a', price: 1, quantity: 1000, sum: 1, vat: 'none', paymentMethod: 4, paymentObject: 1, measure: 11 }), [hex('3C 08 01 00 0B')]);
  t.same(codec.itemTlvs({ name: 'a', price: 1, quantity: 1000, sum: 1, vat: 'none', paymentMethod: 4, paymentObject: 1 }), []);
});

t.test('answers: echoed code, error byte, length checks', async (t) => {
  const noPaper = (() => {
    try {
      codec.decodeEmpty(Cmd.OPERATION_V2, hex('FF 46 6B'));
    } catch (e) {
      return e;
    }
  })();
  t.ok(noPaper instanceof DriverError);
  t.match(noPaper, { code: 'NO_PAPER', kind: 'operator', deviceCode: 0x6b, command: 'FF46' });
  t.throws(() => codec.decodeCloseReceipt(hex('FF 45 00 00 00')), { code: 'BAD_ANSWER' }, 'short success answer');
  t.throws(() => codec.decodeCloseReceipt(hex('FF 46 00')), { code: 'BAD_ANSWER' }, 'answer to another command');
  t.throws(() => codec.decodeShortStatus(hex('10')), { code: 'BAD_ANSWER' });
  t.throws(() => codec.decodeFnStatus(hex('FF 01 00 03')), { code: 'BAD_ANSWER' });
  t.throws(() => codec.decodeShortStatus(hex('10 4F')), { code: 'WRONG_PASSWORD', deviceCode: 0x4f });
});

t.test('decoders never crash on garbage: only DriverError', async () => {
  const decoders: Array<(a: Buffer) => unknown> = [
    codec.decodeShortStatus, codec.decodeFullStatus, codec.decodeDeviceType, codec.decodeFnStatus, codec.decodeFnNumber,
    codec.decodeFnExpiry, codec.decodeDocument, codec.decodeOfdStatus, codec.decodeUnconfirmedCount, codec.decodeShiftParams,
    codec.decodeCloseReceipt, codec.decodeCorrection, (a) => codec.decodeCash(Cmd.CASH_OUT, a), (a) => codec.decodeEmpty(Cmd.Z_REPORT, a),
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(decoders.length - 1), fc.boolean(), (bytes, i, prefix) => {
      const buf = Buffer.from(bytes);
      const d = decoders[i]!;
      // half the time, start with a plausible code and error byte 0
      const input = prefix ? Buffer.concat([hex('FF 01 00'), buf]) : buf;
      try {
        d(input);
      } catch (err) {
        if (!(err instanceof DriverError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
});
