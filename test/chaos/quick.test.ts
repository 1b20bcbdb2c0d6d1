/** The small configuration of chaos campaigns R2, R3 and R4 (R1: test/gateway/crash.test.ts; R5: disk-full.test.ts). */
import t from 'tap';
import { faultCampaign, brokerCampaign, fuzzCampaign } from '../../scripts/chaos/campaigns.ts';

const seed = Number(process.env.KKT_CHAOS_SEED ?? Date.now() % 2 ** 31);

t.test(`R2: random emulator faults during a burst lose and duplicate nothing (seed ${seed})`, async (t) => {
  const f = await faultCampaign({ receipts: 100, seed });
  t.comment(JSON.stringify(f));
  t.equal(f.fiscalized, 100);
  t.equal(f.lost, 0);
  t.equal(f.duplicated, 0);
});

for (const persistence of [true, false]) {
  t.test(`R3: the broker restarted during a burst ${persistence ? 'with' : 'without'} persistence: every receipt answered, printed once (seed ${seed})`, async (t) => {
    const f = await brokerCampaign({ receipts: 150, restarts: 3, persistence, seed });
    t.comment(JSON.stringify(f));
    t.equal(f.fiscalized, 150);
    t.equal(f.resultsPublished, 150, 'a `done` result for every receipt');
    t.equal(f.lost, 0);
    t.equal(f.duplicated, 0);
    t.equal(f.failResults, '{}', 'no receipt refused');
    // with persistence the broker keeps the store's session: every result arrives without asking again
    if (persistence) t.equal(f.resultRequests, 0, 'no result asked for again');
  });
}

t.test(`R4: hostile payloads are each answered with a typed error; valid ones print once (seed ${seed})`, async (t) => {
  const f = await fuzzCampaign({ payloads: 1000, validEvery: 10, seed });
  t.comment(JSON.stringify(f));
  t.equal(f.crashed, 0, 'the gateway process did not crash');
  t.equal(f.answeredWithTypedError, f.hostile, 'every hostile payload answered with a typed error');
  t.equal(f.queuedHostile, 0, 'none queued');
  t.equal(f.lost, 0);
  t.equal(f.duplicated, 0);
});
