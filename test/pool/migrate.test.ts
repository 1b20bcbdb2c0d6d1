/**
 * Upgrading a gateway of one register to the pool's layout: the in-flight job, the shift, the book and the last
 * Z-check kept under the keys of before pools become the first register's, once, before any register starts — so a
 * receipt left in flight by the old version is reconciled by the same register's FN after the upgrade.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, LEGACY_INFLIGHT } from '../../src/queue/store.ts';
import { parseConfig } from '../../src/config/index.ts';
import { createLogger } from '../../src/log.ts';
import { Gateway } from '../../src/service.ts';
import { DriverError } from '../../drivers/types.ts';
import { BOOK_META, ZCHECK_META } from '../../src/gateway/zbook.ts';

t.test('state of before pools becomes the first register\'s', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-migrate-'));
  const old = await QueueStore.open(join(dir, 'queue'));
  await old.accept({ kind: 'receipt', externalId: 'left-in-flight', body: '{}' });
  await old.setInflight(1, { lastFdBefore: 41, startedAt: 1 });
  await old.setMetas({ shift: { number: 7, openedAt: '2026-12-01T03:00' }, [BOOK_META]: { since: 'x' }, [ZCHECK_META]: { shift_number: 6 } });
  await old.close();

  const store = await QueueStore.open(join(dir, 'queue'));
  t.teardown(() => store.close());
  const config = parseConfig({ data_dir: dir, devices: [{ id: 'hall', port: '/dev/null-a' }, { id: 'bar', port: '/dev/null-b' }], log: { level: 'silent' } }, {}, 'h');
  const gw = new Gateway({ config, logger: createLogger({ level: 'silent' }), store, driverFactory: () => async () => { throw new DriverError('NO_LINK', 'retryable', 'no register here'); } });
  await gw.prepared();
  t.equal(await store.inflight(LEGACY_INFLIGHT), undefined);
  t.match(await store.inflight('hall'), { seq: 1, lastFdBefore: 41 }, 'the in-flight job is the first register\'s');
  t.equal(await store.inflight('bar'), undefined);
  t.same(await store.getMeta('shift@hall'), { number: 7, openedAt: '2026-12-01T03:00' });
  t.same(await store.getMeta('zbook@hall'), { since: 'x' });
  t.same(await store.getMeta('zcheck@hall'), { shift_number: 6 });
  t.equal(await store.getMeta('shift'), undefined, 'the old keys are gone');
  t.equal(await store.getMeta(BOOK_META), undefined);
  const h = await gw.health();
  t.match(h, { pool: { registers: 2, up: 0 }, registers: [{ id: 'hall', in_flight: { seq: 1 } }, { id: 'bar', in_flight: null }] }, 'health shows the job in flight on the first register');
  t.throws(() => gw.register(), { code: 'UNKNOWN_DEVICE' }, 'no implicit register with several');
  t.equal(gw.register('bar').id, 'bar');
});
