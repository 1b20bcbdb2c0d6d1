import t from 'tap';
import { join } from 'node:path';
import { makeRig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

t.test('disk full: receipts refused with a typed retryable error, nothing acknowledged unstored; recovery when space returns', async (t) => {
  let full = false;
  let refusedWrites = 0;
  const rig = await makeRig({
    broker: 'mosquitto',
    beforeWrite: () => {
      if (full) {
        refusedWrites++;
        throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      }
    },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', sampleReceipt('before-full'));
  await rig.store.until(() => rig.store.final('before-full') !== undefined, 'first receipt done');

  full = true;
  const ids = ['full-1', 'full-2', 'full-3'];
  for (const id of ids) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.store.until(() => rig.store.final('full-1') !== undefined, 'a refusal');
  const refusal = rig.store.final('full-1')!;
  t.equal(refusal.status, 'fail');
  t.equal(refusal.error?.code, 'STORAGE');
  t.equal(refusal.error?.retryable, true);
  t.notOk(ids.some((id) => rig.store.results(id).some((r) => r.status === 'accepted')), 'nothing accepted while the disk is full');
  t.ok(refusedWrites > 0);

  full = false; // space is back: the broker redelivers what was never acknowledged
  await rig.store.until(() => ids.every((id) => rig.store.results(id).some((r) => r.status === 'done')), 'all done after recovery', 60_000);
  const docs = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(docs.length, 4, 'each receipt printed exactly once');
});
