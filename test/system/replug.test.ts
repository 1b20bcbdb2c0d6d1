/**
 * USB replug in the middle of a burst: the emulator's pty is closed and a new one (a new /dev/pts path) appears
 * under the same stable symlink the gateway is configured with, as udev's by-id link does on a replug. The gateway
 * resumes by itself; every external_id has exactly one receipt document in the FN and one final result.
 */
import t from 'tap';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { makeRig } from '../helpers/rig.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

t.test('unplug and replug under a new device path during a burst: resumes, nothing lost, nothing doubled', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kkt-replug-'));
  const link = join(dir, 'by-id-kkt');
  const rig = await makeRig({ dir, ptyLink: link, config: { device: { answer_timeout_ms: 1000 } } });
  let pty = rig.pty;
  t.teardown(async () => {
    await pty.close();
    await rig.close();
  });
  const gw = await rig.startGateway();
  const healthLinks: string[] = [];
  rig.store.client.on('message', (topic, p) => {
    if (topic.endsWith('/health')) healthLinks.push(JSON.parse(p.toString()).register?.link);
  });

  const ids = Array.from({ length: 30 }, (_, i) => `replug-${i}`);
  for (const id of ids) await rig.store.publish('receipt', sampleReceipt(id));
  await rig.store.until(() => ids.filter((id) => rig.store.final(id) !== undefined).length >= 5, 'some receipts done before the unplug');

  // unplug: the pty goes away (socat exits; the symlink dangles / disappears)
  const oldDevice = pty.device;
  await pty.close();
  await rig.store.until(() => !gw.link.state.up, 'link reported down');
  t.equal((await gw.health() as any).register.link, 'down', 'health shows the link down');
  await rig.store.until(() => healthLinks.includes('down'), 'health published with link down');

  // replug: a new pty under a new path, the same stable link
  // spacers take the freed /dev/pts number, so the replugged device gets a new one (another test process may open
  // and close ptys meanwhile, so one spacer need not be the one that gets it)
  for (let i = 0; i < 4; i++) {
    const spacer = await createPty();
    t.teardown(() => spacer.close());
    if (spacer.device === oldDevice) break;
  }
  pty = await createPty({ link });
  t.not(pty.device, oldDevice, 'a new device path');
  rig.emulator.attach(pty.stream);

  await rig.store.until(() => ids.every((id) => rig.store.final(id) !== undefined), 'every result after the replug', 90_000);
  t.ok(gw.link.state.up, 'link up again');
  const docs = readJournal(join(dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(docs.length, ids.length, 'one receipt document per external_id');
  const finals = ids.map((id) => rig.store.results(id).filter((r) => r.status !== 'accepted'));
  t.same(finals.map((f) => f.length), ids.map(() => 1), 'exactly one final result per external_id');
  t.ok(finals.every((f) => f[0]!.status === 'done'), 'all done');
  t.same(new Set(finals.map((f) => f[0]!.payload?.fiscal_document_number)), new Set(docs.map((d) => d.fd)), 'results name the FN documents');
});
