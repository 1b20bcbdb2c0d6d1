import t from 'tap';
import { join } from 'node:path';
import { makeRig, type Rig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

const receiptCount = (rig: Rig): number => readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3).length;

t.test('mosquitto restarted during a burst: nothing lost, nothing printed twice', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', brokerOptions: { persistence: true } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const ids = Array.from({ length: 30 }, (_, i) => `burst-${i}`);
  for (const id of ids.slice(0, 15)) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.broker.restart!();
  await rig.store.until(() => rig.store.client.connected, 'store reconnected');
  for (const id of ids.slice(15)) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.store.until(() => receiptCount(rig) >= 30 && ids.slice(15).every((id) => rig.store.final(id)), 'all printed', 60_000);
  t.equal(receiptCount(rig), 30, 'exactly one document per receipt');
  for (const id of ids.slice(15)) t.equal(rig.store.final(id)?.status, 'done', `${id} done`);
});

t.test('results kept in the outbox while the broker is down survive a gateway restart', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', brokerOptions: { persistence: true } });
  t.teardown(() => rig.close());
  rig.emulator.faults.silent = true; // the register is away: receipts wait
  await rig.startGateway();
  const ids = ['ob-1', 'ob-2', 'ob-3'];
  for (const id of ids) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.store.until(() => ids.every((id) => rig.store.results(id).some((r) => r.status === 'accepted')), 'accepted');
  await rig.broker.stop();
  rig.emulator.faults.silent = false; // printed while the broker is away: results go to the outbox
  await rig.store.until(() => receiptCount(rig) === 3, 'printed', 60_000);
  await rig.stopGateway();
  await rig.broker.restart!();
  await rig.store.until(() => rig.store.client.connected, 'store reconnected', 30_000);
  await rig.startGateway();
  await rig.store.until(() => ids.every((id) => rig.store.final(id)), 'results delivered after restart', 30_000);
  for (const id of ids) t.equal(rig.store.final(id)?.status, 'done');
  t.equal(receiptCount(rig), 3, 'nothing printed again');
});
