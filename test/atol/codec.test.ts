import t from 'tap';
import fc from 'fast-check';
import * as codec from '../../drivers/atol/codec.ts';
import { describeDeviceError, deviceError } from '../../drivers/atol/errors.ts';
import { resolveQuirks, taxTypeFor } from '../../drivers/atol/quirks.ts';
import type { TaskResult } from '../../drivers/atol/tasks.ts';
import { DriverError } from '../../drivers/types.ts';
import { hex } from './peer.ts';

const ok = (data: string): TaskResult => ({ status: 'result', data: hex(data), tid: 1, via: 'sync' });
const err = (data: string): TaskResult => ({ status: 'error', data: hex(data), tid: 1, via: 'async' });
const REQ = (code: string): Buffer => hex(`00 00 ${code}`);

function thrown(fn: () => unknown): DriverError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DriverError) return e;
    throw e;
  }
  throw new Error('expected a DriverError');
}

t.test('BCD: big-endian packed, fixed length, range checked', async (t) => {
  t.same(codec.bcd(180000, 5), hex('00 00 18 00 00'));
  t.same(codec.bcd(30, 4), hex('00 00 00 30'));
  t.same(codec.bcd(0, 2), hex('00 00'));
  t.equal(codec.fromBcd(hex('00 12 34 56 78')), 12345678);
  t.equal(codec.fromBcd(hex('1A')), undefined);
  t.equal(thrown(() => codec.bcd(100, 1)).code, 'BAD_DOCUMENT');
  t.equal(thrown(() => codec.bcd(-1, 5)).code, 'BAD_DOCUMENT');
  t.equal(thrown(() => codec.bcd(1.5, 5)).code, 'BAD_DOCUMENT');
  t.doesNotThrow(() =>
    fc.assert(fc.property(fc.integer({ min: 0, max: 9_999_999_999 }), (n) => codec.fromBcd(codec.bcd(n, 5)) === n)),
  );
});

t.test('device code page: CP866 with № at 24h and $ at FCh', async (t) => {
  t.same(codec.encodeText('№ 5 $'), hex('24 20 35 20 FC'));
  t.same(codec.encodeText('Чай'), hex('97 A0 A9'));
  t.equal(codec.decodeText(hex('24 35 FC 97 A0 A9 00 41')), '№5$Чай');
  t.same(codec.encodeText('✓'), hex('3F'), 'unknown characters become ?');
});

t.test('requests: 56, 92, EA, E8, 99, 4A, 49, 91, A4 40, 46', async (t) => {
  t.same(codec.enterMode(0, 3, 30), hex('00 00 56 03 00 00 00 30'));
  t.same(codec.openReceipt(0, 0, 1), hex('00 00 92 00 01'));
  t.same(codec.beginItem(0), hex('00 00 EA 00 01 00'));
  t.same(codec.writeTag(0, 1008, Buffer.from('a@b')), hex('00 00 E8 01 01 00 F0 03 03 00 61 40 62'));
  t.same(codec.payment(0, 2, 180000), hex('00 00 99 00 02 00 00 18 00 00'));
  t.same(codec.closeReceipt(0), hex('00 00 4A 00 01 00 00 00 00 00'));
  t.same(codec.cash(0, codec.Cmd.CASH_IN, 1250), hex('00 00 49 00 00 00 00 12 50'));
  t.same(codec.readRegister(0, 0x33), hex('00 00 91 33 00 00'));
  t.same(codec.findDocument(0, 0x01020304), hex('00 00 A4 40 04 03 02 01'));
  t.same(codec.readTable(0, 13, 11, 3), hex('00 00 46 0D 00 0B 03'));
  t.same(codec.request(1234, 0x3f), hex('12 34 3F'), 'access password in BCD');
});

t.test('EB: 1212/1214 BCD or binary; bad attributes refused', async (t) => {
  const f = { price: 100, quantity: 1000, sum: 100, taxType: 1, taxSum: 0, section: 0, paymentObject: 13, paymentMethod: 4, name: 'x' };
  t.same(codec.endItem(0, f, 'bcd').subarray(31, 34), hex('00 13 04'));
  t.same(codec.endItem(0, f, 'binary').subarray(31, 34), hex('00 0D 04'));
  t.equal(thrown(() => codec.endItem(0, { ...f, paymentMethod: 8 }, 'bcd')).code, 'BAD_DOCUMENT');
  t.equal(codec.endItem(0, { ...f, name: 'я'.repeat(200) }, 'bcd').length, 44 + 128, 'name cut to 128 bytes');
});

t.test('3F decoded', async (t) => {
  const d = '44 01 01 26 01 15 10 30 05 4B 12 34 56 78 45 03 00 31 00 07 00 11 01 00 00 18 00 00 02 04';
  const s = codec.decodeStatus(REQ('3F'), ok(d));
  t.match(s, {
    cashier: 1, dateTime: '2026-01-15T10:30:05', fiscalized: true, shiftOpen: true, paperPresent: true, coverOpen: false,
    serial: '12345678', model: 0x45, mode: 1, submode: 3, receiptNumber: 7, shiftNumber: 11, receiptState: 1, receiptSum: 180000,
  });
  t.equal(thrown(() => codec.decodeStatus(REQ('3F'), ok('55 8C 00'))).code, 'WRONG_PASSWORD', '3F refused as 55 err');
  t.equal(thrown(() => codec.decodeStatus(REQ('3F'), ok('44 01'))).code, 'BAD_ANSWER');
});

t.test('45 decoded; its 55 + mode byte is a success when the task succeeded', async (t) => {
  t.match(codec.decodePrinterState(REQ('45'), ok('55 23 01')), { modeByte: 0x23, mode: 3, submode: 2, noPaper: true });
  t.match(codec.decodePrinterState(REQ('45'), ok('55 00 1E')), { noPaper: false, printerLost: true, mechanicalError: true, cutterError: true, overheat: true });
  t.equal(thrown(() => codec.decodePrinterState(REQ('45'), err('55 68 00'))).code, 'PRINTER_LINK_LOST');
});

t.test('A5 decoded (leading error byte)', async (t) => {
  const a = codec.decodeDeviceType(REQ('A5'), ok('00 03 01 4C 10 00 03 00 00 21 95 8A A0 A7 AD A0 E7 A5 A9 20 94 80'));
  t.match(a, { protocol: 3, type: 1, model: 0x4c, firmware: '3.0.0 build 2195', name: 'Казначей ФА' });
  t.equal(thrown(() => codec.decodeDeviceType(REQ('A5'), ok('66'))).code, 'WRONG_MODE');
});

t.test('91 33, 91 34, A4 10, A4 31, A4 20, A4 30, A4 40 decoded', async (t) => {
  t.same(codec.decodeLastReceipt(REQ('91 33'), ok('55 00 00 00 00 01 01 01 00 00 00 00 18 00 00 15 01 26 10 30 00 30 00 01 01 00 00 00')), {
    fdNumber: 101, type: 1, total: 180000, dateTime: '2026-01-15T10:30', fiscalSign: 30000101,
  });
  t.same(codec.decodeLastFd(REQ('91 34'), ok('55 00 00 00 00 01 02 15 01 26 10 31 42 94 96 72 95')), { fdNumber: 102, dateTime: '2026-01-15T10:31', fiscalSign: 4294967295 });
  t.same(codec.decodeShiftParams(REQ('A4 10'), ok('55 00 01 10 01 05 00')), { open: true, shiftNumber: 272, receiptNumber: 5 });
  t.same(codec.decodeShiftParams(REQ('A4 10'), ok('55 00 01 12 00 05 00'), 'bcd'), { open: true, shiftNumber: 12, receiptNumber: 5 });
  t.equal(codec.decodeFnNumber(REQ('A4 31'), ok('55 00 ' + Buffer.from('9999078900001234').toString('hex'))), '9999078900001234');
  t.same(codec.decodeExchangeStatus(REQ('A4 20'), ok('55 00 02 00 03 00 63 00 00 00 1A 01 0F 09 05')), { state: 2, unsentCount: 3, firstUnsent: 99, firstDateTime: '2026-01-15T09:05' });
  const fnst = codec.decodeFnStatus(REQ('A4 30'), ok('55 00 03 00 00 01 02 1A 01 0F 0A 1E ' + Buffer.from('9999078900001234').toString('hex') + ' 65 00 00 00'));
  t.match(fnst, { phase: 3, shiftOpen: true, warnings: 2, dateTime: '2026-01-15T10:30', serial: '9999078900001234', lastFd: 101 });
  t.same(codec.decodeFoundDocument(REQ('A4 40'), ok('55 00 03 01 1A 01 0F 0A 1E 65 00 00 00 F3 60 35 FF 01 20 BF 02 00 00')), {
    type: 3, dateTime: '2026-01-15T10:30', fdNumber: 101, fiscalSign: 4281688307, operation: 1, total: 180000,
  });
  t.same(codec.decodeFoundDocument(REQ('A4 40'), ok('55 00 05 01 1A 01 0F 0A 1E 66 00 00 00 01 00 00 00 0C 00')), {
    type: 5, dateTime: '2026-01-15T10:30', fdNumber: 102, fiscalSign: 1, shiftNumber: 12,
  });
  t.equal(thrown(() => codec.decodeFoundDocument(REQ('A4 40'), err('55 DA 00'))).code, 'FN_NO_DATA');
});

t.test('99 answer: 12 bytes, or 13 with an extra byte ([A3])', async (t) => {
  t.same(codec.decodePayment(REQ('99'), ok('55 00 00 00 00 00 00 00 00 00 05 00')), { remainder: 0, change: 500 });
  t.same(codec.decodePayment(REQ('99'), ok('55 00 00 00 00 00 10 00 00 00 00 00 00')), { remainder: 1000, change: 0 });
  t.same(codec.decodePayment(REQ('99'), ok('55 00 00')), { remainder: 0, change: 0 });
});

t.test('document TLVs (A4 45/46) → DocumentRef', async (t) => {
  const tlv = (tag: number, v: string): Buffer => codec.tlv(tag, hex(v));
  const body = Buffer.concat([tlv(1040, '65 00 00 00'), tlv(1012, '00 45 69 69'), tlv(1077, '00 00 FF 35 60 F3'), tlv(1054, '01'), tlv(1020, '20 BF 02'), tlv(1038, '0C 00')]);
  t.same(codec.documentFromTlv(3, body), { type: 3, fdNumber: 101, dateTime: new Date(0x69694500 * 1000).toISOString().slice(0, 16), fiscalSign: 0xff3560f3, operation: 1, total: 180000, shiftNumber: 12 });
  t.equal(codec.topLevelTlvs(body).get(1054)?.[0], 1);
});

t.test('tax type: probed table, then vatCodes, then the numbering', async (t) => {
  const q = resolveQuirks();
  t.equal(taxTypeFor('vat20', q), 1);
  t.equal(taxTypeFor('none', q), 4);
  t.equal(taxTypeFor('vat22', q), undefined, 'no guessed row for 22 % without the table');
  t.equal(taxTypeFor('vat22', resolveQuirks({ vatCodes: { vat22: 11 } })), 11);
  t.equal(taxTypeFor('vat5', q), undefined);
  t.equal(taxTypeFor('vat0', resolveQuirks({ taxTypes: 'tag1199' })), 5);
  const probed = new Map([[11, 7], [6, 4]]);
  t.equal(taxTypeFor('vat22', q, probed), 7);
  t.equal(taxTypeFor('vat20', q, probed), undefined, 'a probed table without the rate: no row at all');
  t.equal(taxTypeFor('vat20', resolveQuirks({ vatCodes: { vat20: 9 } }), probed), 9);
});

t.test('error table: the same kinds and names as Shtrih where the meaning is the same', async (t) => {
  t.match(describeDeviceError(0x67), { code: 'NO_PAPER', kind: 'operator' });
  t.match(describeDeviceError(0x88), { code: 'SHIFT_EXPIRED', kind: 'retryable' });
  t.match(describeDeviceError(0xf0), { code: 'SHIFT_EXPIRED', kind: 'retryable' });
  t.match(describeDeviceError(0x9b), { code: 'RECEIPT_OPEN', kind: 'retryable' });
  t.match(describeDeviceError(0x72), { code: 'PAYMENTS_LESS_THAN_TOTAL', kind: 'rejected' });
  t.match(describeDeviceError(0xd8), { code: 'FN_STORAGE_EXHAUSTED', kind: 'fatal' });
  t.match(describeDeviceError(0xd5), { code: 'FN_FAILURE', kind: 'fatal' });
  t.match(describeDeviceError(0xe9), { code: 'FN_NO_OFD_TRANSPORT', kind: 'retryable' });
  t.match(describeDeviceError(0x01), { code: 'DEVICE_ERROR', kind: 'operator' });
  const e = deviceError(0x8c, '56', 0x01);
  t.match(e, { code: 'WRONG_PASSWORD', kind: 'operator', deviceCode: 0x8c, command: '56' });
  t.match(e.message, /8Ch .*ext 01h/);
  t.equal(thrown(() => codec.expectOk(REQ('92'), ok('55 9B 00'))).code, 'RECEIPT_OPEN', 'a refusal inside an A3 state');
  t.equal(thrown(() => codec.expectOk(REQ('92'), err('55 9B 00'))).code, 'RECEIPT_OPEN', 'a refusal as A4/A7');
  t.equal(thrown(() => codec.expectOk(REQ('92'), err(''))).code, 'BAD_ANSWER');
  t.doesNotThrow(() => codec.expectOk(REQ('92'), ok('55 00 00')));
});
