/**
 * The page's view of the register's own figures (inject, real gateway on the emulator): the current shift's counters
 * read from the register — a keyboard receipt included — with the tally beside them; a receipt's copy from the FN;
 * the OFD link in results and Z-reports from fiscal.ofd_link; the registration data in the status.
 */
import t from 'tap';
import { makeWebRig } from '../helpers/web-rig.ts';
import { InjectClient, claim, waitFor } from '../helpers/web-client.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { runControl } from '../../drivers/emulator/control.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { join } from 'node:path';


t.test('figures, FN copy, OFD link and registration data through the page’s API', async (t) => {
  const { rig, app, ring } = await makeWebRig({ fiscal: { ofd_link: 'https://ofd.example/rec/{inn}/{rn}/{fn}/{fd}/{fp}' } }, []);
  t.teardown(async () => {
    await app.close();
    await rig.close();
  });
  const c = new InjectClient(app);
  t.equal((await claim(c, () => ring.recent(), 'correct horse battery')).statusCode, 200);
  const identity = readJournal(join(rig.dir, 'fn.jsonl')).identity!;

  t.equal((await c.req('POST', '/api/receipts', sampleReceipt('fig-1'))).statusCode, 200);
  const rec = await waitFor(async () => {
    const r = c.json(await c.req('GET', '/api/receipts/fig-1'));
    return r.status === 'done' ? r : undefined;
  }, 'fig-1 fiscalized');
  const p = rec.result.payload;
  t.equal(p.ecr_registration_number, identity.registrationNumber, 'РНМ read from the register');
  t.equal(p.link, `https://ofd.example/rec/${identity.inn}/${identity.registrationNumber}/${identity.fnSerial}/${p.fiscal_document_number}/${p.fiscal_document_attribute}`, 'fiscal.ofd_link filled');

  const copy = await c.req('GET', '/api/receipts/fig-1/fn-copy');
  t.equal(copy.statusCode, 200, copy.body);
  t.match(c.json(copy).copy, {
    fdNumber: p.fiscal_document_number, type: 3, operation: 1, total: 398900,
    payments: { electronic: 398900, cash: 0 },
    items: [{ name: 'Кофемолка', price: 199000, quantity: 1000, sum: 199000 }, { name: 'Кофе в зёрнах 1 кг', quantity: 2000 }, { name: 'Доставка' }],
    customerContact: 'client@example.ru',
  }, 'the FN’s copy of the receipt');
  t.equal((await c.req('GET', '/api/receipts/nope/fn-copy')).statusCode, 404);

  runControl(rig.emulator, 'fault keyboard-receipt 5000 cash');
  const z = c.json(await c.req('GET', '/api/zreports'));
  t.match(z.register, { counts: { sell: 2 }, sums: { sell: { electronic: 398900, cash: 5000 } } }, 'today from the register, the keyboard receipt included');
  t.match(z.book.tally.ops.sell, { count: 1 }, 'the gateway’s tally beside it');

  const st = c.json(await c.req('GET', '/api/status'));
  t.match(st.health.registration, { inn: identity.inn, registration_number: identity.registrationNumber, register: { registration_number: identity.registrationNumber } });

  t.equal((await c.req('POST', '/api/zreports', {})).statusCode, 200);
  const reports = await waitFor(async () => {
    const r = c.json(await c.req('GET', '/api/zreports'));
    return r.reports.length ? r.reports : undefined;
  }, 'the Z-report');
  t.match(reports[0], { figures_source: 'register', receipts_count: 2, mismatch: [{ field: 'operations.sell.count', register: 2, gateway: 1 }], link: /^https:\/\/ofd\.example\/rec\// });
});
