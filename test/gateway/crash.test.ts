import t from 'tap';
import { runCrashCampaign } from '../../scripts/chaos/crash.ts';
import { RIG_PROTOCOLS, type RigProtocol } from '../helpers/rig.ts';

t.setTimeout(300_000);

/** per protocol: Shtrih the full quick size, the others a smaller one (test time) */
const SIZE: Record<RigProtocol, { receipts: number; kills: number }> = { shtrih: { receipts: 40, kills: 5 }, atol: { receipts: 30, kills: 4 } };

for (const protocol of RIG_PROTOCOLS) {
  const { receipts, kills } = SIZE[protocol];
  t.test(`${protocol}: SIGKILL at random moments during a burst: every receipt printed exactly once, every result published`, async (t) => {
    const seed = Number(process.env.KKT_CRASH_SEED ?? Date.now() % 2 ** 31);
    const f = await runCrashCampaign({ receipts, kills, seed, printMs: 40, protocol });
    t.comment(JSON.stringify(f));
    t.equal(f.protocol, protocol);
    t.equal(f.kills, kills, `killed ${kills} times (seed ${seed})`);
    t.equal(f.accepted, receipts, 'every receipt accepted');
    t.equal(f.fiscalized, receipts, `exactly ${receipts} receipt documents in the FN`);
    t.equal(f.lost, 0, 'none lost');
    t.equal(f.duplicated, 0, 'none printed twice');
    t.equal(f.inconsistentResults, 0, 'every copy of a result is the same done result');
  });
}

t.test('a pool (Shtrih-M + ATOL + Shtrih-M), SIGKILL at random moments during a burst: every receipt exactly once across all the FNs, each result naming the register whose FN holds it', async (t) => {
  const seed = Number(process.env.KKT_CRASH_SEED ?? Date.now() % 2 ** 31);
  const receipts = 45;
  const kills = 5;
  const f = await runCrashCampaign({ receipts, kills, seed, printMs: 120, pool: ['shtrih', 'atol', 'shtrih'] });
  t.comment(JSON.stringify(f));
  t.equal(f.kills, kills, `killed ${kills} times (seed ${seed})`);
  t.equal(f.accepted, receipts, 'every receipt accepted');
  t.equal(f.fiscalized, receipts, `exactly ${receipts} receipt documents over the FNs`);
  t.equal(f.lost, 0, 'none lost');
  t.equal(f.duplicated, 0, 'none printed twice, on one FN or on two');
  t.equal(f.inconsistentResults, 0, 'every copy of a result is the same done result');
  t.equal(f.wrongDevice, 0, 'each result names the register whose FN holds the receipt');
  t.ok(f.perRegister!.split(' ').filter((p) => !p.endsWith(':0')).length >= 2, `the burst was spread (${f.perRegister})`);
});
