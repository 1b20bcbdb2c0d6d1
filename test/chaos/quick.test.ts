/** The small configuration of chaos campaigns R2 and R4 (R1: test/gateway/crash.test.ts; R5: disk-full.test.ts). */
import t from 'tap';
import { faultCampaign, fuzzCampaign } from '../../scripts/chaos/campaigns.ts';

const seed = Number(process.env.KKT_CHAOS_SEED ?? Date.now() % 2 ** 31);

t.test(`R2: random emulator faults during a burst lose and duplicate nothing (seed ${seed})`, async (t) => {
  const f = await faultCampaign({ receipts: 100, seed });
  t.comment(JSON.stringify(f));
  t.equal(f.fiscalized, 100);
  t.equal(f.lost, 0);
  t.equal(f.duplicated, 0);
});

t.test(`R4: hostile payloads are each answered with a typed error; valid ones print once (seed ${seed})`, async (t) => {
  const f = await fuzzCampaign({ payloads: 1000, validEvery: 10, seed });
  t.comment(JSON.stringify(f));
  t.equal(f.crashed, 0, 'the gateway process did not crash');
  t.equal(f.answeredWithTypedError, f.hostile, 'every hostile payload answered with a typed error');
  t.equal(f.queuedHostile, 0, 'none queued');
  t.equal(f.lost, 0);
  t.equal(f.duplicated, 0);
});
