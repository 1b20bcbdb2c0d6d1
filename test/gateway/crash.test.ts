import t from 'tap';
import { runCrashCampaign } from '../../scripts/chaos/crash.ts';

t.test('SIGKILL at random moments during a burst: every receipt printed exactly once, every result published', async (t) => {
  const seed = Number(process.env.KKT_CRASH_SEED ?? Date.now() % 2 ** 31);
  const f = await runCrashCampaign({ receipts: 40, kills: 5, seed, printMs: 40 });
  t.comment(JSON.stringify(f));
  t.equal(f.kills, 5, `killed 5 times (seed ${seed})`);
  t.equal(f.accepted, 40, 'every receipt accepted');
  t.equal(f.fiscalized, 40, 'exactly 40 receipt documents in the FN');
  t.equal(f.lost, 0, 'none lost');
  t.equal(f.duplicated, 0, 'none printed twice');
  t.equal(f.inconsistentResults, 0, 'every copy of a result is the same done result');
});
