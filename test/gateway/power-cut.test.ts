/**
 * "The FN is the log": a receipt printed and completed WITHOUT its own sync is recovered from the register's FN
 * after a power cut that drops every unsynced write. The database is copied at each sync point (the store's
 * afterSync hook, under its write lock); the power goes at the moment the gateway is about to bind its next receipt
 * (so the completion before it was never synced); the next gateway starts on the copy taken at the last sync point.
 * Every receipt must be in the FN exactly once and end with one `done` result per receipt (copies identical).
 *
 * The second kind of cut is LevelDB's log switch (src/queue/store.ts, putBinding): the next binding reached the disk
 * (synced into a new log) while the completion before it did not (the old log's unsynced tail); the power goes as
 * that binding is made durable, before the receipt it binds can start.
 */
import t from 'tap';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeRig, RIG_PROTOCOLS, type Rig } from '../helpers/rig.ts';
import { diskAfterCut } from '../queue/helpers.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { crashReceipt } from '../../scripts/chaos/crash.ts';

const isBind = (op: any): boolean => op?.type === 'put' && op.value && typeof op.value === 'object' && 'startedAt' in op.value && 'seq' in op.value && !('hash' in op.value);

/**
 * A copy of the live database at a sync point (under the store's write lock). LevelDB's background compaction may
 * delete a table while it is copied: then the copy is taken again.
 */
function copyLive(from: string, to: string): void {
  for (let attempt = 1; ; attempt++) {
    rmSync(to, { recursive: true, force: true });
    try {
      cpSync(from, to, { recursive: true });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 20) throw err;
    }
  }
}

const CUTS = [
  { kind: 'every unsynced write dropped', keepsBinding: false },
  { kind: 'the binding kept, the completion before it lost (log switch)', keepsBinding: true },
];

for (const protocol of RIG_PROTOCOLS) for (const { kind, keepsBinding } of CUTS) {
  t.test(`${protocol}: power cuts, ${kind}: each receipt once in the FN, each result recovered`, async (t) => {
    let rig: Rig | undefined;
    let binds = 0;
    let cutAfterBinds = 4;
    let cut = false;
    let live = '';
    let binding: readonly any[] | undefined;
    let disk = ''; // what the disk holds after the cut
    const snapshot = (): string => `${live}-at-sync`;
    rig = await makeRig({
      protocol,
      emulator: { link: { printMs: 20 } },
      beforeWrite: (ops) => {
        if (cut) throw new Error('power cut: nothing more reaches the disk');
        if (ops.some(isBind) && ++binds === cutAfterBinds) {
          if (keepsBinding) {
            binding = [...ops]; // written and synced; the power goes right after (afterSync)
            return;
          }
          cut = true;
          disk = snapshot();
          throw new Error('power cut');
        }
      },
      afterSync: async () => {
        if (cut) return;
        if (binding) {
          cut = true;
          disk = `${live}-cut`;
          rmSync(disk, { recursive: true, force: true });
          await diskAfterCut(snapshot(), binding, disk, 'queue');
          binding = undefined;
          throw new Error('power cut'); // the binding never resolves: nothing of its receipt is sent
        }
        copyLive(join(live, 'queue'), join(snapshot(), 'queue'));
      },
    });
    const r = rig;
    t.teardown(() => r.close());
    live = r.config.data_dir;
    mkdirSync(live, { recursive: true });
    const ids = Array.from({ length: 18 }, (_, i) => `${protocol}-cut-${i}`);
    await r.startGateway();
    for (const [i, id] of ids.entries()) await r.store.publish('receipt', crashReceipt(id, i));
    const finals = (): number => ids.filter((id) => r.store.final(id)).length;
    let cuts = 0;
    for (const next of [5, 5, Infinity]) {
      await r.store.until(() => cut || finals() === ids.length, 'the power cut', 60_000);
      if (!cut) break;
      cuts++;
      // the power is gone: the process stops (its writes all fail now); the disk holds the last sync point only
      await r.stopGateway().catch(() => undefined);
      const restored = `${live}-${cuts}`;
      cpSync(disk, restored, { recursive: true });
      live = restored;
      r.config.data_dir = restored;
      binds = 0;
      cutAfterBinds = next;
      cut = false;
      await r.startGateway();
    }
    await r.store.until(() => finals() === ids.length, 'every final result', 60_000);
    t.ok(cuts >= 2, `the power was cut ${cuts} times mid-burst`);
    const docs = readJournal(join(r.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
    ids.forEach((id, i) => {
      const inFn = docs.filter((d) => d.total === 199000 + 169900 + 30000 + i);
      t.equal(inFn.length, 1, `${id} is in the FN once`);
      const results = r.store.results(id).filter((x) => x.status !== 'accepted');
      t.ok(results.length >= 1 && results.every((x) => x.status === 'done' && x.payload?.fiscal_document_number === inFn[0]?.fd), `${id}: every result done with its FD`);
    });
  });
}
