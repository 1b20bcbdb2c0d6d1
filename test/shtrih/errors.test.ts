import t from 'tap';
import { DEVICE_ERRORS, DriverCodes, UncertainError, describeDeviceError, deviceError } from '../../drivers/shtrih/errors.ts';
import { DriverError } from '../../drivers/types.ts';

t.test('device codes map to stable names and kinds', async (t) => {
  const kind = (c: number) => describeDeviceError(c).kind;
  const code = (c: number) => describeDeviceError(c).code;
  t.equal(code(0x6b), 'NO_PAPER');
  t.equal(kind(0x6b), 'operator');
  t.equal(kind(0x58), 'operator', 'waiting for continue print');
  t.equal(code(0x50), 'BUSY_PRINTING');
  t.equal(kind(0x50), 'retryable');
  t.equal(kind(0x2f), 'retryable', 'FN exchange timeout');
  for (const c of [0x03, 0x12, 0x14, 0x30]) t.equal(kind(c), 'fatal', `${c.toString(16)} fatal`);
  for (const c of [0x33, 0x45, 0x8e, 0x5f]) t.equal(kind(c), 'rejected', `${c.toString(16)} rejected`);
  t.equal(code(0x4e), 'SHIFT_EXPIRED');
  t.equal(code(0x16), 'SHIFT_EXPIRED', 'the FN variant of the 24 h limit');
  t.equal(code(0x4a), 'RECEIPT_OPEN');
  t.equal(code(0xa3), 'MARKING_ERROR');
  t.match(describeDeviceError(0xee), { code: 'DEVICE_ERROR', kind: 'operator' });
  for (const info of DEVICE_ERRORS.values()) {
    t.match(info.code, /^[A-Z][A-Z0-9_]+$/);
    t.ok(info.ru.length > 0 && info.en.length > 0);
  }
});

t.test('deviceError builds a DriverError with code, kind, device code, command and both texts', async (t) => {
  const e = deviceError(0x6b, 'FF46');
  t.ok(e instanceof DriverError);
  t.match(e, { code: 'NO_PAPER', kind: 'operator', deviceCode: 0x6b, command: 'FF46', retryable: true });
  t.match(e.message, /6Bh Нет чековой ленты \/ KKT: no receipt paper/);
});

t.test('UncertainError carries the last FD before the document', async (t) => {
  const e = new UncertainError('lost', { command: 'FF45', lastFdBefore: 45817 });
  t.ok(e instanceof DriverError);
  t.match(e, { code: DriverCodes.RESULT_UNKNOWN, kind: 'uncertain', uncertain: true, retryable: false, lastFdBefore: 45817 });
});
