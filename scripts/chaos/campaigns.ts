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
import mqtt from 'mqtt';
import { makeRig, makeEmulator, StoreClient, type Rig, type RigProtocol } from '../../test/helpers/rig.ts';
import { startMosquitto } from '../../test/helpers/broker.ts';
import { readJournal } from '../../drivers/emulator/journal.ts';
import { createPty } from '../../drivers/emulator/pty.ts';
import { parseReceiptMessage } from '../../src/fiscal/parse.ts';
import { crashReceipt, prng, teardown, PARENT_WATCH } from './crash.ts';
import { Results } from './results.ts';

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
function count(journalPath: string, results: Results, ids: string[]): Pick<Figures, 'accepted' | 'fiscalized' | 'resultsPublished' | 'lost' | 'duplicated'> {
  const docs = readJournal(journalPath).documents.filter((d) => d.type === 3);
  const byTotal = new Map<number, number>();
  for (const d of docs) byTotal.set(d.total ?? -1, (byTotal.get(d.total ?? -1) ?? 0) + 1);
  let lost = 0;
  let duplicated = 0;
  ids.forEach((id, i) => {
    const n = byTotal.get(BASE_TOTAL + i) ?? 0;
    if (n === 0 || !results.has(id, 'done')) lost++;
    if (n > 1) duplicated++;
  });
  return {
    accepted: ids.filter((id) => results.has(id, 'accepted')).length,
    fiscalized: docs.length,
    resultsPublished: ids.filter((id) => results.has(id, 'done')).length,
    lost,
    duplicated,
  };
}

/** the `fail` results the store saw for `ids`, by error code (none expected where nothing is refused) */
function failCodes(results: Results, ids: string[]): Record<string, number> {
  const codes: Record<string, number> = {};
  for (const id of ids) for (const r of results.of(id)) if (r.status === 'fail') codes[r.error?.code ?? '?'] = (codes[r.error?.code ?? '?'] ?? 0) + 1;
  return codes;
}

/**
 * Publishes receipts like a careful store: up to `window` unanswered at a time, and re-sends one that got no
 * `accepted` within `resendMs` (a broker that restarts without persistence forgets what it had not delivered).
 * With `askMs`, a receipt that was accepted but got no final result for `askMs` since it was last sent or asked
 * about is asked about with `<base>/request/result` (the gateway re-publishes its result): a broker that restarts
 * without persistence also forgets the store's session, so a result published before the store resubscribed is
 * gone for the store — the gateway did publish it (the broker acknowledged it), and only a request brings it back.
 */
async function storeBurst(store: StoreClient, results: Results, ids: string[], o: { window: number; resendMs: number; deadlineMs: number; askMs?: number }): Promise<{ resent: number; asked: number }> {
  const sentAt = new Map<number, number>();
  // a re-send is the same message byte for byte (the body carries a timestamp: a new one is another receipt
  // under the same external_id, which the gateway rightly refuses with DUPLICATE_MISMATCH)
  const bodies = new Map<number, string>();
  const body = (i: number): string => bodies.get(i) ?? (bodies.set(i, JSON.stringify(crashReceipt(ids[i]!, i))), bodies.get(i)!);
  let resent = 0;
  let asked = 0;
  const deadline = Date.now() + o.deadlineMs;
  // a retryable `fail` (STORAGE, QUEUE_FULL) is no answer yet: the message was not acknowledged, the broker
  // redelivers it, and its `done` is still to come
  const answered = (i: number): boolean => results.of(ids[i]!).some((r) => r.status === 'done' || (r.status === 'fail' && r.error?.retryable !== true));
  let next = 0;
  while (Date.now() < deadline) {
    let open = 0;
    for (const [i, at] of sentAt) {
      if (answered(i)) {
        sentAt.delete(i);
        continue;
      }
      open++;
      const acked = results.has(ids[i]!, 'accepted');
      if (!acked && Date.now() - at > o.resendMs && store.client.connected) {
        await store.publish('receipt', body(i)).catch(() => undefined);
        sentAt.set(i, Date.now());
        resent++;
      } else if (acked && o.askMs !== undefined && Date.now() - at > o.askMs && store.client.connected) {
        await store.publish('request/result', { transaction: `ask-${ids[i]}-${asked}`, external_id: ids[i] }).catch(() => undefined);
        sentAt.set(i, Date.now());
        asked++;
      }
    }
    while (open < o.window && next < ids.length && store.client.connected) {
      await store.publish('receipt', body(next)).catch(() => undefined);
      sentAt.set(next++, Date.now());
      open++;
    }
    if (next >= ids.length && sentAt.size === 0) return { resent, asked };
    await sleep(20);
  }
  const open = [...sentAt.keys()].map((i) => `${ids[i]}: ${results.of(ids[i]!).map((r) => r.status).join(',') || 'nothing'}`);
  throw new Error(`burst not answered within ${o.deadlineMs} ms (${sentAt.size} open, ${ids.length - next} unsent; seen: ${open.slice(0, 10).join('; ')}${open.length > 10 ? '; …' : ''})`);
}

const ids = (prefix: string, seed: number, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${seed}-${i}`);

// ---------------------------------------------------------------------------------------------------- R2

/** R2: emulator faults at random during a burst (line faults, a pulled cable, paper out, cover, 24 h expiry). */
export async function faultCampaign(o: { receipts: number; seed: number; protocol?: RigProtocol }): Promise<Figures> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  const rig = await makeRig({ broker: 'mosquitto', protocol: o.protocol ?? 'shtrih' });
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
          emu.frontEnd.paperOutAt({ at: 'before-item', item: 1 + Math.floor(rnd() * 3) });
          await sleep(300 + rnd() * 1000);
          emu.frontEnd.paperIn();
        } else if (pick < 0.89) {
          kind = 'paper-out-close';
          emu.frontEnd.paperOutAt({ at: 'during-close' });
          await sleep(300 + rnd() * 1000);
          emu.frontEnd.paperIn();
        } else {
          kind = 'cover';
          emu.frontEnd.setCover(true);
          await sleep(200 + rnd() * 800);
          emu.frontEnd.setCover(false);
        }
        injected[kind] = (injected[kind] ?? 0) + 1;
      }
    })();
    const results = new Results(rig.store);
    await storeBurst(rig.store, results, list, { window: 50, resendMs: 600_000, deadlineMs: 120_000 + o.receipts * 1000 });
    stop = true;
    await chaos;
    return { campaign: `R2 emulator faults (${rig.protocol})`, seed: o.seed, sent: list.length, ...count(join(rig.dir, 'fn.jsonl'), results, list), seconds: secs(t0), faults: JSON.stringify(injected) };
  } finally {
    stop = true;
    rig.emulator.faults.clear();
    rig.emulator.frontEnd.paperIn();
    rig.emulator.frontEnd.setCover(false);
    await rig.close();
  }
}

// ---------------------------------------------------------------------------------------------------- R3

/**
 * R3: the broker restarted `restarts` times during bursts, with or without its persistence. The store is a
 * client with a persistent session (`clean: false`, a fixed id), like a real one: with persistence the broker
 * keeps its session and queues the results published while it was away, so it must get every result without
 * asking; without persistence the broker forgets both sessions on a restart, and the store asks for a result it
 * misses (`<base>/request/result`) once a receipt was accepted and stayed unanswered for a while.
 */
export async function brokerCampaign(o: { receipts: number; restarts: number; persistence: boolean; seed: number; askMs?: number; protocol?: RigProtocol }): Promise<Figures> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  const rig = await makeRig({ broker: 'mosquitto', brokerOptions: { persistence: o.persistence }, protocol: o.protocol ?? 'shtrih' });
  const list = ids(o.persistence ? 'r3p' : 'r3n', o.seed, o.receipts);
  const base = rig.config.mqtt.base_topic;
  const client = await mqtt.connectAsync(rig.broker.url, { protocolVersion: 4, clientId: `store-r3-${o.persistence ? 'p' : 'n'}-${o.seed}-${process.pid}`, clean: false, reconnectPeriod: 1000 });
  const store = new StoreClient(client, base);
  const results = new Results(store);
  await client.subscribeAsync(`${base}/#`, { qos: 1 });
  let done = false;
  try {
    await rig.startGateway();
    const restarts = (async () => {
      for (let k = 0; k < o.restarts && !done; k++) {
        await sleep(200 + rnd() * 800);
        await rig.broker.restart!();
      }
    })();
    const burst = await storeBurst(store, results, list, { window: 100, resendMs: 3000, deadlineMs: 120_000 + o.receipts * 200, ...(o.persistence ? {} : { askMs: o.askMs ?? 10_000 }) });
    done = true;
    await restarts;
    return {
      campaign: `R3 broker restarts (${o.persistence ? 'with' : 'without'} persistence, ${rig.protocol})`,
      seed: o.seed,
      sent: list.length,
      ...count(join(rig.dir, 'fn.jsonl'), results, list),
      seconds: secs(t0),
      restarts: o.restarts,
      storeResends: burst.resent,
      resultRequests: burst.asked,
      failResults: JSON.stringify(failCodes(results, list)),
    };
  } finally {
    done = true;
    await client.endAsync(true).catch(() => undefined);
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
export async function fuzzCampaign(o: { payloads: number; validEvery: number; seed: number; protocol?: RigProtocol }): Promise<Figures> {
  const t0 = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'kkt-fuzz-'));
  const broker = await startMosquitto({ extraConfig: 'message_size_limit 0' });
  const protocol = o.protocol ?? 'shtrih';
  const emulator = makeEmulator(protocol, { journalPath: join(dir, 'fn.jsonl') });
  const pty = await createPty({ link: join(dir, 'tty') });
  emulator.attach(pty.stream);
  const base = 'kkt/fuzz';
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gateway_id: 'fuzz', data_dir: join(dir, 'data'), mqtt: { url: broker.url, base_topic: base }, device: { port: pty.path, protocol }, log: { level: 'error' }, queue: { max_receipts: 1_000_000 } }));
  const child = spawn(process.execPath, [...PARENT_WATCH, join(import.meta.dirname, '../../bin/kkt-gateway.js'), 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  // only the topics the campaign reads: on `${base}/#` the store would also get (and StoreClient parse and keep)
  // every hostile payload it sent — megabyte names, arrays nested 50,000 deep — and a full run ran out of heap
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `store-r4-${o.seed}-${process.pid}`, clean: true });
  const store = new StoreClient(client, base);
  await client.subscribeAsync([`${base}/result`, `${base}/state`], { qos: 1 });
  const results = new Results(store);
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
      () => results.anonymous.length >= badWithoutId && valid.every((id) => results.final(id)) && [...expectBad.keys()].every((id) => results.final(id)),
      'every payload answered',
      120_000 + o.payloads * 20,
    );
    const wrongCode = [...expectBad].filter(([id, code]) => results.final(id)?.error?.code !== code).length;
    const queuedBad = [...expectBad.keys()].filter((id) => results.has(id, 'accepted')).length;
    const figures = count(join(dir, 'fn.jsonl'), results, valid);
    return {
      campaign: `R4 hostile payloads (${protocol})`,
      seed: o.seed,
      sent: o.payloads,
      ...figures,
      fiscalized: figures.fiscalized,
      hostile: badWithId + badWithoutId,
      answeredWithTypedError: [...expectBad.keys()].filter((id) => results.final(id)?.status === 'fail').length + results.anonymous.filter((r) => r.error?.code).length,
      wrongCode,
      queuedHostile: queuedBad,
      crashed: exited === null ? 0 : 1,
      seconds: secs(t0),
    };
  } finally {
    await teardown({ child, store, emulators: [emulator], ptys: [pty], broker });
  }
}

// ---------------------------------------------------------------------------------------------------- R5

/** R5: LevelDB write errors (a full disk) at random moments during a burst, then space returns. */
export async function diskCampaign(o: { receipts: number; seed: number; protocol?: RigProtocol }): Promise<Figures> {
  const t0 = Date.now();
  const rnd = prng(o.seed);
  let full = false;
  let refusedWrites = 0;
  const rig: Rig = await makeRig({
    broker: 'mosquitto',
    protocol: o.protocol ?? 'shtrih',
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
    const results = new Results(rig.store);
    const burst = storeBurst(rig.store, results, list, { window: 50, resendMs: 60_000, deadlineMs: 120_000 + o.receipts * 300 });
    await burst;
    stop = true;
    await toggles;
    const storageRefusals = results.all.filter((r) => r.error?.code === 'STORAGE').length;
    const ackedUnstored = list.filter((id) => results.has(id, 'accepted') && !results.has(id, 'done')).length;
    return { campaign: `R5 disk full / write errors (${rig.protocol})`, seed: o.seed, sent: list.length, ...count(join(rig.dir, 'fn.jsonl'), results, list), seconds: secs(t0), refusedWrites, storageRefusals, ackedUnstored };
  } finally {
    stop = true;
    full = false;
    await rig.close();
  }
}

function secs(t0: number): number {
  return Math.round((Date.now() - t0) / 100) / 10;
}
