import t from 'tap';
import fc from 'fast-check';
import { GatewayError } from '../../src/errors.ts';
import { FISCAL_CODES } from '../../src/fiscal/codes.ts';
import { parseReceiptMessage, type ParseResult } from '../../src/fiscal/parse.ts';
import { body, exampleA, exampleB, exampleC, exampleD, prepay2026, type Json } from './fixtures.ts';

/** ok with a consistent receipt, or a typed validation error from the catalogue; never a throw, never INTERNAL. */
function wellFormed(r: ParseResult): boolean {
  if (!r.ok) {
    return r.error instanceof GatewayError && r.error.type === 'validation' && Object.hasOwn(FISCAL_CODES, r.error.code);
  }
  const { items, payments, total } = r.request.receipt;
  const paid = payments.cash + payments.electronic + payments.prepaid + payments.credit + payments.other;
  return items.length > 0 && total === items.reduce((s, i) => s + i.sum, 0) && paid === total
    && items.every((i) => Number.isSafeInteger(i.price) && Number.isSafeInteger(i.sum) && i.quantity > 0);
}

const parse = (input: Buffer | string): ParseResult => parseReceiptMessage(input, { registeredTaxSystems: ['osn'] });

t.test('arbitrary JSON values never throw', async () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => wellFormed(parse(JSON.stringify(v) ?? 'null'))), { numRuns: 2000 });
});

t.test('arbitrary objects with the envelope keys never throw', async () => {
  const key = fc.constantFrom('operation', 'external_id', 'timestamp', 'receipt', 'correction', '__proto__', 'constructor');
  fc.assert(fc.property(fc.dictionary(key, fc.jsonValue()), (o) => wellFormed(parse(JSON.stringify(o)))), { numRuns: 1000 });
});

t.test('arbitrary bytes and strings never throw', async () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => wellFormed(parse(Buffer.from(b)))), { numRuns: 1000 });
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 256 }), (s) => wellFormed(parse(s))), { numRuns: 1000 });
});

/** Every path to a value inside `o` (object keys and array indices). */
function paths(o: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (typeof o !== 'object' || o === null) return [];
  const keys: (string | number)[] = Array.isArray(o) ? o.map((_, i) => i) : Object.keys(o);
  return keys.flatMap((k) => [[...prefix, k], ...paths((o as Json)[k], [...prefix, k])]);
}

function mutate(o: Json, path: (string | number)[], value: unknown, remove: boolean): Json {
  let node: any = o;
  for (const k of path.slice(0, -1)) node = node[k];
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = value;
  return o;
}

const valid = [exampleA, exampleB, exampleC, exampleD, prepay2026];

t.test('every example is valid before mutation', async (t) => {
  for (const make of valid) t.ok(parse(body(make())).ok, make.name);
});

t.test('arbitrary mutations of valid receipts never throw', async () => {
  const interesting = fc.oneof(
    fc.jsonValue(),
    fc.double(),
    fc.constantFrom(0, -0, 1e308, 1e-7, 0.30000000000000004, 42949672.95, 42949672.96, 'NaN', '1e308', '12.5', null, '', 'none', '__proto__'),
    fc.string({ maxLength: 300 }),
  );
  fc.assert(fc.property(
    fc.constantFrom(...valid),
    fc.nat(),
    interesting,
    fc.boolean(),
    (make, pick, value, remove) => {
      const o = make();
      const all = paths(o);
      const mutated = mutate(o, all[pick % all.length]!, value, remove);
      return wellFormed(parse(JSON.stringify(mutated)));
    },
  ), { numRuns: 3000 });
});

t.test('several mutations at once never throw', async () => {
  fc.assert(fc.property(
    fc.constantFrom(...valid),
    fc.array(fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 }), fc.boolean()), { minLength: 2, maxLength: 6 }),
    (make, edits) => {
      let o = make();
      for (const [pick, value, remove] of edits) {
        const all = paths(o);
        if (all.length === 0) break;
        o = mutate(o, all[pick % all.length]!, value, remove);
      }
      return wellFormed(parse(JSON.stringify(o)));
    },
  ), { numRuns: 1000 });
});

t.test('hostile shapes', async (t) => {
  const big = { maxBodyBytes: 64 * 1024 * 1024 };
  const depth = 1_000_000;
  t.ok(wellFormed(parseReceiptMessage('['.repeat(depth) + ']'.repeat(depth), big)), 'deeply nested arrays');
  const nestedItems = body(exampleA()).replace('"items":[', `"items":[${'['.repeat(100_000)}${']'.repeat(100_000)},`);
  t.ok(wellFormed(parseReceiptMessage(nestedItems, big)), 'deep nesting inside items');
  const huge = exampleA();
  huge.external_id = 'x'.repeat(10 * 1024 * 1024);
  t.match(parseReceiptMessage(body(huge), big), { ok: false, error: { code: 'BAD_EXTERNAL_ID' } }, '10 MB string');
  const hugeName = exampleA();
  hugeName.receipt.items[0].name = 'я'.repeat(10 * 1024 * 1024);
  t.match(parseReceiptMessage(body(hugeName), big), { ok: false, error: { code: 'BAD_NAME' } });
  const manyItems = exampleA();
  manyItems.receipt.items = Array.from({ length: 200_000 }, () => exampleA().receipt.items[0]);
  t.match(parseReceiptMessage(body(manyItems), big), { ok: false, error: { code: 'TOO_MANY_ITEMS' } });
  t.ok(wellFormed(parse('{"__proto__":{"external_id":"x"},"external_id":"y"}')));
  t.equal(({} as Json).external_id, undefined);
});
