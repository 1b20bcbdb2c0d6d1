/**
 * Codec of the register's own figures (kkt-protocols.md §1.11): FF09 (both layouts), 1Fh, 1Ah, 1Bh, FE F4, FF0A
 * of a Z report, FF3A/FF3B and the TLV decoding of a document copy. Byte strings are written out by hand here.
 */
import t from 'tap';
import iconv from 'iconv-lite';
import * as codec from '../../drivers/shtrih/codec.ts';
import * as figures from '../../drivers/shtrih/figures.ts';
import * as fndoc from '../../drivers/shtrih/fndoc.ts';
import { FF09_105, FF09_12, padded } from './fake-register.ts';
import { hex } from './peer.ts';

const answer = (code: string, data: Buffer): Buffer => Buffer.concat([hex(code), hex('00'), data]);

t.test('FF09 FFD 1.05 layout (47 bytes): INN and РНМ trimmed, 1062 bits, mode bits, FD, FP', async (t) => {
  t.equal(FF09_105.length, 47);
  const r = figures.decodeRegistration(answer('FF 09', FF09_105));
  t.same(r, {
    inn: '5752203694',
    registrationNumber: '0000000001001234',
    taxSystems: ['osn', 'usn_income'],
    modes: { encryption: true, autonomous: false, automatic: false, services: false, bso: false, internet: true },
    modeBits: 0x21,
    dateTime: '2026-01-15T09:30',
    source: 'fn',
    fdNumber: 1,
    fiscalSign: 0x0a0b0c0d,
  });
  // 52 bytes: the same with the document's DATE_TIME5 at the end
  const r52 = figures.decodeRegistration(answer('FF 09', Buffer.concat([FF09_105, hex('1A 01 0F 09 1F')])));
  t.equal(r52.fdNumber, 1);
  t.equal(r52.extendedModeBits, undefined, 'no extended flags in the 1.05 layout');
});

t.test('FF09 FFD 1.2 layout (64 bytes): NUL padding, extended flags, OFD INN, FD and FP after the reason code', async (t) => {
  t.equal(FF09_12.length, 64);
  const r = figures.decodeRegistration(answer('FF 09', FF09_12));
  t.match(r, {
    inn: '5752203694', registrationNumber: '0000000001001234', taxSystems: ['patent'], modeBits: 0x20,
    extendedModeBits: 0x05, ofdInn: '7704358518', fdNumber: 7, fiscalSign: 123456789,
  });
  t.equal(r.modes.internet, true);
  t.equal(r.modes.encryption, false);
});

t.test('FF09: refused or short answers are errors, not data', async (t) => {
  t.throws(() => figures.decodeRegistration(hex('FF 09 37')), { code: 'NOT_SUPPORTED', deviceCode: 0x37 });
  t.throws(() => figures.decodeRegistration(answer('FF 09', FF09_105.subarray(0, 40))), { code: 'BAD_ANSWER' });
  t.same(figures.taxSystemsFromBits(0x3f), ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent']);
  t.same(figures.taxSystemsFromBits(0), []);
});

t.test('1Fh table 18 request and string fields', async (t) => {
  t.same(figures.readTableRequest(30, 18, 1, 3), hex('1F 1E 00 00 00 12 01 00 03'));
  t.equal(figures.tableText(figures.decodeTableValue(answer('1F', padded('0000000001001234', 20, '\0')))), '0000000001001234');
  t.equal(figures.tableText(figures.decodeTableValue(answer('1F', padded('7701234567', 12)))), '7701234567');
  t.throws(() => figures.decodeTableValue(hex('1F 33')), { code: 'BAD_PARAMETERS', deviceCode: 0x33 });
});

t.test('1Ah cash register: 1-byte number below 256, 2 bytes LE from 256; value 6 bytes LE', async (t) => {
  t.same(figures.cashRegisterRequest(30, 193), hex('1A 1E 00 00 00 C1'));
  t.same(figures.cashRegisterRequest(30, 4180), hex('1A 1E 00 00 00 54 10'));
  t.equal(figures.decodeCashRegister(hex('1A 00 1E 40 42 0F 00 00 00')), 1_000_000);
  t.equal(figures.decodeCashRegister(hex('1A 00 1E FF FF FF FF FF 00')), 2 ** 40 - 1);
  t.throws(() => figures.decodeCashRegister(hex('1A 00 1E 40 42')), { code: 'BAD_ANSWER' });
  t.throws(() => figures.cashRegisterRequest(30, 70000), RangeError);
});

t.test('1Bh operating register: number 1 byte, value 2 bytes', async (t) => {
  t.same(figures.operationRegisterRequest(30, 144), hex('1B 1E 00 00 00 90'));
  t.equal(figures.decodeOperationRegister(hex('1B 00 1E 07 01')), 263);
  t.throws(() => figures.operationRegisterRequest(30, 256), RangeError);
});

t.test('payment-type registers: groups of four in the order приход, расход, возврат прихода, возврат расхода', async (t) => {
  t.equal(figures.paymentRegister(1, 'sell'), 193);
  t.equal(figures.paymentRegister(1, 'buy'), 194);
  t.equal(figures.paymentRegister(1, 'sell_refund'), 195);
  t.equal(figures.paymentRegister(1, 'buy_refund'), 196);
  t.equal(figures.paymentRegister(2, 'sell'), 197);
  t.equal(figures.paymentRegister(4, 'buy_refund'), 208);
  t.equal(figures.paymentRegister(5, 'sell'), 4144);
  t.equal(figures.paymentRegister(14, 'sell'), 4180);
  t.equal(figures.paymentRegister(15, 'sell'), 4184);
  t.equal(figures.paymentRegister(16, 'buy_refund'), 4191);
  t.same([1, 2, 13, 14, 15, 16].map(figures.paymentKind), ['cash', 'electronic', 'electronic', 'prepaid', 'credit', 'other']);
});

t.test('FE F4 00: no password, answer "FE err" + four uint64 (приход, возврат прихода, расход, возврат расхода)', async (t) => {
  t.same(figures.cumulativeRequest(0), hex('FE F4 00 00 00 00'));
  const sums = Buffer.alloc(32);
  sums.writeBigUInt64LE(123_456_789_00n, 0);
  sums.writeBigUInt64LE(1_000n, 8);
  sums.writeBigUInt64LE(5_00n, 16);
  sums.writeBigUInt64LE(0n, 24);
  t.same(figures.decodeCumulative(Buffer.concat([hex('FE 00'), sums])), { sell: 123_456_789_00, sell_refund: 1_000, buy: 5_00, buy_refund: 0 });
  const none = Buffer.concat([hex('FE 00'), sums.subarray(0, 24), Buffer.alloc(8, 0xff)]);
  t.equal(figures.decodeCumulative(none).buy_refund, undefined, 'all FF = none');
  t.throws(() => figures.decodeCumulative(Buffer.concat([hex('FE 00'), Buffer.alloc(8)])), { code: 'NOT_SUPPORTED' });
  t.throws(() => figures.decodeCumulative(hex('FE 37')), { code: 'NOT_SUPPORTED', deviceCode: 0x37 });
  const huge = Buffer.concat([hex('FE 00'), Buffer.alloc(32)]);
  huge.writeBigUInt64LE(2n ** 60n, 2);
  t.throws(() => figures.decodeCumulative(huge), { code: 'BAD_ANSWER' });
});

t.test('FF0A of a Z report and of a receipt: the captured javapos answers (kkt-protocols.md §1.11, FSFindDocumentTests)', async (t) => {
  const z = codec.decodeDocument(hex('FF 0A 00 05 00 11 07 06 02 36 06 00 00 00 FD 00 61 D9 01 00'));
  t.match(z, { type: 5, dateTime: '2017-07-06T02:54', fdNumber: 6, fiscalSign: 3647013117, shiftNumber: 1 });
  const r = codec.decodeDocument(hex('FF 0A 00 03 00 11 03 18 14 35 A3 00 00 00 EB EA 4B 2E 01 20 4E 00 00 00'));
  t.match(r, { type: 3, dateTime: '2017-03-24T20:53', fdNumber: 163, fiscalSign: 776727275, operation: 1, total: 20000 });
});

const tlv = (tag: number, v: Buffer): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(tag, 0);
  h.writeUInt16LE(v.length, 2);
  return Buffer.concat([h, v]);
};
const cp866 = (s: string): Buffer => iconv.encode(s, 'cp866');

/** a receipt as FFD 1.2 stores it: 2 items, card + advance offset, cashier, contact */
const RECEIPT_TLVS = Buffer.concat([
  tlv(1012, hex('C0 3E 81 69')), // 0x69813EC0 = 1770077888 → 2026-02-03T00:18 (UTC fields)
  tlv(1040, hex('FA B2 00 00')),
  tlv(1041, Buffer.from('9289000100055632')),
  tlv(1077, hex('31 04 2E 4B EA EB')),
  tlv(1038, hex('0C 00 00 00')),
  tlv(1042, hex('05 00 00 00')),
  tlv(1054, hex('01')),
  tlv(1021, cp866('Иванова И.И.')),
  tlv(1008, cp866('buyer@example.ru')),
  tlv(1059, Buffer.concat([tlv(1030, cp866('Чайник')), tlv(1079, hex('E0 93 04')), tlv(1023, hex('00 01')), tlv(1043, hex('E0 93 04')), tlv(1199, hex('0B')), tlv(1214, hex('04')), tlv(1212, hex('01'))])),
  tlv(1059, Buffer.concat([tlv(1030, cp866('Доставка')), tlv(1079, hex('20 4E')), tlv(1023, hex('01 0F')), tlv(1043, hex('30 75')), tlv(1199, hex('0B')), tlv(1214, hex('04')), tlv(1212, hex('04'))])),
  tlv(1020, hex('10 09 05')),
  tlv(1031, hex('')),
  tlv(1081, hex('10 F1 04')),
  tlv(1215, hex('00 18')),
  tlv(1216, hex('00')),
  tlv(1217, hex('00')),
  tlv(1055, hex('01')),
  tlv(9999, hex('01 02 03 04 05 06 07 08')),
]);

t.test('document copy: known tags decoded (VLN kopecks, FVLN thousandths, UnixTime local, CP866), every tag kept', async (t) => {
  const doc = fndoc.decodeFnDocument(45818, 3, RECEIPT_TLVS);
  t.match(doc, {
    fdNumber: 45818, type: 3, operation: 1, total: 330000, fd: 45818, fiscalSign: 776727275, shiftNumber: 12, receiptNumber: 5,
    cashier: 'Иванова И.И.', customerContact: 'buyer@example.ru', dateTime: '2026-02-03T00:18',
    payments: { cash: 0, electronic: 323_856, prepaid: 6144, credit: 0, other: 0 },
  });
  t.same(doc.items, [
    { name: 'Чайник', price: 300_000, quantity: 1000, sum: 300_000, vatRate: 11, paymentMethod: 4, paymentObject: 1 },
    { name: 'Доставка', price: 20000, quantity: 1500, sum: 30000, vatRate: 11, paymentMethod: 4, paymentObject: 4 },
  ]);
  t.equal(doc.tags['1041'], '9289000100055632');
  t.equal(doc.tags['1055'], 1);
  t.equal(doc.tags['9999'], '0102030405060708', 'unknown long tag kept as hex');
  t.equal((doc.tags['1059'] as unknown[]).length, 2, 'both items under 1059');
  // an outer STLV of the document's own type is unwrapped
  const wrapped = fndoc.decodeFnDocument(45818, 3, tlv(3, RECEIPT_TLVS));
  t.same(wrapped.items, doc.items);
  t.throws(() => fndoc.decodeFnDocument(1, 3, RECEIPT_TLVS.subarray(0, RECEIPT_TLVS.length - 3)), { code: 'BAD_ANSWER' });
});

t.test('FVLN, UnixTime and the fiscal sign', async (t) => {
  t.equal(fndoc.fvlnThousandths(hex('00 01')), 1000);
  t.equal(fndoc.fvlnThousandths(hex('03 DC 05')), 1500);
  t.equal(fndoc.fvlnThousandths(hex('02 0F 27')), 99990, '99.99');
  t.equal(fndoc.fvlnThousandths(hex('06 40 42 0F')), 1000, '1.000000');
  t.equal(fndoc.fvlnThousandths(hex('00 FF FF FF FF FF')), (2 ** 40 - 1) * 1000);
  t.throws(() => fndoc.fvlnThousandths(hex('03')), RangeError);
  t.equal(fndoc.unixTimeText(0), '1970-01-01T00:00');
  t.equal(fndoc.unixTimeText(1_764_669_600), '2025-12-02T10:00');
  t.same(fndoc.decodeTlvs(Buffer.concat([tlv(1010, hex('00 E4 0B 54 02 00 00 00')), tlv(1011, hex('FF FF FF FF FF FF FF FF'))])),
    { 1010: 10_000_000_000, 1011: 'FFFFFFFFFFFFFFFF' }, '8-byte VLN: exact number, or hex past the safe range');
  t.equal(fndoc.fiscalSignOf(hex('EB EA 4B 2E')), 776727275);
  t.equal(fndoc.fiscalSignOf(hex('31 04 2E 4B EA EB')), 776727275);
});

t.test('FF3A / FF3B layouts', async (t) => {
  t.same(fndoc.requestDocumentRequest(30, 45818), hex('FF 3A 1E 00 00 00 FA B2 00 00'));
  t.same(fndoc.decodeDocumentHeader(hex('FF 3A 00 03 00 2C 01')), { type: 3, length: 300 });
  t.same(fndoc.readDocumentBlockRequest(30), hex('FF 3B 1E 00 00 00'));
  t.same(fndoc.decodeDocumentBlock(hex('FF 3B 00 01 02')), hex('01 02'));
  t.throws(() => fndoc.decodeDocumentHeader(hex('FF 3A 08')), { code: 'FN_NO_DATA', deviceCode: 0x08 });
});
