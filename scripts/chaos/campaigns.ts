/**
 * Chaos campaigns R2–R5 against the real gateway code, a real broker and the emulator on a real pty (R1, the
 * SIGKILL campaign, is crash.ts). Each is bounded in count and time, uses only loopback, stops by itself and
 * returns its figures; the seed replays a run.
 */
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { makeRig, StoreClient, type Rig } from '../../test/helpers/rig.ts';
import { startMosquitto } from '../../test/helpers/broker.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { Emulator } from '../../drivers/emulator/emulator.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { parseReceiptMessage } from '../../src/fiscal/parse.ts';
import { crashReceipt, prng, teardown } from './crash.ts';

export interface Figures {
  campaign: string;
  seed: number;
  sent: number;
  accepted: number;
  fiscalized: number;
  resultsPublished: number;
  lost: number;
  duplicated: number;
  seconds: number;
  [extra: string]: number | string;
}

const BASE_TOTAL = 199000 + 169900 + 30000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** lost / duplicated by the FN journal (each receipt i has total BASE_TOTAL + i) and the results seen */
function count(journalPath: string, store: StoreClient, ids: string[]): Pick<Figures, 'accepted' | 'fiscalized' | 'resultsPublished' | 'lost' | 'duplicated'> {
  const docs = readJournal(journalPath).documents.filter((d) => d.type === 3);
  const byTotal = new Map<number, number>();
  for (const d of docs) byTotal.set(d.total ?? -1, (byTotal.get(d.total ?? -1) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  ids.forEach((id, i) => {
    const n = byTotal.get(BASE_TOTAL + i) ?? 0;
    if (n === 0 || store.results(id).every((r) => r.status !== 'done')) lost++;
    if (n > 1) duplicated++;
  });
  return {
    accepted: ids.filter((id) => store.results(id).some((r) => r.status === 'accepted')).length,
    fiscalized: docs.length,
    resultsPublished: ids.filter((id) => store.results(id).some((r) => r.status === 'done')).length,
    lost,
    duplicated,
  };
}

/**
 * Publishes receipts like a careful store: up to `window` unanswered at a time, and re-sends one that got no
 * answer within `resendMs` (a broker that restarts without persistence forgets what it had not delivered).
 */
async function storeBurst(store: StoreClient, ids: string[], o: { window: number; resendMs: number; deadlineMs: number }): Promise<number> {
  const sentAt = new Map<number, number>();
  let resent = 0;
  const deadline = Date.now() + o.deadlineMs;
  const answered = (i: number): boolean => store.results(ids[i]!).some((r) => r.status === 'done' || r.status === 'fail');
  let next = 0;
  while (Date.now() < deadline) {
    let open = 0;
    for (const [i, at] of sentAt) {
      if (answered(i)) {
        sentAt.delete(i);
        continue;
      }
      open++;
      const acked = store.results(ids[i]!).some((r) => r.status === 'accepted');
      if (!acked && Date.now() - at > o.resendMs && store.client.connected) {
        await store.publish('receipt', crashReceipt(ids[i]!, i)).catch(() => undefined);
        sentAt.set(i, Date.now());
        resent++;
      }
    }
    while (open < o.window && next < ids.length && store.client.connected) {
      await store.publish('receipt', crashReceipt(ids[next]!, next)).catch(() => undefined);
      sentAt.set(next++, Date.now());
      open++;
    }
    if (next >= ids.length && sentAt.size === 0) return resent;
    await sleep(20);
  }
  throw new Error(`burst not answered within ${o.deadlineMs} ms (${sentAt.size} open, ${ids.length - next} unsent)`);
}

const ids = (prefix: string, seed: number, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${seed}-${i}`);

// ---------------------------------------------------------------------------------------------------- R2

/** R2: emulator faults at random during a burst (line faults, a pulled cable, paper out, cover, 24 h expiry). */
export async function faultCampaign(o: { receipts: number; seed: number }): Promise<Figures> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  const rig = await makeRig({ broker: 'mosquitto' });
  const list = ids('r2', o.seed, o.receipts);
  const injected: Record<string, number> = {};
  let stop = false;
  try {
    await rig.startGateway();
    const emu = rig.emulator;
    const chaos = (async () => {
      let expired = false;
      while (!stop) {
        await sleep(100 + rnd() * 900);
        const pick = rnd();
        let kind: string;
        const count = Object.values(injected).reduce((a, b) => a + b, 0);
        if (!expired && count === 5) {
          // once, mid-burst: the register's 24 h shift limit passes (mode 3): the gateway must close and reopen
          kind = 'expiry-24h';
          expired = true;
          emu.advanceClock(24 * 3600_000 + 60_000);
        } else if (pick < 0.15) (kind = 'drop-answer'), emu.faults.arm('drop-answer', 1);
        else if (pick < 0.3) (kind = 'drop-ack'), emu.faults.arm('drop-ack', 1);
        else if (pick < 0.45) (kind = 'garble'), emu.faults.arm('garble-answer', 1);
        else if (pick < 0.55) (kind = 'nak'), emu.faults.arm('nak-frame', 1);
        else if (pick < 0.65) (kind = 'stall'), emu.faults.stall(100 + Math.floor(rnd() * 1500), 1);
        else if (pick < 0.73) {
          kind = 'silence';
          emu.faults.silent = true;
          await sleep(200 + rnd() * 1500);
          emu.faults.silent = false;
        } else if (pick < 0.81) {
          kind = 'paper-out-item';
          emu.device.paperOutAt({ at: 'before-item', item: 1 + Math.floor(rnd() * 3) });
          await sleep(300 + rnd() * 1000);
          emu.device.paperIn();
        } else if (pick < 0.89) {
          kind = 'paper-out-close';
          emu.device.paperOutAt({ at: 'during-close' });
          await sleep(300 + rnd() * 1000);
          emu.device.paperIn();
        } else {
          kind = 'cover';
          emu.device.setCover(true);
          await sleep(200 + rnd() * 800);
          emu.device.setCover(false);
        }
        injected[kind] = (injected[kind] ?? 0) + 1;
      }
    })();
    await storeBurst(rig.store, list, { window: 50, resendMs: 600_000, deadlineMs: 120_000 + o.receipts * 1000 });
    stop = true;
    await chaos;
    return { campaign: 'R2 emulator faults', seed: o.seed, sent: list.length, ...count(join(rig.dir, 'fn.jsonl'), rig.store, list), seconds: secs(t0), faults: JSON.stringify(injected) };
  } finally {
    stop = true;
    rig.emulator.faults.clear();
    rig.emulator.device.paperIn();
    rig.emulator.device.setCover(false);
    await rig.close();
  }
}

// ---------------------------------------------------------------------------------------------------- R3

/** R3: the broker restarted `restarts` times during bursts, with or without its persistence. */
export async function brokerCampaign(o: { receipts: number; restarts: number; persistence: boolean; seed: number }): Promise<Figures> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  const rig = await makeRig({ broker: 'mosquitto', brokerOptions: { persistence: o.persistence } });
  const list = ids(o.persistence ? 'r3p' : 'r3n', o.seed, o.receipts);
  let done = false;
  try {
    await rig.startGateway();
    const restarts = (async () => {
      for (let k = 0; k < o.restarts && !done; k++) {
        await sleep(200 + rnd() * 800);
        await rig.broker.restart!();
      }
    })();
    const resent = await storeBurst(rig.store, list, { window: 100, resendMs: 3000, deadlineMs: 120_000 + o.receipts * 200 });
    done = true;
    await restarts;
    return { campaign: `R3 broker restarts (${o.persistence ? 'with' : 'without'} persistence)`, seed: o.seed, sent: list.length, ...count(join(rig.dir, 'fn.jsonl'), rig.store, list), seconds: secs(t0), restarts: o.restarts, storeResends: resent };
  } finally {
    done = true;
    await rig.close();
  }
}

// ---------------------------------------------------------------------------------------------------- R4

const injections = ["'; DROP TABLE receipts; --", '<script>alert(1)</script>', '${jndi:ldap://x/a}', '../../etc/passwd', '\u0000', '%s%n%x', '{{7*7}}', '__proto__', 'constructor', '\uFEFF', '\uD800'];

/** one hostile payload; `id` is set where the payload is an object */
function hostile(id: string, valid: Record<string, any>): fc.Arbitrary<Buffer> {
  const setPath = (path: string[], value: unknown): Buffer => {
    const copy = structuredClone(valid);
    let node: any = copy;
    for (const k of path.slice(0, -1)) node = node?.[k];
    if (node && typeof node === 'object') node[path[path.length - 1]!] = value;
    return Buffer.from(JSON.stringify(copy));
  };
  const paths = [['external_id'], ['operation'], ['timestamp'], ['receipt'], ['receipt', 'total'], ['receipt', 'items'], ['receipt', 'payments'], ['receipt', 'client'], ['receipt', 'company', 'sno'], ['receipt', 'company', 'inn'], ['receipt', 'items', '0', 'price'], ['receipt', 'items', '0', 'quantity'], ['receipt', 'items', '0', 'sum'], ['receipt', 'items', '0', 'name'], ['receipt', 'items', '0', 'vat'], ['receipt', 'items', '0', 'payment_method'], ['receipt', 'payments', '0', 'type']];
  const boundary = fc.constantFrom(0, -0, -1, 0.001, 0.005, 1e-7, 1e21, 1e308, 42949672.95, 42949672.96, 100000000.01, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, 0.30000000000000004, 3.14159);
  const weird = fc.oneof(fc.jsonValue({ maxDepth: 3 }), boundary, fc.constantFrom(...injections), fc.string({ maxLength: 300 }));
  return fc.oneof(
    fc.record({ p: fc.constantFrom(...paths), v: weird }).map(({ p, v }) => setPath(p, v)),
    fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    fc.uint8Array({ minLength: 0, maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.integer({ min: 1000, max: 50000 }).map((d) => Buffer.from(`${'['.repeat(d)}${']'.repeat(d)}`)),
    fc.integer({ min: 300_000, max: 1_500_000 }).map((n) => setPath(['receipt', 'items', '0', 'name'], 'Я'.repeat(n))),
    fc.constantFrom(...injections).map((s) => setPath(['external_id'], `${id}${s}`)),
    fc.constant(Buffer.concat([Buffer.from(JSON.stringify({ ...valid, external_id: id }).slice(0, -1)), Buffer.from([0xc3, 0x28, 0x7d])])),
  );
}

/** R4: hostile payloads mixed with valid receipts, sent to the real gateway process. */
export async function fuzzCampaign(o: { payloads: number; validEvery: number; seed: number }): Promise<Figures> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'kkt-fuzz-'));
  const broker = await startMosquitto({ extraConfig: 'message_size_limit 0' });
  const emulator = new Emulator({ journalPath: join(dir, 'fn.jsonl') });
  const pty = await createPty();
  emulator.attach(pty.stream);
  const base = 'kkt/fuzz';
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gateway_id: 'fuzz', data_dir: join(dir, 'data'), mqtt: { url: broker.url, base_topic: base }, device: { port: pty.path }, log: { level: 'error' }, queue: { max_receipts: 1_000_000 } }));
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/kkt-gateway.js'), 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const store = await StoreClient.connect(broker.url, base, 5);
  const valid: string[] = [];
  let badWithId = 0;
  let badWithoutId = 0;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  try {
    await store.until(() => store.messages.some((m) => m.topic === `${base}/state` && m.body?.state === 'online'), 'gateway online', 30_000);
    const samples = fc.sample(fc.nat(), { numRuns: o.payloads, seed: o.seed });
    const expectBad = new Map<string, string>();
    for (let i = 0; i < o.payloads; i++) {
      if (i % o.validEvery === 0) {
        const id = `r4-${o.seed}-ok-${valid.length}`;
        await store.publish('receipt', crashReceipt(id, valid.length));
        valid.push(id);
        continue;
      }
      const id = `r4-${o.seed}-bad-${i}`;
      const template = crashReceipt(id, 0) as Record<string, any>;
      const [payload] = fc.sample(hostile(id, template), { numRuns: 1, seed: o.seed + samples[i]! });
      const verdict = parseReceiptMessage(payload!, {});
      if (verdict.ok) continue; // a mutation that is still a valid receipt is not a hostile payload
      if (verdict.externalId !== undefined) {
        if (expectBad.has(verdict.externalId)) continue;
        expectBad.set(verdict.externalId, verdict.error.code);
        badWithId++;
      } else badWithoutId++;
      await store.client.publishAsync(`${base}/receipt`, payload!, { qos: 1 });
    }
    await store.until(
      () => valid.every((id) => store.final(id)) && [...expectBad.keys()].every((id) => store.final(id)) && store.results().filter((r) => r.external_id == null).length >= badWithoutId,
      'every payload answered',
      120_000 + o.payloads * 20,
    );
    const wrongCode = [...expectBad].filter(([id, code]) => store.final(id)?.error?.code !== code).length;
    const queuedBad = [...expectBad.keys()].filter((id) => store.results(id).some((r) => r.status === 'accepted')).length;
    const figures = count(join(dir, 'fn.jsonl'), store, valid);
    return {
      campaign: 'R4 hostile payloads',
      seed: o.seed,
      sent: o.payloads,
      ...figures,
      fiscalized: figures.fiscalized,
      hostile: badWithId + badWithoutId,
      answeredWithTypedError: [...expectBad.keys()].filter((id) => store.final(id)?.status === 'fail').length + store.results().filter((r) => r.external_id == null && r.error?.code).length,
      wrongCode,
      queuedHostile: queuedBad,
      crashed: exited === null ? 0 : 1,
      seconds: secs(t0),
    };
  } finally {
    await teardown({ child, store, emulator, pty, broker });
  }
}

// ---------------------------------------------------------------------------------------------------- R5

/** R5: LevelDB write errors (a full disk) at random moments during a burst, then space returns. */
export async function diskCampaign(o: { receipts: number; seed: number }): Promise<Figures> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  let full = false;
  let refusedWrites = 0;
  const rig: Rig = await makeRig({
    broker: 'mosquitto',
    beforeWrite: () => {
      if (full) {
        refusedWrites++;
        throw Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
      }
    },
  });
  const list = ids('r5', o.seed, o.receipts);
  let stop = false;
  try {
    await rig.startGateway();
    const toggles = (async () => {
      while (!stop) {
        await sleep(100 + rnd() * 700);
        full = !full;
      }
      full = false;
    })();
    const burst = storeBurst(rig.store, list, { window: 50, resendMs: 60_000, deadlineMs: 120_000 + o.receipts * 300 });
    await burst;
    stop = true;
    await toggles;
    const storageRefusals = rig.store.results().filter((r) => r.error?.code === 'STORAGE').length;
    const ackedUnstored = list.filter((id) => rig.store.results(id).some((r) => r.status === 'accepted') && !rig.store.results(id).some((r) => r.status === 'done')).length;
    return { campaign: 'R5 disk full / write errors', seed: o.seed, sent: list.length, ...count(join(rig.dir, 'fn.jsonl'), rig.store, list), seconds: secs(t0), refusedWrites, storageRefusals, ackedUnstored };
  } finally {
    stop = true;
    full = false;
    await rig.close();
  }
}

function secs(t0: number): number {
  return Math.round((Date.now() - t0) / 100) / 10;
}
