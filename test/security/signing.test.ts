import t from 'tap';
import { join } from 'node:path';
import { envelope, sign, verifyEnvelope } from '../../src/security/signature.ts';
import { makeRig } from '../helpers/rig.ts';
import { sampleReceipt } from '../../src/cli/sample.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';

const k1 = { id: 'k1', secret: 'first-shared-secret-0123456789' };
const k2 = { id: 'k2', secret: 'second-shared-secret-987654321' };
const cfg = { enabled: true, keys: [k1, k2], max_age_s: 3600, max_skew_s: 60 };
const now = 1_800_000_000;

t.test('envelopes: good, forged, unknown key, replayed, from the future, unsigned', async (t) => {
  const body = '{"a":1}';
  t.equal(verifyEnvelope(Buffer.from(envelope(k1, body, now)), cfg, now).toString(), body);
  t.equal(verifyEnvelope(Buffer.from(envelope(k2, body, now - 10)), cfg, now).toString(), body, 'either key while rotating');
  const forged = JSON.parse(envelope(k1, body, now));
  forged.body = '{"a":2}';
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
      return undefined;
    } catch (e) {
      return (e as { code: string }).code;
    }
  };
  t.equal(code(() => verifyEnvelope(Buffer.from(JSON.stringify(forged)), cfg, now)), 'SIGNATURE', 'body changed');
  t.equal(code(() => verifyEnvelope(Buffer.from(envelope({ id: 'k3', secret: k1.secret }, body, now)), cfg, now)), 'SIGNATURE', 'unknown key');
  t.equal(code(() => verifyEnvelope(Buffer.from(envelope(k1, body, now - 3601)), cfg, now)), 'SIGNATURE', 'too old');
  t.equal(code(() => verifyEnvelope(Buffer.from(envelope(k1, body, now + 61)), cfg, now)), 'SIGNATURE', 'future');
  t.equal(code(() => verifyEnvelope(Buffer.from(body), cfg, now)), 'SIGNATURE', 'unsigned');
  t.equal(code(() => verifyEnvelope(Buffer.from([0xff, 0xfe]), cfg, now)), 'SIGNATURE', 'garbage');
  const wrongSig = JSON.parse(envelope(k1, body, now));
  wrongSig.sig = sign(k2.secret, now, body);
  t.equal(code(() => verifyEnvelope(Buffer.from(JSON.stringify(wrongSig)), cfg, now)), 'SIGNATURE', 'signed with the other key under this kid');
});

t.test('with signing on, only signed receipts and commands reach the queue (real mosquitto)', async (t) => {
  const rig = await makeRig({ broker: 'mosquitto', config: { security: { signing: { enabled: true, keys: [k1, k2] } } } });
  t.teardown(() => rig.close());
  await rig.startGateway();
  const ts = Math.floor(Date.now() / 1000);
  await rig.store.publish('receipt', envelope(k1, JSON.stringify(sampleReceipt('signed-1')), ts));
  await rig.store.publish('receipt', envelope(k2, JSON.stringify(sampleReceipt('signed-2')), ts));
  await rig.store.publish('receipt', sampleReceipt('unsigned-1'));
  const forged = JSON.parse(envelope(k1, JSON.stringify(sampleReceipt('forged-1')), ts));
  forged.body = forged.body.replace('1990', '1');
  await rig.store.publish('receipt', JSON.stringify(forged));
  await rig.store.publish('receipt', envelope(k1, JSON.stringify(sampleReceipt('old-1')), ts - 8 * 86400));
  await rig.store.publish('request/x_report', envelope(k1, JSON.stringify({}), ts));
  await rig.store.until(() => ['signed-1', 'signed-2', 'unsigned-1', 'forged-1', 'old-1'].every((id) => rig.store.final(id)), 'all answered');
  t.equal(rig.store.final('signed-1')?.status, 'done');
  t.equal(rig.store.final('signed-2')?.status, 'done', 'the second key is valid too');
  for (const id of ['unsigned-1', 'forged-1', 'old-1']) {
    t.equal(rig.store.final(id)?.error?.code, 'SIGNATURE', `${id} refused`);
    t.notOk(rig.store.results(id).some((r) => r.status === 'accepted'), `${id} never queued`);
  }
  await rig.store.until(() => rig.store.messages.some((m) => m.topic.endsWith('/response/x_report')), 'x_report answered');
  t.equal(rig.store.messages.find((m) => m.topic.endsWith('/response/x_report'))?.body.error?.code, 'SIGNATURE', 'a signed command without transaction is refused');
  const docs = readJournal(join(rig.dir, 'fn.jsonl')).documents.filter((d) => d.type === 3);
  t.equal(docs.length, 2, 'only the two signed receipts printed');
});
