import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { Journal, readJournal } from '../../drivers/emulator/journal.ts';
import { cmd, errOf, ff45, ff46, makeDevice } from './helpers.ts';

function receipt(dev: ReturnType<typeof makeDevice>['dev'], price: number): number {
  dev.handle(ff46({ price }));
  return errOf(dev.handle(ff45({ cash: price })));
}

t.test('the journal survives a restart: numbering, shift, receipt numbers, OFD pointer', async (t) => {
  const file = path.join(t.testdir(), 'fn.jsonl');
  const first = makeDevice({ journal: new Journal({ path: file }) });
  t.equal(receipt(first.dev, 100), 0);
  t.equal(receipt(first.dev, 250), 0);
  first.journal.markOfdSent(1);
  const serial = first.journal.identity.fnSerial;
  first.journal.close();

  const again = makeDevice({ journal: new Journal({ path: file }) });
  t.equal(again.journal.lastFd, 3);
  t.equal(again.journal.identity.fnSerial, serial);
  t.equal(again.dev.mode, 2, 'the shift is still open');
  t.equal(again.journal.shift.receiptNo, 2);
  t.equal(again.journal.ofdQueue().count, 2);
  t.equal(receipt(again.dev, 300), 0);
  t.equal(again.journal.lastDocument!.receiptNo, 3);
  t.equal(again.journal.lastDocument!.fd, 4);
  t.equal(errOf(again.dev.handle(cmd(0x41))), 0);
  again.journal.close();

  const dump = readJournal(file);
  t.same(dump.documents.map((d) => d.type), [2, 3, 3, 3, 5]);
  t.same(dump.documents.at(-1)!.counters!.totals['1'], 650);
  t.equal(dump.shift.open, false);
  t.equal(dump.ofdUnsent.count, 4);
  t.equal(dump.cumulative['1'], 650);
});

t.test('a torn last line is cut off on load; fiscal signs are deterministic per FN secret', async (t) => {
  const file = path.join(t.testdir(), 'fn.jsonl');
  const a = makeDevice({ journal: new Journal({ path: file, identity: { secret: 'aa'.repeat(16) } }) });
  receipt(a.dev, 100);
  a.journal.close();
  fs.appendFileSync(file, '{"kind":"fd","fd":3,"ty');
  const b = makeDevice({ journal: new Journal({ path: file }) });
  t.equal(b.journal.lastFd, 2);
  receipt(b.dev, 100);
  b.journal.close();
  const docs = readJournal(file).documents;
  t.same(docs.map((d) => d.fd), [1, 2, 3]);

  const other = makeDevice({ journal: new Journal({ identity: { secret: 'aa'.repeat(16) } }) });
  receipt(other.dev, 100);
  t.equal(other.journal.find(2)!.fiscalSign, docs[1]!.fiscalSign, 'same content, same secret, same FP');
  const third = makeDevice({ journal: new Journal({ identity: { secret: 'bb'.repeat(16) } }) });
  receipt(third.dev, 100);
  t.not(third.journal.find(2)!.fiscalSign, docs[1]!.fiscalSign, 'another FN, another FP');
});

t.test('appending stays cheap: one line per document', async (t) => {
  const file = path.join(t.testdir(), 'fn.jsonl');
  const { dev, journal } = makeDevice({ journal: new Journal({ path: file }) });
  for (let i = 0; i < 200; i++) receipt(dev, 100 + i);
  journal.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  t.equal(lines.length, 1 + 1 + 200, 'init, shift open, receipts');
  const reopened = new Journal({ path: file });
  t.equal(reopened.shift.receiptNo, 200);
  reopened.close();
});
