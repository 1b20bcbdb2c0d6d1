/**
 * Reconcile by the FN's copy, on both protocols: the cable is pulled right as a receipt goes in flight (nothing of it
 * reaches the register), and meanwhile somebody types a receipt of the same type and total on the register's keyboard.
 * When the register is back, the FN's next document looks like ours by type and total — its copy from the FN (items,
 * payments) shows it is not, so the gateway prints ours (once) instead of taking the stranger's FD for it.
 */
import t from 'tap';
import { join } from 'node:path';
import { makeRig, RIG_PROTOCOLS, type Rig } from '../helpers/rig.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';

const receipts = (rig: Rig): any[] => (readJournal(join(rig.dir, 'fn.jsonl')).documents as any[]).filter((d) => d.type === 3);

for (const protocol of RIG_PROTOCOLS) {
  t.test(`${protocol}: a stranger's receipt of the same total is not taken for the in-flight one`, async (t) => {
    let pulled = false;
    let rig: Rig | undefined;
    rig = await makeRig({
      protocol,
      backoff: { minMs: 50, maxMs: 200 },
      beforeWrite: (ops) => {
        const inflight = ops.some((op: any) => op.type === 'put' && op.value && typeof op.value === 'object' && 'lastFdBefore' in op.value);
        if (inflight && !pulled && rig) {
          pulled = true;
          runControl(rig.emulator, 'silent on');
        }
      },
    });
    const r = rig;
    t.teardown(() => r.close());
    await r.startGateway();
    // a first receipt opens the shift (its in-flight record must not pull the cable)
    pulled = true;
    await r.store.publish('receipt', sampleReceipt(`${protocol}-warmup`));
    await r.store.until(() => r.store.final(`${protocol}-warmup`)?.status === 'done', 'the warm-up receipt');
    pulled = false;

    const id = `${protocol}-ours`;
    await r.store.publish('receipt', sampleReceipt(id));
    await r.store.until(() => pulled, 'the receipt in flight');
    const mark = r.store.messages.length;
    await r.store.until(() => r.store.messages.slice(mark).some((m) => m.topic.endsWith('/health') && m.body?.register?.link === 'down'), 'the link down', 60_000);
    t.equal(r.store.final(id), undefined, 'no result while the register is away');

    const before = receipts(r).length;
    runControl(r.emulator, 'silent off');
    const typed = runControl(r.emulator, 'fault keyboard-receipt 398900 card');
    t.match(typed, /^OK keyboard receipt FD (\d+)/);
    const strangerFd = Number(/FD (\d+)/.exec(typed)![1]);
    const stranger = receipts(r).find((d) => d.fd === strangerFd)!;
    t.match(stranger, { operation: 1, total: 398900, payments: { electronic: 398900 } }, 'same type, operation, total and payment kind as ours');

    await r.store.until(() => r.store.final(id) !== undefined, 'our result', 30_000);
    const res = r.store.final(id)!;
    t.equal(res.status, 'done', JSON.stringify(res.error));
    const p = res.payload as Record<string, any>;
    t.not(p.fiscal_document_number, strangerFd, 'the stranger\'s FD is not ours');
    const all = receipts(r);
    t.equal(all.length, before + 2, 'the stranger\'s receipt and ours, printed once');
    const ours = all.find((d) => d.fd === p.fiscal_document_number)!;
    t.same(ours.items.map((i: any) => i.name), ['Кофемолка', 'Кофе в зёрнах 1 кг', 'Доставка'], 'our items under our FD');
    t.equal(all.filter((d) => d.items.length === 3 && d.total === 398900).length, 2, 'the warm-up and ours; nothing printed twice');
  });
}
