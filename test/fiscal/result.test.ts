import t from 'tap';
import type { FiscalResult } from '../../drivers/types.ts';
import { qrString } from '../../src/fiscal/qr.ts';
import { acceptedResult, doneResult, failResult, formatTimestamp } from '../../src/fiscal/result.ts';
import { fiscalError } from '../../src/fiscal/codes.ts';

t.test('QR string as in kkt-protocols.md §4', async (t) => {
  t.equal(
    qrString({ dateTime: '2015-07-20T16:38:00', total: 999999900, fnNumber: '000110000105', fdNumber: 12345678, fiscalSign: 123456, operation: 2 }),
    't=20150720T1638&s=9999999.00&fn=000110000105&i=12345678&fp=123456&n=2',
  );
  t.equal(
    qrString({ dateTime: '2026-01-05T09:07', total: 5, fnNumber: '9289000100055632', fdNumber: 7, fiscalSign: 42, operation: 1 }),
    't=20260105T0907&s=0.05&fn=9289000100055632&i=7&fp=42&n=1', 'no seconds; numbers without leading zeros',
  );
  t.throws(() => qrString({ dateTime: '05.01.2026 09:07', total: 0, fnNumber: '1', fdNumber: 1, fiscalSign: 1, operation: 1 }), RangeError);
});

const now = new Date(2026, 10, 28, 10, 15, 2);

t.test('done result matches the contract example', async (t) => {
  const fiscal: FiscalResult = {
    fdNumber: 45818, fiscalSign: 1893288411, dateTime: '2026-11-28T10:15:00', shiftNumber: 12, receiptNumber: 5,
    fnNumber: '9289000100055632', operation: 1, total: 357000, change: 0,
  };
  const r = doneResult('order-1017/payment-1', fiscal, { registrationNumber: '0000000001012345', now });
  t.same(r, {
    external_id: 'order-1017/payment-1',
    status: 'done',
    timestamp: '28.11.2026 10:15:02',
    error: null,
    payload: {
      total: 3570,
      fns_site: 'www.nalog.gov.ru',
      fn_number: '9289000100055632',
      shift_number: 12,
      receipt_datetime: '28.11.2026 10:15:00',
      fiscal_receipt_number: 5,
      fiscal_document_number: 45818,
      fiscal_document_attribute: 1893288411,
      ecr_registration_number: '0000000001012345',
      qr: 't=20261128T1015&s=3570.00&fn=9289000100055632&i=45818&fp=1893288411&n=1',
    },
  });
  t.match(JSON.stringify(r), /"total":3570,/);
  const noFn = doneResult('x', { ...fiscal, fnNumber: '', dateTime: '2026-11-28T10:15' }, { registrationNumber: 'r', now, fnNumber: '9999' });
  t.equal(noFn.payload?.fn_number, '9999', 'the context FN number fills a missing one');
  t.equal(noFn.payload?.receipt_datetime, '28.11.2026 10:15:00');
});

t.test('accepted and fail results', async (t) => {
  t.same(acceptedResult('a-1', now), { external_id: 'a-1', status: 'accepted', timestamp: '28.11.2026 10:15:02', error: null, payload: null });
  const error = fiscalError('TOTAL_MISMATCH', 'receipt.total', '1.00 ≠ Σ items 2.00').toJSON();
  t.same(failResult('a-1', error, now), {
    external_id: 'a-1', status: 'fail', timestamp: '28.11.2026 10:15:02', payload: null,
    error: {
      code: 'TOTAL_MISMATCH', type: 'validation', retryable: false, field: 'receipt.total',
      text: 'Итог чека не равен сумме позиций / total ≠ sum of item sums: 1.00 ≠ Σ items 2.00',
    },
  });
  t.equal(formatTimestamp(new Date(2025, 0, 5, 3, 4, 5)), '05.01.2025 03:04:05');
});
