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

t.test('the in-flight record refused by the disk: nothing of the receipt reaches the register; printed once when it writes again', async (t) => {
  let refuse = false;
  let refused = 0;
  const rig = await makeRig({
    broker: 'mosquitto',
    beforeWrite: (ops) => {
      // the binding of a job to the register: one put of { seq, startedAt, attempt, … }
      const binding = ops.some((op) => typeof (op as { value?: { startedAt?: unknown; attempt?: unknown } }).value?.attempt === 'number');
      if (refuse && binding) {
        refused++;
        throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      }
    },
  });
  t.teardown(() => rig.close());
  await rig.startGateway();
  await rig.store.publish('receipt', sampleReceipt('bound-0'));
  await rig.store.until(() => rig.store.final('bound-0') !== undefined, 'a first receipt done (shift open, state known)');

  // the host's frames from here on: command codes (FFxx as two bytes) of every frame the register got
  const codes: string[] = [];
  let rx: number[] | undefined;
  rig.pty.stream.on('data', (chunk: Buffer) => {
    for (const b of chunk) {
      if (!rx) {
        if (b === 0x02) rx = [];
        continue;
      }
      rx.push(b);
      if (rx.length === rx[0]! + 2) {
        codes.push(rx[1] === 0xff ? `FF${rx[2]!.toString(16).toUpperCase().padStart(2, '0')}` : rx[1]!.toString(16).toUpperCase().padStart(2, '0'));
        rx = undefined;
      }
    }
  });
  refuse = true;
  await rig.store.publish('receipt', sampleReceipt('bound-1'));
  await rig.store.until(() => refused >= 2, 'the binding refused, then tried again');
  t.notOk(codes.some((c) => c === 'FF46' || c === 'FF45' || c === 'FF0C'), `no command of the receipt was sent (frames: ${codes.join(' ') || 'none'})`);
  t.notOk(codes.includes('88'), 'and none to cancel: nothing was opened');
  t.equal(rig.store.final('bound-1'), undefined, 'not finished: it waits for the disk');

  refuse = false;
  await rig.store.until(() => rig.store.final('bound-1')?.status === 'done', 'done once the disk writes again', 60_000);
  const docs = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(docs.length, 2, 'each receipt printed exactly once');
});
