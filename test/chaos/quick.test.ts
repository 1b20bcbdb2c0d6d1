/**
 * The small configuration of chaos campaigns R2, R3 and R4 (R1: test/gateway/crash.test.ts; R5: disk-full.test.ts),
 * on every protocol of RIG_PROTOCOLS: Shtrih at the quick size, the others smaller (test time).
 */
import t from 'tap';
import { faultCampaign, brokerCampaign, fuzzCampaign } from '../../scripts/chaos/campaigns.ts';
import { RIG_PROTOCOLS, type RigProtocol } from '../helpers/rig.ts';

// two protocols' campaigns take about 1.5 min here; more on a loaded CI machine
t.setTimeout(400_000);

const seed = Number(process.env.KKT_CHAOS_SEED ?? Date.now() % 2 ** 31);
const SIZE: Record<RigProtocol, { faults: number; broker: number; restarts: number; payloads: number }> = {
  shtrih: { faults: 100, broker: 150, restarts: 3, payloads: 1000 },
  atol: { faults: 100, broker: 80, restarts: 2, payloads: 300 },
};

for (const protocol of RIG_PROTOCOLS) {
  const size = SIZE[protocol];
  t.test(`${protocol} R2: random emulator faults during a burst lose and duplicate nothing (seed ${seed})`, async (t) => {
    const f = await faultCampaign({ receipts: size.faults, seed, protocol });
    t.comment(JSON.stringify(f));
    t.equal(f.fiscalized, size.faults);
    t.equal(f.lost, 0);
    t.equal(f.duplicated, 0);
  });

  for (const persistence of [true, false]) {
    t.test(`${protocol} R3: the broker restarted during a burst ${persistence ? 'with' : 'without'} persistence: every receipt answered, printed once (seed ${seed})`, async (t) => {
      const f = await brokerCampaign({ receipts: size.broker, restarts: size.restarts, persistence, seed, protocol });
      t.comment(JSON.stringify(f));
      t.equal(f.fiscalized, size.broker);
      t.equal(f.resultsPublished, size.broker, 'a `done` result for every receipt');
      t.equal(f.lost, 0);
      t.equal(f.duplicated, 0);
      t.equal(f.failResults, '{}', 'no receipt refused');
      // with persistence the broker keeps the store's session: every result arrives without asking again
      if (persistence) t.equal(f.resultRequests, 0, 'no result asked for again');
    });
  }

  t.test(`${protocol} R4: hostile payloads are each answered with a typed error; valid ones print once (seed ${seed})`, async (t) => {
    const f = await fuzzCampaign({ payloads: size.payloads, validEvery: 10, seed, protocol });
    t.comment(JSON.stringify(f));
    t.equal(f.crashed, 0, 'the gateway process did not crash');
    t.equal(f.answeredWithTypedError, f.hostile, 'every hostile payload answered with a typed error');
    t.equal(f.queuedHostile, 0, 'none queued');
    t.equal(f.lost, 0);
    t.equal(f.duplicated, 0);
  });
}
