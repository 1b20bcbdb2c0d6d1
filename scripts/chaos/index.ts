/**
 * The chaos harness: runs campaigns R1–R5 against the real gateway, a real mosquitto and the emulator on a pty,
 * and prints a table per campaign with the seed that replays it. Bounded in count and time; loopback only.
 *
 *   npm run chaos                   # the full campaigns (tens of minutes)
 *   npm run chaos -- --quick        # the small configuration CI runs
 *   npm run chaos -- --only R2,R4 --seed 12345
 *   npm run chaos -- --quick --protocol atol   # on the ATOL emulator (default shtrih)
 *   npm run chaos -- --only R1P              # SIGKILL campaign on a pool of three registers
 */
import { parseArgs } from 'node:util';
import { runCrashCampaign, protocolArg } from './crash.ts';
import { faultCampaign, brokerCampaign, fuzzCampaign, diskCampaign, type Figures } from './campaigns.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, seed: { type: 'string' }, protocol: { type: 'string' } } });
const protocol = protocolArg(values.protocol);
const quick = values.quick === true;
const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim().toUpperCase())) : undefined;

const plan: Array<[string, () => Promise<Figures | Record<string, unknown>>]> = [
  ['R1', async () => ({ campaign: `R1 SIGKILL during bursts (${protocol})`, ...(await runCrashCampaign({ receipts: quick ? 60 : 1000, kills: quick ? 4 : 20, seed, printMs: 30, protocol })) })],
  ['R1P', async () => ({ campaign: 'R1 SIGKILL during bursts on a pool (Shtrih-M + ATOL + Shtrih-M)', ...(await runCrashCampaign({ receipts: quick ? 90 : 1500, kills: quick ? 4 : 20, seed, printMs: 120, pool: ['shtrih', 'atol', 'shtrih'] })) })],
  ['R2', () => faultCampaign({ receipts: quick ? 150 : 10_000, seed, protocol })],
  ['R3', () => brokerCampaign({ receipts: quick ? 150 : 2000, restarts: quick ? 3 : 10, persistence: true, seed, protocol })],
  ['R3', () => brokerCampaign({ receipts: quick ? 150 : 2000, restarts: quick ? 3 : 10, persistence: false, seed, protocol })],
  ['R4', () => fuzzCampaign({ payloads: quick ? 1500 : 100_000, validEvery: 10, seed, protocol })],
  ['R5', () => diskCampaign({ receipts: quick ? 150 : 2000, seed, protocol })],
];

let failed = 0;
for (const [name, run] of plan) {
  if (only && !only.has(name)) continue;
  const f = (await run()) as Record<string, unknown>;
  const bad = Number(f.lost) !== 0 || Number(f.duplicated) !== 0 || Number(f.crashed ?? 0) !== 0 || Number(f.ackedUnstored ?? 0) !== 0 || Number(f.inconsistentResults ?? 0) !== 0 || Number(f.wrongDevice ?? 0) !== 0;
  if (bad) failed++;
  const rows = Object.entries(f).filter(([k]) => k !== 'campaign').map(([k, v]) => `| ${k} | ${v} |`);
  process.stdout.write([`### ${f.campaign} — ${bad ? 'FAILED' : 'ok'}`, '| figure | value |', '|---|---|', ...rows, ''].join('\n') + '\n');
}
process.stdout.write(`seed ${seed}: ${failed === 0 ? 'every campaign lost 0 and duplicated 0' : `${failed} campaign(s) failed`}\n`);
process.exitCode = failed === 0 ? 0 : 1;
