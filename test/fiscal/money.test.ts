import t from 'tap';
import fc from 'fast-check';
import { GatewayError } from '../../src/errors.ts';
import {
  MAX_ITEM_KOPECKS, MAX_TOTAL_KOPECKS, formatRubles, rublesValue, toKopecks, toThousandths,
} from '../../src/fiscal/money.ts';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return e instanceof GatewayError ? `${e.code}@${e.field}` : `threw ${String(e)}`;
  }
}

t.test('toKopecks: exact conversions', async (t) => {
  t.equal(toKopecks(0.01, 'p'), 1);
  t.equal(toKopecks(849.5, 'p'), 84950);
  t.equal(toKopecks(1.1, 'p'), 110);
  t.equal(toKopecks(0.29, 'p'), 29, '0.29 * 100 would be 28.999999999999996 in floats');
  t.equal(toKopecks(1699, 'p'), 169900);
  t.equal(toKopecks(42949672.95, 'p'), MAX_ITEM_KOPECKS);
  t.equal(toKopecks(100000000, 'p', MAX_TOTAL_KOPECKS), MAX_TOTAL_KOPECKS);
  t.equal(toKopecks(0, 'p'), 0);
  t.ok(Object.is(toKopecks(-0, 'p'), 0), '-0 is zero, returned as +0');
});

t.test('toKopecks: everything else is refused, never rounded', async (t) => {
  const badAmount: unknown[] = [
    0.30000000000000004, 0.1 + 0.2, 0.001, 1990.001, 1e21, 1e-7, 1e308, -0.01, -1, NaN, Infinity, -Infinity,
    42949672.96, Number.MAX_SAFE_INTEGER, 2 ** 53 + 0.5,
  ];
  for (const x of badAmount) t.equal(codeOf(() => toKopecks(x, 'receipt.total')), 'BAD_AMOUNT@receipt.total', String(x));
  t.equal(codeOf(() => toKopecks(100000000.01, 'p', MAX_TOTAL_KOPECKS)), 'BAD_AMOUNT@p');
  for (const x of ['12.5', '12.50', '', null, undefined, true, {}, [1], 10n]) {
    t.equal(codeOf(() => toKopecks(x, 'p')), 'SCHEMA@p', `${typeof x} ${String(x)}: numeric strings refused too`);
  }
});

t.test('toThousandths', async (t) => {
  t.equal(toThousandths(0.001, 'q'), 1);
  t.equal(toThousandths(1, 'q'), 1000);
  t.equal(toThousandths(0.333, 'q'), 333);
  t.equal(toThousandths(99999.999, 'q'), 99999999);
  for (const x of [0, -0, -1, 0.0001, 1.0005, 100000, 1e-7, 1e21, NaN]) {
    t.equal(codeOf(() => toThousandths(x, 'q')), 'BAD_QUANTITY@q', String(x));
  }
  t.equal(codeOf(() => toThousandths('1', 'q')), 'SCHEMA@q');
});

t.test('formatting back to rubles', async (t) => {
  t.equal(formatRubles(123450), '1234.50');
  t.equal(formatRubles(5), '0.05');
  t.equal(formatRubles(0), '0.00');
  t.equal(formatRubles(999999900), '9999999.00');
  t.equal(formatRubles(-150), '-1.50');
  t.equal(rublesValue(357000), 3570);
  t.equal(rublesValue(123450), 1234.5);
  t.equal(JSON.stringify({ total: rublesValue(66483) }), '{"total":664.83}');
  t.throws(() => formatRubles(1.5), RangeError);
});

t.test('property: kopecks → rubles → kopecks is the identity over the whole range', async () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: MAX_TOTAL_KOPECKS }), (kop) =>
    toKopecks(rublesValue(kop), 'p', MAX_TOTAL_KOPECKS) === kop));
  fc.assert(fc.property(fc.integer({ min: 1, max: 99999999 }), (th) => toThousandths(th / 1000, 'q') === th));
});

t.test('property: any double either converts exactly or is refused', async () => {
  fc.assert(fc.property(fc.double(), (x) => {
    try {
      const kop = toKopecks(x, 'p', MAX_TOTAL_KOPECKS);
      return Number.isSafeInteger(kop) && rublesValue(kop) === x;
    } catch (e) {
      return e instanceof GatewayError && e.code === 'BAD_AMOUNT';
    }
  }));
});
